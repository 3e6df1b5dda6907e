/*
 * startup: time rd_kafka_new() plus the first metadata round trip for a
 * client configured by KEY=VALUE arguments (as a service's boot does), and
 * optionally the same for more clients in the same process, each created
 * while the ones before it still run (a service's producer and consumer;
 * the plugin keeps decoded material only while a client uses it).
 *
 *   startup [-n CLIENTS] KEY=VALUE...
 *   startup --pkcs12-floor PASSWORD FILE...   the libcrypto floor: PKCS12_parse
 *                                             (MAC + PBKDF2 + decryption) of each file
 *   startup --pem-floor KEY CERT...           the libcrypto floor of decoding the
 *                                             key and the certificates once more
 *                                             (what handing over material costs
 *                                             beyond librdkafka's own decoding)
 * Prints one line per client: "client N: new X.XXX ms, first metadata Y.YYY ms".
 * Exits 1 with librdkafka's message when a client cannot be created or the
 * metadata request fails.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <openssl/pem.h>
#include <openssl/pkcs12.h>
#include <librdkafka/rdkafka.h>

#include "bench_conf.h"

static double now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static rd_kafka_t *one_client(int argc, char **argv, int first_arg, int n)
{
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    const struct rd_kafka_metadata *md = NULL;
    char errstr[1024];
    double t0, t1, t2;
    rd_kafka_resp_err_t err;
    rd_kafka_t *rk;

    if (!bench_conf_args(conf, argv, first_arg, argc, "startup"))
        return NULL;
    t0 = now_ms();
    if ((rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof(errstr))) == NULL) {
        fprintf(stderr, "startup: rd_kafka_new: %s\n", errstr);
        return NULL;
    }
    t1 = now_ms();
    err = rd_kafka_metadata(rk, 0, NULL, &md, 10000);
    t2 = now_ms();
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
        fprintf(stderr, "startup: metadata: %s\n", rd_kafka_err2str(err));
        rd_kafka_destroy(rk);
        return NULL;
    }
    rd_kafka_metadata_destroy(md);
    printf("client %d: new %.3f ms, first metadata %.3f ms\n", n, t1 - t0, t2 - t0);
    return rk;
}

/* What opening the stores costs in libcrypto alone, in this process. */
static int pkcs12_floor(const char *password, int nfiles, char **files)
{
    double t0 = now_ms();

    for (int i = 0; i < nfiles; i++) {
        FILE *f = fopen(files[i], "rb");
        PKCS12 *p12 = f != NULL ? d2i_PKCS12_fp(f, NULL) : NULL;
        EVP_PKEY *key = NULL;
        X509 *cert = NULL;
        STACK_OF(X509) *ca = NULL;

        if (f != NULL)
            fclose(f);
        if (p12 == NULL || !PKCS12_parse(p12, password, &key, &cert, &ca)) {
            fprintf(stderr, "startup: %s: cannot parse\n", files[i]);
            return 1;
        }
        EVP_PKEY_free(key);
        X509_free(cert);
        sk_X509_pop_free(ca, X509_free);
        PKCS12_free(p12);
    }
    printf("pkcs12 floor: %.3f ms\n", now_ms() - t0);
    return 0;
}

/* What decoding a PEM key and certificates costs in libcrypto, in this process. */
static int pem_floor(const char *key_path, int nfiles, char **files)
{
    double t0 = now_ms();
    FILE *f = fopen(key_path, "r");
    EVP_PKEY *key = f != NULL ? PEM_read_PrivateKey(f, NULL, NULL, NULL) : NULL;

    if (f != NULL)
        fclose(f);
    if (key == NULL) {
        fprintf(stderr, "startup: %s: cannot decode\n", key_path);
        return 1;
    }
    EVP_PKEY_free(key);
    for (int i = 0; i < nfiles; i++) {
        X509 *x;
        int n = 0;

        if ((f = fopen(files[i], "r")) == NULL) {
            fprintf(stderr, "startup: %s: cannot open\n", files[i]);
            return 1;
        }
        while ((x = PEM_read_X509(f, NULL, NULL, NULL)) != NULL) {
            X509_free(x);
            n++;
        }
        fclose(f);
        if (n == 0) {
            fprintf(stderr, "startup: %s: no certificate\n", files[i]);
            return 1;
        }
    }
    printf("pem floor: %.3f ms\n", now_ms() - t0);
    return 0;
}

int main(int argc, char **argv)
{
    int clients = 1, first = 1;

    if (argc > 3 && strcmp(argv[1], "--pkcs12-floor") == 0)
        return pkcs12_floor(argv[2], argc - 3, argv + 3);
    if (argc > 2 && strcmp(argv[1], "--pem-floor") == 0)
        return pem_floor(argv[2], argc - 3, argv + 3);

    if (argc > 2 && strcmp(argv[1], "-n") == 0) {
        clients = atoi(argv[2]);
        first = 3;
    }
    rd_kafka_t *rks[64];
    int made = 0, ok = 1;

    if (clients < 1 || clients > 64) {
        fprintf(stderr, "startup: -n 1 to 64\n");
        return 1;
    }
    while (ok && made < clients) {
        rks[made] = one_client(argc, argv, first, made + 1);
        if (rks[made] == NULL)
            ok = 0;
        else
            made++;
    }
    while (made > 0)
        rd_kafka_destroy(rks[--made]);
    return ok ? 0 : 1;
}
