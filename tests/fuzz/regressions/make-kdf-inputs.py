#!/usr/bin/env python3
"""make-kdf-inputs.py DIR [ITERATIONS] — writes the key-derivation regression
inputs (no key or certificate in them: the ciphertexts are zeros):

  fuzz_pkcs12/timeout-mac-iterations.p12            MAC iteration count
  fuzz_pkcs12/timeout-encrypted-safe-iterations.p12 PBES2 count of an encrypted
                                                    safe (no MAC)
  fuzz_pkcs12/timeout-shrouded-key-iterations.p12   PBES2 count of a shrouded
                                                    key bag (no MAC, plain safe)
  fuzz_pem/timeout-encrypted-pkcs8-iterations.pem   PBES2 count of an
                                                    ENCRYPTED PRIVATE KEY
  fuzz_pem/timeout-encrypted-pkcs8-scrypt.pem       PBES2 with scrypt: N, r, p
                                                    within OpenSSL's 32 MB, p huge
  fuzz_pkcs12/timeout-many-safes.p12                a (wrong) MAC and 64 encrypted
                                                    safes at 2,000,000 iterations each:
                                                    a cap per derivation is not a
                                                    cap per file
  fuzz_pkcs12/ubsan-safe-iterations-overflow.p12    an encrypted safe that opens (an
                                                    empty one, encrypted with the fuzz
                                                    password by `openssl enc`), then one
                                                    asking for LONG_MAX iterations: the
                                                    file-wide sum must not overflow

ITERATIONS defaults to 2147483647: libcrypto runs every count it is given,
so each of these costs minutes of CPU per open (3 min natively for the MAC
one) unless the reader refuses counts beyond a ceiling first (the JDK's
PKCS12KeyStore refuses more than 5,000,000).
"""
import base64
import hashlib
import os
import subprocess
import sys

PASSWORD = b"kmfuzz-pass"  # fuzz_common.h KMFUZZ_PASSWORD


def der(tag, content):
    n = len(content)
    if n < 0x80:
        return bytes([tag, n]) + content
    ln = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([tag, 0x80 | len(ln)]) + ln + content


def integer(v):
    return der(0x02, v.to_bytes((v.bit_length() + 8) // 8, "big"))


def oid(hexstr):
    return der(0x06, bytes.fromhex(hexstr))


seq = lambda *parts: der(0x30, b"".join(parts))
octets = lambda b: der(0x04, b)
DATA = oid("2a864886f70d010701")
ENCRYPTED_DATA = oid("2a864886f70d010706")
SHROUDED_KEY_BAG = oid("2a864886f70d010c0a0102")
PBES2 = oid("2a864886f70d01050d")
PBKDF2 = oid("2a864886f70d01050c")
HMAC_SHA256 = oid("2a864886f70d0209")
AES256_CBC = oid("60864801650304012a")
SHA256 = oid("608648016503040201")
NOTE = b"kafka-mtls fuzz regression: unbounded key derivation".ljust(100, b".")


SCRYPT = oid("2b06010401da47040b")


def pbes2(iterations):
    kdf = seq(PBKDF2, seq(octets(bytes(8)), integer(iterations), seq(HMAC_SHA256, b"\x05\x00")))
    return seq(PBES2, seq(kdf, seq(AES256_CBC, octets(bytes(16)))))


def pbes2_scrypt(n, r, p):
    kdf = seq(SCRYPT, seq(octets(bytes(8)), integer(n), integer(r), integer(p)))
    return seq(PBES2, seq(kdf, seq(AES256_CBC, octets(bytes(16)))))


def pem(name, der_bytes):
    b64 = base64.encodebytes(der_bytes).decode()
    return ("-----BEGIN %s-----\n%s-----END %s-----\n" % (name, b64, name)).encode()


def content_info_data(payload):
    return seq(DATA, der(0xA0, octets(payload)))


def pfx(safes, mac=b""):
    # long-form lengths throughout (NOTE pads), as km_sniff expects of a PFX
    return seq(integer(3), content_info_data(seq(*safes)), mac)


def main():
    out = sys.argv[1]
    n = int(sys.argv[2]) if len(sys.argv) > 2 else 2147483647
    os.makedirs(os.path.join(out, "fuzz_pkcs12"), exist_ok=True)
    os.makedirs(os.path.join(out, "fuzz_pem"), exist_ok=True)
    # a secretBag holding the note: ignored by the reader, keeps lengths long-form
    note_bag = seq(oid("2a864886f70d010c0a0105"),
                   der(0xA0, seq(oid("2a864886f70d010c0a0105"), der(0xA0, octets(NOTE)))))
    files = {
        "fuzz_pkcs12/timeout-mac-iterations.p12":
            pfx([content_info_data(seq(note_bag))],
                seq(seq(seq(SHA256, b"\x05\x00"), octets(bytes(32))), octets(bytes(8)), integer(n))),
        "fuzz_pkcs12/timeout-encrypted-safe-iterations.p12":
            pfx([seq(ENCRYPTED_DATA, der(0xA0, seq(integer(0), seq(DATA, pbes2(n), der(0x80, bytes(32)))))),
                 content_info_data(seq(note_bag))]),
        "fuzz_pkcs12/timeout-shrouded-key-iterations.p12":
            pfx([content_info_data(seq(seq(SHROUDED_KEY_BAG, der(0xA0, seq(pbes2(n), octets(bytes(32))))),
                                       note_bag))]),
    }
    files["fuzz_pem/timeout-encrypted-pkcs8-iterations.pem"] = pem(
        "ENCRYPTED PRIVATE KEY", seq(pbes2(n), octets(bytes(32))))
    # scrypt: 128*r*(N+2)*... + 128*r*p stays under OpenSSL's 32 MB default,
    # the work (~p * N * r) does not (SCRYPT_P, default 8192: ~7 min natively)
    files["fuzz_pem/timeout-encrypted-pkcs8-scrypt.pem"] = pem(
        "ENCRYPTED PRIVATE KEY",
        seq(pbes2_scrypt(16384, 8, int(os.environ.get("SCRYPT_P", "8192"))), octets(bytes(32))))
    many = int(os.environ.get("SAFES", "64"))
    cap = int(os.environ.get("CAP_ITERATIONS", "2000000"))
    encrypted_safe = seq(ENCRYPTED_DATA,
                         der(0xA0, seq(integer(0), seq(DATA, pbes2(cap), der(0x80, bytes(32))))))
    files["fuzz_pkcs12/timeout-many-safes.p12"] = pfx(
        [encrypted_safe] * many + [content_info_data(seq(note_bag))],
        seq(seq(seq(SHA256, b"\x05\x00"), octets(bytes(32))), octets(bytes(8)), integer(1)))
    # a safe that decrypts: SafeContents {} under PBES2/PBKDF2(1)/AES-256-CBC
    salt, iv = b"kmfuzz!!", bytes(range(16))
    key = hashlib.pbkdf2_hmac("sha256", PASSWORD, salt, 1, 32)
    enc = subprocess.run(["openssl", "enc", "-aes-256-cbc", "-K", key.hex(), "-iv", iv.hex()],
                         input=seq(), stdout=subprocess.PIPE, check=True).stdout
    kdf1 = seq(PBKDF2, seq(octets(salt), integer(1), seq(HMAC_SHA256, b"\x05\x00")))
    alg1 = seq(PBES2, seq(kdf1, seq(AES256_CBC, octets(iv))))
    opens = seq(ENCRYPTED_DATA, der(0xA0, seq(integer(0), seq(DATA, alg1, der(0x80, enc)))))
    huge = seq(ENCRYPTED_DATA, der(0xA0, seq(integer(0), seq(DATA, pbes2(2**63 - 1), der(0x80, bytes(32))))))
    files["fuzz_pkcs12/ubsan-safe-iterations-overflow.p12"] = pfx([opens, huge, content_info_data(seq(note_bag))])
    for name, data in files.items():
        with open(os.path.join(out, name), "wb") as f:
            f.write(data)


if __name__ == "__main__":
    main()
