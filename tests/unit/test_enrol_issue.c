/*
 * The issuer's CA-service path (issuer/enrol_*.c) without a CA service:
 * which call a renewal makes (plan, key type, lifetime, identity), the CSR's
 * CN, what the volume holds and whether it chains to the configured root,
 * and the failures that must write nothing (the service unreachable, no
 * token, a token that is not a JWT, a volume of another CA). Against the
 * real step-ca the path is tested end to end by tests/world/scenarios/
 * (enrols_*, *ca_service*) and tests/integration/command_enrols_*.
 * Volumes: copies of the fixtures' vol/client-chain (root ca/ -> sub/ ->
 * client, as step-ca's root -> intermediate -> client).
 */
#include <check.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

#include "enrol_internal.h"
#include "kafka-mtls.h"
#include "kmtls/issuer.h"
#include "testutil.h"
#include "testutil_ossl.h"

static kmtls_libctx *lc;
static const char *fx;
static char root[PATH_MAX];

/* A copy of the fixture volume vol/client-chain at root/NAME. */
static const char *chain_volume(const char *name)
{
    const char *vol = tu_path(root, name);

    tu_run("rm -rf '%s' && cp -a '%s/vol/client-chain' '%s' && chmod 700 '%s'", vol, fx, vol, vol);
    return vol;
}

static km_svc_request request(const char *vol, const char *ca_root)
{
    km_svc_request rq = { .libctx = lc->libctx, .volume = vol, .alias = "client-chain",
                          /* nothing listens on port 1: connection refused at once */
                          .url = "https://127.0.0.1:1", .root = ca_root, .timeout_ms = 2000 };
    return rq;
}

static void serial_of(const char *vol, char *out, size_t n)
{
    km_vol_check c;

    km_volume_check(lc->libctx, vol, "client-chain", NULL, NULL, time(NULL), &c);
    snprintf(out, n, "%s", c.serial);
    km_vol_check_clear(&c);
}

static STACK_OF(X509) *roots_of(const char *path)
{
    km_status st = { 0 };
    STACK_OF(X509) *r = km_read_certs_pem(lc->libctx, path, "root", &st);

    ck_assert_msg(r != NULL, "%s", st.msg);
    return r;
}

static void setup(void)
{
    lc = tu_libctx_new();
    fx = getenv("KMTLS_FIXTURES");
    ck_assert_msg(fx != NULL, "KMTLS_FIXTURES is not set");
    tu_mkdtemp(root, sizeof(root), "kmtls-enrol-issue.XXXXXX");
}

static void teardown(void)
{
    tu_system("rm -rf '%s'", root);
    kmtls_libctx_free(lc);
}

/* ------------------------------------------------------------ the plan */

START_TEST(plan_chooses_rekey_only_when_nothing_changes)
{
    static const struct {
        km_svc_facts f;
        km_svc_call want;
        const char *why;
    } cases[] = {
        { { 0, 0, 0, 0, 0 }, KM_SVC_SIGN, "first enrolment" },
        { { 1, 1, 1, 1, 1 }, KM_SVC_SIGN, "expired" },
        { { 1, 0, 0, 1, 1 }, KM_SVC_SIGN, "key type" },
        { { 1, 0, 1, 0, 1 }, KM_SVC_SIGN, "lifetime" },
        { { 1, 0, 1, 1, 0 }, KM_SVC_SIGN, "subject or SANs" },
        { { 1, 0, 1, 1, 1 }, KM_SVC_REKEY, "mutual TLS" },
    };
    char why[256];

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        ck_assert_int_eq(km_svc_plan(&cases[i].f, why, sizeof(why)), cases[i].want);
        ck_assert_msg(strstr(why, cases[i].why) != NULL, "case %zu: '%s' lacks '%s'", i, why, cases[i].why);
    }
}
END_TEST

START_TEST(key_type_and_lifetime_compare_as_rekey_keeps_them)
{
    EVP_PKEY *ec = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
    EVP_PKEY *rsa = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048);
    km_key_spec p256, p384, rsa2048, rsa3072;
    char err[256];

    ck_assert(km_key_spec_parse("ec:P-256", &p256, err, sizeof(err)));
    ck_assert(km_key_spec_parse("ec:P-384", &p384, err, sizeof(err)));
    ck_assert(km_key_spec_parse("rsa:2048", &rsa2048, err, sizeof(err)));
    ck_assert(km_key_spec_parse("rsa:3072", &rsa3072, err, sizeof(err)));
    ck_assert(km_svc_same_key_type(ec, &p256));
    ck_assert(!km_svc_same_key_type(ec, &p384));
    ck_assert(!km_svc_same_key_type(ec, &rsa2048));
    ck_assert(km_svc_same_key_type(rsa, &rsa2048));
    ck_assert(!km_svc_same_key_type(rsa, &rsa3072));
    ck_assert(!km_svc_same_key_type(rsa, &p256));
    /* the service's default lifetime is whatever the certificate has */
    ck_assert(km_svc_same_lifetime(0, 86400 + 60, 0));
    /* step-ca backdates notBefore by a minute: 24h asked, 24h01m issued */
    ck_assert(km_svc_same_lifetime(0, 86400 + 60, 86400));
    ck_assert(!km_svc_same_lifetime(0, 86400 + 60, 3600));
    ck_assert(!km_svc_same_lifetime(0, 3600, 86400));
    EVP_PKEY_free(ec);
    EVP_PKEY_free(rsa);
}
END_TEST

START_TEST(durations_are_go_durations)
{
    double s = 0;
    km_status st = { 0 };

    if (!km_svc_available())
        return; /* a build without enrolment refuses every lifetime: tested below */
    ck_assert(km_svc_duration("24h", &s) && s == 86400);
    ck_assert(km_svc_duration("1h30m", &s) && s == 5400);
    ck_assert(km_svc_duration("1.5m", &s) && s == 90);
    ck_assert(km_svc_duration("90s", &s) && s == 90);
    ck_assert(!km_svc_duration("24", &s));
    ck_assert(!km_svc_duration("1d", &s));
    ck_assert(!km_svc_duration("-5m", &s));
    ck_assert(!km_svc_duration("", &s));
    ck_assert(km_svc_not_after_check("2160h", &st));
    ck_assert(!km_svc_not_after_check("500ms", &st));
    ck_assert_int_eq(st.reason, KAFKA_MTLS_R_BAD_REQUEST);
    ck_assert_msg(strstr(st.msg, "500ms") != NULL, "%s", st.msg);
}
END_TEST

/* ------------------------------------------------------------ names */

START_TEST(identity_is_compared_in_der_order)
{
    const char *vol = chain_volume("id");
    km_svc_request rq = request(vol, tu_path(fx, "ca/ca.crt"));
    STACK_OF(X509) *roots = roots_of(rq.root);
    km_svc_current cur;
    char why[700], cn[128];
    km_status st = { 0 };

    km_svc_current_read(&rq, "client-chain", roots, time(NULL), &cur);
    ck_assert_ptr_nonnull(cur.leaf);
    ck_assert(km_svc_identity_matches(&rq, "client-chain", cur.leaf, why, sizeof(why)));
    rq.subject = "CN=${alias},OU=TEST,O=CONFLUENT,L=PaloAlto,ST=Ca,C=US";
    ck_assert_msg(km_svc_identity_matches(&rq, "client-chain", cur.leaf, why, sizeof(why)), "%s", why);
    /* the same names in the other order are another subject */
    rq.subject = "/CN=client-chain/OU=TEST/O=CONFLUENT/L=PaloAlto/ST=Ca/C=US";
    ck_assert(!km_svc_identity_matches(&rq, "client-chain", cur.leaf, why, sizeof(why)));
    ck_assert_msg(strstr(why, "not the configured") != NULL, "%s", why);
    rq.subject = NULL;
    rq.san = "DNS:client-chain";
    ck_assert(!km_svc_identity_matches(&rq, "client-chain", cur.leaf, why, sizeof(why)));
    ck_assert_msg(strstr(why, "subjectAltNames") != NULL, "%s", why);

    /* the CSR's CN: the configured subject's, else the token's, else the current one's */
    rq.san = NULL;
    rq.subject = "C=GB,O=UK Home Office,CN=Callisto ${alias}";
    ck_assert(km_svc_csr_cn(&rq, "kafka-producer", "Callisto other", NULL, cn, sizeof(cn), &st));
    ck_assert_str_eq(cn, "Callisto kafka-producer");
    rq.subject = NULL;
    ck_assert(km_svc_csr_cn(&rq, "kafka-producer", "Callisto other", NULL, cn, sizeof(cn), &st));
    ck_assert_str_eq(cn, "Callisto other");
    ck_assert(km_svc_csr_cn(&rq, "kafka-producer", NULL, cur.leaf, cn, sizeof(cn), &st));
    ck_assert_str_eq(cn, "client-chain");
    rq.subject = "O=no common name";
    ck_assert(!km_svc_csr_cn(&rq, "kafka-producer", "x", NULL, cn, sizeof(cn), &st));
    ck_assert_msg(strstr(st.msg, "exactly one CN") != NULL, "%s", st.msg);
    km_svc_current_clear(&cur);
    sk_X509_pop_free(roots, X509_free);
}
END_TEST

/* ------------------------------------------------------------ the volume */

START_TEST(ours_means_chaining_to_the_configured_root)
{
    const char *vol = chain_volume("ours");
    km_svc_request rq = request(vol, tu_path(fx, "ca/ca.crt"));
    STACK_OF(X509) *ca = roots_of(tu_path(fx, "ca/ca.crt")), *foreign = roots_of(tu_path(fx, "foreign/ca.crt"));
    km_svc_current cur;
    X509 *anchor;

    km_svc_current_read(&rq, "client-chain", ca, time(NULL), &cur);
    ck_assert_ptr_nonnull(cur.key);
    ck_assert_msg(cur.ours && !cur.expired, "%s", cur.why);
    /* the intermediate comes from the keystore, the root from the configuration */
    ck_assert(km_svc_anchor(lc->libctx, ca, cur.leaf, cur.chain, &anchor));
    ck_assert_ptr_eq(anchor, sk_X509_value(ca, 0));
    km_svc_current_clear(&cur);

    km_svc_current_read(&rq, "client-chain", foreign, time(NULL), &cur);
    ck_assert_ptr_nonnull(cur.key);
    ck_assert(!cur.ours);
    ck_assert_msg(strstr(cur.why, "does not chain") != NULL, "%s", cur.why);
    km_svc_current_clear(&cur);

    /* no volume: nothing current, not a failure */
    rq.volume = tu_path(root, "absent");
    km_svc_current_read(&rq, "client-chain", ca, time(NULL), &cur);
    ck_assert_ptr_null(cur.key);
    ck_assert(cur.why[0] != '\0');
    km_svc_current_clear(&cur);
    sk_X509_pop_free(ca, X509_free);
    sk_X509_pop_free(foreign, X509_free);
}
END_TEST

/* ------------------------------------------------------------ failures write nothing */

START_TEST(failures_write_nothing)
{
    const char *vol = chain_volume("fail");
    km_svc_request rq = request(vol, tu_path(fx, "ca/ca.crt"));
    km_svc_result res;
    km_status st = { 0 };
    char before[64], after[64];
    const char *tok = tu_path(root, "token");

    if (!km_svc_available()) {
        ck_assert(!km_svc_issue(&rq, &res, &st));
        ck_assert_msg(strstr(st.msg, "built without enrolment") != NULL, "%s", st.msg);
        return;
    }
    serial_of(vol, before, sizeof(before));
    ck_assert(before[0] != '\0');

    /* the key type is the volume's (RSA-2048) and nothing else changes: a rekey, and nothing answers */
    ck_assert(!km_svc_issue(&rq, &res, &st));
    ck_assert_msg(strstr(st.msg, "/1.0/rekey is unreachable") != NULL && strstr(st.msg, "retry later"), "%s",
                  st.msg);
    serial_of(vol, after, sizeof(after));
    ck_assert_str_eq(before, after);

    /* another key type needs a sign, and so a token */
    memset(&st, 0, sizeof(st));
    rq.key_type = "ec:P-256";
    ck_assert(!km_svc_issue(&rq, &res, &st));
    ck_assert_msg(strstr(st.msg, "mtls.enrol.token.file") != NULL, "%s", st.msg);

    /* a token that is no JWT is refused before anything is sent */
    memset(&st, 0, sizeof(st));
    tu_run("printf 'not a token\\n' > '%s' && chmod 600 '%s'", tok, tok);
    rq.token_file = tok;
    ck_assert(!km_svc_issue(&rq, &res, &st));
    ck_assert_int_eq(st.reason, KAFKA_MTLS_R_BAD_REQUEST);
    ck_assert_msg(strstr(st.msg, "not a JWT") != NULL, "%s", st.msg);
    ck_assert_msg(strstr(st.msg, "not a token") == NULL, "the token is in the message: %s", st.msg);

    /* a JWT with a subject: the CSR is built, the service is down */
    memset(&st, 0, sizeof(st));
    /* {"sub":"Callisto kafka-producer"} */
    tu_run("printf 'eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJDYWxsaXN0byBrYWZrYS1wcm9kdWNlciJ9.c2ln\\n' > '%s'", tok);
    ck_assert(!km_svc_issue(&rq, &res, &st));
    ck_assert_msg(strstr(st.msg, "/1.0/sign is unreachable") != NULL, "%s", st.msg);
    ck_assert_msg(strstr(st.msg, "c2ln") == NULL && strstr(st.msg, "eyJ") == NULL, "token in: %s", st.msg);
    serial_of(vol, after, sizeof(after));
    ck_assert_str_eq(before, after);

    /* an http:// URL is refused before the token is read */
    memset(&st, 0, sizeof(st));
    rq.url = "http://127.0.0.1:1";
    ck_assert(!km_svc_issue(&rq, &res, &st));
    ck_assert_msg(strstr(st.msg, "https://") != NULL, "%s", st.msg);
}
END_TEST

START_TEST(another_cas_volume_is_left_alone)
{
    const char *vol = chain_volume("other");
    km_svc_request rq = request(vol, tu_path(fx, "foreign/ca.crt"));
    km_svc_result res;
    km_status st = { 0 };
    char before[64], after[64];

    if (!km_svc_available())
        return;
    serial_of(vol, before, sizeof(before));
    ck_assert_msg(km_svc_issue(&rq, &res, &st), "%s", st.msg);
    ck_assert(res.left_alone);
    ck_assert_msg(strstr(res.note, "left alone") != NULL, "%s", res.note);
    serial_of(vol, after, sizeof(after));
    ck_assert_str_eq(before, after);

    /* the command takes it over: a sign, which needs a token */
    rq.take_over_other_ca = 1;
    ck_assert(!km_svc_issue(&rq, &res, &st));
    ck_assert_msg(strstr(st.msg, "token") != NULL, "%s", st.msg);
}
END_TEST

START_TEST(requests_are_checked_before_the_network)
{
    km_svc_request rq = request("/tmp/x", tu_path(fx, "ca/ca.crt"));
    km_status st = { 0 };

    if (!km_svc_available())
        return;
    ck_assert_msg(km_svc_request_check(&rq, &st), "%s", st.msg);
    rq.url = "ftp://x";
    ck_assert(!km_svc_request_check(&rq, &st));
    memset(&st, 0, sizeof(st));
    rq.url = "https://127.0.0.1:1";
    rq.root = tu_path(fx, "ca/ca.pass"); /* no certificate in it */
    ck_assert(!km_svc_request_check(&rq, &st));
    ck_assert_msg(strstr(st.msg, "no PEM certificate") != NULL, "%s", st.msg);
    memset(&st, 0, sizeof(st));
    rq.root = tu_path(fx, "ca/ca.crt");
    rq.not_after = "forever";
    ck_assert(!km_svc_request_check(&rq, &st));
    memset(&st, 0, sizeof(st));
    rq.not_after = NULL;
    rq.timeout_ms = 700000;
    ck_assert(!km_svc_request_check(&rq, &st));
    memset(&st, 0, sizeof(st));
    rq.timeout_ms = 0;
    rq.volume = "relative";
    ck_assert(!km_svc_request_check(&rq, &st));
    ck_assert_int_eq(st.reason, KAFKA_MTLS_R_RELATIVE_PATH);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("enrol_issue");
    TCase *tc = tcase_create("enrol_issue");

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, plan_chooses_rekey_only_when_nothing_changes);
    tcase_add_test(tc, key_type_and_lifetime_compare_as_rekey_keeps_them);
    tcase_add_test(tc, durations_are_go_durations);
    tcase_add_test(tc, identity_is_compared_in_der_order);
    tcase_add_test(tc, ours_means_chaining_to_the_configured_root);
    tcase_add_test(tc, failures_write_nothing);
    tcase_add_test(tc, another_cas_volume_is_left_alone);
    tcase_add_test(tc, requests_are_checked_before_the_network);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return tu_main(suite());
}
