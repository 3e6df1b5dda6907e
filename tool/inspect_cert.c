/* Describing keys and certificates for `kafka-mtls inspect`. */
#include <stdio.h>
#include <string.h>
#include <openssl/bio.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/objects.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "cli.h"
#include "inspect.h"
#include "kmtls/clock.h"
#include "kmtls/x509.h"

void km_describe_key(const EVP_PKEY *key, char *buf, size_t n)
{
    char group[64] = "";
    const char *type = EVP_PKEY_get0_type_name(key);

    if (EVP_PKEY_is_a(key, "EC") &&
        EVP_PKEY_get_utf8_string_param(key, OSSL_PKEY_PARAM_GROUP_NAME, group, sizeof(group), NULL)) {
        const char *nist = EC_curve_nid2nist(OBJ_txt2nid(group));

        snprintf(buf, n, "EC %s", nist != NULL ? nist : group);
    }
    else if (EVP_PKEY_is_a(key, "RSA") || EVP_PKEY_is_a(key, "RSA-PSS") || EVP_PKEY_is_a(key, "DSA"))
        snprintf(buf, n, "%s %d", type ? type : "?", EVP_PKEY_get_bits(key));
    else
        snprintf(buf, n, "%s", type ? type : "unknown key type");
}

static int bio_text(BIO *b, char *buf, size_t n)
{
    int len = BIO_read(b, buf, (int)n - 1);

    buf[len > 0 ? len : 0] = '\0';
    return len > 0;
}

/* An extension's value as openssl prints it, or "" */
static void ext_text(const X509 *x, int nid, char *buf, size_t n)
{
    int i = X509_get_ext_by_NID(x, nid, -1);
    BIO *b;

    buf[0] = '\0';
    if (i < 0 || (b = BIO_new(BIO_s_mem())) == NULL)
        return;
    if (X509V3_EXT_print(b, X509_get_ext(x, i), 0, 0) > 0)
        bio_text(b, buf, n);
    BIO_free(b);
}

static time_t to_time(const ASN1_TIME *t)
{
    time_t out = 0;

    km_time_of(t, &out);
    return out;
}

void km_print_cert(const X509 *x, time_t now, const char *in)
{
    char buf[1024], safe[4 * sizeof(buf)], t[64], serial[64];
    time_t nb = to_time(X509_get0_notBefore(x)), na = to_time(X509_get0_notAfter(x));

    /* every field from the certificate is escaped: it chose its bytes */
    km_name_text(X509_get_subject_name(x), buf, sizeof(buf));
    printf("%ssubject     %s\n", in, km_cli_safe(buf, safe, sizeof(safe)));
    km_name_text(X509_get_issuer_name(x), buf, sizeof(buf));
    printf("%sissuer      %s\n", in, km_cli_safe(buf, safe, sizeof(safe)));
    km_serial_hex(x, serial, sizeof(serial));
    printf("%sserial      %s\n", in, serial);
    ext_text(x, NID_subject_alt_name, buf, sizeof(buf));
    printf("%sSAN         %s\n", in, buf[0] ? km_cli_safe(buf, safe, sizeof(safe)) : "(none)");
    ext_text(x, NID_ext_key_usage, buf, sizeof(buf));
    printf("%sEKU         %s\n", in, buf[0] ? km_cli_safe(buf, safe, sizeof(safe)) : "(none: any use)");
    printf("%snot-before  %s%s\n", in, km_utc_text(nb, t, sizeof(t)), now < nb ? "  NOT VALID YET" : "");
    if (now >= na)
        printf("%snot-after   %s  EXPIRED %ld days ago\n", in, km_utc_text(na, t, sizeof(t)),
               (long)((now - na) / 86400));
    else
        printf("%snot-after   %s (%ld days left)\n", in, km_utc_text(na, t, sizeof(t)),
               (long)((na - now) / 86400));
}

int km_verify_chain(OSSL_LIB_CTX *libctx, STACK_OF(X509) *chain, STACK_OF(X509) *trusted, time_t now,
                    const char **purpose, char *why, size_t n)
{
    X509 *leaf = sk_X509_value(chain, 0);
    /* a broker's certificate may be for TLS servers only */
    int server = X509_check_purpose(leaf, X509_PURPOSE_SSL_CLIENT, 0) != 1 &&
                 X509_check_purpose(leaf, X509_PURPOSE_SSL_SERVER, 0) == 1;
    X509_STORE *store = X509_STORE_new();
    X509_STORE_CTX *ctx = X509_STORE_CTX_new_ex(libctx, NULL);
    STACK_OF(X509) *untrusted = sk_X509_new_null();
    int ok = 0;

    *purpose = "TLS client";
    snprintf(why, n, "out of memory");
    if (store == NULL || ctx == NULL || untrusted == NULL)
        goto done;
    for (int i = 0; i < sk_X509_num(trusted); i++)
        if (!X509_STORE_add_cert(store, sk_X509_value(trusted, i)))
            goto done;
    for (int i = 1; i < sk_X509_num(chain); i++)
        if (!sk_X509_push(untrusted, sk_X509_value(chain, i)))
            goto done;
    if (!X509_STORE_CTX_init(ctx, store, sk_X509_value(chain, 0), untrusted))
        goto done;
    X509_STORE_CTX_set_purpose(ctx, server ? X509_PURPOSE_SSL_SERVER : X509_PURPOSE_SSL_CLIENT);
    *purpose = server ? "TLS server" : "TLS client";
    X509_STORE_CTX_set_time(ctx, 0, now);
    ok = X509_verify_cert(ctx) > 0;
    snprintf(why, n, "%s", ok ? "" : X509_verify_cert_error_string(X509_STORE_CTX_get_error(ctx)));
done:
    sk_X509_free(untrusted);
    X509_STORE_CTX_free(ctx);
    X509_STORE_free(store);
    return ok;
}
