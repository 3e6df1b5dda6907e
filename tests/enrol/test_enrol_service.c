/*
 * kmtls-enrol against the real step-ca and against misbehaving services
 * (run_service_tests.sh starts them and says where in ENROL_* variables).
 * Tokens are minted for each test with `step-ca-peer.sh token`.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <check.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "certs.h"
#include "kmtls/enrol.h"

#define PRODUCER "Callisto kafka-producer"
#define PRODUCER_DN "C=GB,O=UK Home Office,CN=Callisto kafka-producer"

static char err[2048];

static const char *env(const char *name)
{
    const char *v = getenv(name);

    ck_assert_msg(v != NULL && *v != '\0', "%s is not set (run through run_service_tests.sh)", name);
    return v;
}

/* Extra time allowed over a bound: a loaded 2-core machine, or valgrind. */
static long slack_ms(void)
{
    const char *s = getenv("ENROL_SLACK_MS");
    return s != NULL ? atol(s) : 1500;
}

static long now_ms(void)
{
    struct timespec t;

    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1000L + t.tv_nsec / 1000000L;
}

/* A one-time token from step-ca-peer.sh for cn (and SANs), malloc'd. */
static char *mint(const char *cn, const char *san1, const char *san2)
{
    char cmd[4096], line[8192];
    FILE *p;

    snprintf(cmd, sizeof(cmd), "'%s' token '%s' '%s'%s%s%s%s%s%s", env("ENROL_PEER"),
             env("ENROL_PEER_DIR"), cn, san1 ? " '" : "", san1 ? san1 : "", san1 ? "'" : "",
             san2 ? " '" : "", san2 ? san2 : "", san2 ? "'" : "");
    ck_assert_ptr_nonnull(p = popen(cmd, "r"));
    ck_assert_ptr_nonnull(fgets(line, sizeof(line), p));
    ck_assert_int_eq(pclose(p), 0);
    line[strcspn(line, "\r\n")] = '\0';
    return strdup(line);
}

static km_enrol_service step_ca(void)
{
    km_enrol_service s = { env("ENROL_URL"), env("ENROL_ROOT"), NULL, 10000 };
    return s;
}

static km_enrol_service canned(const char *url_case, long timeout)
{
    static char url[512];
    km_enrol_service s = { url, env("ENROL_FAKE_ROOT"), NULL, timeout };

    snprintf(url, sizeof(url), "%s/%s", env("ENROL_FAKE_URL"), url_case);
    return s;
}

static X509_REQ *csr_for(EVP_PKEY *key, const char *cn)
{
    X509_REQ *csr = NULL;

    ck_assert_int_eq(km_enrol_csr_new(key, cn, &csr, err, sizeof(err)), KM_ENROL_OK);
    return csr;
}

static void free_chain(STACK_OF(X509) *c)
{
    sk_X509_pop_free(c, X509_free);
}

/* A fresh enrolment of PRODUCER (key kept in *key), optionally with SANs
 * and a lifetime. */
static STACK_OF(X509) *enrol_producer(const char *type, const char *san1, const char *san2,
                                      const char *not_after, EVP_PKEY **key)
{
    km_enrol_service svc = step_ca();
    char *token = mint(PRODUCER, san1, san2);
    X509_REQ *csr;
    STACK_OF(X509) *chain = NULL;
    km_enrol_reason r;

    *key = tc_key(type);
    csr = csr_for(*key, PRODUCER);
    r = km_enrol_sign(&svc, csr, token, not_after, &chain, err, sizeof(err));
    ck_assert_msg(r == KM_ENROL_OK, "%s: %s", km_enrol_reason_name(r), err);
    ck_assert_str_eq(err, "");
    ck_assert_ptr_nonnull(chain);
    X509_REQ_free(csr);
    OPENSSL_cleanse(token, strlen(token));
    free(token);
    return chain;
}

static void subject_is(X509 *x, const char *want)
{
    BIO *b = BIO_new(BIO_s_mem());
    char *data;
    long len;

    X509_NAME_print_ex(b, X509_get_subject_name(x), 0, XN_FLAG_RFC2253);
    len = BIO_get_mem_data(b, &data);
    ck_assert_msg((size_t)len == strlen(want) && memcmp(data, want, (size_t)len) == 0,
                  "subject %.*s, want %s", (int)len, data, want);
    BIO_free(b);
}

static X509 *read_cert(const char *path)
{
    FILE *f = fopen(path, "r");
    X509 *x;

    ck_assert_ptr_nonnull(f);
    x = PEM_read_X509(f, NULL, NULL, NULL);
    fclose(f);
    ck_assert_ptr_nonnull(x);
    return x;
}

static char *san_text(X509 *x)
{
    int i = X509_get_ext_by_NID(x, NID_subject_alt_name, -1);
    BIO *b = BIO_new(BIO_s_mem());
    char *data, *out;
    long len;

    if (i >= 0)
        X509V3_EXT_print(b, X509_get_ext(x, i), 0, 0);
    len = BIO_get_mem_data(b, &data);
    out = strndup(data, (size_t)len);
    BIO_free(b);
    return out;
}

/* ENROL_SHOW_ERRORS=1: print what the user would read (for enrol/README.md). */
static void show(const char *what, km_enrol_reason r, long took_ms)
{
    if (getenv("ENROL_SHOW_ERRORS") != NULL)
        fprintf(stderr, "[%s] %s (%ld ms): %s\n", what, km_enrol_reason_name(r), took_ms, err);
}

#define ck_err_has(text) ck_assert_msg(strstr(err, text) != NULL, "'%s' not in: %s", text, err)

/* ---- step-ca: enrolment ------------------------------------------------ */

START_TEST(first_enrolment_returns_a_checked_chain)
{
    const char *types[] = { "ec", "rsa" };
    X509 *inter = read_cert(env("ENROL_INTERMEDIATE"));

    for (int i = 0; i < 2; i++) {
        EVP_PKEY *key;
        STACK_OF(X509) *chain = enrol_producer(types[i], NULL, NULL, NULL, &key);
        X509 *leaf = sk_X509_value(chain, 0);

        ck_assert_int_eq(sk_X509_num(chain), 2);
        subject_is(leaf, PRODUCER_DN);
        ck_assert_int_eq(X509_cmp(sk_X509_value(chain, 1), inter), 0);
        ck_assert_int_eq(EVP_PKEY_eq(X509_get0_pubkey(leaf), key), 1);
        ck_assert(X509_get_extended_key_usage(leaf) & XKU_SSL_CLIENT);
        ck_assert_int_eq(X509_get_ext_by_NID(leaf, NID_subject_alt_name, -1), -1);
        /* 24 h by default */
        ck_assert_int_gt(X509_cmp_time(X509_get0_notAfter(leaf), &(time_t){ time(NULL) + 23 * 3600 }), 0);
        free_chain(chain);
        EVP_PKEY_free(key);
    }
    X509_free(inter);
}
END_TEST

START_TEST(not_after_sets_the_lifetime)
{
    EVP_PKEY *key;
    STACK_OF(X509) *chain = enrol_producer("ec", NULL, NULL, "2m", &key);
    X509 *leaf = sk_X509_value(chain, 0);
    int days, secs;

    ck_assert_int_eq(ASN1_TIME_diff(&days, &secs, NULL, X509_get0_notAfter(leaf)), 1);
    ck_assert_int_eq(days, 0);
    ck_assert_msg(secs > 100 && secs <= 121, "notAfter in %d s", secs);
    free_chain(chain);
    EVP_PKEY_free(key);
}
END_TEST

START_TEST(token_sans_come_with_a_cn_only_csr)
{
    EVP_PKEY *key;
    STACK_OF(X509) *chain = enrol_producer("ec", "producer.callisto.example",
                                           "spiffe://callisto/kafka-producer", NULL, &key);
    char *sans = san_text(sk_X509_value(chain, 0));

    ck_assert_str_eq(sans, "DNS:producer.callisto.example, URI:spiffe://callisto/kafka-producer");
    free(sans);
    free_chain(chain);
    EVP_PKEY_free(key);
}
END_TEST

/* A token for the producer and a CSR for cn: refused, with step-ca's words. */
static void refused_for(const char *cn, const char *want)
{
    km_enrol_service svc = step_ca();
    char *token = mint(PRODUCER, NULL, NULL), prefix[256];
    EVP_PKEY *key = tc_key("ec");
    X509_REQ *csr = csr_for(key, cn);
    STACK_OF(X509) *chain = NULL;

    ck_assert_int_eq(km_enrol_sign(&svc, csr, token, NULL, &chain, err, sizeof(err)), KM_ENROL_REFUSED);
    show(cn, KM_ENROL_REFUSED, 0);
    ck_assert_ptr_null(chain);
    snprintf(prefix, sizeof(prefix), "step-ca %s/1.0/sign refused the request (403): ", env("ENROL_URL"));
    ck_err_has(prefix);
    ck_err_has(want);
    ck_assert_ptr_null(strstr(err, token));
    /* The refusal spent the token: the right CSR now gets 401. */
    X509_REQ_free(csr);
    csr = csr_for(key, PRODUCER);
    ck_assert_int_eq(km_enrol_sign(&svc, csr, token, NULL, &chain, err, sizeof(err)),
                     KM_ENROL_UNAUTHORIZED);
    ck_err_has("refused the token (401)");
    X509_REQ_free(csr);
    EVP_PKEY_free(key);
    free(token);
}

START_TEST(csr_for_the_consumer_is_refused)
{
    refused_for("Callisto kafka-consumer", "certificate request does not contain the valid common "
                "name - got Callisto kafka-consumer, want [Callisto kafka-producer");
}
END_TEST

START_TEST(csr_for_the_broker_is_refused)
{
    refused_for("Callisto kafka", "certificate request does not contain the valid common name - "
                "got Callisto kafka, want [Callisto kafka-producer");
}
END_TEST

START_TEST(replayed_token_is_unauthorized)
{
    km_enrol_service svc = step_ca();
    char *token = mint(PRODUCER, NULL, NULL);
    EVP_PKEY *key = tc_key("ec");
    X509_REQ *csr = csr_for(key, PRODUCER);
    STACK_OF(X509) *chain = NULL;

    ck_assert_int_eq(km_enrol_sign(&svc, csr, token, NULL, &chain, err, sizeof(err)), KM_ENROL_OK);
    free_chain(chain);
    ck_assert_int_eq(km_enrol_sign(&svc, csr, token, NULL, &chain, err, sizeof(err)),
                     KM_ENROL_UNAUTHORIZED);
    ck_assert_ptr_null(chain);
    show("replay", KM_ENROL_UNAUTHORIZED, 0);
    ck_err_has("/1.0/sign refused the token (401): The request lacked necessary authorization");
    ck_err_has("get a new token");
    ck_assert_ptr_null(strstr(err, token));
    X509_REQ_free(csr);
    EVP_PKEY_free(key);
    free(token);
}
END_TEST

START_TEST(refused_arguments_leave_the_token_unspent)
{
    km_enrol_service svc = step_ca(), wrong = svc;
    char *token = mint(PRODUCER, NULL, NULL);
    EVP_PKEY *key = tc_key("ec");
    X509_REQ *csr = csr_for(key, PRODUCER);
    STACK_OF(X509) *chain = NULL;

    ck_assert_int_eq(km_enrol_sign(&svc, csr, token, "1 day", &chain, err, sizeof(err)),
                     KM_ENROL_BAD_ARGUMENT);
    /* A service that does not verify: TLS fails before anything is sent. */
    wrong.ca_file = env("ENROL_OTHER_ROOT");
    ck_assert_int_eq(km_enrol_sign(&wrong, csr, token, NULL, &chain, err, sizeof(err)), KM_ENROL_TLS);
    ck_assert_int_eq(km_enrol_sign(&svc, csr, token, "1h", &chain, err, sizeof(err)), KM_ENROL_OK);
    free_chain(chain);
    X509_REQ_free(csr);
    EVP_PKEY_free(key);
    free(token);
}
END_TEST

START_TEST(environment_proxies_are_ignored)
{
    char proxy[64];
    EVP_PKEY *key;
    STACK_OF(X509) *chain;

    snprintf(proxy, sizeof(proxy), "http://127.0.0.1:%s", env("ENROL_DOWN_PORT"));
    setenv("https_proxy", proxy, 1);
    setenv("HTTPS_PROXY", proxy, 1);
    setenv("ALL_PROXY", proxy, 1);
    setenv("all_proxy", proxy, 1);
    chain = enrol_producer("ec", NULL, NULL, NULL, &key);
    free_chain(chain);
    EVP_PKEY_free(key);
    unsetenv("https_proxy");
    unsetenv("HTTPS_PROXY");
    unsetenv("ALL_PROXY");
    unsetenv("all_proxy");
}
END_TEST

/* ---- step-ca: renewal by mutual TLS ------------------------------------ */

static STACK_OF(X509) *intermediates(STACK_OF(X509) *chain)
{
    STACK_OF(X509) *rest = sk_X509_dup(chain);

    (void)sk_X509_shift(rest);
    return rest;
}

START_TEST(rekey_gives_a_new_key_for_the_same_identity)
{
    km_enrol_service svc = step_ca();
    EVP_PKEY *old_key, *new_key = tc_key("ec");
    STACK_OF(X509) *cur = enrol_producer("ec", "producer.callisto.example", NULL, NULL, &old_key);
    STACK_OF(X509) *rest = intermediates(cur), *next = NULL;
    X509_REQ *csr = csr_for(new_key, "ignored by rekey");
    X509 *a = sk_X509_value(cur, 0), *b;
    char *sa, *sb;

    for (int with_chain = 1; with_chain >= 0; with_chain--) {
        km_enrol_reason r = km_enrol_rekey(&svc, csr, a, old_key, with_chain ? rest : NULL, &next,
                                           err, sizeof(err));
        ck_assert_msg(r == KM_ENROL_OK, "%s: %s", km_enrol_reason_name(r), err);
        b = sk_X509_value(next, 0);
        subject_is(b, PRODUCER_DN);
        ck_assert_int_eq(X509_NAME_cmp(X509_get_subject_name(a), X509_get_subject_name(b)), 0);
        sa = san_text(a);
        sb = san_text(b);
        ck_assert_str_eq(sa, sb);
        ck_assert_str_eq(sb, "DNS:producer.callisto.example");
        ck_assert_int_eq(EVP_PKEY_eq(X509_get0_pubkey(b), new_key), 1);
        ck_assert_int_ne(EVP_PKEY_eq(X509_get0_pubkey(b), old_key), 1);
        ck_assert_int_ne(ASN1_INTEGER_cmp(X509_get0_serialNumber(a), X509_get0_serialNumber(b)), 0);
        free(sa);
        free(sb);
        free_chain(next);
    }
    sk_X509_free(rest);
    free_chain(cur);
    X509_REQ_free(csr);
    EVP_PKEY_free(old_key);
    EVP_PKEY_free(new_key);
}
END_TEST

START_TEST(renew_keeps_the_key)
{
    km_enrol_service svc = step_ca();
    EVP_PKEY *key;
    STACK_OF(X509) *cur = enrol_producer("ec", NULL, NULL, NULL, &key), *next = NULL;
    X509 *a = sk_X509_value(cur, 0), *b;

    ck_assert_int_eq(km_enrol_renew(&svc, a, key, NULL, &next, err, sizeof(err)), KM_ENROL_OK);
    b = sk_X509_value(next, 0);
    ck_assert_int_eq(EVP_PKEY_eq(X509_get0_pubkey(b), key), 1);
    ck_assert_int_ne(ASN1_INTEGER_cmp(X509_get0_serialNumber(a), X509_get0_serialNumber(b)), 0);
    subject_is(b, PRODUCER_DN);
    free_chain(next);
    free_chain(cur);
    EVP_PKEY_free(key);
}
END_TEST

START_TEST(rekey_with_an_expired_certificate_is_refused)
{
    km_enrol_service svc = step_ca();
    EVP_PKEY *key, *new_key = tc_key("ec");
    STACK_OF(X509) *cur = enrol_producer("ec", NULL, NULL, "2s", &key), *next = NULL;
    X509_REQ *csr = csr_for(new_key, PRODUCER);
    int days = 0, secs = 0;

    ASN1_TIME_diff(&days, &secs, NULL, X509_get0_notAfter(sk_X509_value(cur, 0)));
    if (secs + 1 > 0)
        sleep((unsigned)secs + 2);
    ck_assert_int_eq(km_enrol_rekey(&svc, csr, sk_X509_value(cur, 0), key, NULL, &next, err,
                                    sizeof(err)), KM_ENROL_CERT_REFUSED);
    ck_assert_ptr_null(next);
    show("expired client", KM_ENROL_CERT_REFUSED, 0);
    ck_err_has("/1.0/rekey refused the client certificate (TLS alert certificate expired (45); "
               "the current certificate expired at ");
    ck_err_has("enrol again with a new token");
    ck_assert_int_eq(km_enrol_renew(&svc, sk_X509_value(cur, 0), key, NULL, &next, err,
                                    sizeof(err)), KM_ENROL_CERT_REFUSED);
    free_chain(cur);
    X509_REQ_free(csr);
    EVP_PKEY_free(key);
    EVP_PKEY_free(new_key);
}
END_TEST

START_TEST(rekey_with_a_foreign_certificate_is_refused)
{
    km_enrol_service svc = step_ca();
    EVP_PKEY *key = tc_key("ec");
    tc_spec s = { PRODUCER_DN, key, NULL, NULL, 0, "clientAuth", NULL, -60, 3600 };
    X509 *self = tc_cert(&s);
    X509_REQ *csr = csr_for(key, PRODUCER);
    STACK_OF(X509) *next = NULL;

    ck_assert_int_eq(km_enrol_rekey(&svc, csr, self, key, NULL, &next, err, sizeof(err)),
                     KM_ENROL_CERT_REFUSED);
    show("foreign client", KM_ENROL_CERT_REFUSED, 0);
    ck_err_has("refused the client certificate (TLS alert unknown CA (48))");
    X509_free(self);
    X509_REQ_free(csr);
    EVP_PKEY_free(key);
}
END_TEST

/* ---- the service's certificate ---------------------------------------- */

static km_enrol_reason sign_once(km_enrol_service *svc, const char *token)
{
    EVP_PKEY *key = tc_key("ec");
    X509_REQ *csr = csr_for(key, PRODUCER);
    STACK_OF(X509) *chain = NULL;
    long t0 = now_ms();
    km_enrol_reason r = km_enrol_sign(svc, csr, token, NULL, &chain, err, sizeof(err));

    show(svc->url, r, now_ms() - t0);
    ck_assert_msg((r == KM_ENROL_OK) == (chain != NULL), "status and chain disagree");
    ck_assert_msg(strstr(err, token) == NULL, "the token is in the message: %s", err);
    ck_assert_msg(r == KM_ENROL_OK || err[0] != '\0', "no message");
    free_chain(chain);
    X509_REQ_free(csr);
    EVP_PKEY_free(key);
    return r;
}

#define FAKE_TOKEN "eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJDYWxsaXN0byJ9.c2lnbmF0dXJl"

START_TEST(service_certificate_from_another_root_is_refused)
{
    km_enrol_service svc = step_ca();

    svc.ca_file = env("ENROL_OTHER_ROOT");
    ck_assert_int_eq(sign_once(&svc, FAKE_TOKEN), KM_ENROL_TLS);
    ck_err_has("TLS failed: the service's certificate is not trusted: SSL certificate problem: "
               "unable to get local issuer certificate (verified against ");
    /* Nor is the system's CA store a fallback. */
    svc.ca_file = env("ENROL_FAKE_ROOT");
    ck_assert_int_eq(sign_once(&svc, FAKE_TOKEN), KM_ENROL_TLS);
    /* The issuing intermediate alone is no trust anchor (no partial chains). */
    svc.ca_file = env("ENROL_INTERMEDIATE");
    ck_assert_int_eq(sign_once(&svc, FAKE_TOKEN), KM_ENROL_TLS);
    ck_err_has("unable to get issuer certificate");
}
END_TEST

START_TEST(service_name_mismatch_is_refused)
{
    km_enrol_service svc = step_ca();
    char url[128];

    snprintf(url, sizeof(url), "https://localhost:%s", env("ENROL_STEP_PORT"));
    svc.url = url;
    ck_assert_int_eq(sign_once(&svc, FAKE_TOKEN), KM_ENROL_TLS);
    ck_err_has("TLS failed: the service's certificate is not trusted");
    ck_err_has("localhost");
}
END_TEST

START_TEST(expired_service_certificate_is_refused)
{
    km_enrol_service svc = { env("ENROL_EXPIRED_URL"), env("ENROL_FAKE_ROOT"), NULL, 5000 };

    ck_assert_int_eq(sign_once(&svc, FAKE_TOKEN), KM_ENROL_TLS);
    ck_err_has("certificate has expired");
}
END_TEST

/* ---- no service, slow services ----------------------------------------- */

START_TEST(nothing_listening_is_unreachable_at_once)
{
    km_enrol_service svc = { env("ENROL_DOWN_URL"), env("ENROL_ROOT"), NULL, 10000 };
    long t0 = now_ms(), took;

    ck_assert_int_eq(sign_once(&svc, FAKE_TOKEN), KM_ENROL_UNREACHABLE);
    took = now_ms() - t0;
    ck_assert_msg(took < 200 + slack_ms(), "took %ld ms", took);
    ck_err_has("/1.0/sign is unreachable: Failed to connect to 127.0.0.1 port");
}
END_TEST

static void times_out(km_enrol_service *svc)
{
    long t0 = now_ms(), took;
    char want[64];

    ck_assert_int_eq(sign_once(svc, FAKE_TOKEN), KM_ENROL_TIMEOUT);
    took = now_ms() - t0;
    ck_assert_msg(took >= svc->timeout_ms - 5 && took <= svc->timeout_ms + slack_ms(),
                  "took %ld ms for timeout_ms %ld", took, svc->timeout_ms);
    snprintf(want, sizeof(want), "timed out after %ld ms", svc->timeout_ms);
    ck_err_has(want);
}

START_TEST(silent_listener_times_out)
{
    km_enrol_service svc = { env("ENROL_TARPIT_URL"), env("ENROL_ROOT"), NULL, 700 };
    times_out(&svc);
}
END_TEST

START_TEST(slow_headers_time_out)
{
    km_enrol_service svc = canned("slow-headers", 800);
    times_out(&svc);
}
END_TEST

START_TEST(slow_body_times_out)
{
    km_enrol_service svc = canned("slow-body", 900);
    times_out(&svc);
}
END_TEST

/* ---- bad answers --------------------------------------------------------- */

static void answer_is(const char *url_case, km_enrol_reason want, const char *text)
{
    km_enrol_service svc = canned(url_case, 5000);
    km_enrol_reason r = sign_once(&svc, FAKE_TOKEN);

    ck_assert_msg(r == want, "%s: %s, want %s: %s", url_case, km_enrol_reason_name(r),
                  km_enrol_reason_name(want), err);
    ck_err_has(text);
    ck_err_has(svc.url);
}

START_TEST(oversized_responses_are_refused)
{
    answer_is("big-length", KM_ENROL_BAD_RESPONSE, "announces a body larger than 262144 bytes");
    answer_is("big-chunked", KM_ENROL_BAD_RESPONSE, "the response body is larger than 262144 bytes");
}
END_TEST

START_TEST(malformed_responses_are_refused)
{
    answer_is("not-json", KM_ENROL_BAD_RESPONSE, "sent a bad response: the body is not JSON");
    answer_is("truncated", KM_ENROL_BAD_RESPONSE, "sent a bad response: the body is not JSON");
    answer_is("no-chain", KM_ENROL_BAD_RESPONSE, "\"certChain\" is missing");
    answer_is("bad-pem", KM_ENROL_BAD_RESPONSE, "certChain[0] is not valid PEM");
    answer_is("target", KM_ENROL_BAD_RESPONSE, "\"crt\" is missing");
    answer_is("not-http", KM_ENROL_BAD_RESPONSE, "not an HTTP/1.1 answer");
}
END_TEST

START_TEST(other_statuses_name_the_status)
{
    answer_is("html-500", KM_ENROL_SERVICE, "answered HTTP 500: <html><body><h1>Internal Server Error");
    answer_is("empty-405", KM_ENROL_SERVICE, "answered HTTP 405: (no message)");
    answer_is("nothing-here", KM_ENROL_SERVICE, "answered HTTP 404: no such case");
    answer_is("close", KM_ENROL_UNREACHABLE, "is unreachable: the connection ended without an answer");
}
END_TEST

START_TEST(redirects_are_not_followed)
{
    FILE *log;
    char line[512];

    answer_is("redirect", KM_ENROL_SERVICE, "answered 302, a redirect (not followed)");
    ck_assert_ptr_nonnull(log = fopen(env("ENROL_FAKE_LOG"), "r"));
    while (fgets(line, sizeof(line), log) != NULL)
        ck_assert_msg(strstr(line, "/redirect-target/") == NULL, "the redirect was followed: %s", line);
    fclose(log);
}
END_TEST

START_TEST(an_echoed_token_is_scrubbed)
{
    km_enrol_service svc = canned("echo-token", 5000);

    ck_assert_int_eq(sign_once(&svc, FAKE_TOKEN), KM_ENROL_REFUSED);
    ck_err_has("refused the request (403): token [token] is not for this CA");
}
END_TEST

/* ---- many threads at once ----------------------------------------------- */

typedef struct job {
    char *token;
    km_enrol_reason r;
    char err[512];
    ASN1_INTEGER *serial;
} job;

static void *enrol_job(void *arg)
{
    job *j = arg;
    km_enrol_service svc = step_ca();
    EVP_PKEY *key = EVP_EC_gen("P-256");
    X509_REQ *csr = NULL;
    STACK_OF(X509) *chain = NULL;

    j->r = km_enrol_csr_new(key, PRODUCER, &csr, j->err, sizeof(j->err));
    if (j->r == KM_ENROL_OK)
        j->r = km_enrol_sign(&svc, csr, j->token, NULL, &chain, j->err, sizeof(j->err));
    if (j->r == KM_ENROL_OK)
        j->serial = ASN1_INTEGER_dup(X509_get0_serialNumber(sk_X509_value(chain, 0)));
    free_chain(chain);
    X509_REQ_free(csr);
    EVP_PKEY_free(key);
    return NULL;
}

START_TEST(threads_enrol_at_once)
{
    enum { N = 6 };
    job jobs[N];
    pthread_t t[N];

    for (int i = 0; i < N; i++) {
        memset(&jobs[i], 0, sizeof(jobs[i]));
        jobs[i].token = mint(PRODUCER, NULL, NULL);
    }
    for (int i = 0; i < N; i++)
        ck_assert_int_eq(pthread_create(&t[i], NULL, enrol_job, &jobs[i]), 0);
    for (int i = 0; i < N; i++)
        pthread_join(t[i], NULL);
    for (int i = 0; i < N; i++) {
        ck_assert_msg(jobs[i].r == KM_ENROL_OK, "thread %d: %s", i, jobs[i].err);
        for (int k = 0; k < i; k++)
            ck_assert_int_ne(ASN1_INTEGER_cmp(jobs[i].serial, jobs[k].serial), 0);
    }
    for (int i = 0; i < N; i++) {
        ASN1_INTEGER_free(jobs[i].serial);
        free(jobs[i].token);
    }
}
END_TEST

int main(void)
{
    Suite *s = suite_create("enrol_service");
    TCase *sign = tcase_create("sign"), *renew = tcase_create("renew"),
          *tls = tcase_create("tls"), *net = tcase_create("network"),
          *bad = tcase_create("answers"), *many = tcase_create("threads");
    TCase *all[] = { sign, renew, tls, net, bad, many };
    SRunner *sr;
    int failed;

    tcase_add_test(sign, first_enrolment_returns_a_checked_chain);
    tcase_add_test(sign, not_after_sets_the_lifetime);
    tcase_add_test(sign, token_sans_come_with_a_cn_only_csr);
    tcase_add_test(sign, csr_for_the_consumer_is_refused);
    tcase_add_test(sign, csr_for_the_broker_is_refused);
    tcase_add_test(sign, replayed_token_is_unauthorized);
    tcase_add_test(sign, refused_arguments_leave_the_token_unspent);
    tcase_add_test(sign, environment_proxies_are_ignored);
    tcase_add_test(renew, rekey_gives_a_new_key_for_the_same_identity);
    tcase_add_test(renew, renew_keeps_the_key);
    tcase_add_test(renew, rekey_with_an_expired_certificate_is_refused);
    tcase_add_test(renew, rekey_with_a_foreign_certificate_is_refused);
    tcase_add_test(tls, service_certificate_from_another_root_is_refused);
    tcase_add_test(tls, service_name_mismatch_is_refused);
    tcase_add_test(tls, expired_service_certificate_is_refused);
    tcase_add_test(net, nothing_listening_is_unreachable_at_once);
    tcase_add_test(net, silent_listener_times_out);
    tcase_add_test(net, slow_headers_time_out);
    tcase_add_test(net, slow_body_times_out);
    tcase_add_test(bad, oversized_responses_are_refused);
    tcase_add_test(bad, malformed_responses_are_refused);
    tcase_add_test(bad, other_statuses_name_the_status);
    tcase_add_test(bad, redirects_are_not_followed);
    tcase_add_test(bad, an_echoed_token_is_scrubbed);
    tcase_add_test(many, threads_enrol_at_once);
    for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++) {
        tcase_set_timeout(all[i], 300);
        suite_add_tcase(s, all[i]);
    }
    sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    ERR_clear_error();
    return failed == 0 ? 0 : 1;
}
