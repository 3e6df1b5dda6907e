/*
 * kmtls-enrol without a network: what a response body must be before its
 * certificates are handed out (src/response.c, src/checks.c), what an
 * error body says (src/message.c), the CSR builder, and the argument
 * checks that refuse a call before anything is sent (so that no token is
 * spent on a request that cannot succeed). Certificates are made here, at
 * test time (certs.c).
 */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <check.h>
#include <json-c/json_object.h>
#include <openssl/err.h>
#include <openssl/pem.h>

#include "certs.h"
#include "checks.h"
#include "kmtls/enrol.h"
#include "message.h"
#include "response.h"

#define PRODUCER "C=GB,O=UK Home Office,CN=Callisto kafka-producer"
#define DAY (24L * 3600)

static EVP_PKEY *root_key, *int_key, *leaf_key, *other_key;
static X509 *root, *inter, *leaf, *other_root;
static X509_STORE *roots;
static char err[1024];

static X509 *leaf_with(const char *subject, EVP_PKEY *key, const char *eku, const char *san,
                       int ca, long not_after)
{
    tc_spec s = { subject, key, inter, int_key, ca, eku, san, -60, not_after };
    return tc_cert(&s);
}

static void setup(void)
{
    tc_spec r = { "O=kafka-mtls test,CN=enrol test root", NULL, NULL, NULL, 1, NULL, NULL, -60, DAY };
    tc_spec i = { "O=kafka-mtls test,CN=enrol test intermediate", NULL, NULL, NULL, 1, NULL, NULL,
                  -60, DAY };

    root_key = tc_key("ec");
    int_key = tc_key("ec");
    leaf_key = tc_key("ec");
    other_key = tc_key("ec");
    r.key = root_key;
    root = tc_cert(&r);
    i.key = int_key;
    i.issuer = root;
    i.issuer_key = root_key;
    inter = tc_cert(&i);
    leaf = leaf_with(PRODUCER, leaf_key, "clientAuth", NULL, 0, 3600);
    r.subject = "O=elsewhere,CN=another root";
    r.key = other_key;
    other_root = tc_cert(&r);
    roots = X509_STORE_new();
    X509_STORE_add_cert(roots, root);
}

static void teardown(void)
{
    X509_STORE_free(roots);
    X509_free(root);
    X509_free(inter);
    X509_free(leaf);
    X509_free(other_root);
    EVP_PKEY_free(root_key);
    EVP_PKEY_free(int_key);
    EVP_PKEY_free(leaf_key);
    EVP_PKEY_free(other_key);
}

/* {"crt": crt, "ca": ca, "certChain": [chain...], "tlsOptions": {...}}
 * as step-ca sends it; NULL members are left out. */
static char *body_of(X509 *crt, X509 *ca, X509 **chain, int count)
{
    json_object *o = json_object_new_object(), *a = json_object_new_array();
    char *pem, *out;

    if (crt != NULL) {
        pem = tc_pem(crt);
        json_object_object_add(o, "crt", json_object_new_string(pem));
        free(pem);
    }
    if (ca != NULL) {
        pem = tc_pem(ca);
        json_object_object_add(o, "ca", json_object_new_string(pem));
        free(pem);
    }
    for (int i = 0; i < count; i++) {
        pem = tc_pem(chain[i]);
        json_object_array_add(a, json_object_new_string(pem));
        free(pem);
    }
    json_object_object_add(o, "certChain", a);
    json_object_object_add(o, "tlsOptions", json_object_new_object());
    out = strdup(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
    json_object_put(o);
    return out;
}

static char *good_body(void)
{
    X509 *chain[] = { leaf, inter };
    return body_of(leaf, inter, chain, 2);
}

/* kme_response_chain on a body; the chain is freed; the error queue must
 * be empty afterwards, whatever happened. */
static km_enrol_reason parse(const char *body)
{
    STACK_OF(X509) *chain = NULL;
    km_enrol_reason r = kme_response_chain(body, strlen(body), &chain, err, sizeof(err));

    ck_assert_msg((r == KM_ENROL_OK) == (chain != NULL), "status and chain disagree");
    ck_assert_msg(ERR_peek_error() == 0, "error left on the queue");
    sk_X509_pop_free(chain, X509_free);
    return r;
}

#define ck_bad(body, text) do { \
        ck_assert_int_eq(parse(body), KM_ENROL_BAD_RESPONSE); \
        ck_assert_msg(strstr(err, text) != NULL, "'%s' not in '%s'", text, err); \
    } while (0)

/* The full check of chain with an expectation. */
static km_enrol_reason check(X509 **certs, int count, const kme_expect *e)
{
    STACK_OF(X509) *chain = sk_X509_new_null();
    km_enrol_reason r;

    for (int i = 0; i < count; i++)
        sk_X509_push(chain, certs[i]);
    r = kme_check_chain(chain, e, err, sizeof(err));
    ck_assert_msg(ERR_peek_error() == 0, "error left on the queue");
    sk_X509_free(chain);
    return r;
}

static kme_expect expect_sign(EVP_PKEY *key)
{
    kme_expect e = { key, "Callisto kafka-producer", NULL, roots, "root.crt" };
    return e;
}

START_TEST(good_response_gives_the_chain)
{
    char *b = good_body();
    STACK_OF(X509) *chain = NULL;
    kme_expect e = expect_sign(leaf_key);

    ck_assert_int_eq(kme_response_chain(b, strlen(b), &chain, err, sizeof(err)), KM_ENROL_OK);
    ck_assert_int_eq(sk_X509_num(chain), 2);
    ck_assert_int_eq(X509_cmp(sk_X509_value(chain, 0), leaf), 0);
    ck_assert_int_eq(X509_cmp(sk_X509_value(chain, 1), inter), 0);
    ck_assert_int_eq(kme_check_chain(chain, &e, err, sizeof(err)), KM_ENROL_OK);
    sk_X509_pop_free(chain, X509_free);
    free(b);
}
END_TEST

START_TEST(response_without_ca_and_with_trailing_newline)
{
    X509 *chain[] = { leaf, inter };
    char *b = body_of(leaf, NULL, chain, 2), *nl = malloc(strlen(b) + 3);

    strcpy(nl, b);
    strcat(nl, "\r\n");  /* Go's json.Encoder ends with a newline */
    ck_assert_int_eq(parse(nl), KM_ENROL_OK);
    free(nl);
    free(b);
}
END_TEST

START_TEST(refuses_certificate_for_another_key)
{
    X509 *certs[] = { leaf, inter };
    kme_expect e = expect_sign(other_key);

    ck_assert_int_eq(check(certs, 2, &e), KM_ENROL_BAD_RESPONSE);
    ck_assert_ptr_nonnull(strstr(err, "does not certify the requested public key"));
}
END_TEST

START_TEST(refuses_leaf_without_client_auth)
{
    const char *ekus[] = { NULL, "serverAuth", "emailProtection" };

    for (size_t i = 0; i < sizeof(ekus) / sizeof(ekus[0]); i++) {
        X509 *l = leaf_with(PRODUCER, leaf_key, ekus[i], NULL, 0, 3600), *certs[] = { l, inter };
        kme_expect e = expect_sign(leaf_key);

        ck_assert_int_eq(check(certs, 2, &e), KM_ENROL_BAD_RESPONSE);
        ck_assert_msg(strstr(err, "clientAuth") != NULL, "%s", err);
        X509_free(l);
    }
}
END_TEST

START_TEST(refuses_ca_leaf)
{
    X509 *l = leaf_with(PRODUCER, leaf_key, "clientAuth", NULL, 1, 3600), *certs[] = { l, inter };
    kme_expect e = expect_sign(leaf_key);

    ck_assert_int_eq(check(certs, 2, &e), KM_ENROL_BAD_RESPONSE);
    ck_assert_msg(strstr(err, "is a CA certificate") != NULL, "%s", err);
    X509_free(l);
}
END_TEST

START_TEST(refuses_expired_leaf)
{
    X509 *l = leaf_with(PRODUCER, leaf_key, "clientAuth", NULL, 0, -5), *certs[] = { l, inter };
    kme_expect e = expect_sign(leaf_key);

    ck_assert_int_eq(check(certs, 2, &e), KM_ENROL_BAD_RESPONSE);
    ck_assert_msg(strstr(err, "certChain[0] has expired") != NULL, "%s", err);
    X509_free(l);
}
END_TEST

START_TEST(refuses_another_common_name)
{
    const char *subjects[] = { "C=GB,O=UK Home Office,CN=Callisto kafka-consumer",
                               "C=GB,O=UK Home Office", "CN=Callisto kafka-producer,CN=x" };

    for (size_t i = 0; i < sizeof(subjects) / sizeof(subjects[0]); i++) {
        X509 *l = leaf_with(subjects[i], leaf_key, "clientAuth", NULL, 0, 3600), *certs[] = { l, inter };
        kme_expect e = expect_sign(leaf_key);

        ck_assert_int_eq(check(certs, 2, &e), KM_ENROL_BAD_RESPONSE);
        ck_assert_msg(strstr(err, "common name 'Callisto kafka-producer'") != NULL, "%s", err);
        X509_free(l);
    }
}
END_TEST

START_TEST(renewal_must_keep_subject_and_sans)
{
    X509 *cur = leaf_with(PRODUCER, other_key, "clientAuth", "DNS:p.example", 0, 3600);
    X509 *same = leaf_with(PRODUCER, leaf_key, "clientAuth", "DNS:p.example", 0, 3600);
    X509 *renamed = leaf_with("C=GB,O=UK Home Office,CN=Callisto kafka", leaf_key, "clientAuth",
                              "DNS:p.example", 0, 3600);
    X509 *reordered = leaf_with("CN=Callisto kafka-producer,O=UK Home Office,C=GB", leaf_key,
                                "clientAuth", "DNS:p.example", 0, 3600);
    X509 *other_san = leaf_with(PRODUCER, leaf_key, "clientAuth", "DNS:q.example", 0, 3600);
    X509 *no_san = leaf_with(PRODUCER, leaf_key, "clientAuth", NULL, 0, 3600);
    kme_expect e = { leaf_key, NULL, cur, roots, "root.crt" };
    X509 *c[2] = { same, inter };

    ck_assert_int_eq(check(c, 2, &e), KM_ENROL_OK);
    c[0] = renamed;
    ck_assert_int_eq(check(c, 2, &e), KM_ENROL_BAD_RESPONSE);
    ck_assert_msg(strstr(err, "subject is not the current") != NULL, "%s", err);
    c[0] = reordered;  /* the same names in another DER order is another subject */
    ck_assert_int_eq(check(c, 2, &e), KM_ENROL_BAD_RESPONSE);
    c[0] = other_san;
    ck_assert_int_eq(check(c, 2, &e), KM_ENROL_BAD_RESPONSE);
    ck_assert_msg(strstr(err, "subjectAltNames are not the current") != NULL, "%s", err);
    c[0] = no_san;
    ck_assert_int_eq(check(c, 2, &e), KM_ENROL_BAD_RESPONSE);
    X509_free(cur);
    X509_free(same);
    X509_free(renamed);
    X509_free(reordered);
    X509_free(other_san);
    X509_free(no_san);
}
END_TEST

START_TEST(refuses_chain_to_another_root)
{
    tc_spec i = { "O=kafka-mtls test,CN=enrol test intermediate", int_key, other_root, other_key,
                  1, NULL, NULL, -60, DAY };
    X509 *foreign = tc_cert(&i), *certs[] = { leaf, foreign };
    kme_expect e = expect_sign(leaf_key);

    ck_assert_int_eq(check(certs, 2, &e), KM_ENROL_BAD_RESPONSE);
    ck_assert_msg(strstr(err, "does not verify against root.crt") != NULL, "%s", err);
    X509_free(foreign);
}
END_TEST

START_TEST(refuses_inconsistent_fields)
{
    X509 *chain[] = { leaf, inter }, *wrong_order[] = { inter, leaf }, *alone[] = { leaf };
    X509 *gap[] = { leaf, root };
    char *b;

    b = body_of(inter, inter, chain, 2);
    ck_bad(b, "certChain[0] is not crt");
    free(b);
    b = body_of(leaf, root, chain, 2);
    ck_bad(b, "ca is not certChain[1]");
    free(b);
    b = body_of(leaf, inter, alone, 1);
    ck_bad(b, "ca is not certChain[1]");
    free(b);
    b = body_of(inter, leaf, wrong_order, 2);
    ck_bad(b, "certChain[1] is not a CA certificate");
    free(b);
    b = body_of(leaf, root, gap, 2);
    ck_bad(b, "certChain[0] is not issued by certChain[1]");
    free(b);
}
END_TEST

START_TEST(refuses_forged_signature)
{
    /* An intermediate with the same name and key identifier but whose key
     * did not sign the leaf: only the signature check can tell. */
    tc_spec i = { "O=kafka-mtls test,CN=enrol test intermediate", other_key, root, root_key,
                  1, NULL, NULL, -60, DAY };
    X509 *twin = tc_cert(&i), *chain[] = { leaf, twin };
    ASN1_OCTET_STRING *skid = X509_get_ext_d2i(inter, NID_subject_key_identifier, NULL, NULL);
    char *b;

    /* Give the twin the real intermediate's SKID, so names and key ids match. */
    X509_EXTENSION_free(X509_delete_ext(twin, X509_get_ext_by_NID(twin, NID_subject_key_identifier, -1)));
    X509_add1_ext_i2d(twin, NID_subject_key_identifier, skid, 0, 0);
    X509_sign(twin, root_key, EVP_sha256());
    b = body_of(leaf, twin, chain, 2);
    ck_bad(b, "certChain[0]'s signature does not verify with certChain[1]'s key");
    free(b);
    ASN1_OCTET_STRING_free(skid);
    X509_free(twin);
}
END_TEST

START_TEST(refuses_malformed_json)
{
    char *good = good_body(), *trail = malloc(strlen(good) + 8);

    ck_bad("", "not JSON");
    ck_bad("hello", "not JSON");
    ck_bad("{\"crt\": \"-----BEGIN", "not JSON");
    ck_bad("{\"crt\": 'x'}", "not JSON");              /* strict: no single quotes */
    ck_bad("{\"crt\": \"\xff\xfe\"}", "not JSON");     /* not UTF-8 */
    ck_bad("[1, 2]", "not an object");
    ck_bad("{}", "\"crt\" is missing");
    ck_bad("{\"crt\": 5, \"certChain\": []}", "\"crt\" is missing or not a string");
    ck_bad("{\"crt\": \"x\"}", "\"certChain\" is missing");
    ck_bad("{\"crt\": \"x\", \"certChain\": \"x\"}", "\"certChain\" is missing or not an array");
    ck_bad("{\"crt\": \"x\", \"certChain\": []}", "\"certChain\" has 0 certificates");
    ck_bad("{\"crt\": \"x\", \"certChain\": [1]}", "certChain[0] is not a string");
    ck_bad("{\"crt\": \"x\", \"ca\": 1, \"certChain\": [\"x\"]}", "\"ca\" is not a string");
    ck_bad("{\"crt\":\"x\",\"certChain\":[\"1\",\"2\",\"3\",\"4\",\"5\",\"6\",\"7\",\"8\",\"9\"]}",
           "\"certChain\" has 9 certificates (1 to 8 are accepted)");
    sprintf(trail, "%s{}", good);
    ck_bad(trail, "not JSON");
    sprintf(trail, "%s x", good);
    ck_bad(trail, "not JSON");
    free(trail);
    free(good);
}
END_TEST

/* A step-ca-shaped body whose certChain[0] is the given text. */
static char *body_with_pem(const char *text)
{
    json_object *o = json_object_new_object(), *a = json_object_new_array();
    char *out;

    json_object_object_add(o, "crt", json_object_new_string(text));
    json_object_array_add(a, json_object_new_string(text));
    json_object_object_add(o, "certChain", a);
    out = strdup(json_object_to_json_string(o));
    json_object_put(o);
    return out;
}

START_TEST(refuses_bad_pem)
{
    char *leaf_pem = tc_pem(leaf), *inter_pem = tc_pem(inter), *two, *b, *key_pem;
    BIO *mem = BIO_new(BIO_s_mem());
    unsigned char *der = NULL, *junk;
    int der_len = i2d_X509(leaf, &der);
    long len;
    char *data;

    two = malloc(strlen(leaf_pem) + strlen(inter_pem) + 1);
    sprintf(two, "%s%s", leaf_pem, inter_pem);
    b = body_with_pem(two);
    ck_bad(b, "certChain[0] has data after its PEM block");
    free(b);
    sprintf(two, "x%s", leaf_pem);
    b = body_with_pem(two);
    ck_bad(b, "certChain[0] does not start with -----BEGIN CERTIFICATE-----");
    free(b);
    sprintf(two, "%sjunk\n", leaf_pem);
    b = body_with_pem(two);
    ck_bad(b, "certChain[0] has data after its PEM block");
    free(b);
    b = body_with_pem("-----BEGIN CERTIFICATE-----\n!!!!\n-----END CERTIFICATE-----\n");
    ck_bad(b, "certChain[0] is not valid PEM");
    free(b);
    /* A private key in the response (its PEM type is refused, and the
     * message does not quote it). */
    PEM_write_bio_PrivateKey(mem, leaf_key, NULL, NULL, 0, NULL, NULL);
    len = BIO_get_mem_data(mem, &data);
    key_pem = strndup(data, (size_t)len);
    b = body_with_pem(key_pem);
    ck_bad(b, "does not start with -----BEGIN CERTIFICATE-----");
    ck_assert_ptr_null(strstr(err, "MII"));
    free(b);
    /* PEM labelled CERTIFICATE with extra DER bytes after the certificate. */
    junk = malloc((size_t)der_len + 3);
    memcpy(junk, der, (size_t)der_len);
    memcpy(junk + der_len, "\x05\x00\x00", 3);
    BIO_reset(mem);
    PEM_write_bio(mem, "CERTIFICATE", "", junk, der_len + 3);
    len = BIO_get_mem_data(mem, &data);
    free(two);
    two = strndup(data, (size_t)len);
    b = body_with_pem(two);
    ck_bad(b, "certChain[0] is not one DER certificate");
    free(b);
    BIO_free(mem);
    free(junk);
    OPENSSL_free(der);
    free(key_pem);
    free(two);
    free(leaf_pem);
    free(inter_pem);
}
END_TEST

START_TEST(error_message_is_the_services_own)
{
    char msg[300];
    const char *forbidden = "{\"status\":403,\"message\":\"The request was forbidden by the certificate "
        "authority: certificate request does not contain the valid common name - got X, want [Y].\"}\n";

    kme_error_message(forbidden, strlen(forbidden), NULL, msg, sizeof(msg));
    ck_assert_str_eq(msg, "certificate request does not contain the valid common name - got X, want [Y]");
    kme_error_message("", 0, NULL, msg, sizeof(msg));
    ck_assert_str_eq(msg, "");
    kme_error_message("<html>\n<b>Bad\xc3\xa9 gateway</b>\n</html>", 33, NULL, msg, sizeof(msg));
    ck_assert_str_eq(msg, "<html> <b>Bad?? gateway</b> </html>");
    kme_error_message("{\"status\":500}", 14, NULL, msg, sizeof(msg));
    ck_assert_str_eq(msg, "{\"status\":500}");
    kme_error_message("{\"message\":\"a\\nb\\u0000c\"}", 25, NULL, msg, sizeof(msg));
    ck_assert_ptr_null(strchr(msg, '\n'));
}
END_TEST

START_TEST(error_message_never_holds_the_token)
{
    char token[2000], body[4200], msg[200];

    memset(token, 'A', sizeof(token) - 1);
    token[sizeof(token) - 1] = '\0';
    memcpy(token, "eyJ", 3);
    snprintf(body, sizeof(body), "{\"message\":\"bad %s and again %s\"}", token, token);
    kme_error_message(body, strlen(body), token, msg, sizeof(msg));
    ck_assert_str_eq(msg, "bad [token] and again [token]");
    snprintf(body, sizeof(body), "<p>%s</p>", token);
    kme_error_message(body, strlen(body), token, msg, sizeof(msg));
    ck_assert_str_eq(msg, "<p>[token]</p>");
}
END_TEST

START_TEST(csr_new_makes_what_step_ca_wants)
{
    const char *types[] = { "ec", "rsa", "ed25519" };

    for (size_t i = 0; i < 3; i++) {
        EVP_PKEY *k = i < 2 ? tc_key(types[i]) : EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
        X509_REQ *csr = NULL;
        STACK_OF(X509_EXTENSION) *exts;
        char line[256];

        ck_assert_int_eq(km_enrol_csr_new(k, "Callisto kafka-producer", &csr, err, sizeof(err)), KM_ENROL_OK);
        ck_assert_str_eq(err, "");
        ck_assert_int_eq(X509_REQ_verify(csr, k), 1);
        X509_NAME_oneline(X509_REQ_get_subject_name(csr), line, sizeof(line));
        ck_assert_str_eq(line, "/CN=Callisto kafka-producer");
        exts = X509_REQ_get_extensions(csr);
        ck_assert_int_eq(sk_X509_EXTENSION_num(exts) <= 0, 1);
        sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
        X509_REQ_free(csr);
        EVP_PKEY_free(k);
    }
}
END_TEST

START_TEST(csr_new_refuses_bad_names)
{
    char long_cn[80];
    X509_REQ *csr = (X509_REQ *)1;

    memset(long_cn, 'a', 65);
    long_cn[65] = '\0';
    ck_assert_int_eq(km_enrol_csr_new(leaf_key, "", &csr, err, sizeof(err)), KM_ENROL_BAD_ARGUMENT);
    ck_assert_ptr_null(csr);
    ck_assert_int_eq(km_enrol_csr_new(leaf_key, long_cn, &csr, err, sizeof(err)), KM_ENROL_BAD_ARGUMENT);
    ck_assert_int_eq(km_enrol_csr_new(leaf_key, "a\nb", &csr, err, sizeof(err)), KM_ENROL_BAD_ARGUMENT);
    ck_assert_int_eq(km_enrol_csr_new(NULL, "a", &csr, err, sizeof(err)), KM_ENROL_BAD_ARGUMENT);
}
END_TEST

/* ---- argument checks: nothing is sent (the URL's port has no listener,
 * so an accepted call would come back UNREACHABLE, not BAD_ARGUMENT). */
static char root_file[256];

static void args_setup(void)
{
    char dir[] = "/tmp/enrol-checks.XXXXXX";

    setup();
    ck_assert_ptr_nonnull(mkdtemp(dir));
    snprintf(root_file, sizeof(root_file), "%s/root.crt", dir);
    tc_write(root_file, root, NULL);
}

static void args_teardown(void)
{
    char dir[256];

    unlink(root_file);
    snprintf(dir, sizeof(dir), "%s", root_file);
    *strrchr(dir, '/') = '\0';
    rmdir(dir);
    teardown();
}

#define TOKEN "eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln"

static km_enrol_reason sign_with(const char *url, const char *ca_file, long timeout,
                                 X509_REQ *csr, const char *token, const char *not_after)
{
    km_enrol_service svc = { url, ca_file, NULL, timeout };
    STACK_OF(X509) *chain = (STACK_OF(X509) *)1;
    km_enrol_reason r = km_enrol_sign(&svc, csr, token, not_after, &chain, err, sizeof(err));

    ck_assert_ptr_null(chain);
    ck_assert_msg(err[0] != '\0', "no message");
    ck_assert_msg(strstr(err, TOKEN) == NULL, "the token is in the message: %s", err);
    return r;
}

START_TEST(refuses_bad_arguments_before_sending)
{
    X509_REQ *csr = NULL, *no_cn = X509_REQ_new();
    const char *down = "https://127.0.0.1:1";
    const char *bad_urls[] = { "http://127.0.0.1:1", "127.0.0.1:1", "ftp://127.0.0.1/",
                               "https://127.0.0.1:1/?x=1", "https://127.0.0.1:1/#f", "https://",
                               "" };
    const char *bad_durations[] = { "", "24", "h", "1d", "24 h", "1.h", "-1h", "1h-", ".5h",
                                    "2026-01-01T00:00:00Z", "123456789012345678901234567890123h" };
    const char *good_durations[] = { "24h", "90m", "1h30m", "2.5h", "100ms", "1us", "2160h" };

    ck_assert_int_eq(km_enrol_csr_new(leaf_key, "Callisto kafka-producer", &csr, err, sizeof(err)), 0);
    for (size_t i = 0; i < sizeof(bad_urls) / sizeof(bad_urls[0]); i++)
        ck_assert_msg(sign_with(bad_urls[i], root_file, 0, csr, TOKEN, NULL) == KM_ENROL_BAD_ARGUMENT,
                      "%s: %s", bad_urls[i], err);
    ck_assert_int_eq(sign_with("http://127.0.0.1:1", root_file, 0, csr, TOKEN, NULL), KM_ENROL_BAD_ARGUMENT);
    ck_assert_ptr_nonnull(strstr(err, "is not https"));
    ck_assert_int_eq(sign_with("https://u:hunter2@127.0.0.1:1", root_file, 0, csr, TOKEN, NULL),
                     KM_ENROL_BAD_ARGUMENT);
    ck_assert_ptr_null(strstr(err, "hunter2"));
    for (size_t i = 0; i < sizeof(bad_durations) / sizeof(bad_durations[0]); i++)
        ck_assert_msg(sign_with(down, root_file, 0, csr, TOKEN, bad_durations[i]) == KM_ENROL_BAD_ARGUMENT,
                      "'%s' accepted: %s", bad_durations[i], err);
    for (size_t i = 0; i < sizeof(good_durations) / sizeof(good_durations[0]); i++)
        ck_assert_msg(sign_with(down, root_file, 0, csr, TOKEN, good_durations[i]) == KM_ENROL_UNREACHABLE,
                      "'%s' refused: %s", good_durations[i], err);
    ck_assert_int_eq(sign_with(down, root_file, 0, csr, "", NULL), KM_ENROL_BAD_ARGUMENT);
    ck_assert_int_eq(sign_with(down, root_file, 0, csr, "eyJ\"}", NULL), KM_ENROL_BAD_ARGUMENT);
    ck_assert_int_eq(sign_with(down, root_file, 0, csr, "eyJ a", NULL), KM_ENROL_BAD_ARGUMENT);
    ck_assert_int_eq(sign_with(down, root_file, -1, csr, TOKEN, NULL), KM_ENROL_BAD_ARGUMENT);
    ck_assert_int_eq(sign_with(down, root_file, KM_ENROL_MAX_TIMEOUT_MS + 1, csr, TOKEN, NULL),
                     KM_ENROL_BAD_ARGUMENT);
    ck_assert_int_eq(sign_with(down, "/nonexistent/root.crt", 0, csr, TOKEN, NULL), KM_ENROL_BAD_ARGUMENT);
    ck_assert_ptr_nonnull(strstr(err, "cannot load ca_file /nonexistent/root.crt"));
    ck_assert_int_eq(sign_with(down, "/dev/null", 0, csr, TOKEN, NULL), KM_ENROL_BAD_ARGUMENT);
    ck_assert_int_eq(sign_with(down, NULL, 0, csr, TOKEN, NULL), KM_ENROL_BAD_ARGUMENT);
    ck_assert_int_eq(sign_with(NULL, root_file, 0, csr, TOKEN, NULL), KM_ENROL_BAD_ARGUMENT);
    ck_assert_int_eq(sign_with(down, root_file, 0, NULL, TOKEN, NULL), KM_ENROL_BAD_ARGUMENT);
    ck_assert_int_eq(sign_with(down, root_file, 0, csr, NULL, NULL), KM_ENROL_BAD_ARGUMENT);
    /* A CSR without a CN, and one whose signature is not its key's. */
    X509_REQ_set_pubkey(no_cn, leaf_key);
    X509_REQ_sign(no_cn, leaf_key, EVP_sha256());
    ck_assert_int_eq(sign_with(down, root_file, 0, no_cn, TOKEN, NULL), KM_ENROL_BAD_ARGUMENT);
    ck_assert_ptr_nonnull(strstr(err, "exactly one common name"));
    X509_REQ_set_pubkey(csr, other_key);  /* still signed by leaf_key */
    ck_assert_int_eq(sign_with(down, root_file, 0, csr, TOKEN, NULL), KM_ENROL_BAD_ARGUMENT);
    ck_assert_ptr_nonnull(strstr(err, "signature does not verify"));
    ck_assert_int_eq(ERR_peek_error(), 0);
    X509_REQ_free(no_cn);
    X509_REQ_free(csr);
}
END_TEST

START_TEST(renewal_refuses_a_key_that_is_not_the_certificates)
{
    km_enrol_service svc = { "https://127.0.0.1:1", root_file, NULL, 0 };
    STACK_OF(X509) *chain = NULL;
    X509_REQ *csr = NULL;

    km_enrol_csr_new(other_key, "x", &csr, err, sizeof(err));
    ck_assert_int_eq(km_enrol_rekey(&svc, csr, leaf, other_key, NULL, &chain, err, sizeof(err)),
                     KM_ENROL_BAD_ARGUMENT);
    ck_assert_ptr_nonnull(strstr(err, "not the current certificate's key"));
    ck_assert_int_eq(km_enrol_renew(&svc, leaf, other_key, NULL, &chain, err, sizeof(err)),
                     KM_ENROL_BAD_ARGUMENT);
    ck_assert_int_eq(km_enrol_renew(&svc, NULL, leaf_key, NULL, &chain, err, sizeof(err)),
                     KM_ENROL_BAD_ARGUMENT);
    ck_assert_int_eq(km_enrol_rekey(&svc, NULL, leaf, leaf_key, NULL, &chain, err, sizeof(err)),
                     KM_ENROL_BAD_ARGUMENT);
    /* The right key is accepted (and then nothing listens). */
    ck_assert_int_eq(km_enrol_renew(&svc, leaf, leaf_key, NULL, &chain, err, sizeof(err)),
                     KM_ENROL_UNREACHABLE);
    ck_assert_ptr_null(chain);
    ck_assert_int_eq(ERR_peek_error(), 0);
    X509_REQ_free(csr);
}
END_TEST

START_TEST(reason_names)
{
    ck_assert_str_eq(km_enrol_reason_name(KM_ENROL_OK), "OK");
    ck_assert_str_eq(km_enrol_reason_name(KM_ENROL_UNAUTHORIZED), "UNAUTHORIZED");
    ck_assert_str_eq(km_enrol_reason_name(KM_ENROL_CERT_REFUSED), "CERT_REFUSED");
    ck_assert_str_eq(km_enrol_reason_name((km_enrol_reason)99), "UNKNOWN");
}
END_TEST

int main(void)
{
    Suite *s = suite_create("enrol_checks");
    TCase *resp = tcase_create("response"), *args = tcase_create("arguments");
    SRunner *sr;
    int failed;

    tcase_add_checked_fixture(resp, setup, teardown);
    tcase_set_timeout(resp, 600);  /* RSA key generation under valgrind */
    tcase_add_test(resp, good_response_gives_the_chain);
    tcase_add_test(resp, response_without_ca_and_with_trailing_newline);
    tcase_add_test(resp, refuses_certificate_for_another_key);
    tcase_add_test(resp, refuses_leaf_without_client_auth);
    tcase_add_test(resp, refuses_ca_leaf);
    tcase_add_test(resp, refuses_expired_leaf);
    tcase_add_test(resp, refuses_another_common_name);
    tcase_add_test(resp, renewal_must_keep_subject_and_sans);
    tcase_add_test(resp, refuses_chain_to_another_root);
    tcase_add_test(resp, refuses_inconsistent_fields);
    tcase_add_test(resp, refuses_forged_signature);
    tcase_add_test(resp, refuses_malformed_json);
    tcase_add_test(resp, refuses_bad_pem);
    tcase_add_test(resp, error_message_is_the_services_own);
    tcase_add_test(resp, error_message_never_holds_the_token);
    tcase_add_test(resp, csr_new_makes_what_step_ca_wants);
    tcase_add_test(resp, csr_new_refuses_bad_names);
    tcase_add_test(resp, reason_names);
    suite_add_tcase(s, resp);
    tcase_add_checked_fixture(args, args_setup, args_teardown);
    tcase_set_timeout(args, 600);
    tcase_add_test(args, refuses_bad_arguments_before_sending);
    tcase_add_test(args, renewal_refuses_a_key_that_is_not_the_certificates);
    suite_add_tcase(s, args);
    sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? 0 : 1;
}
