/*
 * kafka-mtls inspect VOLUME_DIR|FILE [--alias A] [--password-file F]
 *
 * What a client would read, and why it might fail: the files and their
 * formats (sniffed from content), the layout, readiness, the certificate,
 * whether the key matches and whether the chain verifies. Everything is read
 * through the provider, as clients read it. Secrets are never printed.
 */
#include <dirent.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <openssl/store.h>
#include <openssl/x509.h>

#include "cli.h"
#include "files.h"
#include "inspect.h"
#include "issue_internal.h"
#include "kafka-mtls.h"
#include "uri.h"
#include "volume.h"

typedef struct inspect_opts {
    char path[PATH_MAX];
    const char *alias, *password_file;
    int is_dir;
    time_t now;
} inspect_opts;

static int ends_with(const char *s, const char *suffix)
{
    size_t a = strlen(s), b = strlen(suffix);

    return a >= b && strcmp(s + a - b, suffix) == 0;
}

static void describe_pem(const unsigned char *buf, char *out, size_t n)
{
    const char *s = (const char *)buf;
    int certs = 0;
    const char *key = NULL;

    for (const char *p = s; (p = strstr(p, "-----BEGIN ")) != NULL; p++) {
        if (strncmp(p, "-----BEGIN CERTIFICATE-----", 27) == 0)
            certs++;
        else if (strncmp(p, "-----BEGIN ENCRYPTED PRIVATE KEY-----", 37) == 0)
            key = "encrypted private key";
        else if (strstr(p, "PRIVATE KEY-----") != NULL && strstr(p, "PRIVATE KEY-----") < strchr(p, '\n'))
            key = strstr(s, "Proc-Type: 4,ENCRYPTED") != NULL ? "encrypted private key" : "private key";
    }
    if (key != NULL && certs == 0)
        snprintf(out, n, "PEM: %s", key);
    else
        snprintf(out, n, "PEM: %s%s%d certificate%s", key ? key : "", key ? ", " : "", certs,
                 certs == 1 ? "" : "s");
}

static void describe_file(const char *dir, const char *name, const struct stat *sb, char *out, size_t n)
{
    char path[PATH_MAX + 300];
    unsigned char *buf = NULL;
    size_t len = 0;
    km_status st = { 0 };

    snprintf(path, sizeof(path), "%s/%s", dir, name);
    if (S_ISLNK(sb->st_mode)) {
        snprintf(out, n, "symlink");
        return;
    }
    if (S_ISDIR(sb->st_mode)) {
        snprintf(out, n, "directory");
        return;
    }
    if (!S_ISREG(sb->st_mode)) {
        snprintf(out, n, "not a regular file");
        return;
    }
    if (strcmp(name, KAFKA_MTLS_LOCK_FILE) == 0) {
        snprintf(out, n, "lock file (kafka-mtls issue)");
        return;
    }
    if (strncmp(name, ".kafka-mtls-tmp.", 16) == 0) {
        snprintf(out, n, "temporary file of an interrupted issuance (removed by the next one)");
        return;
    }
    if (ends_with(name, "_creds") || strstr(name, "password") != NULL) {
        snprintf(out, n, sb->st_size > 0 ? "password file (not shown)" : "password file, EMPTY");
        return;
    }
    if (!km_read_file(path, "file", KM_MAX_FILE_SIZE, &buf, &len, &st)) {
        snprintf(out, n, "unreadable: %s", st.msg);
        return;
    }
    switch (km_sniff(buf, len)) {
    case KM_FORMAT_PKCS12: snprintf(out, n, "PKCS#12"); break;
    case KM_FORMAT_JKS: snprintf(out, n, "JKS"); break;
    case KM_FORMAT_JCEKS: snprintf(out, n, "JCEKS"); break;
    case KM_FORMAT_PEM: describe_pem(buf, out, n); break;
    default: snprintf(out, n, len == 0 ? "empty" : "unknown format"); break;
    }
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
        char path[PATH_MAX + 300], what[700];
        struct stat sb;

        if (strcmp(names[i]->d_name, ".") != 0 && strcmp(names[i]->d_name, "..") != 0) {
            snprintf(path, sizeof(path), "%s/%s", dir, names[i]->d_name);
            if (lstat(path, &sb) == 0) {
                describe_file(dir, names[i]->d_name, &sb, what, sizeof(what));
                /* secrets: the password, or a private key that is not encrypted */
                int secret = strncmp(what, "password file", 13) == 0 || strncmp(what, "PEM: private key", 16) == 0;
                printf("  %-28s %04o %7lld  %s%s\n", names[i]->d_name, (unsigned)(sb.st_mode & 07777),
                       (long long)sb.st_size, what,
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
    km_uri u = { 0 };
    km_volume v;
    km_status st = { 0 };
    int rc = KM_EXIT_OK;

    km_store_uri(uri, sizeof(uri), o->path, NULL, o->alias, o->password_file);
    if (!km_uri_parse(uri, &u, &st) || !km_volume_discover(&u, o->password_file != NULL, &v, &st)) {
        printf("ready       no: %s\n", st.msg);
        km_uri_clear(&u);
        return st.reason == KAFKA_MTLS_R_NOT_READY ? KM_EXIT_NOT_READY : KM_EXIT_FAIL;
    }
    printf("layout      %s%s%s\n", v.layout, v.alias ? ", alias " : "", v.alias ? v.alias : "");
    for (size_t i = 0; i < v.nfiles; i++)
        if (v.files[i].creds != NULL && o->password_file == NULL) {
            printf("password    from %s\n", v.files[i].creds);
            break;
        }
    printf("ready       yes\n");
    if (v.alias != NULL && strcmp(v.layout, "seed") == 0)
        snprintf(alias, n, "%s", v.alias);
    km_volume_clear(&v);
    km_uri_clear(&u);
    return rc;
}

/* The seed layout's PEM copy of the leaf must be the keystore's certificate. */
static void check_crt_copy(const inspect_opts *o, OSSL_LIB_CTX *libctx, const X509 *leaf, const char *alias)
{
    char path[PATH_MAX + 300];
    km_status st = { 0 };
    X509 *x;

    snprintf(path, sizeof(path), "%s/%s-ca-signed.crt", o->path, alias);
    if ((x = km_read_cert_pem(libctx, path, "certificate", &st)) == NULL)
        return;
    if (X509_cmp(x, leaf) != 0)
        printf("  warning     %s is not the keystore's certificate (an interrupted renewal; "
               "`kafka-mtls issue` repairs it)\n", path);
    X509_free(x);
}

static int show_key(const inspect_opts *o, OSSL_LIB_CTX *libctx, const char *uri)
{
    km_loaded key;
    char msg[640], desc[64];

    if (!km_store_load(libctx, uri, OSSL_STORE_INFO_PKEY, &key, msg, sizeof(msg))) {
        printf("  key         CANNOT BE USED: %s\n", msg);
        return KM_EXIT_FAIL;
    }
    (void)o;
    km_describe_key(key.key, desc, sizeof(desc));
    printf("  key         %s, matches the certificate\n", desc);
    km_loaded_clear(&key);
    return KM_EXIT_OK;
}

static void show_chain(STACK_OF(X509) *chain)
{
    char name[512];

    printf("  chain       %d certificate%s\n", sk_X509_num(chain), sk_X509_num(chain) == 1 ? "" : "s");
    for (int i = 0; i < sk_X509_num(chain); i++) {
        km_name(X509_get_subject_name(sk_X509_value(chain, i)), name, sizeof(name));
        printf("    %d %s\n", i, name);
    }
}

static int show_stores(const inspect_opts *o, OSSL_LIB_CTX *libctx, const char *alias)
{
    char uri[8192], msg[640], why[256];
    km_loaded chain, trusted;
    const char *purpose;
    int rc = KM_EXIT_OK;

    km_store_uri(uri, sizeof(uri), o->path, "keystore", o->alias, o->password_file);
    if (!km_store_load(libctx, uri, OSSL_STORE_INFO_CERT, &chain, msg, sizeof(msg))) {
        printf("keystore    CANNOT BE READ: %s\n", msg);
        return chain.reason == KAFKA_MTLS_R_NOT_READY ? KM_EXIT_NOT_READY : KM_EXIT_FAIL;
    }
    km_store_uri(uri, sizeof(uri), o->path, "truststore", o->alias, o->password_file);
    if (!km_store_load(libctx, uri, OSSL_STORE_INFO_CERT, &trusted, msg, sizeof(msg))) {
        printf("truststore  %s: %s\n", trusted.reason == KAFKA_MTLS_R_NOT_FOUND ? "none" : "CANNOT BE READ",
               msg);
        if (trusted.reason != KAFKA_MTLS_R_NOT_FOUND)
            rc = KM_EXIT_FAIL;
    }
    if (sk_X509_num(chain.certs) > 0) {
        X509 *leaf = sk_X509_value(chain.certs, 0);

        printf("keystore\n");
        km_store_uri(uri, sizeof(uri), o->path, "keystore", o->alias, o->password_file);
        if (show_key(o, libctx, uri) != KM_EXIT_OK)
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
        if (rc == KM_EXIT_OK && !km_cert_current(leaf, o->now))
            rc = KM_EXIT_EXPIRED;
    } else {
        printf("keystore    no key entry (a truststore)\n");
    }
    if (sk_X509_num(trusted.certs) > 0) {
        printf("truststore  %d trusted certificate%s\n", sk_X509_num(trusted.certs),
               sk_X509_num(trusted.certs) == 1 ? "" : "s");
        for (int i = 0; i < sk_X509_num(trusted.certs); i++) {
            X509 *x = sk_X509_value(trusted.certs, i);
            char name[512], t[64];
            struct tm tm;
            time_t na = ASN1_TIME_to_tm(X509_get0_notAfter(x), &tm) ? timegm(&tm) : 0;

            km_name(X509_get_subject_name(x), name, sizeof(name));
            printf("    %s (not after %s%s)\n", name, km_cli_time(na, t, sizeof(t)),
                   km_cert_current(x, o->now) ? "" : ", EXPIRED or not yet valid");
        }
    }
    km_loaded_clear(&chain);
    km_loaded_clear(&trusted);
    return rc;
}

static void show_file(const inspect_opts *o)
{
    char dir[PATH_MAX], *slash, what[700];
    struct stat sb;

    snprintf(dir, sizeof(dir), "%s", o->path);
    slash = strrchr(dir, '/');
    *slash = '\0';
    printf("file        %s\n", o->path);
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
    OSSL_LIB_CTX *libctx;
    char alias[256] = "";
    int rc = parse(argc, argv, &o);

    if (rc != KM_EXIT_OK)
        return rc < 0 ? KM_EXIT_OK : rc; /* -1: --help was printed */
    if ((libctx = km_cli_libctx()) == NULL)
        return KM_EXIT_FAIL;
    if (o.is_dir) {
        printf("volume      %s\n", o.path);
        list_files(o.path);
        rc = show_volume(&o, alias, sizeof(alias));
    } else {
        show_file(&o);
    }
    if (rc == KM_EXIT_OK)
        rc = show_stores(&o, libctx, alias[0] ? alias : NULL);
    printf("result      %s\n", rc == KM_EXIT_OK          ? "ok"
                               : rc == KM_EXIT_NOT_READY ? "not ready"
                               : rc == KM_EXIT_EXPIRED   ? "certificate expired or not yet valid"
                                                         : "problem found");
    km_cli_libctx_free(libctx);
    return rc;
}
