/*
 * Layout discovery. A volume directory is recognised by the files the
 * certificate services write: the seed's keytool script (ALIAS.keystore.jks,
 * ALIAS.truststore.jks, ALIAS_creds written last), cert-manager (tls.crt,
 * tls.key, ca.crt, or keystore.p12/truststore.p12) and spiffe-helper
 * (svid.pem, svid_key.pem, svid_bundle.pem).
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <openssl/crypto.h>

#include "kafka-mtls.h"
#include "kmtls/seed.h"
#include "kmtls/trace.h"
#include "volume.h"

/* 1 regular file, 0 absent, -1 present but unusable (not a regular file,
 * or a symlink to nothing). */
static int file_state(const char *path, off_t *size)
{
    struct stat sb;

    if (stat(path, &sb) != 0)
        return lstat(path, &sb) == 0 ? -1 : 0;
    if (size != NULL)
        *size = sb.st_size;
    return S_ISREG(sb.st_mode) ? 1 : -1;
}

/* dir/name as one OPENSSL_malloc'ed path */
static char *join(const char *dir, const char *name)
{
    size_t n = strlen(dir) + strlen(name) + 2;
    char *out = OPENSSL_malloc(n);

    if (out != NULL)
        snprintf(out, n, "%s/%s", dir, name);
    return out;
}

/* dir/ALIAS's file f (a store with ending ext) */
static char *seed_path(const char *dir, const char *alias, km_seed_file f, const char *ext)
{
    char name[4096];

    return km_seed_name(f, alias, ext, name, sizeof(name)) ? join(dir, name) : NULL;
}

static int add_file(km_volume *v, char *path, km_role role, char *creds, km_status *st)
{
    if (path == NULL || v->nfiles == KM_MAX_FILES) {
        OPENSSL_free(path);
        OPENSSL_free(creds);
        return km_fail(st, KAFKA_MTLS_R_INTERNAL, "out of memory");
    }
    v->files[v->nfiles++] = (km_file){ .path = path, .role = role, .creds = creds };
    return 1;
}

/* ALIAS.keystore|truststore.{jks,p12,pfx}: the first that exists. */
static char *find_store(const char *dir, const char *alias, km_seed_file kind)
{
    for (size_t i = 0; i < KM_SEED_STORE_EXTS; i++) {
        char *p = seed_path(dir, alias, kind, km_seed_store_exts[i]);

        if (p != NULL && file_state(p, NULL) == 1)
            return p;
        OPENSSL_free(p);
    }
    return NULL;
}

/* What a path that is there but no regular file is, for messages. */
static const char *not_regular(const char *path)
{
    struct stat sb;

    if (lstat(path, &sb) != 0)
        return NULL;
    if (S_ISLNK(sb.st_mode) && stat(path, &sb) != 0)
        return "a dangling symlink";
    return S_ISREG(sb.st_mode) ? NULL : S_ISDIR(sb.st_mode) ? "a directory" : S_ISFIFO(sb.st_mode) ? "a FIFO"
           : S_ISSOCK(sb.st_mode) ? "a socket" : "a device";
}

/* A store of ALIAS that is there but cannot be one (a FIFO, a directory):
 * named as what it is, not as missing. 0 when there is none. */
static int unusable_store(const char *dir, const char *alias, km_seed_file kind, km_status *st)
{
    for (size_t i = 0; i < KM_SEED_STORE_EXTS; i++) {
        char *p = seed_path(dir, alias, kind, km_seed_store_exts[i]);
        const char *what = p != NULL ? not_regular(p) : NULL;

        if (what != NULL) {
            km_fail(st, KAFKA_MTLS_R_READ_FAILED, "volume %s: %s is not a regular file (%s)", dir, p, what);
            OPENSSL_free(p);
            return 1;
        }
        OPENSSL_free(p);
    }
    return 0;
}

/* Scans dir for ALIAS.keystore.{jks,p12,pfx}. Returns the number found,
 * the first alias in *alias, and all names (for messages) in list. */
static int scan_aliases(const char *dir, char **alias, char *list, size_t listsz)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    int n = 0;

    *alias = NULL;
    list[0] = '\0';
    if (d == NULL)
        return 0;
    while ((e = readdir(d)) != NULL) {
        km_seed_file kind;
        size_t alias_len;
        const char *ext;

        if (!km_seed_parse(e->d_name, &kind, &alias_len, &ext) || kind != KM_SEED_KEYSTORE ||
            !km_seed_known_ext(ext))
            continue;
        if (n++ == 0)
            *alias = OPENSSL_strndup(e->d_name, alias_len);
        if (strlen(list) + strlen(e->d_name) + 3 < listsz) {
            if (list[0] != '\0')
                strcat(list, ", ");
            strcat(list, e->d_name);
        }
    }
    closedir(d);
    return n;
}

/* Takes ownership of alias. */
static int seed_layout(const km_uri *uri, const char *dir, char *alias, int explicit_password,
                       km_volume *v, km_status *st)
{
    if (alias == NULL)
        return km_fail(st, KAFKA_MTLS_R_INTERNAL, "out of memory");

    char *ks = uri->part != KM_PART_TRUSTSTORE ? find_store(dir, alias, KM_SEED_KEYSTORE) : NULL;
    char *ts = uri->part != KM_PART_KEYSTORE ? find_store(dir, alias, KM_SEED_TRUSTSTORE) : NULL;
    char *creds = seed_path(dir, alias, KM_SEED_CREDS, NULL);
    off_t creds_size = 0;
    int creds_state = creds != NULL ? file_state(creds, &creds_size) : 0;

    v->layout = "seed";
    v->alias = alias;
    if (uri->part == KM_PART_TRUSTSTORE && ts == NULL) {
        OPENSSL_free(creds);
        return unusable_store(dir, alias, KM_SEED_TRUSTSTORE, st) ? 0
               : km_fail(st, KAFKA_MTLS_R_NOT_FOUND, "volume %s: no %s.truststore.jks|p12|pfx", dir, alias);
    }
    if (uri->part != KM_PART_TRUSTSTORE && ks == NULL) {
        OPENSSL_free(ts);
        OPENSSL_free(creds);
        return unusable_store(dir, alias, KM_SEED_KEYSTORE, st) ? 0
               : km_fail(st, KAFKA_MTLS_R_NOT_FOUND, "volume %s: no %s.keystore.jks|p12|pfx", dir, alias);
    }
    if (creds_state < 0) {
        km_fail(st, KAFKA_MTLS_R_READ_FAILED,
                "volume %s: %s is not a regular file (a directory, device, FIFO or dangling symlink)",
                dir, creds ? creds : alias);
        OPENSSL_free(ks);
        OPENSSL_free(ts);
        OPENSSL_free(creds);
        return 0;
    }
    /* The seed writes ALIAS_creds last: until it is there (and not empty,
     * as `echo pw > file` is not atomic) the stores may be incomplete or
     * still hold keytool's self-signed certificate. */
    if (!explicit_password && (creds_state != 1 || creds_size == 0)) {
        km_fail(st, KAFKA_MTLS_R_NOT_READY,
                "volume %s is not ready: %s %s (the certificate service writes it last)",
                dir, creds ? creds : alias, creds_state == 1 ? "is still empty" : "does not exist yet");
        OPENSSL_free(ks);
        OPENSSL_free(ts);
        OPENSSL_free(creds);
        return 0;
    }
    if (creds_state != 1) {
        OPENSSL_free(creds);
        creds = NULL;
    }
    if (ks != NULL && !add_file(v, ks, KM_ROLE_KEYSTORE, creds ? OPENSSL_strdup(creds) : NULL, st)) {
        OPENSSL_free(ts);
        OPENSSL_free(creds);
        return 0;
    }
    if (ts != NULL && !add_file(v, ts, KM_ROLE_TRUSTSTORE, creds ? OPENSSL_strdup(creds) : NULL, st)) {
        OPENSSL_free(creds);
        return 0;
    }
    OPENSSL_free(creds);
    return 1;
}

typedef struct pem_layout {
    const char *name, *chain, *key, *ca;
} pem_layout;

static const pem_layout pem_layouts[] = {
    { "cert-manager", "tls.crt", "tls.key", "ca.crt" },
    { "spiffe-helper", "svid.pem", "svid_key.pem", "svid_bundle.pem" },
};

/* 1 = used, 0 = error, -1 = not this layout */
static int try_pem_layout(const km_uri *uri, const char *dir, const pem_layout *l,
                          km_volume *v, km_status *st)
{
    char *chain = join(dir, l->chain), *key = join(dir, l->key), *ca = join(dir, l->ca);
    int chain_state = chain ? file_state(chain, NULL) : 0, key_state = key ? file_state(key, NULL) : 0;
    int ca_state = ca ? file_state(ca, NULL) : 0;
    int have_chain = chain_state == 1, have_key = key_state == 1, have_ca = ca_state == 1, ok = 1;

    if (chain_state < 0 || key_state < 0 || ca_state < 0) {
        ok = km_fail(st, KAFKA_MTLS_R_READ_FAILED,
                     "volume %s (%s layout): %s is not a regular file (a directory, device, FIFO or "
                     "dangling symlink)", dir, l->name,
                     key_state < 0 ? l->key : chain_state < 0 ? l->chain : l->ca);
        goto out;
    }

    if (!have_chain && !have_key && !(have_ca && uri->part == KM_PART_TRUSTSTORE)) {
        ok = -1;
        goto out;
    }
    v->layout = l->name;
    if (uri->part != KM_PART_TRUSTSTORE) {
        if (!have_chain || !have_key) {
            ok = km_fail(st, KAFKA_MTLS_R_LAYOUT, "volume %s (%s layout): %s without %s", dir, l->name,
                         have_chain ? l->chain : l->key, have_chain ? l->key : l->chain);
            goto out;
        }
        ok = add_file(v, key, KM_ROLE_KEY, NULL, st) && add_file(v, chain, KM_ROLE_CHAIN, NULL, st);
        key = chain = NULL;
    }
    if (ok && uri->part != KM_PART_KEYSTORE && have_ca) {
        ok = add_file(v, ca, KM_ROLE_CA, NULL, st);
        ca = NULL;
    } else if (ok && uri->part == KM_PART_TRUSTSTORE) {
        ok = km_fail(st, KAFKA_MTLS_R_NOT_FOUND, "volume %s (%s layout): no %s", dir, l->name, l->ca);
    }
out:
    OPENSSL_free(chain);
    OPENSSL_free(key);
    OPENSSL_free(ca);
    return ok;
}

/* cert-manager's keystores option: keystore.p12 / truststore.p12, password
 * supplied by the user (password-file, config or prompt). */
static int try_certmanager_p12(const km_uri *uri, const char *dir, km_volume *v, km_status *st)
{
    char *ks = join(dir, "keystore.p12"), *ts = join(dir, "truststore.p12");
    int have_ks = ks && file_state(ks, NULL) == 1, have_ts = ts && file_state(ts, NULL) == 1;
    int ok = -1;

    if (have_ks || have_ts) {
        v->layout = "cert-manager";
        ok = 1;
        if (uri->part != KM_PART_TRUSTSTORE) {
            ok = have_ks ? add_file(v, ks, KM_ROLE_KEYSTORE, NULL, st)
                         : km_fail(st, KAFKA_MTLS_R_NOT_FOUND, "volume %s: no keystore.p12", dir);
            ks = NULL;
        }
        if (ok && uri->part != KM_PART_KEYSTORE && have_ts) {
            ok = add_file(v, ts, KM_ROLE_TRUSTSTORE, NULL, st);
            ts = NULL;
        }
    }
    OPENSSL_free(ks);
    OPENSSL_free(ts);
    return ok;
}

static int has_store(const char *dir, const char *alias, km_seed_file kind)
{
    char *p = find_store(dir, alias, kind);

    OPENSSL_free(p);
    return p != NULL;
}

static int discover_dir(const km_uri *uri, int explicit_password, km_volume *v, km_status *st)
{
    const char *dir = uri->path;
    const char *alias = uri->alias ? uri->alias : uri->name ? uri->name : strrchr(dir, '/') + 1;
    char names[256], *found = NULL;
    int n, r;

    if (has_store(dir, alias, KM_SEED_KEYSTORE) || has_store(dir, alias, KM_SEED_TRUSTSTORE))
        return seed_layout(uri, dir, OPENSSL_strdup(alias), explicit_password, v, st);
    n = scan_aliases(dir, &found, names, sizeof(names));
    if (n == 1 && uri->alias == NULL)
        return seed_layout(uri, dir, found, explicit_password, v, st);
    OPENSSL_free(found);
    if (n > 0 && uri->alias != NULL)
        return km_fail(st, KAFKA_MTLS_R_ALIAS_NOT_FOUND, "volume %s: no keystore for alias '%s' (found: %s)",
                       dir, uri->alias, names);
    if (n > 1)
        return km_fail(st, KAFKA_MTLS_R_LAYOUT,
                       "volume %s holds several keystores (%s): choose one with ?alias=", dir, names);
    for (size_t i = 0; i < sizeof(pem_layouts) / sizeof(pem_layouts[0]); i++)
        if ((r = try_pem_layout(uri, dir, &pem_layouts[i], v, st)) >= 0)
            return r;
    if ((r = try_certmanager_p12(uri, dir, v, st)) >= 0)
        return r;
    return km_fail(st, KAFKA_MTLS_R_NOT_READY,
                   "volume %s is not ready: it holds no keystore yet (looked for %s.keystore.jks|p12|pfx "
                   "with %s_creds, tls.crt + tls.key, keystore.p12, svid.pem + svid_key.pem)",
                   dir, alias, alias);
}

/* ALIAS.keystore.* / ALIAS.truststore.* have their password in ALIAS_creds. */
static char *creds_beside(const char *path)
{
    const char *base = strrchr(path, '/') + 1, *ext;
    km_seed_file kind;
    size_t alias_len;
    char *dir, *alias, *creds;

    if (!km_seed_parse(base, &kind, &alias_len, &ext))
        return NULL;
    dir = OPENSSL_strndup(path, (size_t)(base - 1 - path));
    alias = OPENSSL_strndup(base, alias_len);
    creds = dir && alias ? seed_path(dir, alias, KM_SEED_CREDS, NULL) : NULL;
    OPENSSL_free(dir);
    OPENSSL_free(alias);
    if (creds != NULL && file_state(creds, NULL) != 1) {
        OPENSSL_free(creds);
        creds = NULL;
    }
    return creds;
}

static void trace_volume(const km_uri *uri, const km_volume *v)
{
    static const char *const roles[] = { [KM_ROLE_KEYSTORE] = "keystore", [KM_ROLE_TRUSTSTORE] = "truststore",
                                         [KM_ROLE_KEY] = "key", [KM_ROLE_CHAIN] = "chain", [KM_ROLE_CA] = "CA" };

    km_trace("%s: %s layout%s%s, %zu files", uri->path, v->layout, v->alias ? ", alias " : "",
             v->alias ? v->alias : "", v->nfiles);
    for (size_t i = 0; i < v->nfiles; i++)
        km_trace("  %s: %s%s%s", roles[v->files[i].role], v->files[i].path,
                 v->files[i].creds ? ", its password in " : "", v->files[i].creds ? v->files[i].creds : "");
}

int km_volume_discover(const km_uri *uri, int explicit_password, km_volume *v, km_status *st)
{
    struct stat sb;

    memset(v, 0, sizeof(*v));
    if (stat(uri->path, &sb) != 0)
        return km_fail_errno(st, errno == ENOENT ? KAFKA_MTLS_R_NOT_FOUND : KAFKA_MTLS_R_READ_FAILED, errno,
                             "%s", uri->path);
    if (S_ISDIR(sb.st_mode)) {
        if (!discover_dir(uri, explicit_password, v, st)) {
            km_volume_clear(v);
            return 0;
        }
    } else if (!S_ISREG(sb.st_mode)) {
        return km_fail(st, KAFKA_MTLS_R_READ_FAILED, "%s: neither a directory nor a regular file", uri->path);
    } else {
        v->layout = "file";
        /* One file is read as a keystore whatever its name: its trusted
         * entries are yielded too, and a key asked of a truststore is missing. */
        if (!add_file(v, OPENSSL_strdup(uri->path), KM_ROLE_KEYSTORE, creds_beside(uri->path), st))
            return 0;
    }
    trace_volume(uri, v);
    return 1;
}

void km_volume_clear(km_volume *v)
{
    for (size_t i = 0; i < v->nfiles; i++) {
        OPENSSL_free(v->files[i].path);
        OPENSSL_free(v->files[i].creds);
    }
    OPENSSL_free(v->alias);
    memset(v, 0, sizeof(*v));
}
