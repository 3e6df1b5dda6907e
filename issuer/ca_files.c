/*
 * Who may read the CA key and its password file. Whoever reads them can
 * mint any certificate the CA signs, the broker's super user included, and
 * whoever owns them can read them (or change their mode). So each is read
 * through one descriptor and judged by that descriptor's fstat (no second
 * look that a rename could answer with another file): it must be owned by
 * the effective user or root, and a file group or others can access is
 * refused unless the option the caller names allows it, and then the
 * warning says so.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>
#include <openssl/crypto.h>

#include "issue_internal.h"
#include "kafka-mtls.h"
#include "kmtls/files.h"
#include "kmtls/safe_path.h"

static int judge(const char *path, const char *what, const struct stat *sb, int insecure_ok, const char *option,
                 char *warning, size_t n, km_status *st)
{
    const char *how = (sb->st_mode & 044) != 0 ? "readable" : "writable or executable";

    if (!km_safe_owner(path, what, (unsigned)sb->st_uid, st))
        return 0;
    if ((sb->st_mode & 077) == 0)
        return 1;
    if (option == NULL)
        option = "the issuer's option";
    if (!insecure_ok)
        return km_fail(st, KAFKA_MTLS_R_INSECURE,
                       "%s %s is %s by group or others (mode %04o): whoever reads it can mint any "
                       "certificate the CA signs; chmod 600 it, or allow it with %s", what, path, how,
                       (unsigned)(sb->st_mode & 07777), option);
    if (warning != NULL && warning[0] == '\0')
        snprintf(warning, n, "%s %s is %s by group or others (mode %04o), allowed by %s; chmod 600 it", what,
                 path, how, (unsigned)(sb->st_mode & 07777), option);
    return 1;
}

int km_ca_file_read(const char *path, const char *what, size_t max, int insecure_ok, const char *option,
                    unsigned char **buf, size_t *len, char *warning, size_t n, km_status *st)
{
    struct stat sb;

    if (!km_read_file_stat_at(AT_FDCWD, path, path, what, max, 0, buf, len, &sb, st))
        return 0;
    if (judge(path, what, &sb, insecure_ok, option, warning, n, st))
        return 1;
    OPENSSL_clear_free(*buf, *len + 1);
    *buf = NULL;
    return 0;
}

int km_ca_file_check(const char *path, const char *what, int insecure_ok, const char *option, char *warning,
                     size_t n, km_status *st)
{
    unsigned char *buf = NULL;
    size_t len = 0;

    if (!km_ca_file_read(path, what, KM_CA_MAX_FILE, insecure_ok, option, &buf, &len, warning, n, st))
        return 0;
    OPENSSL_clear_free(buf, len + 1);
    return 1;
}

int km_ca_password_read(const char *path, int insecure_ok, const char *option, km_secret *out, char *warning,
                        size_t n, km_status *st)
{
    unsigned char *buf = NULL;
    size_t len = 0;
    km_status local = { 0 };
    int ok;

    if (!km_ca_file_read(path, "CA key password file", KM_MAX_PASSWORD_FILE, insecure_ok, option, &buf, &len,
                         warning, n, &local))
        return km_status_take(st, &local, local.reason == KAFKA_MTLS_R_NOT_FOUND ||
                                                  local.reason == KAFKA_MTLS_R_READ_FAILED
                                              ? KAFKA_MTLS_R_PASSWORD_FILE
                                              : 0);
    ok = km_password_parse(buf, len, path, 0, out, st);
    OPENSSL_clear_free(buf, len + 1);
    return ok;
}
