/*
 * kafka-mtls inspect VOLUME_DIR|FILE [--alias A] [--password-file F]
 *
 * What a client would read, and why it might fail: the files and their
 * formats (sniffed from content), the layout, readiness, the certificate,
 * whether the key matches and whether the chain verifies. Everything is read
 * through the provider's OSSL_STORE, as clients read it, and its
 * diagnostics (kmtls_volume_describe); the file list only sniffs each
 * file's format. Secrets are never printed.
 */
#include <dirent.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <openssl/store.h>
#include <openssl/x509.h>

#include "cli.h"
#include "inspect.h"
#include "kafka-mtls.h"
#include "kmtls/clock.h"
#include "kmtls/files.h"
#include "kmtls/issuer.h"
#include "kmtls/pem.h"
#include "kmtls/provider.h"
#include "kmtls/seed.h"
#include "kmtls/sniff.h"
#include "kmtls/x509.h"

typedef struct inspect_opts {
    char path[PATH_MAX];
    const char *alias, *password_file;
    int is_dir;
    time_t now;
} inspect_opts;

typedef struct pem_count {
    int certs, keys, encrypted;
} pem_count;

static int count_block(const km_pem_block *b, void *arg)
{
    pem_count *c = arg;

    c->certs += b->kind == KM_PEM_CERT;
    c->keys += b->kind == KM_PEM_KEY || b->kind == KM_PEM_ENCRYPTED_KEY;
    c->encrypted |= b->kind == KM_PEM_ENCRYPTED_KEY;
    return 1;
}

static void describe_pem(const unsigned char *buf, size_t len, char *out, size_t n)
{
    pem_count c = { 0, 0, 0 };
    const char *key;

    km_pem_each(buf, len, count_block, &c, NULL);
    key = c.keys == 0 ? NULL : c.encrypted ? "encrypted private key" : "private key";
    if (key != NULL && c.certs == 0)
        snprintf(out, n, "PEM: %s", key);
    else
        snprintf(out, n, "PEM: %s%s%d certificate%s", key ? key : "", key ? ", " : "", c.certs,
                 c.certs == 1 ? "" : "s");
}

static void describe_file(const char *dir, const char *name, const struct stat *sb, char *out, size_t n)
{
    char path[PATH_MAX + 300];
    unsigned char *buf = NULL;
    size_t len = 0;
    km_status st = { 0 };
    km_format format;

    snprintf(path, sizeof(path), "%s/%s", dir, name);
    if (S_ISLNK(sb->st_mode)) {
        /* what it points at is what a reader gets */
        struct stat target;

        if (stat(path, &target) != 0) {
            snprintf(out, n, "dangling symlink");
            return;
        }
        if (!S_ISLNK(target.st_mode)) {
            describe_file(dir, name, &target, out, n);
            return;
        }
    }
    if (S_ISDIR(sb->st_mode)) {
        snprintf(out, n, "directory");
        return;
    }
    if (!S_ISREG(sb->st_mode)) {
        snprintf(out, n, "not a regular file (%s)", S_ISFIFO(sb->st_mode) ? "a FIFO"
                                                    : S_ISSOCK(sb->st_mode) ? "a socket"
                                                    : S_ISCHR(sb->st_mode) || S_ISBLK(sb->st_mode) ? "a device"
                                                                                                   : "?");
        return;
    }
    if (strcmp(name, KAFKA_MTLS_LOCK_FILE) == 0) {
        snprintf(out, n, "lock file (kafka-mtls issue)");
        return;
    }
    if (strcmp(name, KM_WRITING_MARK) == 0) {
        snprintf(out, n, "an issuance under way, or interrupted (the next one redoes it)");
        return;
    }
    if (km_seed_is_temp(name)) {
        snprintf(out, n, "temporary file of an interrupted issuance (removed by the next one)");
        return;
    }
    if (km_seed_is_creds(name) || strstr(name, "password") != NULL) {
        snprintf(out, n, sb->st_size > 0 ? "password file (not shown)" : "password file, EMPTY");
        return;
    }
    if (!km_read_file_at(AT_FDCWD, path, path, "file", KM_MAX_FILE_SIZE, 0, &buf, &len, &st)) {
        snprintf(out, n, "unreadable: %s", st.msg);
        return;
    }
    format = km_sniff(buf, len);
    if (format == KM_FORMAT_PEM)
        describe_pem(buf, len, out, n);
    else if (format != KM_FORMAT_UNKNOWN)
        snprintf(out, n, "%s", km_format_name(format));
    else
        snprintf(out, n, len == 0 ? "empty" : "unknown format");
    OPENSSL_clear_free(buf, len + 1);
}

static void list_files(const char *dir)
{
    struct dirent **names = NULL;
    int n = scandir(dir, &names, NULL, alphasort);

    printf("files\n");
    if (n < 0) {
        printf("  (cannot list: %m)\n");
        return;
    }
    for (int i = 0; i < n; i++) {
        char path[PATH_MAX + 300], what[700], shown[PATH_MAX + 300], safe[4 * sizeof(shown)], target[PATH_MAX],
            safe_what[4 * sizeof(what)];
        struct stat sb;

        if (strcmp(names[i]->d_name, ".") != 0 && strcmp(names[i]->d_name, "..") != 0) {
            snprintf(path, sizeof(path), "%s/%s", dir, names[i]->d_name);
            if (lstat(path, &sb) == 0) {
                ssize_t tl = S_ISLNK(sb.st_mode) ? readlink(path, target, sizeof(target) - 1) : -1;

                describe_file(dir, names[i]->d_name, &sb, what, sizeof(what));
                /* secrets: the password, or a private key that is not encrypted */
                int secret = strncmp(what, "password file", 13) == 0 || strncmp(what, "PEM: private key", 16) == 0;
                if (tl >= 0)
                    target[tl] = '\0';
                snprintf(shown, sizeof(shown), "%s%s%s", names[i]->d_name, tl >= 0 ? " -> " : "",
                         tl >= 0 ? target : "");
                printf("  %-28s %04o %7lld  %s%s\n", km_cli_safe(shown, safe, sizeof(safe)),
                       (unsigned)(sb.st_mode & 07777), (long long)sb.st_size, km_cli_safe(what, safe_what, sizeof(safe_what)),
                       secret && (sb.st_mode & 0044) ? "  WARNING: readable by group or others" : "");
            }
        }
        free(names[i]);
    }
    free(names);
    if (n <= 2)
        printf("  (empty)\n");
}

/* Layout and readiness, as the provider discovers them. 0 ready, else an exit code. */
static int show_volume(const inspect_opts *o, char *alias, size_t n)
{
    char uri[8192];
    kmtls_volume_info v;

    kmtls_store_uri(uri, sizeof(uri), o->path, NULL, o->alias, o->password_file);
    if (!kmtls_volume_describe(uri, &v)) {
        char safe[4 * sizeof(v.msg)];

        printf("ready       no: %s\n", km_cli_safe(v.msg, safe, sizeof(safe)));
        return v.reason == KAFKA_MTLS_R_NOT_READY ? KM_EXIT_NOT_READY : KM_EXIT_FAIL;
    }
    char safe[4 * sizeof(v.creds)];

    printf("layout      %s%s%s\n", v.layout, v.alias[0] ? ", alias " : "", km_cli_safe(v.alias, safe, sizeof(safe)));
    if (v.creds[0] != '\0' && o->password_file == NULL)
        printf("password    from %s\n", km_cli_safe(v.creds, safe, sizeof(safe)));
    printf("ready       yes\n");
    if (v.alias[0] != '\0' && strcmp(v.layout, "seed") == 0)
        snprintf(alias, n, "%s", v.alias);
    return KM_EXIT_OK;
}

/* The seed layout's PEM copy of the leaf must be the keystore's certificate. */
static void check_crt_copy(const inspect_opts *o, OSSL_LIB_CTX *libctx, const X509 *leaf, const char *alias)
{
    char name[KM_MAX_ALIAS + 32];

    if (!km_volume_crt_matches(libctx, o->path, alias, leaf) &&
        km_seed_name(KM_SEED_CERT, alias, NULL, name, sizeof(name)))
        printf("  warning     %s/%s is not the keystore's certificate (an interrupted renewal; "
               "`kafka-mtls issue` repairs it)\n", o->path, name);
}

static int show_key(OSSL_LIB_CTX *libctx, const char *uri)
{
    kmtls_loaded key;
    char desc[64];

    if (!kmtls_store_load(libctx, &(kmtls_query){ .uri = uri, .expect = OSSL_STORE_INFO_PKEY }, &key)) {
        char safe[4 * sizeof(key.msg)];

        printf("  key         CANNOT BE USED: %s\n", km_cli_safe(key.msg, safe, sizeof(safe)));
        return KM_EXIT_FAIL;
    }
    km_describe_key(key.key, desc, sizeof(desc));
    printf("  key         %s, matches the certificate\n", desc);
    kmtls_loaded_clear(&key);
    return KM_EXIT_OK;
}

static void show_chain(STACK_OF(X509) *chain)
{
    char name[512];

    char safe[4 * sizeof(name)];

    printf("  chain       %d certificate%s\n", sk_X509_num(chain), sk_X509_num(chain) == 1 ? "" : "s");
    for (int i = 0; i < sk_X509_num(chain); i++) {
        km_name_text(X509_get_subject_name(sk_X509_value(chain, i)), name, sizeof(name));
        printf("    %d %s\n", i, km_cli_safe(name, safe, sizeof(safe)));
    }
}

static int show_stores(const inspect_opts *o, OSSL_LIB_CTX *libctx, const char *alias)
{
    char uri[8192], why[256];
    kmtls_loaded chain, trusted;
    const char *purpose;
    int rc = KM_EXIT_OK;

    kmtls_store_uri(uri, sizeof(uri), o->path, "keystore", o->alias, o->password_file);
    if (!kmtls_store_load(libctx, &(kmtls_query){ .uri = uri, .expect = OSSL_STORE_INFO_CERT }, &chain)) {
        char safe[4 * sizeof(chain.msg)];

        printf("keystore    CANNOT BE READ: %s\n", km_cli_safe(chain.msg, safe, sizeof(safe)));
        return chain.reason == KAFKA_MTLS_R_NOT_READY ? KM_EXIT_NOT_READY : KM_EXIT_FAIL;
    }
    kmtls_store_uri(uri, sizeof(uri), o->path, "truststore", o->alias, o->password_file);
    if (!kmtls_store_load(libctx, &(kmtls_query){ .uri = uri, .expect = OSSL_STORE_INFO_CERT }, &trusted)) {
        char safe[4 * sizeof(trusted.msg)];

        printf("truststore  %s: %s\n", trusted.reason == KAFKA_MTLS_R_NOT_FOUND ? "none" : "CANNOT BE READ",
               km_cli_safe(trusted.msg, safe, sizeof(safe)));
        if (trusted.reason != KAFKA_MTLS_R_NOT_FOUND)
            rc = KM_EXIT_FAIL;
    }
    if (sk_X509_num(chain.certs) > 0) {
        X509 *leaf = sk_X509_value(chain.certs, 0);

        printf("keystore\n");
        kmtls_store_uri(uri, sizeof(uri), o->path, "keystore", o->alias, o->password_file);
        if (show_key(libctx, uri) != KM_EXIT_OK)
            rc = KM_EXIT_FAIL;
        km_print_cert(leaf, o->now, "  ");
        show_chain(chain.certs);
        if (sk_X509_num(trusted.certs) > 0) {
            if (km_verify_chain(libctx, chain.certs, trusted.certs, o->now, &purpose, why, sizeof(why)))
                printf("  verifies    yes, as a %s certificate, against the truststore\n", purpose);
            else
                printf("  verifies    NO, as a %s certificate, against the truststore: %s\n", purpose, why);
        }
        if (alias != NULL)
            check_crt_copy(o, libctx, leaf, alias);
        if (rc == KM_EXIT_OK && km_cert_validity(leaf, o->now) != KM_VALID_NOW)
            rc = KM_EXIT_EXPIRED;
    } else {
        printf("keystore    no key entry (a truststore)\n");
    }
    if (sk_X509_num(trusted.certs) > 0) {
        printf("truststore  %d trusted certificate%s\n", sk_X509_num(trusted.certs),
               sk_X509_num(trusted.certs) == 1 ? "" : "s");
        for (int i = 0; i < sk_X509_num(trusted.certs); i++) {
            X509 *x = sk_X509_value(trusted.certs, i);
            char name[512], safe[4 * sizeof(name)], t[64];
            time_t na = 0;

            km_time_of(X509_get0_notAfter(x), &na);
            km_name_text(X509_get_subject_name(x), name, sizeof(name));
            printf("    %s (not after %s%s)\n", km_cli_safe(name, safe, sizeof(safe)), km_utc_text(na, t, sizeof(t)),
                   km_cert_validity(x, o->now) == KM_VALID_NOW ? "" : ", EXPIRED or not yet valid");
        }
    }
    kmtls_loaded_clear(&chain);
    kmtls_loaded_clear(&trusted);
    return rc;
}

static void show_file(const inspect_opts *o)
{
    char dir[PATH_MAX], *slash, what[700], safe[4 * PATH_MAX];
    struct stat sb;

    snprintf(dir, sizeof(dir), "%s", o->path);
    slash = strrchr(dir, '/');
    *slash = '\0';
    printf("file        %s\n", km_cli_safe(o->path, safe, sizeof(safe)));
    if (lstat(o->path, &sb) == 0) {
        describe_file(dir[0] ? dir : "/", slash + 1, &sb, what, sizeof(what));
        printf("format      %s (from the content), mode %04o, %lld bytes\n", what,
               (unsigned)(sb.st_mode & 07777), (long long)sb.st_size);
    }
}

static int parse(int argc, char **argv, inspect_opts *o)
{
    static const struct option options[] = {
        { "alias", required_argument, NULL, 'a' },
        { "password-file", required_argument, NULL, 'p' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    struct stat sb;
    int c;

    memset(o, 0, sizeof(*o));
    optind = 1;
    while ((c = getopt_long(argc, argv, "", options, NULL)) != -1) {
        if (c == 'a')
            o->alias = optarg;
        else if (c == 'p')
            o->password_file = optarg;
        else if (c == 'h')
            return km_cli_help(stdout, 1), -1;
        else
            return KM_EXIT_USAGE;
    }
    if (optind != argc - 1) {
        fprintf(stderr, "usage: kafka-mtls inspect VOLUME_DIR|FILE [--alias A] [--password-file F]\n");
        return KM_EXIT_USAGE;
    }
    if (realpath(argv[optind], o->path) == NULL || stat(o->path, &sb) != 0) {
        fprintf(stderr, "kafka-mtls inspect: %s: %m\n", argv[optind]);
        return KM_EXIT_FAIL;
    }
    if (o->password_file != NULL && o->password_file[0] != '/') {
        fprintf(stderr, "kafka-mtls inspect: --password-file %s: give an absolute path\n", o->password_file);
        return KM_EXIT_USAGE;
    }
    o->is_dir = S_ISDIR(sb.st_mode);
    o->now = time(NULL);
    return KM_EXIT_OK;
}

int km_cmd_inspect(int argc, char **argv)
{
    inspect_opts o;
    kmtls_libctx *lc;
    char alias[256] = "";
    int rc = parse(argc, argv, &o);

    if (rc != KM_EXIT_OK)
        return rc < 0 ? KM_EXIT_OK : rc; /* -1: --help was printed */
    if ((lc = km_cli_libctx()) == NULL)
        return KM_EXIT_FAIL;
    if (o.is_dir) {
        char safe[4 * sizeof(o.path)];

        printf("volume      %s\n", km_cli_safe(o.path, safe, sizeof(safe)));
        list_files(o.path);
        rc = show_volume(&o, alias, sizeof(alias));
    } else {
        show_file(&o);
    }
    if (rc == KM_EXIT_OK)
        rc = show_stores(&o, lc->libctx, alias[0] ? alias : NULL);
    printf("result      %s\n", rc == KM_EXIT_OK          ? "ok"
                               : rc == KM_EXIT_NOT_READY ? "not ready"
                               : rc == KM_EXIT_EXPIRED   ? "certificate expired or not yet valid"
                                                         : "problem found");
    kmtls_libctx_free(lc);
    return rc;
}
