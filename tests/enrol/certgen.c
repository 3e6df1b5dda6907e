/* enrol_certgen DIR: the canned service's PKI, made at test time, for
 * run_service_tests.sh: DIR/fake-root.crt, DIR/fake-server.pem
 * (certificate + key, IP:127.0.0.1, valid) and DIR/fake-expired.pem (the
 * same name, expired an hour ago), both issued by fake-root. */
#include <stdio.h>
#include <openssl/evp.h>

#include "certs.h"

int main(int argc, char **argv)
{
    char path[4096];
    EVP_PKEY *rk, *sk;
    X509 *root, *srv, *old;

    if (argc != 2) {
        fprintf(stderr, "usage: enrol_certgen DIR\n");
        return 2;
    }
    rk = tc_key("ec");
    sk = tc_key("ec");
    tc_spec r = { "O=kafka-mtls test,CN=canned service root", rk, NULL, NULL, 1, NULL, NULL,
                  -3600, 86400 };
    root = tc_cert(&r);
    tc_spec s = { "CN=canned service", sk, root, rk, 0, "serverAuth", "IP:127.0.0.1", -3600, 86400 };
    srv = tc_cert(&s);
    s.not_before = -7200;
    s.not_after = -3600;
    old = tc_cert(&s);
    snprintf(path, sizeof(path), "%s/fake-root.crt", argv[1]);
    tc_write(path, root, NULL);
    snprintf(path, sizeof(path), "%s/fake-server.pem", argv[1]);
    tc_write(path, srv, sk);
    snprintf(path, sizeof(path), "%s/fake-expired.pem", argv[1]);
    tc_write(path, old, sk);
    X509_free(root);
    X509_free(srv);
    X509_free(old);
    EVP_PKEY_free(rk);
    EVP_PKEY_free(sk);
    return 0;
}
