/* Password files: one line, bounded, cleansed. */
#include <string.h>
#include <openssl/crypto.h>

#include "kafka-mtls.h"
#include "kmtls/files.h"

int km_password_parse(const unsigned char *buf, size_t size, const char *shown, unsigned flags, km_secret *out,
                      km_status *st)
{
    size_t len = size;

    if (len > 0 && buf[len - 1] == '\n')
        len--;
    if (len > 0 && buf[len - 1] == '\r')
        len--;
    if (len == 0)
        return (flags & KM_PASSWORD_OPTIONAL) || km_fail(st, KAFKA_MTLS_R_PASSWORD_FILE, "password file %s: empty",
                                                         shown);
    if (memchr(buf, '\n', len) != NULL)
        return km_fail(st, KAFKA_MTLS_R_PASSWORD_FILE,
                       "password file %s: more than one line (the password is the whole first line "
                       "and nothing may follow it)", shown);
    if (!km_secret_set(out, buf, len))
        return km_fail(st, KAFKA_MTLS_R_INTERNAL, "out of memory");
    return 1;
}

int km_read_password_at(int dirfd, const char *name, const char *shown, int missing_reason,
                        unsigned flags, km_secret *out, km_status *st)
{
    unsigned char *buf = NULL;
    size_t size = 0;
    km_status local = { 0 };
    int ok;

    if (!km_read_file_at(dirfd, name, shown, "password file", KM_MAX_PASSWORD_FILE, flags, &buf, &size,
                         &local)) {
        if (local.reason == KAFKA_MTLS_R_NOT_FOUND && (flags & KM_PASSWORD_OPTIONAL))
            return 1;
        /* what the file is to the caller decides a missing one's reason */
        return km_status_take(st, &local, local.reason == KAFKA_MTLS_R_NOT_FOUND ? missing_reason
                                          : local.reason == KAFKA_MTLS_R_READ_FAILED ? KAFKA_MTLS_R_PASSWORD_FILE
                                                                                    : 0);
    }
    ok = km_password_parse(buf, size, shown, flags, out, st);
    OPENSSL_clear_free(buf, size + 1);
    return ok;
}
