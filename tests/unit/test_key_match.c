/*
 * key_match.c: a private key against a certificate kept as read. The
 * quick comparison (no decode) must say "match" for the key's own
 * certificate of every type it knows, and the full decode must decide
 * everything else: another key, the same key in another encoding, a
 * certificate that does not decode.
 */
#include <check.h>
#include <string.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

#include "key_match.h"
#include "testutil.h"

/* A self-signed certificate for pub, signed by signer; its DER in *d. */
static void make_cert(EVP_PKEY *pub, EVP_PKEY *signer, km_der *d)
{
    X509 *x = X509_new();
    unsigned char *der = NULL;
    int len;

    ck_assert(x != NULL && X509_set_version(x, 2));
    ASN1_INTEGER_set(X509_get_serialNumber(x), 7);
    X509_NAME_add_entry_by_txt(X509_get_subject_name(x), "CN", MBSTRING_ASC, (const unsigned char *)"km", -1, -1, 0);
    X509_set_issuer_name(x, X509_get_subject_name(x));
    X509_gmtime_adj(X509_getm_notBefore(x), 0);
    X509_gmtime_adj(X509_getm_notAfter(x), 3600);
    ck_assert(X509_set_pubkey(x, pub));
    ck_assert(X509_sign(x, signer, EVP_PKEY_is_a(signer, "ED25519") || EVP_PKEY_is_a(signer, "ED448") ? NULL : EVP_sha256()) > 0);
    ck_assert((len = i2d_X509(x, &der)) > 0);
    *d = (km_der){ der, (size_t)len };
    X509_free(x);
}

/* RSA 1024: generated in seconds under valgrind, and only ever matched */
static EVP_PKEY *keygen(const char *type)
{
    EVP_PKEY *k = strcmp(type, "EC") == 0    ? EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256")
                  : strcmp(type, "RSA") == 0 ? EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)1024)
                                             : EVP_PKEY_Q_keygen(NULL, NULL, type);

    ck_assert_msg(k != NULL, "keygen %s", type);
    return k;
}

static const char *const types[] = { "EC", "RSA", "ED25519", "ED448" };

START_TEST(own_certificate_matches_without_a_decode)
{
    EVP_PKEY *k = keygen(types[_i]);
    km_der d;
    X509 *decoded = (X509 *)1;

    make_cert(k, k, &d);
    ck_assert_int_eq(km_key_matches_cert(NULL, &d, k, &decoded), 1);
    ck_assert_msg(decoded == NULL, "%s: the certificate was decoded", types[_i]);
    OPENSSL_free(d.der);
    EVP_PKEY_free(k);
}
END_TEST

START_TEST(another_key_does_not_match)
{
    EVP_PKEY *k = keygen(types[_i]), *other = keygen(types[_i]);
    km_der d;
    X509 *decoded = NULL;

    make_cert(other, other, &d);
    ck_assert_int_eq(km_key_matches_cert(NULL, &d, k, &decoded), 0);
    ck_assert(decoded != NULL); /* the full check decided, with the certificate at hand for its subject */
    X509_free(decoded);
    OPENSSL_free(d.der);
    EVP_PKEY_free(k);
    EVP_PKEY_free(other);
}
END_TEST

/* The same EC key, its point compressed in the certificate: the quick
 * comparison cannot tell, the full decode says yes. */
START_TEST(compressed_point_matches_by_the_full_check)
{
    EVP_PKEY *k = keygen("EC"), *pub = EVP_PKEY_dup(k);
    km_der d;
    X509 *decoded = NULL;

    ck_assert(pub != NULL && EVP_PKEY_set_utf8_string_param(pub, OSSL_PKEY_PARAM_EC_POINT_CONVERSION_FORMAT,
                                                            "compressed"));
    make_cert(pub, k, &d);
    ck_assert_int_eq(km_key_matches_cert(NULL, &d, k, &decoded), 1);
    ck_assert(decoded != NULL);
    X509_free(decoded);
    OPENSSL_free(d.der);
    EVP_PKEY_free(pub);
    EVP_PKEY_free(k);
}
END_TEST

/* Another curve with the same point length is another key. */
START_TEST(another_curve_does_not_match)
{
    EVP_PKEY *k = keygen("EC"), *other = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "secp256k1");
    km_der d;
    X509 *decoded = NULL;

    ck_assert(other != NULL);
    make_cert(other, other, &d);
    ck_assert_int_eq(km_key_matches_cert(NULL, &d, k, &decoded), 0);
    X509_free(decoded);
    OPENSSL_free(d.der);
    EVP_PKEY_free(other);
    EVP_PKEY_free(k);
}
END_TEST

START_TEST(not_a_certificate)
{
    EVP_PKEY *k = keygen("EC");
    unsigned char junk[] = { 0x30, 0x03, 0x02, 0x01, 0x05 };
    km_der d = { junk, sizeof(junk) };
    X509 *decoded = NULL;

    ck_assert_int_eq(km_key_matches_cert(NULL, &d, k, &decoded), -1);
    ck_assert(decoded == NULL);
    EVP_PKEY_free(k);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("key_match");
    TCase *tc = tcase_create("key_match");

    tcase_set_timeout(tc, 120); /* key generation under valgrind */
    tcase_add_loop_test(tc, own_certificate_matches_without_a_decode, 0, (int)(sizeof(types) / sizeof(types[0])));
    tcase_add_loop_test(tc, another_key_does_not_match, 0, (int)(sizeof(types) / sizeof(types[0])));
    tcase_add_test(tc, compressed_point_matches_by_the_full_check);
    tcase_add_test(tc, another_curve_does_not_match);
    tcase_add_test(tc, not_a_certificate);
    suite_add_tcase(s, tc);
    return tu_main(s);
}
