/*
 * One read of what a keystore: URI names: the files discovery found, each
 * read by the reader of its format (formats.c), then the key chosen,
 * decrypted and checked against its certificate, and the chain and the
 * trusted certificates collected.
 */
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/x509.h>

#include "assembly.h"
#include "formats.h"
#include "key_match.h"
#include "kafka-mtls.h"
#include "kmtls/files.h"
#include "kmtls/safe_path.h"
#include "kmtls/trace.h"
#include "passwords.h"
#include "volume.h"

static int unreadable(const km_file *f, size_t len, const char *expected, km_status *st)
{
    return km_fail(st, len == 0 ? KAFKA_MTLS_R_CORRUPT : KAFKA_MTLS_R_UNSUPPORTED_FORMAT,
                   len == 0 ? "%s: empty file" : "%s: %s", f->path, expected);
}

/* Reads f from the pinned volume, or from its directory opened under the
 * symlink and owner rule (kmtls/safe_path.h): whoever controls a file the
 * client trusts picks its key and CAs. */
static int read_trusted(const km_request *rq, const km_file *f, unsigned char **buf, size_t *len,
                        km_status *st)
{
    const char *base = strrchr(f->path, '/') + 1;
    char dir[4096];
    int dfd = rq->pinned_fd != NULL ? *rq->pinned_fd : -1, ok;

    if (dfd < 0) {
        snprintf(dir, sizeof(dir), "%.*s", (int)(base - 1 - f->path), f->path);
        if ((dfd = km_safe_dir_open(dir[0] != '\0' ? dir : "/", "directory", 0, st)) < 0)
            return 0;
    }
    ok = km_read_file_at(dfd, base, f->path, f->role == KM_ROLE_TRUSTSTORE ? "truststore" : "keystore",
                         KM_MAX_FILE_SIZE, KM_READ_TRUSTED, buf, len, st);
    if (rq->pinned_fd == NULL)
        close(dfd);
    return ok;
}

/* Reads f by the reader of its format: PEM for the PEM layouts' files
 * whatever their content says, else whichever the content is. */
static int read_store(const km_request *rq, const km_file *f, km_passwords *c, km_keystore *ks,
                      km_status *st)
{
    unsigned char *buf = NULL;
    size_t len = 0;
    const km_secret *pw = NULL;
    const km_format_ops *ops;
    int pem_only = f->role == KM_ROLE_KEY || f->role == KM_ROLE_CHAIN || f->role == KM_ROLE_CA, ok = 0;

    if (!read_trusted(rq, f, &buf, &len, st))
        return 0;
    ops = km_format_ops_of(km_sniff(buf, len));
    km_trace("%s: %zu bytes, %s", f->path, len, ops != NULL ? km_format_name(ops->format) : "unknown format");
    if (pem_only && (ops == NULL || ops->format != KM_FORMAT_PEM))
        ok = unreadable(f, len, "not a PEM file", st);
    else if (ops == NULL)
        ok = unreadable(f, len, "unsupported format (expected PKCS#12, JKS, JCEKS or PEM)", st);
    else if (ops->needs_password && !km_password_for(rq, f, c, &pw, st))
        ok = 0;
    else if (ops->needs_password && pw == NULL)
        ok = km_fail(st, KAFKA_MTLS_R_NO_PASSWORD,
                     "%s: no password (looked for ?password-file=, %s, the provider's "
                     "password-file, and a passphrase prompt)", f->path, "ALIAS_creds beside the file");
    else
        ok = ops->read(rq->libctx, buf, len, pw, ks, st);
    OPENSSL_clear_free(buf, len + 1);
    return ok;
}

static int name_matches(const km_key_entry *k, const char *alias)
{
    return k->alias != NULL && strcasecmp(k->alias, alias) == 0;
}

/*
 * The key entry to use: the only one, or the one named by the alias. In a
 * volume the alias names the files (and picks an entry only when the store
 * holds several); for a single file it names the entry.
 */
static const km_key_entry *select_key(const km_request *rq, const km_volume *v,
                                      const km_keystore *ks, km_status *st)
{
    int file = strcmp(v->layout, "file") == 0;
    const char *required = file ? rq->uri->alias : NULL;
    const char *alias = required != NULL ? required : v->alias;
    char names[256] = "";

    if (ks->nkeys == 1 && (required == NULL || name_matches(&ks->keys[0], required)))
        return &ks->keys[0];
    for (size_t i = 0; alias != NULL && i < ks->nkeys; i++)
        if (name_matches(&ks->keys[i], alias))
            return &ks->keys[i];
    for (size_t i = 0; i < ks->nkeys; i++) {
        const char *a = ks->keys[i].alias ? ks->keys[i].alias : "(no alias)";

        if (strlen(names) + strlen(a) + 3 < sizeof(names))
            strcat(strcat(names, names[0] ? ", " : ""), a);
    }
    if (required != NULL)
        km_fail(st, KAFKA_MTLS_R_ALIAS_NOT_FOUND, "%s: no private key entry '%s' (entries: %s)",
                ks->path, required, names);
    else
        km_fail(st, KAFKA_MTLS_R_MULTIPLE_KEYS,
                "%s: %zu private keys (%s) and no alias to choose one: add ?alias=", ks->path,
                ks->nkeys, names);
    return NULL;
}

/*
 * The key decoded once, for the check against its certificate (and then
 * handed out as it is, store.c). The algorithm named in the
 * PrivateKeyInfo picks the decoder: in OpenSSL 3.0 an untyped decode tries
 * every decoder the providers have (0.3 ms a key on the 2-core machine), a
 * typed one only that algorithm's (0.09 ms). A type libcrypto does not
 * know by number gets the untyped decode.
 */
static EVP_PKEY *decode_key(OSSL_LIB_CTX *libctx, const unsigned char *der, size_t len)
{
    const unsigned char *p = der;
    PKCS8_PRIV_KEY_INFO *p8 = d2i_PKCS8_PRIV_KEY_INFO(NULL, &p, (long)len);
    const ASN1_OBJECT *alg = NULL;
    EVP_PKEY *pkey = NULL;
    int nid;

    if (p8 == NULL || !PKCS8_pkey_get0(&alg, NULL, NULL, NULL, p8)) {
        PKCS8_PRIV_KEY_INFO_free(p8);
        return NULL;
    }
    if ((nid = OBJ_obj2nid(alg)) != NID_undef) {
        ERR_set_mark();
        p = der;
        pkey = d2i_PrivateKey_ex(nid, NULL, &p, (long)len, libctx, NULL);
        ERR_pop_to_mark();
    }
    if (pkey == NULL)
        pkey = EVP_PKCS82PKEY_ex(p8, libctx, NULL);
    PKCS8_PRIV_KEY_INFO_free(p8);
    return pkey;
}

static int check_key(const km_request *rq, const km_keystore *ks, const km_key_entry *k,
                     km_material *m, km_status *st)
{
    EVP_PKEY *pkey = decode_key(rq->libctx, m->key_der, m->key_len);
    X509 *leaf = NULL;
    int match = 1;

    if (pkey == NULL)
        return km_fail_crypto(st, KAFKA_MTLS_R_CORRUPT, "%s: the decrypted private key is not valid", ks->path);
    snprintf(m->key_type, sizeof(m->key_type), "%s", EVP_PKEY_get0_type_name(pkey));
    if (k->chain.n > 0) /* a key without certificates has nothing to match */
        match = km_key_matches_cert(rq->libctx, &k->chain.v[0], pkey, &leaf);
    EVP_PKEY_free(m->pkey);
    m->pkey = match == 1 ? pkey : NULL; /* kept: the store hands it out (store.c) */
    if (match != 1) {
        char subject[256] = "";

        EVP_PKEY_free(pkey);
        if (leaf != NULL)
            X509_NAME_oneline(X509_get_subject_name(leaf), subject, sizeof(subject));
        X509_free(leaf);
        return match < 0 ? km_fail_crypto(st, KAFKA_MTLS_R_CORRUPT, "%s: the certificate of the private key is "
                                          "not a valid certificate", ks->path)
                         : km_fail_crypto(st, KAFKA_MTLS_R_KEY_MISMATCH, "%s: the private key does not match "
                                          "the certificate %s", ks->path, subject);
    }
    X509_free(leaf);
    return 1;
}

/* 1 when c is wanted: no subject search, or c has that subject (the only
 * time a trusted certificate is decoded here). */
static int subject_matches(const km_request *rq, const km_keystore *ks, const km_der *c, km_status *st)
{
    X509 *x;
    int match;

    if (rq->subject == NULL)
        return 1;
    ERR_set_mark();
    if ((x = km_der_x509(rq->libctx, c)) == NULL)
        km_fail_crypto(st, KAFKA_MTLS_R_CORRUPT, "%s: a trusted certificate is not a valid certificate", ks->path);
    ERR_pop_to_mark();
    if (x == NULL)
        return 0;
    match = X509_NAME_cmp(X509_get_subject_name(x), rq->subject) == 0;
    X509_free(x);
    return match ? 1 : -1;
}

static int take_trusted(const km_request *rq, km_keystore *ks, km_material *m, km_status *st)
{
    for (size_t i = 0; i < ks->trusted.n; i++) {
        const km_der *c = &ks->trusted.v[i];
        int r = subject_matches(rq, ks, c, st);

        if (r == 0)
            return 0;
        if (r > 0 && !km_ders_has(&m->trusted, c) && !km_ders_add(&m->trusted, c->der, c->len))
            return km_fail(st, KAFKA_MTLS_R_INTERNAL, "out of memory");
    }
    return 1;
}

static int use_key(const km_request *rq, const km_volume *v, km_keystore *ks, km_passwords *c,
                   const km_file *f, km_material *m, km_status *st)
{
    const km_key_entry *k;
    const km_secret *pw = rq->key_password;

    if (ks->nkeys == 0) {
        if (rq->key_required || (strcmp(v->layout, "file") != 0 && rq->want_key))
            return km_fail(st, KAFKA_MTLS_R_NO_KEY, "%s: no private key in this %s %s", ks->path,
                           km_format_name(ks->format), f->role == KM_ROLE_KEY ? "file" : "keystore");
        return 1;
    }
    if ((k = select_key(rq, v, ks, st)) == NULL)
        return 0;
    km_trace("%s: key entry %s of %zu, %zu certificates with it", ks->path, k->alias ? k->alias : "(no alias)",
             ks->nkeys, k->chain.n);
    if (rq->want_chain) {
        if (k->chain.n == 0 && f->role == KM_ROLE_KEYSTORE)
            return km_fail(st, KAFKA_MTLS_R_NO_CERTIFICATE, "%s: the private key has no certificate",
                           ks->path);
        for (size_t i = 0; i < k->chain.n; i++)
            if (!km_ders_has(&m->chain, &k->chain.v[i]) &&
                !km_ders_add(&m->chain, k->chain.v[i].der, k->chain.v[i].len))
                return km_fail(st, KAFKA_MTLS_R_INTERNAL, "out of memory");
    }
    if (!rq->want_key)
        return 1;
    if ((pw == NULL || pw->data == NULL) && k->kind != KM_KEY_PKCS8 && !km_password_for(rq, f, c, &pw, st))
        return 0;
    if (!km_decrypt_key(rq->libctx, ks, k, pw, &m->key_der, &m->key_len, st))
        return 0;
    return check_key(rq, ks, k, m, st);
}

/* The PEM layouts split key and chain over two files: join them. */
static int attach_chain(km_keystore *key_ks, km_keystore *chain_ks, km_status *st)
{
    if (key_ks->nkeys != 1)
        return km_fail(st, key_ks->nkeys ? KAFKA_MTLS_R_MULTIPLE_KEYS : KAFKA_MTLS_R_NO_KEY,
                       "%s: expected exactly one private key, found %zu", key_ks->path, key_ks->nkeys);
    if (chain_ks->trusted.n == 0)
        return km_fail(st, KAFKA_MTLS_R_NO_CERTIFICATE, "%s: no certificate", chain_ks->path);
    km_ders_clear(&key_ks->keys[0].chain);
    key_ks->keys[0].chain = chain_ks->trusted;
    chain_ks->trusted = (km_ders){ 0 };
    return 1;
}

int km_assemble(const km_request *rq, km_material *out, km_status *st)
{
    km_volume v;
    km_passwords c = { 0 };
    km_keystore *stores[KM_MAX_FILES] = { 0 };
    int explicit_pw = (rq->password != NULL && rq->password->data != NULL) || rq->uri->password_file;
    int ok = 0, separate_trust = 0;

    memset(out, 0, sizeof(*out));
    if (!km_volume_discover(rq->uri, explicit_pw, &v, st))
        return 0;
    out->layout = v.layout;
    for (size_t i = 0; i < v.nfiles; i++)
        separate_trust |= v.files[i].role == KM_ROLE_TRUSTSTORE || v.files[i].role == KM_ROLE_CA;
    for (size_t i = 0; i < v.nfiles; i++) {
        const km_file *f = &v.files[i];
        /* Trust anchors come from the truststore when there is one: a
         * subject search then never opens the keystore. */
        int trusted_here = f->role == KM_ROLE_TRUSTSTORE || f->role == KM_ROLE_CA || !separate_trust;
        int wanted = (f->role != KM_ROLE_TRUSTSTORE && f->role != KM_ROLE_CA &&
                      (rq->want_key || rq->want_chain)) || (trusted_here && rq->want_trusted);

        if (!wanted)
            continue;
        if ((stores[i] = km_keystore_new(f->path)) == NULL) {
            km_fail(st, KAFKA_MTLS_R_INTERNAL, "out of memory");
            goto done;
        }
        if (!read_store(rq, f, &c, stores[i], st))
            goto done;
    }
    for (size_t i = 0; i < v.nfiles; i++) {
        const km_file *f = &v.files[i];

        if (stores[i] == NULL)
            continue;
        switch (f->role) {
        case KM_ROLE_KEY:
            if (i + 1 < v.nfiles && stores[i + 1] != NULL && !attach_chain(stores[i], stores[i + 1], st))
                goto done;
            /* fall through */
        case KM_ROLE_KEYSTORE:
            if ((rq->want_key || rq->want_chain) && !use_key(rq, &v, stores[i], &c, f, out, st))
                goto done;
            if (rq->want_trusted && !separate_trust && !take_trusted(rq, stores[i], out, st))
                goto done;
            break;
        case KM_ROLE_TRUSTSTORE:
        case KM_ROLE_CA:
            if (!take_trusted(rq, stores[i], out, st))
                goto done;
            break;
        case KM_ROLE_CHAIN:
            break; /* joined to the key above */
        }
    }
    ok = 1;
done:
    for (size_t i = 0; i < KM_MAX_FILES; i++)
        km_keystore_free(stores[i]);
    km_passwords_clear(&c);
    km_volume_clear(&v);
    if (!ok)
        km_material_clear(out);
    return ok;
}

void km_material_clear(km_material *m)
{
    OPENSSL_clear_free(m->key_der, m->key_len);
    EVP_PKEY_free(m->pkey); /* the last reference cleanses it */
    km_ders_clear(&m->chain);
    km_ders_clear(&m->trusted);
    memset(m, 0, sizeof(*m));
}
