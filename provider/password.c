/* Reading files, passwords in particular: bounded, and every copy of a
 * secret is cleansed when dropped. */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <openssl/crypto.h>

#include "kafka-mtls.h"
#include "files.h"

int km_secret_set(km_secret *s, const void *data, size_t len)
{
    km_secret_clear(s);
    if ((s->data = OPENSSL_malloc(len + 1)) == NULL)
        return 0;
    memcpy(s->data, data, len);
    s->data[len] = '\0';
    s->len = len;
    return 1;
}

int km_read_file(const char *path, const char *what, size_t max,
                 unsigned char **buf, size_t *len, km_status *st)
{
    /* O_NONBLOCK: a FIFO planted where a file belongs must not block the
     * open; it is refused below as not a regular file. */
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
    unsigned char *data = NULL;
    struct stat sb;
    size_t got = 0;

    if (fd < 0)
        return km_fail(st, errno == ENOENT ? KAFKA_MTLS_R_NOT_FOUND : KAFKA_MTLS_R_READ_FAILED,
                       "%s %s: %s", what, path, strerror(errno));
    if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode)) {
        close(fd);
        return km_fail(st, KAFKA_MTLS_R_READ_FAILED, "%s %s: not a regular file", what, path);
    }
    if ((size_t)sb.st_size > max) {
        close(fd);
        return km_fail(st, KAFKA_MTLS_R_TOO_LARGE, "%s %s: %lld bytes, more than the %zu allowed",
                       what, path, (long long)sb.st_size, max);
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
            return km_fail(st, KAFKA_MTLS_R_READ_FAILED, "%s %s: %s", what, path,
                           err ? strerror(err) : "file shrank while reading");
        }
        got += (size_t)n;
    }
    close(fd);
    data[got] = '\0';
    *buf = data;
    *len = got;
    return 1;
}

int km_read_password_file(const char *path, int reason_missing, km_secret *out, km_status *st)
{
    unsigned char *buf = NULL;
    size_t size = 0, len;
    km_status local = { 0 };
    int ok = 0;

    if (!km_read_file(path, "password file", KM_MAX_PASSWORD_FILE, &buf, &size, &local)) {
        int reason = local.reason == KAFKA_MTLS_R_NOT_FOUND ? reason_missing : KAFKA_MTLS_R_PASSWORD_FILE;

        return km_fail(st, reason, "%s", local.msg);
    }
    len = size;
    if (len > 0 && buf[len - 1] == '\n')
        len--;
    if (len > 0 && buf[len - 1] == '\r')
        len--;
    if (len == 0)
        km_fail(st, KAFKA_MTLS_R_PASSWORD_FILE, "password file %s: empty", path);
    else if (memchr(buf, '\n', len) != NULL)
        km_fail(st, KAFKA_MTLS_R_PASSWORD_FILE,
                "password file %s: more than one line (the password is the whole first line "
                "and nothing may follow it)", path);
    else if (!km_secret_set(out, buf, len))
        km_fail(st, KAFKA_MTLS_R_INTERNAL, "out of memory");
    else
        ok = 1;
    OPENSSL_clear_free(buf, size + 1);
    return ok;
}
