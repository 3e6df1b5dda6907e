/*
 * km_issue: validate the request, load and check the CA, generate the key,
 * build and sign the certificate, and write the volume in the seed's layout
 * with ALIAS_creds last.
 *
 * Crash consistency. Each file is replaced atomically, and the password
 * file is written last, so a process killed at any point leaves:
 *  - on a first issuance: no ALIAS_creds, so the volume is "not ready" and
 *    the next issuer starts over; or a complete volume;
 *  - on a renewal that keeps the password: every store, old or new, opens
 *    with the ALIAS_creds beside it;
 *  - on a renewal that changes the password: ALIAS_creds is removed (and the
 *    removal made durable) before any store is replaced, so the volume is
 *    "not ready" rather than paired with the wrong password.
 */
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <sys/stat.h>
#include <unistd.h>
#include <openssl/crypto.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>

#include "issue_internal.h"
#include "kafka-mtls.h"
#include "kmtls/clock.h"
#include "kmtls/files.h"
#include "kmtls/provider.h"
#include "kmtls/seed.h"
#include "kmtls/x509.h"

/* ALIAS and the names of the files it writes (kmtls/seed.h). */
typedef struct issue_names {
    char alias[KM_MAX_ALIAS + 1];
    char keystore[KM_MAX_ALIAS + 32], truststore[KM_MAX_ALIAS + 32], crt[KM_MAX_ALIAS + 32],
        creds[KM_MAX_ALIAS + 32];
} issue_names;

int km_alias_resolve(const char *volume, const char *alias, char *out, size_t n, km_status *st)
{
    const char *a = alias;
    char vol[4096], msg[300];

    if (a == NULL) {
        size_t len;

        snprintf(vol, sizeof(vol), "%s", volume != NULL ? volume : "");
        for (len = strlen(vol); len > 1 && vol[len - 1] == '/'; len--)
            vol[len - 1] = '\0';
        a = strrchr(vol, '/') != NULL ? strrchr(vol, '/') + 1 : vol;
    }
    if (!km_alias_check(a, msg, sizeof(msg)))
        return km_fail(st, KAFKA_MTLS_R_BAD_REQUEST, "%s", msg);
    if (strlen(a) >= n)
        return km_fail(st, KAFKA_MTLS_R_INTERNAL, "alias '%s': longer than its buffer", a);
    snprintf(out, n, "%s", a);
    return 1;
}

static int alias_of(const km_issue_request *rq, issue_names *nm, km_status *st)
{
    return km_alias_resolve(rq->volume, rq->alias, nm->alias, sizeof(nm->alias), st) &&
           km_seed_name(KM_SEED_KEYSTORE, nm->alias, NULL, nm->keystore, sizeof(nm->keystore)) &&
           km_seed_name(KM_SEED_TRUSTSTORE, nm->alias, NULL, nm->truststore, sizeof(nm->truststore)) &&
           km_seed_name(KM_SEED_CERT, nm->alias, NULL, nm->crt, sizeof(nm->crt)) &&
           km_seed_name(KM_SEED_CREDS, nm->alias, NULL, nm->creds, sizeof(nm->creds));
}

/* The store password: the configured one, the existing one, or a fresh
 * random one (128 bits as 32 hex digits, like the seed's `openssl rand -hex 16`). */
static int choose_password(const km_issue_request *rq, int dirfd, const issue_names *nm,
                           km_secret *pw, int *kept, int *changed, km_status *st)
{
    km_secret old = { 0 };
    char path[4096];
    int found, ok = 0;

    *kept = *changed = 0;
    /* an absent or empty ALIAS_creds is "not written yet": no password to keep */
    if (!km_read_password_at(dirfd, nm->creds, km_path(path, sizeof(path), rq->volume, nm->creds),
                             KAFKA_MTLS_R_PASSWORD_FILE, KM_READ_NOFOLLOW | KM_PASSWORD_OPTIONAL, &old, st))
        return 0;
    found = old.data != NULL;
    if (rq->store_password != NULL) {
        size_t len = strlen(rq->store_password);

        if (len == 0 || strchr(rq->store_password, '\n') != NULL || strchr(rq->store_password, '\r') != NULL) {
            km_fail(st, KAFKA_MTLS_R_BAD_REQUEST, "store password: empty or more than one line");
            goto done;
        }
        if (!km_secret_set(pw, rq->store_password, len))
            goto oom;
        *changed = found && (old.len != len || CRYPTO_memcmp(old.data, rq->store_password, len) != 0);
    } else if (found) {
        if (!km_secret_set(pw, old.data, old.len))
            goto oom;
        *kept = 1;
    } else {
        unsigned char r[16];
        char hex[33];

        if (RAND_priv_bytes_ex(rq->libctx, r, sizeof(r), 0) <= 0) {
            km_fail(st, KAFKA_MTLS_R_INTERNAL, "no randomness for the store password");
            goto done;
        }
        for (size_t i = 0; i < sizeof(r); i++)
            snprintf(hex + 2 * i, 3, "%02x", r[i]);
        ok = km_secret_set(pw, hex, 32);
        OPENSSL_cleanse(r, sizeof(r));
        OPENSSL_cleanse(hex, sizeof(hex));
        if (!ok)
            goto oom;
    }
    ok = 1;
    goto done;
oom:
    km_fail(st, KAFKA_MTLS_R_INTERNAL, "out of memory");
done:
    km_secret_clear(&old);
    return ok;
}

static int pem_of(X509 *x, unsigned char **out, size_t *len)
{
    BIO *b = BIO_new(BIO_s_mem());
    BUF_MEM *bm = NULL;
    int ok = b != NULL && PEM_write_bio_X509(b, x) && BIO_get_mem_ptr(b, &bm) > 0 &&
             (*out = OPENSSL_memdup(bm->data, bm->length)) != NULL;

    if (ok)
        *len = bm->length;
    BIO_free(b);
    return ok;
}

typedef struct issue_files {
    unsigned char *keystore, *truststore, *crt;
    size_t keystore_len, truststore_len, crt_len;
} issue_files;

static void files_clear(issue_files *f)
{
    OPENSSL_free(f->keystore);
    OPENSSL_free(f->truststore);
    OPENSSL_free(f->crt);
    memset(f, 0, sizeof(*f));
}

/* The mark is an empty file made in place (no temporary file to leave
 * behind), at best effort: where not even it fits, the stores do not
 * either, and the issuance fails before any of them is written. */
static void mark_writing(int dirfd)
{
    int fd = openat(dirfd, KM_WRITING_MARK, O_WRONLY | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);

    if (fd >= 0)
        close(fd);
}

static int write_volume(const km_issue_request *rq, int dirfd, const issue_names *nm, const issue_files *f,
                        const km_secret *pw, int pw_changed, km_status *st)
{
    char *line = OPENSSL_malloc(pw->len + 1);
    int ok, mark;

    if (line == NULL)
        return km_fail(st, KAFKA_MTLS_R_INTERNAL, "out of memory");
    memcpy(line, pw->data, pw->len);
    line[pw->len] = '\n';
    km_dir_clean_temps(dirfd);
    {
        struct stat sb;

        /* stores ALIAS_creds does not match yet: marked as ours first, so a
         * crash leaves an interrupted issuance to redo, not something that
         * looks like another writer's (KM_WRITING_MARK) */
        mark = pw_changed || fstatat(dirfd, nm->creds, &sb, AT_SYMLINK_NOFOLLOW) != 0 || sb.st_size == 0;
    }
    ok = (!mark || (mark_writing(dirfd), km_dir_sync(dirfd, rq->volume, st))) &&
         (!pw_changed ||
          (km_dir_remove(dirfd, rq->volume, nm->creds, st) && km_dir_sync(dirfd, rq->volume, st))) &&
         km_dir_write(dirfd, rq->volume, nm->keystore, f->keystore, f->keystore_len, st) &&
         km_dir_write(dirfd, rq->volume, nm->truststore, f->truststore, f->truststore_len, st) &&
         km_dir_write(dirfd, rq->volume, nm->crt, f->crt, f->crt_len, st) &&
         km_dir_sync(dirfd, rq->volume, st) &&
         /* the mark becomes ALIAS_creds: one rename ends the issuance */
         (mark ? km_dir_write_via(dirfd, rq->volume, KM_WRITING_MARK, nm->creds, line, pw->len + 1, st)
               : km_dir_write(dirfd, rq->volume, nm->creds, line, pw->len + 1, st)) &&
         km_dir_sync(dirfd, rq->volume, st);
    OPENSSL_clear_free(line, pw->len + 1);
    return ok;
}

static int check_request(const km_issue_request *rq, km_key_spec *ks, km_status *st)
{
    char err[256];

    if (rq->volume == NULL || rq->volume[0] != '/')
        return km_fail(st, KAFKA_MTLS_R_RELATIVE_PATH, "volume %s: not an absolute path",
                       rq->volume ? rq->volume : "(none)");
    if (!km_key_spec_parse(rq->key_type, ks, err, sizeof(err)))
        return km_fail(st, KAFKA_MTLS_R_BAD_REQUEST, "%s", err);
    if (rq->validity_days < 0 || rq->validity_days > KM_MAX_VALIDITY_DAYS)
        return km_fail(st, KAFKA_MTLS_R_BAD_REQUEST, "validity %d days: expected 1 to %d", rq->validity_days,
                       KM_MAX_VALIDITY_DAYS);
    if (rq->validity_seconds != 0 &&
        (rq->validity_seconds < KM_MIN_VALIDITY_SECONDS || rq->validity_seconds > KM_MAX_VALIDITY_DAYS * 86400L))
        return km_fail(st, KAFKA_MTLS_R_BAD_REQUEST, "validity %lds: expected %d to %ld", rq->validity_seconds,
                       KM_MIN_VALIDITY_SECONDS, KM_MAX_VALIDITY_DAYS * 86400L);
    return km_eku_check(rq->extended_key_usage ? rq->extended_key_usage : "clientAuth", st);
}

/*
 * The subject and SANs: the configured templates, expanded; what is not
 * configured is kept from the certificate being renewed (so the principal
 * a broker derives, and every ACL written for it, survive a renewal); for a
 * first issuance the subject defaults to CN=${alias}. *name to free with
 * X509_NAME_free, *san (NULL: none) with GENERAL_NAMES_free.
 */
static int build_names(const km_issue_request *rq, const char *alias, X509_NAME **name, GENERAL_NAMES **san,
                       km_status *st)
{
    const X509 *old = rq->renewing;

    *san = NULL;
    if (rq->subject == NULL && old != NULL)
        *name = X509_NAME_dup(X509_get_subject_name(old));
    else
        *name = km_subject_build(rq->subject ? rq->subject : "CN=${alias}", alias, st);
    if (*name == NULL)
        return rq->subject == NULL && old != NULL ? km_fail(st, KAFKA_MTLS_R_INTERNAL, "out of memory") : 0;
    if (rq->san != NULL)
        *san = km_san_build(rq->san, alias, st);
    else if (old != NULL)
        return (*san = X509_get_ext_d2i(old, NID_subject_alt_name, NULL, NULL)) != NULL ||
               X509_get_ext_by_NID(old, NID_subject_alt_name, -1) < 0 ||
               km_fail(st, KAFKA_MTLS_R_BAD_REQUEST, "the certificate being renewed has an unreadable "
                       "subjectAltName; give the names explicitly");
    else
        return 1;
    return *san != NULL;
}

int km_issue_request_check(const km_issue_request *rq, km_status *st)
{
    issue_names nm;
    km_key_spec ks;
    X509_NAME *name = NULL;
    GENERAL_NAMES *san = NULL;
    int ok = check_request(rq, &ks, st) && alias_of(rq, &nm, st) && build_names(rq, nm.alias, &name, &san, st);

    X509_NAME_free(name);
    GENERAL_NAMES_free(san);
    return ok;
}

static void fill_result(const issue_names *nm, X509 *leaf, int clamped, int kept, km_issue_result *res)
{
    memset(res, 0, sizeof(*res));
    snprintf(res->alias, sizeof(res->alias), "%s", nm->alias);
    km_serial_hex(leaf, res->serial, sizeof(res->serial));
    km_name_text(X509_get_subject_name(leaf), res->subject, sizeof(res->subject));
    km_time_of(X509_get0_notBefore(leaf), &res->not_before);
    km_time_of(X509_get0_notAfter(leaf), &res->not_after);
    res->not_after_clamped = clamped;
    res->password_kept = kept;
}

/*
 * The iteration count for the new stores. A password kafka-mtls generates
 * gets KM_ITER_GENERATED_PASSWORD; a renewal that keeps a password keeps
 * the count its keystore was written with, if that was ours (so a renewed
 * volume starts clients as fast as the first one); anything else gets
 * keytool's count.
 */
static int store_iterations(const km_issue_request *rq, int dirfd, const issue_names *nm, int kept)
{
    unsigned char *der = NULL;
    size_t len = 0;
    km_status ignored = { 0 };
    int n = KM_ITER_CHOSEN_PASSWORD;

    if (rq->store_password == NULL && !kept)
        return KM_ITER_GENERATED_PASSWORD;
    if (kept && km_read_file_at(dirfd, nm->keystore, nm->keystore, "keystore", KM_MAX_FILE_SIZE, KM_READ_NOFOLLOW,
                                &der, &len, &ignored)) {
        if (kmtls_pkcs12_mac_iterations(der, len) == KM_ITER_GENERATED_PASSWORD)
            n = KM_ITER_GENERATED_PASSWORD;
        OPENSSL_clear_free(der, len + 1);
    }
    return n;
}

/*
 * The volume for key and leaf, as every issuance writes it: the store
 * password (configured, kept from ALIAS_creds or fresh), the stores with
 * ca's chain and anchor (ca->key is not used), the PEM leaf, ALIAS_creds
 * last. Shared by the local CA (km_issue) and the CA service (enrol_*.c),
 * so both write one layout. The caller holds the volume lock.
 */
int km_issue_store(const km_issue_request *rq, EVP_PKEY *key, X509 *leaf, const km_ca *ca, int clamped,
                   km_issue_result *res, km_status *st)
{
    issue_names nm;
    km_secret pw = { 0 };
    issue_files f = { 0 };
    time_t now = time(NULL);
    int dirfd = -1, ok = 0, kept = 0, changed = 0;

    if (!alias_of(rq, &nm, st))
        return 0;
    if ((dirfd = km_dir_open(rq->volume, 1, st)) < 0 ||
        !choose_password(rq, dirfd, &nm, &pw, &kept, &changed, st))
        goto done;
    {
        int iter = store_iterations(rq, dirfd, &nm, kept);

        if (!km_p12_keystore(rq->libctx, nm.alias, key, leaf, ca, &pw, iter, now, &f.keystore,
                             &f.keystore_len, st) ||
            !km_p12_truststore(rq->libctx, ca->anchor, &pw, iter, &f.truststore, &f.truststore_len, st))
            goto done;
    }
    if (!pem_of(leaf, &f.crt, &f.crt_len)) {
        km_fail(st, KAFKA_MTLS_R_INTERNAL, "out of memory");
        goto done;
    }
    if (!write_volume(rq, dirfd, &nm, &f, &pw, changed, st))
        goto done;
    fill_result(&nm, leaf, clamped, kept, res);
    ok = 1;
done:
    if (dirfd >= 0)
        close(dirfd);
    files_clear(&f);
    km_secret_clear(&pw);
    return ok;
}

int km_issue(const km_issue_request *rq, km_issue_result *res, km_status *st)
{
    issue_names nm;
    km_key_spec ks;
    km_ca ca = { 0 };
    GENERAL_NAMES *san = NULL;
    X509_NAME *name = NULL;
    EVP_PKEY *key = NULL;
    X509 *leaf = NULL;
    time_t now = time(NULL);
    int ok = 0, clamped = 0;
    double keygen_ms = 0;
    char warning[sizeof(res->warning)];

    if (!check_request(rq, &ks, st) || !alias_of(rq, &nm, st) ||
        !build_names(rq, nm.alias, &name, &san, st))
        goto done;
    warning[0] = '\0';
    if (!km_ca_load(rq, now, &ca, warning, sizeof(warning), st))
        goto done;
    keygen_ms = km_now_ms();
    key = km_key_generate(rq->libctx, &ks, st);
    keygen_ms = km_now_ms() - keygen_ms;
    if (key == NULL)
        goto done;
    {
        km_cert_spec spec = { .subject = name, .san = san,
                              .eku = rq->extended_key_usage ? rq->extended_key_usage : "clientAuth",
                              .days = rq->validity_days ? rq->validity_days : KAFKA_MTLS_VALIDITY_DEFAULT,
                              .seconds = rq->validity_seconds,
                              .now = now };
        if ((leaf = km_cert_build(rq->libctx, &ca, key, &spec, &clamped, st)) == NULL)
            goto done;
    }
    if (!km_issue_store(rq, key, leaf, &ca, clamped, res, st))
        goto done;
    res->keygen_ms = keygen_ms;
    snprintf(res->warning, sizeof(res->warning), "%s", warning);
    ok = 1;
done:
    X509_free(leaf);
    EVP_PKEY_free(key);
    km_ca_clear(&ca);
    X509_NAME_free(name);
    GENERAL_NAMES_free(san);
    return ok;
}
