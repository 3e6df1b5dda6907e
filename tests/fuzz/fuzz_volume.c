/*
 * The whole volume path: the input becomes the files of a client volume on
 * tmpfs (seed/keytool, cert-manager, spiffe-helper layouts, a single store
 * file), which is then loaded with km_material_load as the provider's STORE
 * does (discovery, the password search incl. ALIAS_creds and
 * ?password-file=, format sniffing, every reader, key selection, key/chain
 * match, truststore handling, subject search), or through OSSL_STORE and
 * the built-in provider.
 *
 * Input: one selector byte, then up to three parts separated by "#KMFUZZ#"
 * (the volume's files, in the layout's order; a missing part is a missing
 * file). Selector bits:
 *   0-2 layout 0 seed   CLIENT.keystore.jks CLIENT.truststore.jks CLIENT_creds
 *              1 seed   CLIENT.keystore.p12 CLIENT.truststore.pfx CLIENT_creds
 *              2 cert-manager  tls.crt tls.key ca.crt
 *              3 spiffe-helper svid.pem svid_key.pem svid_bundle.pem
 *              4 cert-manager  keystore.p12 truststore.p12, ?password-file=PART3
 *              5 one file: keystore:.../client.keystore.jks (client_creds beside)
 *              6 one file: keystore:.../store, explicit password (program param)
 *              7 seed (.jks) with explicit store password; PART3 = key password
 *   3-4 request 0 everything, 1 the key only (expect PKEY), 2 certificates,
 *               3 ?part=truststore and a subject search for the test CA
 *   5   recompute JKS/JCEKS trailers and PKCS#12 MACs for the password
 *   6   through OSSL_STORE_open_ex + the built-in kafka-mtls provider
 *   7   add ?alias=client
 * (make-corpus.sh: volume/.)
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/params.h>
#include <openssl/store.h>
#include <openssl/x509.h>

#include "fuzz_common.h"
#include "kafka-mtls.h"
#include "kmtls/provider.h"
#include "kmtls/sniff.h"
#include "material.h"
#include "uri.h"

#define SEP "#KMFUZZ#"
#define SEP_LEN (sizeof(SEP) - 1)
#define TEST_CA_SUBJECT "CN=kafka-mtls test CA,O=kafka-mtls tests"

static const char *const layouts[8][3] = {
    { "client.keystore.jks", "client.truststore.jks", "client_creds" },
    { "client.keystore.p12", "client.truststore.pfx", "client_creds" },
    { "tls.crt", "tls.key", "ca.crt" },
    { "svid.pem", "svid_key.pem", "svid_bundle.pem" },
    { "keystore.p12", "truststore.p12", "../password" },
    { "client.keystore.jks", "client.truststore.jks", "client_creds" },
    { "store", "client.truststore.jks", NULL },
    { "client.keystore.jks", "client.truststore.jks", NULL },
};

/* Every name any layout writes: removed before each input. */
static const char *const all_names[] = {
    "client.keystore.jks", "client.truststore.jks", "client_creds", "client.keystore.p12",
    "client.truststore.pfx", "tls.crt", "tls.key", "ca.crt", "svid.pem", "svid_key.pem",
    "svid_bundle.pem", "keystore.p12", "truststore.p12", "../password", "store",
};

typedef struct part {
    const unsigned char *p;
    size_t n;
} part;

static char dir[PATH_MAX];
static X509_NAME *ca_subject;

static void path_of(char *out, size_t n, const char *name)
{
    snprintf(out, n, "%s/%s", dir, name);
}

/* The password a password file holds, as km_read_password_at reads it;
 * 0 if it would refuse the file. */
static int password_of(const part *pt, km_secret *pw)
{
    size_t n = pt->n;

    if (n > 0 && pt->p[n - 1] == '\n')
        n--;
    if (n > 0 && pt->p[n - 1] == '\r')
        n--;
    if (n == 0 || n > 4096 || memchr(pt->p, '\n', n) != NULL)
        return 0;
    pw->data = (char *)pt->p;
    pw->len = n;
    return 1;
}

/* Writes one part, its integrity trailer or MAC recomputed when asked. */
static void write_part(const char *name, const part *pt, int fix, const km_secret *pw)
{
    char path[PATH_MAX];
    unsigned char *fixed = NULL;
    size_t len = 0;

    path_of(path, sizeof(path), name);
    if (fix && pw != NULL) {
        switch (km_sniff(pt->p, pt->n)) {
        case KM_FORMAT_JKS:
        case KM_FORMAT_JCEKS:
            if ((fixed = OPENSSL_memdup(pt->p, pt->n)) != NULL &&
                kmf_jks_fix_trailer(fixed, pt->n, pw))
                len = pt->n;
            break;
        case KM_FORMAT_PKCS12:
            fixed = kmf_p12_fix_mac(pt->p, pt->n, pw, &len);
            break;
        default:
            break;
        }
    }
    if (fixed != NULL && len > 0)
        kmf_write_file(path, fixed, len);
    else
        kmf_write_file(path, pt->p, pt->n);
    OPENSSL_free(fixed);
}

static void check_material(int ok, const km_status *st, const km_request *rq, const km_material *m)
{
    kmf_check_status("km_material_load", ok, st);
    if (!ok) {
        if (m->key_der != NULL || m->chain.n > 0 || m->trusted.n > 0)
            kmf_die("km_material_load failed but yields material");
        return;
    }
    if (m->layout == NULL)
        kmf_die("km_material_load: no layout");
    if (m->key_der != NULL && !rq->want_key)
        kmf_die("a key that was not asked for");
    if (rq->key_required && m->key_der == NULL)
        kmf_die("key required, none yielded, no error");
    if (m->chain.n > 0 && !rq->want_chain)
        kmf_die("a chain that was not asked for");
    if (m->trusted.n > 0 && !rq->want_trusted)
        kmf_die("trusted certificates that were not asked for");
    if (rq->subject != NULL)
        for (size_t i = 0; i < m->trusted.n; i++) {
            X509 *x = km_der_x509(NULL, &m->trusted.v[i]);
            int other = x == NULL || X509_NAME_cmp(X509_get_subject_name(x), rq->subject) != 0;

            X509_free(x);
            if (other)
                kmf_die("subject search yields another subject");
        }
}

static void load_direct(const char *uri_text, int req, const km_secret *password,
                        const km_secret *key_password)
{
    km_uri uri;
    km_status st = { 0 };
    km_request rq = { 0 };
    km_material m;
    int ok;

    if (!km_uri_parse(uri_text, &uri, &st))
        kmf_die("km_uri_parse(%s): %s", uri_text, st.msg);
    rq.libctx = kmf_libctx();
    rq.uri = &uri;
    rq.password = password;
    rq.key_password = key_password;
    switch (req) {
    case 0:
        rq.want_key = rq.want_chain = rq.want_trusted = 1;
        break;
    case 1:
        rq.want_key = rq.key_required = 1;
        break;
    case 2:
        rq.want_chain = rq.want_trusted = 1;
        break;
    default:
        rq.want_trusted = 1;
        rq.subject = ca_subject;
        break;
    }
    ok = km_material_load(&rq, &m, &st);
    check_material(ok, &st, &rq, &m);
    km_material_clear(&m);
    km_uri_clear(&uri);
    ERR_clear_error();
}

static void load_store(const char *uri_text, int req, const km_secret *password,
                       const km_secret *key_password)
{
    static const int expects[] = { 0, OSSL_STORE_INFO_PKEY, OSSL_STORE_INFO_CERT, 0 };
    OSSL_PARAM params[3], *p = params;
    kmtls_query q = { .uri = uri_text, .expect = expects[req], .subject = req == 3 ? ca_subject : NULL,
                      .params = params };
    kmtls_loaded l;
    int ok;

    /* octet strings of their own length: a password may hold any byte */
    if (password != NULL)
        *p++ = OSSL_PARAM_construct_octet_string(KAFKA_MTLS_PARAM_PASSWORD, password->data, password->len);
    if (key_password != NULL)
        *p++ = OSSL_PARAM_construct_octet_string(KAFKA_MTLS_PARAM_KEY_PASSWORD, key_password->data,
                                                 key_password->len);
    *p = OSSL_PARAM_construct_end();
    ok = kmtls_store_load(kmf_store_libctx(), &q, &l);
    if (getenv("KMFUZZ_VERBOSE") != NULL)
        fprintf(stderr, "kmfuzz: OSSL_STORE %s: %s, %d keys, %d certificates%s%s\n", uri_text,
                ok ? "ok" : "failed", l.nkeys, sk_X509_num(l.certs), ok ? "" : ": ", ok ? "" : l.msg);
    if (!ok && (l.reason < KAFKA_MTLS_R_BAD_URI || l.reason > KAFKA_MTLS_R_INTERNAL || l.msg[0] == '\0'))
        kmf_die("OSSL_STORE %s failed with reason %d (%s)", uri_text, l.reason, l.msg);
    if (ok && req == 1 && l.nkeys != 1)
        kmf_die("OSSL_STORE %s: %d keys for expect PKEY", uri_text, l.nkeys);
    kmtls_loaded_clear(&l);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc, (void)argv;
    snprintf(dir, sizeof(dir), "%s/client", kmf_tmpdir());
    if (mkdir(dir, 0700) != 0)
        kmf_die("mkdir %s", dir);
    if ((ca_subject = X509_NAME_new()) == NULL ||
        !X509_NAME_add_entry_by_txt(ca_subject, "CN", MBSTRING_ASC,
                                    (const unsigned char *)"kafka-mtls test CA", -1, -1, 0) ||
        !X509_NAME_add_entry_by_txt(ca_subject, "O", MBSTRING_ASC,
                                    (const unsigned char *)"kafka-mtls tests", -1, -1, 0))
        kmf_die("X509_NAME");
    (void)kmf_libctx();
    (void)kmf_store_libctx();
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    part parts[3] = { { 0 } };
    size_t nparts = 0;
    unsigned sel;
    int layout, req, fix, via_store, alias;
    km_secret pw = { 0 }, key_pw = { 0 };
    const km_secret *file_pw = NULL, *explicit_pw = NULL, *explicit_key_pw = NULL;
    char uri[PATH_MAX + 128], path[PATH_MAX];

    if (size < 1)
        return 0;
    sel = data[0];
    layout = sel & 7, req = (sel >> 3) & 3, fix = (sel >> 5) & 1;
    via_store = (sel >> 6) & 1, alias = (sel >> 7) & 1;
    data++, size--;
    /* split into at most three parts */
    while (nparts < 3) {
        const unsigned char *sep = nparts < 2 ? memmem(data, size, SEP, SEP_LEN) : NULL;
        size_t n = sep != NULL ? (size_t)(sep - data) : size;

        parts[nparts++] = (part){ data, n };
        if (sep == NULL)
            break;
        data += n + SEP_LEN;
        size -= n + SEP_LEN;
    }

    for (size_t i = 0; i < sizeof(all_names) / sizeof(all_names[0]); i++) {
        path_of(path, sizeof(path), all_names[i]);
        unlink(path);
    }
    /* the password the stores are (probably) made with */
    if (layout == 6 || layout == 7) {
        explicit_pw = kmf_password();
        file_pw = explicit_pw;
        if (layout == 7 && nparts == 3 && password_of(&parts[2], &key_pw))
            explicit_key_pw = &key_pw;
    } else if (nparts == 3 && layouts[layout][2] != NULL && password_of(&parts[2], &pw)) {
        file_pw = &pw;
    }
    for (size_t i = 0; i < nparts; i++)
        if (layouts[layout][i] != NULL)
            write_part(layouts[layout][i], &parts[i], fix, file_pw);

    switch (layout) {
    case 4:
        snprintf(uri, sizeof(uri), "keystore:%s?password-file=%s/../password%s", dir, dir,
                 alias ? "&alias=client" : "");
        break;
    case 5:
    case 6:
        path_of(path, sizeof(path), layouts[layout][0]);
        snprintf(uri, sizeof(uri), "keystore:%s%s", path, alias ? "?alias=client" : "");
        break;
    default:
        snprintf(uri, sizeof(uri), "keystore:%s%s", dir, alias ? "?alias=client" : "");
        break;
    }
    if (req == 3)
        strcat(uri, alias || layout == 4 ? "&part=truststore" : "?part=truststore");

    if (via_store)
        load_store(uri, req, explicit_pw, explicit_key_pw);
    else
        load_direct(uri, req, explicit_pw, explicit_key_pw);
    return 0;
}
