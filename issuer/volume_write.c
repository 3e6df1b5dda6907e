/*
 * The volume directory: created 0700, opened under the symlink and owner
 * rule (kmtls/safe_path.h), refused when others may write to it; files
 * replaced atomically (temp file O_EXCL|O_NOFOLLOW 0600 in the same
 * directory, write, fsync, rename, fsync of the directory).
 *
 * Every name inside the volume is opened relative to the directory's
 * descriptor with O_NOFOLLOW.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>
#include <openssl/rand.h>

#include "issue_internal.h"
#include "kafka-mtls.h"
#include "kmtls/safe_path.h"
#include "kmtls/seed.h"

const char *km_path(char *buf, size_t n, const char *volume, const char *name)
{
    snprintf(buf, n, "%s/%s", volume, name);
    return buf;
}

int km_dir_open(const char *volume, int create, km_status *st)
{
    /* the one rule for symlinks, owners and modes (kmtls/safe_path.h) */
    return km_safe_dir_open(volume, "volume", KM_SAFE_WRITE | (create ? KM_SAFE_CREATE : 0), st);
}

int km_volume_writable(const char *volume, km_status *st)
{
    int fd = km_dir_open(volume, 0, st);

    if (fd < 0)
        return 0;
    close(fd);
    return 1;
}

static int write_all(int fd, const unsigned char *buf, size_t len)
{
    while (len > 0) {
        ssize_t n = write(fd, buf, len);

        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return 0;
        buf += n;
        len -= (size_t)n;
    }
    return 1;
}

static int open_temp(int dirfd, const char *name, char *tmp, size_t n)
{
    for (int attempt = 0; attempt < 8; attempt++) {
        unsigned char r[6];
        int fd;

        if (RAND_bytes(r, sizeof(r)) <= 0)
            return -1;
        snprintf(tmp, n, KM_TEMP_PREFIX "%s.%02x%02x%02x%02x%02x%02x", name, r[0], r[1], r[2], r[3], r[4], r[5]);
        fd = openat(dirfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
        if (fd >= 0 || errno != EEXIST)
            return fd;
    }
    errno = EEXIST;
    return -1;
}

/* buf into the open file fd (named tmp in the directory), fsync'ed, then
 * renamed to name; on failure tmp is removed unless keep says it is more
 * than a temporary file (the writing mark). */
static int put_in_place(int dirfd, const char *volume, const char *name, int fd, const char *tmp, int keep,
                        const void *buf, size_t len, km_status *st)
{
    char path[4096];
    struct stat sb;
    int err;

    if (!write_all(fd, buf, len) || fsync(fd) != 0) {
        err = errno;
        close(fd);
        if (!keep)
            unlinkat(dirfd, tmp, 0);
        /* named by the file the user knows: the temporary one is gone */
        return km_fail_errno(st, KAFKA_MTLS_R_WRITE_FAILED, err, "%s: cannot write (its temporary file)",
                             km_path(path, sizeof(path), volume, name));
    }
    /* rename would replace a symlink, not follow it; but a symlink where
     * a keystore belongs was planted by someone: refuse, and say so */
    if (fstatat(dirfd, name, &sb, AT_SYMLINK_NOFOLLOW) == 0 && S_ISLNK(sb.st_mode)) {
        close(fd);
        if (!keep)
            unlinkat(dirfd, tmp, 0);
        return km_fail(st, KAFKA_MTLS_R_INSECURE, "%s: is a symlink; refusing to replace it",
                       km_path(path, sizeof(path), volume, name));
    }
    if (close(fd) != 0 || renameat(dirfd, tmp, dirfd, name) != 0) {
        err = errno;
        if (!keep)
            unlinkat(dirfd, tmp, 0);
        return km_fail_errno(st, KAFKA_MTLS_R_WRITE_FAILED, err, "%s: cannot put in place",
                             km_path(path, sizeof(path), volume, name));
    }
    return 1;
}

int km_dir_write(int dirfd, const char *volume, const char *name, const void *buf, size_t len,
                 km_status *st)
{
    char tmp[512], path[4096];
    int fd = open_temp(dirfd, name, tmp, sizeof(tmp));

    if (fd < 0)
        return km_fail_errno(st, KAFKA_MTLS_R_WRITE_FAILED, errno, "%s: cannot create a temporary file beside it",
                             km_path(path, sizeof(path), volume, name));
    return put_in_place(dirfd, volume, name, fd, tmp, 0, buf, len, st);
}

int km_dir_write_via(int dirfd, const char *volume, const char *from, const char *name, const void *buf,
                     size_t len, km_status *st)
{
    int fd = openat(dirfd, from, O_WRONLY | O_NOFOLLOW | O_CLOEXEC);

    if (fd < 0 || ftruncate(fd, 0) != 0) {
        if (fd >= 0)
            close(fd);
        return km_dir_write(dirfd, volume, name, buf, len, st);
    }
    return put_in_place(dirfd, volume, name, fd, from, 1, buf, len, st);
}

int km_dir_sync(int dirfd, const char *volume, km_status *st)
{
    if (fsync(dirfd) != 0)
        return km_fail_errno(st, KAFKA_MTLS_R_WRITE_FAILED, errno, "volume %s: fsync", volume);
    return 1;
}

int km_dir_remove(int dirfd, const char *volume, const char *name, km_status *st)
{
    char path[4096];

    if (unlinkat(dirfd, name, 0) != 0 && errno != ENOENT)
        return km_fail_errno(st, KAFKA_MTLS_R_WRITE_FAILED, errno, "%s: cannot remove",
                             km_path(path, sizeof(path), volume, name));
    return 1;
}

/* Temp files of killed issuers; called with the volume lock held. */
void km_dir_clean_temps(int dirfd)
{
    int fd = dup(dirfd);
    DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
    struct dirent *e;

    if (d == NULL) {
        if (fd >= 0)
            close(fd);
        return;
    }
    rewinddir(d);
    while ((e = readdir(d)) != NULL)
        if (km_seed_is_temp(e->d_name))
            unlinkat(dirfd, e->d_name, 0);
    closedir(d);
}
