/* Helpers of the `kafka-mtls` command: its help, its library context,
 * password files. */
#include <fcntl.h>
#include <stdio.h>

#include "cli.h"
#include "kafka-mtls.h"
#include "kmtls/files.h"

kmtls_libctx *km_cli_libctx(void)
{
    kmtls_libctx *lc = kmtls_libctx_new();

    if (lc == NULL)
        fprintf(stderr, "kafka-mtls: cannot initialise OpenSSL (provider registration failed)\n");
    return lc;
}

static const char usage[] =
"usage: kafka-mtls issue VOLUME_DIR --ca CA.crt --ca-key CA.key [options]\n"
"       kafka-mtls issue VOLUME_DIR --enrol-url URL --enrol-ca ROOT --token-file F [options]\n"
"       kafka-mtls inspect VOLUME_DIR|FILE [--alias A] [--password-file F]\n"
"       kafka-mtls --help\n";

static const char help[] =
"\n"
"kafka-mtls issue VOLUME_DIR --ca CA.crt --ca-key CA.key [options]\n"
"  Issues a CA-signed certificate into VOLUME_DIR in the seed's layout:\n"
"  ALIAS.keystore.jks and ALIAS.truststore.jks (PKCS#12 as keytool 17 writes\n"
"  them), ALIAS-ca-signed.crt (PEM) and ALIAS_creds (the store password,\n"
"  written last). A drop-in for the seed's certificate service; with\n"
"  --eku serverAuth,clientAuth it also makes a broker keystore.\n"
"  It reads the volume through the provider (under a shared lock on\n"
"  VOLUME_DIR/.kafka-mtls.lock) and issues, under the exclusive lock, only\n"
"  when the volume has no usable keystore, the certificate is inside its\n"
"  renew window or expired, was not issued by this CA, or --force is given;\n"
"  otherwise it says the volume is fresh. Many processes may run it on one\n"
"  volume at once: they check it in parallel and exactly one issues.\n"
"    --ca FILE                   CA certificate (PEM)\n"
"    --ca-key FILE               CA private key (PEM, may be encrypted)\n"
"    --ca-key-password-file FILE the CA key's password (first line)\n"
"    --allow-insecure-ca-key     issue although the CA key or its password\n"
"                                file is readable by group or others\n"
"                                (refused without it)\n"
"    --alias A                   ALIAS (default: the directory's name)\n"
"    --subject S                 default CN=${alias}; \"CN=a,O=b\" (as keytool's\n"
"                                -dname) or \"/CN=a/O=b\" (as openssl's -subj);\n"
"                                ${alias} and ${hostname} expand\n"
"    --san LIST                  subjectAltName, e.g. DNS:${hostname},IP:10.0.0.1\n"
"    --key-type T                rsa:2048 (default), rsa:3072, rsa:4096,\n"
"                                ec:P-256, ec:P-384, ed25519\n"
"    --eku LIST                  extendedKeyUsage (default clientAuth)\n"
"    --days N                    validity in days (default 90)\n"
"    --validity D                validity as 90d, 12h, 30m or 90s (at least a\n"
"                                minute); wins over --days\n"
"    --renew-before SPEC         renew window: N or Nd (days), Nh, Nm, Ns, or\n"
"                                N% of the lifetime (default: the last third)\n"
"    --password-file FILE        store password (default: keep the volume's\n"
"                                ALIAS_creds, or a fresh random one); a given\n"
"                                password gets keytool's 10000 PBKDF2\n"
"                                iterations, a generated one 2048\n"
"    --wait SECONDS              wait at most this long for another holder of\n"
"                                the volume lock (default 30; SIGINT or SIGTERM\n"
"                                end the wait at once, having written nothing)\n"
"    --force                     issue even if the certificate is fresh\n"
"\n"
"kafka-mtls issue VOLUME_DIR --enrol-url URL --enrol-ca ROOT --token-file F [options]\n"
"  The same volume from a CA service (smallstep step-ca) instead of a CA key:\n"
"  the key is made here and never leaves the process; a certificate request\n"
"  goes to the service over HTTPS with the one-time token (first use, an\n"
"  expired certificate, a new key type, lifetime or identity), or a renewal\n"
"  by mutual TLS with the current certificate (rekey). The subject comes\n"
"  from the token and the service; --subject and --san, when given, must be\n"
"  what the service issues. --alias, --key-type, --password-file,\n"
"  --renew-before, --wait and --force as above.\n"
"    --enrol-url URL             https://host:port of the service\n"
"    --enrol-ca FILE             the service's root certificate (PEM): it\n"
"                                verifies the service and the issued chain,\n"
"                                and is the truststore's only entry\n"
"    --token-file FILE           the one-time token (`step ca token`), one line\n"
"    --not-after D               the lifetime asked for: 24h, 90m (default: the\n"
"                                service's)\n"
"    --enrol-timeout-ms MS       bound on one exchange (default 10000); --wait\n"
"                                bounds the whole run: the lock wait and every\n"
"                                exchange, each getting what is left\n"
"\n"
"kafka-mtls inspect VOLUME_DIR|FILE [--alias A] [--password-file F]\n"
"  Shows what a client would read: the layout and each file's format,\n"
"  whether the volume is ready (and why not), the certificate's subject,\n"
"  issuer, SANs, validity and days left, whether the key matches it and\n"
"  whether the chain verifies against the truststore. Never prints secrets.\n"
"\n"
"Exit status:\n"
"  0  issue: issued, renewed, or the certificate is fresh;\n"
"     inspect: ready, key matches, certificate currently valid\n"
"  1  failure (the message names the file and the cause): CA refused,\n"
"     volume not writable, wrong password, key mismatch, unreadable file\n"
"  2  usage error\n"
"  3  inspect: the volume is not ready (no ALIAS_creds or no keystore yet)\n"
"  4  inspect: the certificate is expired or not yet valid\n";

void km_cli_help(FILE *out, int full)
{
    fputs(usage, out);
    if (full)
        fputs(help, out);
}

int km_cli_password_file(const char *path, const char *what, km_secret *out)
{
    km_status st = { 0 };

    if (km_read_password_at(AT_FDCWD, path, path, KAFKA_MTLS_R_PASSWORD_FILE, 0, out, &st))
        return 1;
    fprintf(stderr, "kafka-mtls: %s: %s\n", what, st.msg);
    return 0;
}

