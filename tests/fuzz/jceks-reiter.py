#!/usr/bin/env python3
"""jceks-reiter.py IN OUT PASSWORD [ITER] — the same JCEKS keystore with every
PBEWithMD5AndTripleDES-protected key re-encrypted at ITER (default 1)
iterations, and the integrity trailer recomputed.

keytool never goes below 10000 iterations (jdk.jceks.iterationCount), which
makes every key decryption cost ~20000 MD5 rounds: too slow for fuzzing.
This keeps keytool's output otherwise byte for byte (salt, key, certificates,
entry order); only the iteration count and the ciphertext change. 3DES comes
from the openssl command (the default provider has DES-EDE3-CBC).
"""
import hashlib
import struct
import subprocess
import sys

JCEKS_OID = bytes.fromhex("2b060104012a021301")  # 1.3.6.1.4.1.42.2.19.1


def der_read(b, i):
    """(tag, content start, content end) of the TLV at b[i]."""
    tag = b[i]
    n = b[i + 1]
    i += 2
    if n & 0x80:
        k = n & 0x7F
        n = int.from_bytes(b[i:i + k], "big")
        i += k
    return tag, i, i + n


def der(tag, content):
    n = len(content)
    if n < 0x80:
        return bytes([tag, n]) + content
    ln = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([tag, 0x80 | len(ln)]) + ln + content


def der_int(v):
    b = v.to_bytes((v.bit_length() + 8) // 8, "big")
    return der(0x02, b)


def derive(salt, iterations, pw):
    """SunJCE PBES1Core.deriveCipherKey for PBEWithMD5AndTripleDES."""
    salt = bytearray(salt)
    if salt[:4] == salt[4:]:
        salt[0], salt[1], salt[2], salt[3] = salt[3], salt[2], salt[1], salt[0]
    out = b""
    for half in (salt[:4], salt[4:]):
        h = hashlib.md5(bytes(half) + pw).digest()
        for _ in range(1, iterations):
            h = hashlib.md5(h + pw).digest()
        out += h
    return out[:24], out[24:32]


def des3(decrypt, key, iv, data):
    args = ["openssl", "enc", "-des-ede3-cbc", "-K", key.hex(), "-iv", iv.hex()]
    if decrypt:
        args.append("-d")
    return subprocess.run(args, input=data, stdout=subprocess.PIPE, check=True).stdout


def reiter_epki(epki, pw, new_iter):
    _, s, e = der_read(epki, 0)                  # EncryptedPrivateKeyInfo
    _, as_, ae = der_read(epki, s)                # AlgorithmIdentifier
    _, os_, oe = der_read(epki, as_)              # OID
    if epki[os_:oe] != JCEKS_OID:
        return epki
    _, ps, pe = der_read(epki, oe)                # PBEParameter
    _, ss, se = der_read(epki, ps)                # salt
    _, is_, ie = der_read(epki, se)               # iterations
    salt = epki[ss:se]
    iters = int.from_bytes(epki[is_:ie], "big")
    _, cs, ce = der_read(epki, ae)                # encryptedData
    key, iv = derive(salt, iters, pw)
    plain = des3(True, key, iv, epki[cs:ce])
    key, iv = derive(salt, new_iter, pw)
    enc = des3(False, key, iv, plain)
    alg = der(0x30, der(0x06, JCEKS_OID) + der(0x30, der(0x04, salt) + der_int(new_iter)))
    return der(0x30, alg + der(0x04, enc))


def main():
    src, dst, pw = sys.argv[1], sys.argv[2], sys.argv[3].encode()
    new_iter = int(sys.argv[4]) if len(sys.argv) > 4 else 1
    b = open(src, "rb").read()
    magic, version, count = struct.unpack(">III", b[:12])
    assert magic == 0xCECECECE, "not a JCEKS keystore"
    out = bytearray(b[:12])
    i = 12

    def take(n):
        nonlocal i
        v = b[i:i + n]
        i += n
        return v

    def cert():
        v = b""
        if version == 2:
            (n,) = struct.unpack(">H", b[i:i + 2])
            v += take(2 + n)
        (n,) = struct.unpack(">I", b[i:i + 4])
        return v + take(4 + n)

    for _ in range(count):
        (tag,) = struct.unpack(">I", b[i:i + 4])
        head = take(4)
        (n,) = struct.unpack(">H", b[i:i + 2])
        head += take(2 + n) + take(8)
        out += head
        if tag == 1:
            (n,) = struct.unpack(">I", b[i:i + 4])
            take(4)
            epki = reiter_epki(take(n), pw, new_iter)
            out += struct.pack(">I", len(epki)) + epki
            (nc,) = struct.unpack(">I", b[i:i + 4])
            out += take(4)
            for _ in range(nc):
                out += cert()
        elif tag == 2:
            out += cert()
        else:
            raise SystemExit("jceks-reiter.py: entry type %d not supported" % tag)
    pw16 = pw.decode().encode("utf-16-be")
    out += hashlib.sha1(pw16 + b"Mighty Aphrodite" + bytes(out)).digest()
    open(dst, "wb").write(bytes(out))


if __name__ == "__main__":
    main()
