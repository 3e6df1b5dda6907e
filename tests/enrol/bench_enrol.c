/*
 * bench_enrol [RUNS]: loopback round trips against the step-ca that
 * run_service_tests.sh started (run_service_tests.sh bench RUNS), for
 * enrol/README.md. Per key type (EC P-256, RSA-2048): key generation, CSR,
 * and km_enrol_sign (connect + TLS + request + step-ca signing + response
 * + checks), each the median of RUNS; then km_enrol_rekey (EC); then the
 * peak RSS. Tokens are minted before the clock starts. (What a call leaves
 * behind is measured with valgrind, not here: glibc's per-thread caches
 * make mallinfo's in-use figure grow without any allocation being live;
 * enrol/README.md, "Measured".)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <json-c/json_object.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include "checks.h"
#include "kmtls/enrol.h"
#include "response.h"

static double now_ms(void)
{
    struct timespec t;

    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1e3 + t.tv_nsec / 1e6;
}

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof(*v), cmp);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static char *mint(void)
{
    char cmd[2048], line[8192];
    FILE *p;

    snprintf(cmd, sizeof(cmd), "'%s' token '%s' 'Callisto kafka-producer'", getenv("ENROL_PEER"),
             getenv("ENROL_PEER_DIR"));
    if ((p = popen(cmd, "r")) == NULL || fgets(line, sizeof(line), p) == NULL || pclose(p) != 0) {
        fprintf(stderr, "bench: cannot mint a token\n");
        exit(1);
    }
    line[strcspn(line, "\n")] = '\0';
    return strdup(line);
}

int main(int argc, char **argv)
{
    int runs = argc > 1 ? atoi(argv[1]) : 20;
    km_enrol_service svc = { getenv("ENROL_URL"), getenv("ENROL_ROOT"), NULL, 10000 };
    const char *types[] = { "EC P-256", "RSA-2048" };
    double *keygen = calloc((size_t)runs, sizeof(double)), *csrt = calloc((size_t)runs, sizeof(double));
    double *sign = calloc((size_t)runs, sizeof(double)), *rekey = calloc((size_t)runs, sizeof(double));
    char **tokens = calloc((size_t)runs * 2, sizeof(char *)), err[1024];
    struct rusage ru;
    EVP_PKEY *cur_key = NULL;
    STACK_OF(X509) *cur = NULL;

    if (svc.url == NULL || svc.ca_file == NULL || runs < 1) {
        fprintf(stderr, "usage: run_service_tests.sh bench [RUNS]\n");
        return 2;
    }
    for (int i = 0; i < runs * 2; i++)
        tokens[i] = mint();
    /* Warm-up: an EC and an RSA enrolment and a rekey, so that libcurl's
     * and OpenSSL's one-time work (algorithm fetch caches, error strings,
     * the DRBG) is not in the first timed call. */
    for (int w = 0; w < 2; w++) {
        EVP_PKEY *k = w == 0 ? EVP_EC_gen("P-256") : EVP_RSA_gen(2048), *k2 = EVP_EC_gen("P-256");
        X509_REQ *csr = NULL, *csr2 = NULL;
        STACK_OF(X509) *chain = NULL, *chain2 = NULL;
        char *t = mint();

        km_enrol_csr_new(k, "Callisto kafka-producer", &csr, err, sizeof(err));
        km_enrol_csr_new(k2, "Callisto kafka-producer", &csr2, err, sizeof(err));
        if (km_enrol_sign(&svc, csr, t, NULL, &chain, err, sizeof(err)) != KM_ENROL_OK ||
            km_enrol_rekey(&svc, csr2, sk_X509_value(chain, 0), k, NULL, &chain2, err,
                           sizeof(err)) != KM_ENROL_OK) {
            fprintf(stderr, "bench: %s\n", err);
            return 1;
        }
        sk_X509_pop_free(chain, X509_free);
        sk_X509_pop_free(chain2, X509_free);
        X509_REQ_free(csr);
        X509_REQ_free(csr2);
        EVP_PKEY_free(k);
        EVP_PKEY_free(k2);
        free(t);
    }
    printf("| figure | median of %d |\n| --- | --- |\n", runs);
    for (int ty = 0; ty < 2; ty++) {
        for (int i = 0; i < runs; i++) {
            double t0 = now_ms(), t1, t2;
            EVP_PKEY *k = ty == 0 ? EVP_EC_gen("P-256") : EVP_RSA_gen(2048);
            X509_REQ *csr = NULL;
            STACK_OF(X509) *chain = NULL;

            t1 = now_ms();
            km_enrol_csr_new(k, "Callisto kafka-producer", &csr, err, sizeof(err));
            t2 = now_ms();
            if (km_enrol_sign(&svc, csr, tokens[ty * runs + i], NULL, &chain, err, sizeof(err)) !=
                KM_ENROL_OK) {
                fprintf(stderr, "bench: %s\n", err);
                return 1;
            }
            sign[i] = now_ms() - t2;
            keygen[i] = t1 - t0;
            csrt[i] = t2 - t1;
            X509_REQ_free(csr);
            if (ty == 0 && cur == NULL) {
                cur = chain;
                cur_key = k;
            } else {
                sk_X509_pop_free(chain, X509_free);
                EVP_PKEY_free(k);
            }
        }
        printf("| %s key generation | %.2f ms |\n", types[ty], median(keygen, runs));
        printf("| %s CSR (km_enrol_csr_new) | %.2f ms |\n", types[ty], median(csrt, runs));
        printf("| %s km_enrol_sign round trip | %.2f ms |\n", types[ty], median(sign, runs));
    }
    for (int i = 0; i < runs; i++) {
        EVP_PKEY *k = EVP_EC_gen("P-256");
        X509_REQ *csr = NULL;
        STACK_OF(X509) *chain = NULL;
        double t0;

        km_enrol_csr_new(k, "Callisto kafka-producer", &csr, err, sizeof(err));
        t0 = now_ms();
        if (km_enrol_rekey(&svc, csr, sk_X509_value(cur, 0), cur_key, NULL, &chain, err,
                           sizeof(err)) != KM_ENROL_OK) {
            fprintf(stderr, "bench: %s\n", err);
            return 1;
        }
        rekey[i] = now_ms() - t0;
        sk_X509_pop_free(chain, X509_free);
        X509_REQ_free(csr);
        EVP_PKEY_free(k);
    }
    printf("| EC P-256 km_enrol_rekey round trip (mutual TLS) | %.2f ms |\n", median(rekey, runs));
    /* Our own work on an answer: the body of the first EC enrolment, built
     * again in step-ca's shape, read (JSON, PEM, links) and checked (key,
     * EKU, identity, verification to the root). */
    {
        json_object *o = json_object_new_object(), *a = json_object_new_array();
        X509_STORE *roots = X509_STORE_new();
        kme_expect e = { cur_key, "Callisto kafka-producer", NULL, roots, svc.ca_file };
        const char *body;

        X509_STORE_load_file(roots, svc.ca_file);
        for (int i = 0; i < sk_X509_num(cur); i++) {
            BIO *b = BIO_new(BIO_s_mem());
            char *data;
            long len;

            PEM_write_bio_X509(b, sk_X509_value(cur, i));
            len = BIO_get_mem_data(b, &data);
            if (i == 0)
                json_object_object_add(o, "crt", json_object_new_string_len(data, (int)len));
            json_object_array_add(a, json_object_new_string_len(data, (int)len));
            BIO_free(b);
        }
        json_object_object_add(o, "certChain", a);
        body = json_object_to_json_string(o);
        for (int i = 0; i < runs; i++) {
            STACK_OF(X509) *chain = NULL;
            double t0 = now_ms();

            if (kme_response_chain(body, strlen(body), &chain, err, sizeof(err)) != KM_ENROL_OK ||
                kme_check_chain(chain, &e, err, sizeof(err)) != KM_ENROL_OK) {
                fprintf(stderr, "bench: %s\n", err);
                return 1;
            }
            rekey[i] = now_ms() - t0;
            sk_X509_pop_free(chain, X509_free);
        }
        printf("| of which reading + checking the answer (%zu bytes) | %.2f ms |\n", strlen(body),
               median(rekey, runs));
        json_object_put(o);
        X509_STORE_free(roots);
    }
    sk_X509_pop_free(cur, X509_free);
    EVP_PKEY_free(cur_key);
    getrusage(RUSAGE_SELF, &ru);
    printf("| peak RSS of this process | %ld KiB |\n", ru.ru_maxrss);
    for (int i = 0; i < runs * 2; i++)
        free(tokens[i]);
    free(tokens);
    free(keygen);
    free(csrt);
    free(sign);
    free(rekey);
    return 0;
}
