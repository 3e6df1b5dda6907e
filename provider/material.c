/*
 * One load of a keystore: URI. Everything is read afresh on each call (a
 * refreshed volume is seen by the next open) and checked before anything is
 * handed out, so a failure never yields half the material.
 */
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/params.h>
#include <openssl/x509.h>

#include "kafka-mtls.h"
#include "files.h"
#include "material.h"
#include "volume.h"

/* Passwords found while serving one request, each looked up at most once. */
typedef struct pw_cache {
    km_secret uri_file, conf_file, creds, prompt;
    const char *creds_path;  /* which creds file `creds` holds */
    int prompted;
} pw_cache;

static void pw_cache_clear(pw_cache *c)
{
    km_secret_clear(&c->uri_file);
    km_secret_clear(&c->conf_file);
    km_secret_clear(&c->creds);
    km_secret_clear(&c->prompt);
}

static int ask_callback(const km_request *rq, const km_file *f, pw_cache *c, km_status *st)
{
    char buf[1024];
    size_t len = 0;
    char info[600];
    OSSL_PARAM params[2];
    int ok;

    c->prompted = 1;
    if (rq->pw_cb == NULL)
        return 1;
    snprintf(info, sizeof(info), "keystore %s", f->path);
    params[0] = OSSL_PARAM_construct_utf8_string(OSSL_PASSPHRASE_PARAM_INFO, info, 0);
    params[1] = OSSL_PARAM_construct_end();
    ERR_set_mark();
    ok = rq->pw_cb(buf, sizeof(buf) - 1, &len, params, rq->pw_cbarg);
    ERR_pop_to_mark();
    /* A refused prompt is not an error here: the reader reports the
     * missing password with the file it was needed for. */
    ok = !ok || km_secret_set(&c->prompt, buf, len);
    OPENSSL_cleanse(buf, sizeof(buf));
    return ok ? 1 : km_fail(st, KAFKA_MTLS_R_INTERNAL, "out of memory");
}

/*
 * The store password for f, first found: the caller's explicit password,
 * ?password-file=, ALIAS_creds beside the store, the provider's configured
 * password file, the application's passphrase callback. *pw is NULL when
 * there is none (the reader then reports what it needed).
 */
static int password_for(const km_request *rq, const km_file *f, pw_cache *c,
                        const km_secret **pw, km_status *st)
{
    *pw = NULL;
    if (rq->password != NULL && rq->password->data != NULL) {
        *pw = rq->password;
        return 1;
    }
    if (rq->uri->password_file != NULL) {
        if (c->uri_file.data == NULL &&
            !km_read_password_file(rq->uri->password_file, KAFKA_MTLS_R_PASSWORD_FILE, &c->uri_file, st))
            return 0;
        *pw = &c->uri_file;
        return 1;
    }
    if (f->creds != NULL) {
        if (c->creds_path == NULL || strcmp(c->creds_path, f->creds) != 0) {
            km_secret_clear(&c->creds);
            if (!km_read_password_file(f->creds, KAFKA_MTLS_R_NOT_READY, &c->creds, st))
                return 0;
            c->creds_path = f->creds;
        }
        *pw = &c->creds;
        return 1;
    }
    if (rq->conf_password_file != NULL) {
        if (c->conf_file.data == NULL &&
            !km_read_password_file(rq->conf_password_file, KAFKA_MTLS_R_PASSWORD_FILE, &c->conf_file, st))
            return 0;
        *pw = &c->conf_file;
        return 1;
    }
    if (!c->prompted && !ask_callback(rq, f, c, st))
        return 0;
    if (c->prompt.data != NULL)
        *pw = &c->prompt;
    return 1;
}

static int read_store(const km_request *rq, const km_file *f, pw_cache *c, km_keystore *ks,
                      km_status *st)
{
    unsigned char *buf = NULL;
    size_t len = 0;
    const km_secret *pw = NULL;
    km_format fmt;
    int ok = 0;

    if (!km_read_file(f->path, f->role == KM_ROLE_TRUSTSTORE ? "truststore" : "keystore",
                      KM_MAX_FILE_SIZE, &buf, &len, st))
        return 0;
    fmt = km_sniff(buf, len);
    if (fmt == KM_FORMAT_PEM || f->role == KM_ROLE_KEY || f->role == KM_ROLE_CHAIN ||
        f->role == KM_ROLE_CA) {
        ok = fmt == KM_FORMAT_PEM
                 ? km_read_pem(rq->libctx, buf, len, ks, st)
                 : km_fail(st, len == 0 ? KAFKA_MTLS_R_CORRUPT : KAFKA_MTLS_R_UNSUPPORTED_FORMAT,
                           len == 0 ? "%s: empty file" : "%s: not a PEM file", f->path);
    } else if (fmt == KM_FORMAT_UNKNOWN) {
        ok = km_fail(st, len == 0 ? KAFKA_MTLS_R_CORRUPT : KAFKA_MTLS_R_UNSUPPORTED_FORMAT,
                     len == 0 ? "%s: empty file"
                              : "%s: unsupported format (expected PKCS#12, JKS, JCEKS or PEM)", f->path);
    } else if (password_for(rq, f, c, &pw, st)) {
        if (pw == NULL)
            ok = km_fail(st, KAFKA_MTLS_R_NO_PASSWORD,
                         "%s: no password (looked for ?password-file=, %s, the provider's "
                         "password-file, and a passphrase prompt)", f->path,
                         "ALIAS_creds beside the file");
        else if (fmt == KM_FORMAT_PKCS12)
            ok = km_read_pkcs12(rq->libctx, buf, len, pw, ks, st);
        else
            ok = km_read_jks(rq->libctx, buf, len, pw, ks, st);
    }
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

static int check_key(const km_request *rq, const km_keystore *ks, const km_key_entry *k,
                     km_material *m, km_status *st)
{
    const unsigned char *p = m->key_der;
    PKCS8_PRIV_KEY_INFO *p8 = d2i_PKCS8_PRIV_KEY_INFO(NULL, &p, (long)m->key_len);
    EVP_PKEY *pkey = p8 != NULL ? EVP_PKCS82PKEY_ex(p8, rq->libctx, NULL) : NULL;
    int ok;

    PKCS8_PRIV_KEY_INFO_free(p8);
    if (pkey == NULL)
        return km_fail(st, KAFKA_MTLS_R_CORRUPT, "%s: the decrypted private key is not valid", ks->path);
    snprintf(m->key_type, sizeof(m->key_type), "%s", EVP_PKEY_get0_type_name(pkey));
    /* sk_X509_num is -1 for no stack at all: a key without certificates */
    ok = sk_X509_num(k->chain) <= 0 || X509_check_private_key(sk_X509_value(k->chain, 0), pkey);
    EVP_PKEY_free(pkey);
    if (!ok) {
        char subject[256];

        X509_NAME_oneline(X509_get_subject_name(sk_X509_value(k->chain, 0)), subject, sizeof(subject));
        return km_fail(st, KAFKA_MTLS_R_KEY_MISMATCH,
                       "%s: the private key does not match the certificate %s", ks->path, subject);
    }
    return 1;
}

static int add_unique(STACK_OF(X509) **dst, X509 *x, const X509_NAME *subject)
{
    if (subject != NULL && X509_NAME_cmp(X509_get_subject_name(x), subject) != 0)
        return 1;
    if (*dst == NULL && (*dst = sk_X509_new_null()) == NULL)
        return 0;
    for (int i = 0; i < sk_X509_num(*dst); i++)
        if (X509_cmp(sk_X509_value(*dst, i), x) == 0)
            return 1;
    if (!X509_up_ref(x))
        return 0;
    if (!sk_X509_push(*dst, x)) {
        X509_free(x);
        return 0;
    }
    return 1;
}

static int take_trusted(const km_request *rq, km_keystore *ks, km_material *m, km_status *st)
{
    for (int i = 0; i < sk_X509_num(ks->trusted); i++)
        if (!add_unique(&m->trusted, sk_X509_value(ks->trusted, i), rq->subject))
            return km_fail(st, KAFKA_MTLS_R_INTERNAL, "out of memory");
    return 1;
}

static int use_key(const km_request *rq, const km_volume *v, km_keystore *ks, pw_cache *c,
                   const km_file *f, km_material *m, km_status *st)
{
    const km_key_entry *k;
    const km_secret *pw = rq->key_password;

    if (ks->nkeys == 0) {
        if (rq->key_required || (strcmp(v->layout, "file") != 0 && rq->want_key))
            return km_fail(st, KAFKA_MTLS_R_NO_KEY, "%s: no private key in this %s %s", ks->path,
                           ks->format, f->role == KM_ROLE_KEY ? "file" : "keystore");
        return 1;
    }
    if ((k = select_key(rq, v, ks, st)) == NULL)
        return 0;
    if (rq->want_chain) {
        if (sk_X509_num(k->chain) <= 0 && f->role == KM_ROLE_KEYSTORE)
            return km_fail(st, KAFKA_MTLS_R_NO_CERTIFICATE, "%s: the private key has no certificate",
                           ks->path);
        for (int i = 0; i < sk_X509_num(k->chain); i++)
            if (!add_unique(&m->chain, sk_X509_value(k->chain, i), NULL))
                return km_fail(st, KAFKA_MTLS_R_INTERNAL, "out of memory");
    }
    if (!rq->want_key)
        return 1;
    if ((pw == NULL || pw->data == NULL) && k->kind != KM_KEY_PKCS8 && !password_for(rq, f, c, &pw, st))
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
    if (sk_X509_num(chain_ks->trusted) <= 0)
        return km_fail(st, KAFKA_MTLS_R_NO_CERTIFICATE, "%s: no certificate", chain_ks->path);
    km_certs_free(key_ks->keys[0].chain);
    key_ks->keys[0].chain = chain_ks->trusted;
    chain_ks->trusted = NULL;
    return 1;
}

static int load_once(const km_request *rq, km_material *out, km_status *st)
{
    km_volume v;
    pw_cache c = { 0 };
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
    pw_cache_clear(&c);
    km_volume_clear(&v);
    if (!ok)
        km_material_clear(out);
    return ok;
}

/*
 * A volume directory held open for one read, and reached through
 * /proc/self/fd/N: every file of the read then comes from that directory,
 * whatever is renamed or re-pointed meanwhile. Kubernetes' volumes are
 * links through ..data, so it is ..data's target that is held.
 */
typedef struct pinned_volume {
    int fd;
    char path[64];
    km_uri uri;
    km_request rq;
} pinned_volume;

/* The request, redirected to a pinned copy of its volume; rq itself when
 * the URI names a file or /proc is not there (the fingerprint check in
 * km_material_load still notices a swap). */
static const km_request *pin(const km_request *rq, pinned_volume *p)
{
    int fd = open(rq->uri->path, O_RDONLY | O_DIRECTORY | O_CLOEXEC), data;
    struct stat sb;

    p->fd = -1;
    if (fd < 0)
        return rq;
    if ((data = openat(fd, "..data", O_RDONLY | O_DIRECTORY | O_CLOEXEC)) >= 0) {
        close(fd);
        fd = data;
    }
    snprintf(p->path, sizeof(p->path), "/proc/self/fd/%d", fd);
    if (stat(p->path, &sb) != 0 || !S_ISDIR(sb.st_mode)) {
        close(fd);
        return rq;
    }
    p->fd = fd;
    p->uri = *rq->uri;
    p->uri.path = p->path;
    p->uri.name = strrchr(rq->uri->path, '/') + 1;
    p->rq = *rq;
    p->rq.uri = &p->uri;
    return &p->rq;
}

/* Closes the pin; messages name the volume as the user did, not /proc. */
static void unpin(pinned_volume *p, const char *shown, km_status *st)
{
    char msg[sizeof(st->msg)];
    const char *from = st->msg, *at;
    size_t len = 0, n;

    if (p->fd < 0)
        return;
    close(p->fd);
    n = strlen(p->path);
    msg[0] = '\0';
    while ((at = strstr(from, p->path)) != NULL && len < sizeof(msg)) {
        len += (size_t)snprintf(msg + len, sizeof(msg) - len, "%.*s%s", (int)(at - from), from, shown);
        from = at + n;
    }
    if (len < sizeof(msg))
        snprintf(msg + len, sizeof(msg) - len, "%s", from);
    memcpy(st->msg, msg, sizeof(msg));
}

/*
 * Certificate services replace a volume while clients start (a directory
 * swapped by rename, Kubernetes re-pointing ..data). A directory is read
 * through a pin, so one read sees one volume; should the volume still
 * change during the read (a non-atomic swap), it is read again.
 */
int km_material_load(const km_request *rq, km_material *out, km_status *st)
{
    for (int attempt = 1;; attempt++) {
        unsigned long long before = km_volume_fingerprint(rq->uri->path);
        km_status local = { 0 };
        pinned_volume p;
        int ok = load_once(pin(rq, &p), out, &local);

        unpin(&p, rq->uri->path, &local);
        if (km_volume_fingerprint(rq->uri->path) == before || attempt == 5) {
            if (!ok)
                km_fail(st, local.reason, "%s", local.msg);
            return ok;
        }
        km_material_clear(out);
    }
}

void km_material_clear(km_material *m)
{
    OPENSSL_clear_free(m->key_der, m->key_len);
    km_certs_free(m->chain);
    km_certs_free(m->trusted);
    memset(m, 0, sizeof(*m));
}
