/*
 * The cross-process volume lock, flock(2) on VOLUME/.kafka-mtls.lock, and
 * its bounded wait. flock has no timeout and no readiness notification
 * (inotify says nothing about locks), and a blocking flock waits for as
 * long as the holder likes: so a wait is LOCK_NB tried again with a short
 * backoff (1 ms doubling to 50 ms) until its deadline. That costs a few
 * dozen system calls per second of waiting, and bounds every wait by what
 * the caller configured.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/file.h>
#include <time.h>
#include <unistd.h>

#include "issue_internal.h"
#include "kafka-mtls.h"
#include "kmtls/clock.h"
#include "kmtls/safe_path.h"
#include "kmtls/seed.h"

#define BACKOFF_MAX_MS 50

double km_lock_deadline(const km_lock_wait *w)
{
    if (w != NULL && w->until > 0)
        return w->until;
    return km_now_ms() + (double)(w != NULL && w->ms > 0 ? w->ms : 0);
}

/* 1 locked, 0 still held by another at the deadline, -1 flock failed (errno). */
static int flock_until(int fd, int op, double deadline)
{
    long backoff = 1;

    for (;;) {
        struct timespec ts;
        double left;

        if (flock(fd, op | LOCK_NB) == 0)
            return 1;
        if (errno == EINTR)
            continue;
        if (errno != EWOULDBLOCK)
            return -1;
        if ((left = deadline - km_now_ms()) <= 0)
            return 0;
        if ((double)backoff > left)
            backoff = (long)left + 1;
        ts.tv_sec = backoff / 1000;
        ts.tv_nsec = (backoff % 1000) * 1000000L;
        nanosleep(&ts, NULL); /* a signal cuts it short; the deadline still holds */
        if (backoff < BACKOFF_MAX_MS)
            backoff *= 2;
    }
}

int km_volume_lock_until(const char *volume, int exclusive, double deadline, const km_lock_wait *w, int *fd,
                         km_status *st)
{
    char path[4096];
    int dirfd, lfd, r;

    *fd = -1;
    km_path(path, sizeof(path), volume, KAFKA_MTLS_LOCK_FILE);
    if (exclusive) {
        if ((dirfd = km_dir_open(volume, 1, st)) < 0)
            return 0;
        lfd = openat(dirfd, KAFKA_MTLS_LOCK_FILE, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
    } else {
        /* readers take the lock only if it is there, and only where the
         * rule lets them read (a read-only mount may forbid opening it) */
        km_status ignored = { 0 };

        if ((dirfd = km_safe_dir_open(volume, "volume", 0, &ignored)) < 0)
            return 1;
        lfd = openat(dirfd, KAFKA_MTLS_LOCK_FILE, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
        if (lfd < 0) {
            close(dirfd);
            return 1;
        }
    }
    close(dirfd);
    if (lfd < 0 && errno == ELOOP)
        return km_fail(st, KAFKA_MTLS_R_INSECURE, "lock file %s: is a symlink", path);
    if (lfd < 0)
        return km_fail_errno(st, KAFKA_MTLS_R_WRITE_FAILED, errno, "lock file %s", path);
    if ((r = flock_until(lfd, exclusive ? LOCK_EX : LOCK_SH, deadline)) == 1) {
        *fd = lfd;
        return 1;
    }
    close(lfd);
    if (r < 0)
        return km_fail_errno(st, KAFKA_MTLS_R_WRITE_FAILED, errno, "lock file %s: flock", path);
    return km_fail(st, KAFKA_MTLS_R_WRITE_FAILED,
                   "lock file %s: held by another process for %s (another issuer is writing the volume, "
                   "or a process holds its lock); nothing was written", path,
                   w != NULL && w->by != NULL ? w->by : "the whole wait");
}

int km_volume_lock(const char *volume, const km_lock_wait *w, int *fd, km_status *st)
{
    return km_volume_lock_until(volume, 1, km_lock_deadline(w), w, fd, st);
}

void km_volume_unlock(int fd)
{
    if (fd >= 0) {
        flock(fd, LOCK_UN);
        close(fd);
    }
}
