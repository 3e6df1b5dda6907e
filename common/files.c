/* Bounded reads of whole files relative to a directory descriptor. */
#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <openssl/crypto.h>

#include "kafka-mtls.h"
#include "kmtls/files.h"
#include "kmtls/safe_path.h"

static int open_failed(const char *shown, const char *what, unsigned flags, km_status *st)
{
    int err = errno;

    if (err == ELOOP && (flags & KM_READ_NOFOLLOW))
        return km_fail(st, KAFKA_MTLS_R_INSECURE, "%s %s: is a symlink", what, shown);
    return km_fail_errno(st, err == ENOENT ? KAFKA_MTLS_R_NOT_FOUND : KAFKA_MTLS_R_READ_FAILED, err,
                         "%s %s", what, shown);
}

int km_read_file_at(int dirfd, const char *name, const char *shown, const char *what, size_t max,
                    unsigned flags, unsigned char **buf, size_t *len, km_status *st)
{
    struct stat sb;

    return km_read_file_stat_at(dirfd, name, shown, what, max, flags, buf, len, &sb, st);
}

int km_read_file_stat_at(int dirfd, const char *name, const char *shown, const char *what, size_t max,
                         unsigned flags, unsigned char **buf, size_t *len, struct stat *sbp, km_status *st)
{
    unsigned char *data;
    struct stat sb;
    size_t got = 0;
    int fd;

    /* the link is judged before the open follows it */
    if ((flags & KM_READ_TRUSTED) && !(flags & KM_READ_NOFOLLOW) && !km_safe_link_at(dirfd, name, shown, st))
        return 0;
    /* O_NONBLOCK: a FIFO planted where a file belongs must not block the
     * open; it is refused below as not a regular file. */
    fd = openat(dirfd, name, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK |
                                     ((flags & KM_READ_NOFOLLOW) ? O_NOFOLLOW : 0));
    if (fd < 0)
        return open_failed(shown, what, flags, st);
    if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode)) {
        close(fd);
        return km_fail(st, KAFKA_MTLS_R_READ_FAILED, "%s %s: not a regular file", what, shown);
    }
    if ((flags & KM_READ_TRUSTED) && !km_safe_owner(shown, what, (unsigned)sb.st_uid, st)) {
        close(fd);
        return 0;
    }
    if ((size_t)sb.st_size > max) {
        close(fd);
        return km_fail(st, KAFKA_MTLS_R_TOO_LARGE, "%s %s: %lld bytes, more than the %zu allowed", what,
                       shown, (long long)sb.st_size, max);
    }
    if ((data = OPENSSL_malloc((size_t)sb.st_size + 1)) == NULL) {
        close(fd);
        return km_fail(st, KAFKA_MTLS_R_INTERNAL, "out of memory");
    }
    /* Read up to the size seen by fstat: a file growing under us is read
     * as it was; the integrity checks reject a torn copy. */
    while (got < (size_t)sb.st_size) {
        ssize_t n = read(fd, data + got, (size_t)sb.st_size - got);

        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            int err = n < 0 ? errno : 0;

            close(fd);
            OPENSSL_clear_free(data, (size_t)sb.st_size + 1);
            return err != 0 ? km_fail_errno(st, KAFKA_MTLS_R_READ_FAILED, err, "%s %s", what, shown)
                            : km_fail(st, KAFKA_MTLS_R_READ_FAILED, "%s %s: file shrank while reading",
                                      what, shown);
        }
        got += (size_t)n;
    }
    close(fd);
    data[got] = '\0';
    *buf = data;
    *len = got;
    *sbp = sb;
    return 1;
}
