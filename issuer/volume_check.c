/*
 * What an issuer finds in a volume, read exactly as clients read it: through
 * the kafka-mtls provider's OSSL_STORE (keystore:VOLUME?alias=ALIAS), in a
 * library context where the provider is loaded.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <openssl/store.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "issue_internal.h"
#include "kafka-mtls.h"
#include "kmtls/provider.h"
#include "kmtls/seed.h"
#include "kmtls/x509.h"

static int contains(STACK_OF(X509) *sk, const X509 *x)
{
    for (int i = 0; i < sk_X509_num(sk); i++)
        if (X509_cmp(sk_X509_value(sk, i), x) == 0)
            return 1;
    return 0;
}

int km_volume_crt_matches(OSSL_LIB_CTX *libctx, const char *volume, const char *alias, const X509 *leaf)
{
    char path[4096], name[KM_MAX_ALIAS + 32];
    km_status st = { 0 };
    X509 *x;
    int ok;

    if (!km_seed_name(KM_SEED_CERT, alias, NULL, name, sizeof(name)))
        return 0;
    x = km_read_cert_pem(libctx, km_path(path, sizeof(path), volume, name), "certificate", &st);
    if (x == NULL)
        return st.reason == KAFKA_MTLS_R_NOT_FOUND;
    ok = X509_cmp(x, leaf) == 0;
    X509_free(x);
    return ok;
}

/* 1 if leaf was signed by ca; else 0 with why naming both. */
static int from_ca(const X509 *leaf, X509 *ca, char *why, size_t n)
{
    char issuer[256], subject[256];

    if (X509_check_issued(ca, (X509 *)leaf) == X509_V_OK && X509_verify((X509 *)leaf, X509_get0_pubkey(ca)) > 0)
        return 1;
    km_name_text(X509_get_issuer_name(leaf), issuer, sizeof(issuer));
    km_name_text(X509_get_subject_name(ca), subject, sizeof(subject));
    snprintf(why, n, "issued by %s, not by the configured CA %s", issuer, subject);
    return 0;
}

int km_leaf_from_ca(OSSL_LIB_CTX *libctx, const X509 *leaf, const char *ca_cert, char *why, size_t n)
{
    km_status st = { 0 };
    X509 *ca = km_read_cert_pem(libctx, ca_cert, "CA certificate", &st);
    int r;

    if (ca == NULL) {
        snprintf(why, n, "%s", st.msg);
        return -1;
    }
    r = from_ca(leaf, ca, why, n);
    X509_free(ca);
    return r;
}

static km_vol_state decide(OSSL_LIB_CTX *libctx, const char *volume, const char *alias, X509 *ca,
                           X509 *anchor, const kmtls_loaded *ks, const kmtls_loaded *ts, const km_renew_before *rb,
                           time_t now, km_vol_check *out)
{
    X509 *leaf = sk_X509_value(ks->certs, 0);
    char names[540];
    int state;

    km_serial_hex(leaf, out->serial, sizeof(out->serial));
    if (ca != NULL && !from_ca(leaf, ca, names, sizeof(names))) {
        snprintf(out->why, sizeof(out->why), "the certificate (serial %s) was not issued by the configured CA: %s",
                 out->serial, names);
        return KM_VOL_OTHER_CA;
    }
    if (anchor != NULL && !contains(ts->certs, anchor)) {
        snprintf(out->why, sizeof(out->why), "the truststore does not hold the configured CA's root");
        return KM_VOL_OTHER_CA;
    }
    state = km_renewal_state(leaf, rb, now, &out->window_start);
    km_time_of(X509_get0_notAfter(leaf), &out->not_after);
    if (state < 0) {
        snprintf(out->why, sizeof(out->why), "the certificate's validity dates cannot be read");
        return KM_VOL_UNREADABLE;
    }
    /* ours, interrupted between two renames: the keystore reads, so it may
     * be renewed */
    if (!km_volume_crt_matches(libctx, volume, alias, leaf)) {
        snprintf(out->why, sizeof(out->why),
                 "%s-ca-signed.crt is not the keystore's certificate (an earlier issuance was interrupted)",
                 alias);
        return state == KM_CERT_EXPIRED ? KM_VOL_EXPIRED : KM_VOL_RENEW;
    }
    if (state == KM_CERT_EXPIRED) {
        snprintf(out->why, sizeof(out->why), "the certificate (serial %s) is expired or not valid yet",
                 out->serial);
        return KM_VOL_EXPIRED;
    }
    snprintf(out->why, sizeof(out->why), state == KM_CERT_RENEW ? "the certificate is inside its renew window"
                                                                : "the certificate is valid");
    return state == KM_CERT_RENEW ? KM_VOL_RENEW : KM_VOL_FRESH;
}

/* 1 if dir holds name (absent, and unreadable entries, say nothing of the
 * volume's state: the load that failed said that) */
static int holds(int dirfd, const char *name, int nonempty)
{
    struct stat sb;

    return fstatat(dirfd, name, &sb, AT_SYMLINK_NOFOLLOW) == 0 && (!nonempty || sb.st_size > 0);
}

/*
 * What a failed read means for an issuer. Only "nothing of a store is
 * there" (no directory, no ALIAS.keystore.* or ALIAS.truststore.*) may be
 * issued into, and so may stores without their ALIAS_creds that an
 * issuance of ours left (KM_WRITING_MARK): it was killed. Without the mark,
 * stores without a non-empty ALIAS_creds are another writer's work in
 * progress (the seed writes ALIAS_creds last). Anything else (a
 * wrong password, a corrupt or modified store, a refused owner) is a
 * volume this process cannot read, and such a volume is never overwritten.
 */
static km_vol_state failed_read(const char *volume, const char *alias, int reason, char *why, size_t n)
{
    char name[KM_MAX_ALIAS + 32], resolved[KM_MAX_ALIAS + 1];
    km_status st = { 0 };
    int dirfd, stores = 0, creds, ours;

    if (reason != KAFKA_MTLS_R_NOT_READY && reason != KAFKA_MTLS_R_NOT_FOUND)
        return KM_VOL_UNREADABLE;
    if (!km_alias_resolve(volume, alias, resolved, sizeof(resolved), &st))
        return KM_VOL_UNREADABLE;
    if ((dirfd = open(volume, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
        return errno == ENOENT ? KM_VOL_MISSING : KM_VOL_UNREADABLE;
    for (size_t i = 0; i < KM_SEED_STORE_EXTS; i++)
        for (km_seed_file f = KM_SEED_KEYSTORE; f <= KM_SEED_TRUSTSTORE; f++) {
            struct stat sb;

            if (!km_seed_name(f, resolved, km_seed_store_exts[i], name, sizeof(name)) || !holds(dirfd, name, 0))
                continue;
            stores = 1;
            if (fstatat(dirfd, name, &sb, AT_SYMLINK_NOFOLLOW) == 0 && S_ISLNK(sb.st_mode)) {
                /* planted where the issuer writes: never replaced, never followed */
                snprintf(why, n, "%s/%s: is a symlink; refusing to replace it", volume, name);
                close(dirfd);
                return KM_VOL_UNREADABLE;
            }
        }
    creds = km_seed_name(KM_SEED_CREDS, resolved, NULL, name, sizeof(name)) && holds(dirfd, name, 1);
    ours = holds(dirfd, KM_WRITING_MARK, 0);
    close(dirfd);
    if (!stores || (!creds && ours)) /* nothing yet, or an issuance of ours cut short: redone */
        return KM_VOL_MISSING;
    return creds ? KM_VOL_UNREADABLE : KM_VOL_WRITING;
}

km_vol_state km_volume_check(OSSL_LIB_CTX *libctx, const char *volume, const char *alias,
                             const char *ca_cert, const km_renew_before *rb, time_t now,
                             km_vol_check *out)
{
    kmtls_loaded ks = { 0 }, ts = { 0 };
    char uri[8192];
    km_status st = { 0 };
    STACK_OF(X509) *cas = NULL;
    X509 *ca = NULL, *anchor = NULL;

    memset(out, 0, sizeof(*out));
    out->state = KM_VOL_MISSING;
    if (ca_cert != NULL && (cas = km_read_certs_pem(libctx, ca_cert, "CA certificate", &st)) == NULL) {
        snprintf(out->why, sizeof(out->why), "%s", st.msg);
        return out->state;
    }
    if (cas != NULL) {
        ca = sk_X509_value(cas, 0);
        anchor = sk_X509_value(cas, sk_X509_num(cas) - 1);
    }
    kmtls_store_uri(uri, sizeof(uri), volume, "keystore", alias, NULL);
    if (!kmtls_store_load(libctx, &(kmtls_query){ .uri = uri }, &ks)) {
        snprintf(out->why, sizeof(out->why), "%s", ks.msg);
        out->state = failed_read(volume, alias, ks.reason, out->why, sizeof(out->why));
        goto done;
    }
    kmtls_store_uri(uri, sizeof(uri), volume, "truststore", alias, NULL);
    if (!kmtls_store_load(libctx, &(kmtls_query){ .uri = uri, .expect = OSSL_STORE_INFO_CERT }, &ts)) {
        snprintf(out->why, sizeof(out->why), "%s", ts.msg);
        out->state = failed_read(volume, alias, ts.reason, out->why, sizeof(out->why));
        goto done;
    }
    if (ks.key == NULL || sk_X509_num(ks.certs) < 1) {
        snprintf(out->why, sizeof(out->why), "the keystore has no %s",
                 ks.key == NULL ? "private key" : "certificate");
        out->state = KM_VOL_UNREADABLE;
        goto done;
    }
    out->state = decide(libctx, volume, alias, ca, anchor, &ks, &ts, rb, now, out);
    if (X509_up_ref(sk_X509_value(ks.certs, 0)))
        out->leaf = sk_X509_value(ks.certs, 0);
done:
    sk_X509_pop_free(cas, X509_free);
    kmtls_loaded_clear(&ks);
    kmtls_loaded_clear(&ts);
    return out->state;
}

void km_vol_check_clear(km_vol_check *c)
{
    X509_free(c->leaf);
    c->leaf = NULL;
}
