#!/usr/bin/env python3
"""make-hostile-stores.py DIR — stores within the file-size cap that cost a
careless reader seconds of CPU (no key material of value in them):

  DIR/many-entries        a JKS truststore (password "changeit") holding one
                          small certificate under as many aliases as fit in
                          4 MiB (about 12,500)
  DIR/p12-iterations      a PKCS#12 asking for 2,000,000 MAC iterations
                          (tests/fuzz/regressions/make-kdf-inputs.py)
  DIR/jceks-iterations    the fixtures' JCEKS keystore with its key asking for
                          5,000,000 PBE iterations (trailer recomputed for the
                          store password in $KMTLS_FIXTURES' volume)
and, to show the caps leave what real tools write alone, stores at them:
  DIR/at-cap-entries      as many-entries, with 1,024 entries
  DIR/at-cap-p12          a PKCS#12 (password "changeit") with 100,000 MAC,
                          key and certificate-safe iterations (openssl pkcs12 -iter)
(a JCEKS keystore at its cap is written by keytool, in hostile.sh cpu_caps)
"""
import hashlib
import os
import struct
import subprocess
import sys
import tempfile

CAP = 4 << 20
JCEKS_OID = bytes.fromhex("2b060104012a021301")


def trailer(data, password):
    pw16 = password.encode("utf-16-be")
    return hashlib.sha1(pw16 + b"Mighty Aphrodite" + data).digest()


def small_cert(tmp):
    key, crt = os.path.join(tmp, "k.pem"), os.path.join(tmp, "c.der")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
                    "-nodes", "-keyout", key, "-outform", "DER", "-out", crt, "-subj", "/CN=x", "-days", "2"],
                   check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    subprocess.run(["openssl", "x509", "-inform", "DER", "-in", crt, "-out", os.path.join(tmp, "c.pem")],
                   check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return open(crt, "rb").read()


def many_entries(path, der, n=None):
    def entry(i):
        alias = f"e{i}".encode()
        return (struct.pack(">IH", 2, len(alias)) + alias + struct.pack(">QH", 0, 5) + b"X.509" +
                struct.pack(">I", len(der)) + der)
    if n is None:
        n = (CAP - 12 - 20) // len(entry(99999))
    body = b"".join(entry(i) for i in range(n))
    data = struct.pack(">III", 0xFEEDFEED, 2, n) + body
    open(path, "wb").write(data + trailer(data, "changeit"))


def jceks_iterations(path, fixtures):
    vol = os.path.join(fixtures, "vol", "client-jceks")
    data = bytearray(open(os.path.join(vol, "client-jceks.keystore.jks"), "rb").read()[:-20])
    password = open(os.path.join(vol, "client-jceks_creds")).read().rstrip("\r\n")
    i = data.find(JCEKS_OID)
    if i < 0:
        sys.exit("no JCEKS key in the fixture")
    p = i + len(JCEKS_OID)  # params: 30 LEN 04 08 SALT 02 03 ITER(3)
    if data[p] != 0x30 or data[p + 2:p + 4] != b"\x04\x08" or data[p + 12:p + 14] != b"\x02\x03":
        sys.exit("unexpected JCEKS parameters")
    data[p + 14:p + 17] = (5_000_000).to_bytes(3, "big")
    open(path, "wb").write(bytes(data) + trailer(bytes(data), password))
    open(path + ".password", "w").write(password + "\n")


def main():
    out = sys.argv[1]
    os.makedirs(out, mode=0o700, exist_ok=True)
    here = os.path.dirname(os.path.abspath(__file__))
    with tempfile.TemporaryDirectory() as tmp:
        many_entries(os.path.join(out, "many-entries"), small_cert(tmp))
        many_entries(os.path.join(out, "at-cap-entries"), small_cert(tmp), 1024)
        subprocess.run(["openssl", "pkcs12", "-export", "-iter", "100000", "-inkey", os.path.join(tmp, "k.pem"),
                        "-in", os.path.join(tmp, "c.pem"), "-passout", "pass:changeit",
                        "-out", os.path.join(out, "at-cap-p12")], check=True, stdout=subprocess.DEVNULL)
        subprocess.run([sys.executable, os.path.join(here, "..", "fuzz", "regressions", "make-kdf-inputs.py"),
                        tmp, "2000000"], check=True, stdout=subprocess.DEVNULL)
        os.replace(os.path.join(tmp, "fuzz_pkcs12", "timeout-mac-iterations.p12"),
                   os.path.join(out, "p12-iterations"))
    jceks_iterations(os.path.join(out, "jceks-iterations"), os.environ["KMTLS_FIXTURES"])
    for f in os.listdir(out):
        os.chmod(os.path.join(out, f), 0o600)


if __name__ == "__main__":
    main()
