/*
 * The provider through the public OSSL_STORE API, registered as a built-in
 * in a private library context (the command's; the interceptor registers
 * the same built-in in the application's default one): what each volume
 * layout yields, in which order, and what `expect`, subject search and
 * ?part= change. Fixtures: $KMTLS_FIXTURES (tests/fixtures/make-all.sh).
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <openssl/err.h>
#include <openssl/store.h>
#include <openssl/x509v3.h>

#include "kafka-mtls.h"
#include "testutil.h"
#include "testutil_ossl.h"

static kmtls_libctx *lc;
static const char *fx;

/* Every object of uri, through the one load loop (kmtls_store_load);
 * 1 when the store ended cleanly. */
static int load(const char *uri, int expect, const X509_NAME *subject, const OSSL_PARAM *params,
                kmtls_loaded *out)
{
    kmtls_query q = { .uri = uri, .expect = expect, .subject = subject, .params = params };

    return kmtls_store_load(lc->libctx, &q, out);
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
    kmtls_loaded l;
    X509 *ca = read_pem_cert("ca/ca.crt");

    ck_assert_msg(load(uri_of("vol/%s", alias), 0, NULL, NULL, &l), "%s: %s", alias, l.msg);
    ck_assert_int_eq(l.nkeys, 1);
    ck_assert_int_eq(sk_X509_num(l.certs), 3);
    assert_cn(sk_X509_value(l.certs, 0), alias);
    ck_assert_int_eq(X509_check_private_key(sk_X509_value(l.certs, 0), l.key), 1);
    ck_assert_int_eq(X509_cmp(sk_X509_value(l.certs, 1), ca), 0);
    ck_assert_int_eq(X509_check_issued(sk_X509_value(l.certs, 1), sk_X509_value(l.certs, 0)), X509_V_OK);
    ck_assert_int_eq(X509_cmp(sk_X509_value(l.certs, 2), ca), 0);
    X509_free(ca);
    kmtls_loaded_clear(&l);
}

START_TEST(seed_pkcs12) { check_seed_volume("client-p12"); }
END_TEST
START_TEST(seed_jks) { check_seed_volume("client-jks"); }
END_TEST
START_TEST(seed_jceks) { check_seed_volume("client-jceks"); }
END_TEST

START_TEST(two_level_chain)
{
    kmtls_loaded l;
    X509 *root = read_pem_cert("ca/ca.crt"), *sub = read_pem_cert("sub/ca.crt");

    ck_assert_msg(load(uri_of("vol/%s", "client-chain"), 0, NULL, NULL, &l), "%s", l.msg);
    ck_assert_int_eq(sk_X509_num(l.certs), 4);
    assert_cn(sk_X509_value(l.certs, 0), "client-chain");
    ck_assert_int_eq(X509_cmp(sk_X509_value(l.certs, 1), sub), 0);
    ck_assert_int_eq(X509_cmp(sk_X509_value(l.certs, 2), root), 0);
    ck_assert_int_eq(X509_cmp(sk_X509_value(l.certs, 3), root), 0);
    X509_free(root);
    X509_free(sub);
    kmtls_loaded_clear(&l);
}
END_TEST

static void check_pem_volume(const char *dir, const char *cn)
{
    kmtls_loaded l;
    X509 *ca = read_pem_cert("ca/ca.crt");

    ck_assert_msg(load(uri_of("vol/%s", dir), 0, NULL, NULL, &l), "%s", l.msg);
    ck_assert_int_eq(l.nkeys, 1);
    ck_assert_int_eq(sk_X509_num(l.certs), 2);
    assert_cn(sk_X509_value(l.certs, 0), cn);
    ck_assert_int_eq(X509_check_private_key(sk_X509_value(l.certs, 0), l.key), 1);
    ck_assert_int_eq(X509_cmp(sk_X509_value(l.certs, 1), ca), 0);
    X509_free(ca);
    kmtls_loaded_clear(&l);
}

START_TEST(cert_manager) { check_pem_volume("cm", "cm-client"); }
END_TEST
START_TEST(spiffe_helper) { check_pem_volume("spiffe", "spiffe-client"); }
END_TEST

START_TEST(parts)
{
    kmtls_loaded l;

    ck_assert(load(uri_of("vol/%s?part=truststore", "client-p12"), 0, NULL, NULL, &l));
    ck_assert_int_eq(l.nkeys, 0);
    ck_assert_int_eq(sk_X509_num(l.certs), 1);
    assert_cn(sk_X509_value(l.certs, 0), "kafka-mtls test CA");
    kmtls_loaded_clear(&l);
    ck_assert(load(uri_of("vol/%s?part=keystore", "client-p12"), 0, NULL, NULL, &l));
    ck_assert_int_eq(l.nkeys, 1);
    ck_assert_int_eq(sk_X509_num(l.certs), 2);
    kmtls_loaded_clear(&l);
}
END_TEST

START_TEST(expect_and_subject)
{
    kmtls_loaded l;
    X509 *ca = read_pem_cert("ca/ca.crt");

    ck_assert(load(uri_of("vol/%s", "client-jks"), OSSL_STORE_INFO_PKEY, NULL, NULL, &l));
    ck_assert_int_eq(l.nkeys, 1);
    ck_assert_int_eq(sk_X509_num(l.certs), 0);
    kmtls_loaded_clear(&l);
    ck_assert(load(uri_of("vol/%s", "client-jks"), OSSL_STORE_INFO_CERT, NULL, NULL, &l));
    ck_assert_int_eq(l.nkeys, 0);
    ck_assert_int_eq(sk_X509_num(l.certs), 3);
    assert_cn(sk_X509_value(l.certs, 0), "client-jks");
    kmtls_loaded_clear(&l);
    /* -CAstore lookups: only the matching trusted certificate */
    ck_assert(load(uri_of("vol/%s", "client-jks"), 0, X509_get_subject_name(ca), NULL, &l));
    ck_assert_int_eq(l.nkeys, 0);
    ck_assert_int_eq(sk_X509_num(l.certs), 1);
    ck_assert_int_eq(X509_cmp(sk_X509_value(l.certs, 0), ca), 0);
    kmtls_loaded_clear(&l);
    X509_free(ca);
}
END_TEST

/* Certificates without the key password: expect=CERT never decrypts the key. */
START_TEST(certificates_without_key_password)
{
    char uri[1024];
    kmtls_loaded l;
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
    kmtls_loaded_clear(&l);
    ck_assert(!load(uri, OSSL_STORE_INFO_PKEY, NULL, NULL, &l));
    ck_assert_int_eq(ERR_GET_REASON(l.error), KAFKA_MTLS_R_NO_PASSWORD);
    kmtls_loaded_clear(&l);
    ck_assert_msg(load(uri, OSSL_STORE_INFO_PKEY, NULL, params, &l), "%s", l.msg);
    ck_assert_int_eq(l.nkeys, 1);
    kmtls_loaded_clear(&l);
    tu_run("rm -rf %s", tmp);
}
END_TEST

/* Each open reads the volume again: a replaced keystore is seen at once. */
START_TEST(reread_on_every_open)
{
    char uri[1024];
    kmtls_loaded l;
    char tmp[] = "/tmp/kmtls-store-XXXXXX";

    ck_assert_ptr_nonnull(mkdtemp(tmp));
    tu_run("cp -r %s/vol/client-p12 %s/v", fx, tmp);
    snprintf(uri, sizeof(uri), "keystore:%s/v?alias=client-p12", tmp);
    ck_assert(load(uri, OSSL_STORE_INFO_CERT, NULL, NULL, &l));
    assert_cn(sk_X509_value(l.certs, 0), "client-p12");
    kmtls_loaded_clear(&l);
    tu_run("cd %s/v && cp %s/vol/client-jks/client-jks.keystore.jks client-p12.keystore.jks"
           " && cp %s/vol/client-jks/client-jks.truststore.jks client-p12.truststore.jks"
           " && cp %s/vol/client-jks/client-jks_creds client-p12_creds", tmp, fx, fx, fx);
    ck_assert(load(uri, OSSL_STORE_INFO_CERT, NULL, NULL, &l));
    assert_cn(sk_X509_value(l.certs, 0), "client-jks");
    kmtls_loaded_clear(&l);
    /* the seed writes ALIAS_creds last: without it the volume is not ready */
    tu_run("rm %s/v/client-p12_creds", tmp);
    ck_assert(!load(uri, 0, NULL, NULL, &l));
    ck_assert_int_eq(ERR_GET_REASON(l.error), KAFKA_MTLS_R_NOT_READY);
    ck_assert_msg(strstr(l.msg, "client-p12_creds does not exist yet") != NULL, "%s", l.msg);
    kmtls_loaded_clear(&l);
    tu_run("rm -rf %s", tmp);
}
END_TEST

static void setup(void)
{
    ck_assert_ptr_nonnull(fx = getenv("KMTLS_FIXTURES"));
    lc = tu_libctx_new();
}

static void teardown(void)
{
    kmtls_libctx_free(lc);
}

int main(void)
{
    Suite *s = suite_create("store");
    TCase *tc = tcase_create("volumes");

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
    return tu_main(s);
}
