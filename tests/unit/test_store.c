/*
 * The provider through the public OSSL_STORE API, registered as a built-in
 * in a private library context (as the interceptor does): what each volume
 * layout yields, in which order, and what `expect`, subject search and
 * ?part= change. Fixtures: $KMTLS_FIXTURES (tests/fixtures/make-all.sh).
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <openssl/err.h>
#include <openssl/provider.h>
#include <openssl/store.h>
#include <openssl/x509v3.h>

#include "kafka-mtls.h"
#include "testutil.h"
#include "testutil_ossl.h"

static OSSL_LIB_CTX *libctx;
static OSSL_PROVIDER *ours, *dflt;
static const char *fx;

typedef struct loaded {
    EVP_PKEY *key;
    int nkeys;
    STACK_OF(X509) *certs; /* in the order yielded */
    unsigned long err;     /* last error when the load failed */
    char errtext[512];
} loaded;

static void loaded_free(loaded *l)
{
    EVP_PKEY_free(l->key);
    sk_X509_pop_free(l->certs, X509_free);
    memset(l, 0, sizeof(*l));
}

/* Loads every object of uri; returns 1 when the store ended cleanly. */
static int load(const char *uri, int expect, const X509_NAME *subject, const OSSL_PARAM *params,
                loaded *out)
{
    OSSL_STORE_CTX *ctx;
    int ok = 1;

    memset(out, 0, sizeof(*out));
    out->certs = sk_X509_new_null();
    ERR_clear_error();
    ctx = OSSL_STORE_open_ex(uri, libctx, NULL, NULL, NULL, params, NULL, NULL);
    if (ctx == NULL)
        goto failed;
    if (expect != 0)
        ck_assert_int_eq(OSSL_STORE_expect(ctx, expect), 1);
    if (subject != NULL) {
        OSSL_STORE_SEARCH *s = OSSL_STORE_SEARCH_by_name((X509_NAME *)subject);
        ck_assert_int_eq(OSSL_STORE_supports_search(ctx, OSSL_STORE_SEARCH_BY_NAME), 1);
        ck_assert_int_eq(OSSL_STORE_find(ctx, s), 1);
        OSSL_STORE_SEARCH_free(s);
    }
    while (!OSSL_STORE_eof(ctx)) {
        OSSL_STORE_INFO *info = OSSL_STORE_load(ctx);

        if (info == NULL) {
            if (OSSL_STORE_error(ctx))
                ok = 0;
            break;
        }
        if (OSSL_STORE_INFO_get_type(info) == OSSL_STORE_INFO_PKEY) {
            out->nkeys++;
            if (out->key == NULL)
                out->key = OSSL_STORE_INFO_get1_PKEY(info);
        } else if (OSSL_STORE_INFO_get_type(info) == OSSL_STORE_INFO_CERT) {
            sk_X509_push(out->certs, OSSL_STORE_INFO_get1_CERT(info));
        }
        OSSL_STORE_INFO_free(info);
    }
    OSSL_STORE_close(ctx);
    if (ok)
        return 1;
failed:
    {
        const char *data = NULL;
        int flags = 0;
        unsigned long e;

        /* the provider's error is the last one raised */
        while ((e = ERR_get_error_all(NULL, NULL, NULL, &data, &flags)) != 0) {
            out->err = e;
            snprintf(out->errtext, sizeof(out->errtext), "%s", (flags & ERR_TXT_STRING) && data ? data : "");
        }
    }
    return 0;
}

static X509 *read_pem_cert(const char *rel)
{
    return tu_read_pem_cert(tu_path(fx, rel));
}

static void assert_cn(X509 *x, const char *cn)
{
    char buf[256];

    X509_NAME_get_text_by_NID(X509_get_subject_name(x), NID_commonName, buf, sizeof(buf));
    ck_assert_str_eq(buf, cn);
}

static char *uri_of(const char *fmt, const char *arg)
{
    static char buf[1024];
    char rel[512];

    snprintf(rel, sizeof(rel), fmt, arg);
    snprintf(buf, sizeof(buf), "keystore:%s/%s", fx, rel);
    return buf;
}

/* A full load of a seed volume: key, leaf, CA (chain), CA (trusted). */
static void check_seed_volume(const char *alias)
{
    loaded l;
    X509 *ca = read_pem_cert("ca/ca.crt");

    ck_assert_msg(load(uri_of("vol/%s", alias), 0, NULL, NULL, &l), "%s: %s", alias, l.errtext);
    ck_assert_int_eq(l.nkeys, 1);
    ck_assert_int_eq(sk_X509_num(l.certs), 3);
    assert_cn(sk_X509_value(l.certs, 0), alias);
    ck_assert_int_eq(X509_check_private_key(sk_X509_value(l.certs, 0), l.key), 1);
    ck_assert_int_eq(X509_cmp(sk_X509_value(l.certs, 1), ca), 0);
    ck_assert_int_eq(X509_check_issued(sk_X509_value(l.certs, 1), sk_X509_value(l.certs, 0)), X509_V_OK);
    ck_assert_int_eq(X509_cmp(sk_X509_value(l.certs, 2), ca), 0);
    X509_free(ca);
    loaded_free(&l);
}

START_TEST(seed_pkcs12) { check_seed_volume("client-p12"); }
END_TEST
START_TEST(seed_jks) { check_seed_volume("client-jks"); }
END_TEST
START_TEST(seed_jceks) { check_seed_volume("client-jceks"); }
END_TEST

START_TEST(two_level_chain)
{
    loaded l;
    X509 *root = read_pem_cert("ca/ca.crt"), *sub = read_pem_cert("sub/ca.crt");

    ck_assert_msg(load(uri_of("vol/%s", "client-chain"), 0, NULL, NULL, &l), "%s", l.errtext);
    ck_assert_int_eq(sk_X509_num(l.certs), 4);
    assert_cn(sk_X509_value(l.certs, 0), "client-chain");
    ck_assert_int_eq(X509_cmp(sk_X509_value(l.certs, 1), sub), 0);
    ck_assert_int_eq(X509_cmp(sk_X509_value(l.certs, 2), root), 0);
    ck_assert_int_eq(X509_cmp(sk_X509_value(l.certs, 3), root), 0);
    X509_free(root);
    X509_free(sub);
    loaded_free(&l);
}
END_TEST

static void check_pem_volume(const char *dir, const char *cn)
{
    loaded l;
    X509 *ca = read_pem_cert("ca/ca.crt");

    ck_assert_msg(load(uri_of("vol/%s", dir), 0, NULL, NULL, &l), "%s", l.errtext);
    ck_assert_int_eq(l.nkeys, 1);
    ck_assert_int_eq(sk_X509_num(l.certs), 2);
    assert_cn(sk_X509_value(l.certs, 0), cn);
    ck_assert_int_eq(X509_check_private_key(sk_X509_value(l.certs, 0), l.key), 1);
    ck_assert_int_eq(X509_cmp(sk_X509_value(l.certs, 1), ca), 0);
    X509_free(ca);
    loaded_free(&l);
}

START_TEST(cert_manager) { check_pem_volume("cm", "cm-client"); }
END_TEST
START_TEST(spiffe_helper) { check_pem_volume("spiffe", "spiffe-client"); }
END_TEST

START_TEST(parts)
{
    loaded l;

    ck_assert(load(uri_of("vol/%s?part=truststore", "client-p12"), 0, NULL, NULL, &l));
    ck_assert_int_eq(l.nkeys, 0);
    ck_assert_int_eq(sk_X509_num(l.certs), 1);
    assert_cn(sk_X509_value(l.certs, 0), "kafka-mtls test CA");
    loaded_free(&l);
    ck_assert(load(uri_of("vol/%s?part=keystore", "client-p12"), 0, NULL, NULL, &l));
    ck_assert_int_eq(l.nkeys, 1);
    ck_assert_int_eq(sk_X509_num(l.certs), 2);
    loaded_free(&l);
}
END_TEST

START_TEST(expect_and_subject)
{
    loaded l;
    X509 *ca = read_pem_cert("ca/ca.crt");

    ck_assert(load(uri_of("vol/%s", "client-jks"), OSSL_STORE_INFO_PKEY, NULL, NULL, &l));
    ck_assert_int_eq(l.nkeys, 1);
    ck_assert_int_eq(sk_X509_num(l.certs), 0);
    loaded_free(&l);
    ck_assert(load(uri_of("vol/%s", "client-jks"), OSSL_STORE_INFO_CERT, NULL, NULL, &l));
    ck_assert_int_eq(l.nkeys, 0);
    ck_assert_int_eq(sk_X509_num(l.certs), 3);
    assert_cn(sk_X509_value(l.certs, 0), "client-jks");
    loaded_free(&l);
    /* -CAstore lookups: only the matching trusted certificate */
    ck_assert(load(uri_of("vol/%s", "client-jks"), 0, X509_get_subject_name(ca), NULL, &l));
    ck_assert_int_eq(l.nkeys, 0);
    ck_assert_int_eq(sk_X509_num(l.certs), 1);
    ck_assert_int_eq(X509_cmp(sk_X509_value(l.certs, 0), ca), 0);
    loaded_free(&l);
    X509_free(ca);
}
END_TEST

/* Certificates without the key password: expect=CERT never decrypts the key. */
START_TEST(certificates_without_key_password)
{
    char uri[1024];
    loaded l;
    char pw[] = "s3cret";
    OSSL_PARAM params[] = {
        OSSL_PARAM_octet_string(KAFKA_MTLS_PARAM_PASSWORD, pw, sizeof(pw) - 1), OSSL_PARAM_END
    };
    char tmp[] = "/tmp/kmtls-store-XXXXXX";

    ck_assert_ptr_nonnull(mkdtemp(tmp));
    tu_run("cp -r %s/vol/cm %s/enc && openssl pkey -in %s/vol/cm/tls.key -aes256 "
           "-passout pass:%s -out %s/enc/tls.key", fx, tmp, fx, pw, tmp);
    snprintf(uri, sizeof(uri), "keystore:%s/enc", tmp);
    ck_assert(load(uri, OSSL_STORE_INFO_CERT, NULL, NULL, &l));
    ck_assert_int_eq(sk_X509_num(l.certs), 2);
    loaded_free(&l);
    ck_assert(!load(uri, OSSL_STORE_INFO_PKEY, NULL, NULL, &l));
    ck_assert_int_eq(ERR_GET_REASON(l.err), KAFKA_MTLS_R_NO_PASSWORD);
    loaded_free(&l);
    ck_assert_msg(load(uri, OSSL_STORE_INFO_PKEY, NULL, params, &l), "%s", l.errtext);
    ck_assert_int_eq(l.nkeys, 1);
    loaded_free(&l);
    tu_run("rm -rf %s", tmp);
}
END_TEST

/* Each open reads the volume again: a replaced keystore is seen at once. */
START_TEST(reread_on_every_open)
{
    char uri[1024];
    loaded l;
    char tmp[] = "/tmp/kmtls-store-XXXXXX";

    ck_assert_ptr_nonnull(mkdtemp(tmp));
    tu_run("cp -r %s/vol/client-p12 %s/v", fx, tmp);
    snprintf(uri, sizeof(uri), "keystore:%s/v?alias=client-p12", tmp);
    ck_assert(load(uri, OSSL_STORE_INFO_CERT, NULL, NULL, &l));
    assert_cn(sk_X509_value(l.certs, 0), "client-p12");
    loaded_free(&l);
    tu_run("cd %s/v && cp %s/vol/client-jks/client-jks.keystore.jks client-p12.keystore.jks"
           " && cp %s/vol/client-jks/client-jks.truststore.jks client-p12.truststore.jks"
           " && cp %s/vol/client-jks/client-jks_creds client-p12_creds", tmp, fx, fx, fx);
    ck_assert(load(uri, OSSL_STORE_INFO_CERT, NULL, NULL, &l));
    assert_cn(sk_X509_value(l.certs, 0), "client-jks");
    loaded_free(&l);
    /* the seed writes ALIAS_creds last: without it the volume is not ready */
    tu_run("rm %s/v/client-p12_creds", tmp);
    ck_assert(!load(uri, 0, NULL, NULL, &l));
    ck_assert_int_eq(ERR_GET_REASON(l.err), KAFKA_MTLS_R_NOT_READY);
    ck_assert_msg(strstr(l.errtext, "client-p12_creds does not exist yet") != NULL, "%s", l.errtext);
    loaded_free(&l);
    tu_run("rm -rf %s", tmp);
}
END_TEST

static void setup(void)
{
    ck_assert_ptr_nonnull(fx = getenv("KMTLS_FIXTURES"));
    tu_libctx_setup(&libctx, &ours, &dflt);
}

static void teardown(void)
{
    tu_libctx_teardown(libctx, ours, dflt);
}

int main(void)
{
    Suite *s = suite_create("store");
    TCase *tc = tcase_create("volumes");
    SRunner *sr;
    int failed;

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, seed_pkcs12);
    tcase_add_test(tc, seed_jks);
    tcase_add_test(tc, seed_jceks);
    tcase_add_test(tc, two_level_chain);
    tcase_add_test(tc, cert_manager);
    tcase_add_test(tc, spiffe_helper);
    tcase_add_test(tc, parts);
    tcase_add_test(tc, expect_and_subject);
    tcase_add_test(tc, certificates_without_key_password);
    tcase_add_test(tc, reread_on_every_open);
    suite_add_tcase(s, tc);
    sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
