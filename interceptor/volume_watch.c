/*
 * One thread per live client that sleeps in poll(2) on an inotify
 * descriptor and an eventfd. The watches are made afresh before every
 * sleep, on each path and on the directory above it: a volume removed and
 * made again (rm -rf VOLUME; mkdir VOLUME, as the seed's sidecar does) or
 * renamed into place is then watched as the new directory, and nothing that
 * happens between two sleeps is missed, since the caller looks at the
 * volume after the watches are in place. Events in the directory above are
 * counted only for the watched name: a shared /keystore holds every
 * client's volume, and a neighbour's renewal is not ours.
 */
#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <openssl/crypto.h>

#include "kmtls/clock.h"
#include "volume_watch.h"

/* A writer's burst (cert-manager's tls.crt then tls.key, kubelet's ..data
 * swap, the issuer's renames with ALIAS_creds last) is one change: look
 * once the volume has been quiet this long, or after SETTLE_MAX_MS. */
#define SETTLE_MS 50
#define SETTLE_MAX_MS 1000
#define MAX_PATHS 4
#define MAX_WATCHES (2 * MAX_PATHS)

struct km_volume_watch {
    pthread_t thread;
    int wakefd;
    int stop;                    /* under registry_lock */
    int joined;                  /* by km_volume_watch_join_until */
    char *paths[MAX_PATHS];
    size_t n;
    long poll_ms;
    km_volume_changed_fn *changed;
    void *opaque;
    struct km_volume_watch *next;
    /* the watches of the current sleep: wd, and for a parent the name that matters */
    int wds[MAX_WATCHES];
    char names[MAX_WATCHES][NAME_MAX + 1];
    size_t nwatches;
};

static pthread_mutex_t registry_lock = PTHREAD_MUTEX_INITIALIZER;
static km_volume_watch *registry;

static void split(const char *path, char *dir, size_t n, const char **base)
{
    char *slash;

    snprintf(dir, n, "%s", path);
    while (strlen(dir) > 1 && dir[strlen(dir) - 1] == '/')
        dir[strlen(dir) - 1] = '\0';
    slash = strrchr(dir, '/');
    *base = path + (slash != NULL ? (size_t)(slash - dir) + 1 : 0);
    if (slash != NULL)
        *(slash == dir ? slash + 1 : slash) = '\0';
}

static void add(km_volume_watch *w, int fd, const char *dir, const char *name, uint32_t mask)
{
    int wd;

    if (w->nwatches == MAX_WATCHES || (wd = inotify_add_watch(fd, dir, mask)) < 0)
        return;
    w->wds[w->nwatches] = wd;
    snprintf(w->names[w->nwatches], sizeof(w->names[0]), "%s", name != NULL ? name : "");
    w->nwatches++;
}

/* A fresh inotify descriptor watching every path and the directory above
 * it (for a file: its directory and that one's parent), or -1. Unlike
 * keysource.c's one wait for a volume to become ready, this sees material
 * going away too (IN_MOVED_FROM), and the directory above only for the
 * entry it holds (names[]). */
static int arm(km_volume_watch *w)
{
    const uint32_t inside = IN_CREATE | IN_MOVED_TO | IN_MOVED_FROM | IN_CLOSE_WRITE | IN_ATTRIB | IN_DELETE |
                            IN_DELETE_SELF | IN_MOVE_SELF;
    const uint32_t above = IN_CREATE | IN_MOVED_TO | IN_MOVED_FROM | IN_DELETE | IN_ATTRIB;
    int fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);

    w->nwatches = 0;
    if (fd < 0)
        return -1;
    for (size_t i = 0; i < w->n; i++) {
        char dir[PATH_MAX], top[PATH_MAX];
        const char *base, *dirbase;
        struct stat sb;

        split(w->paths[i], dir, sizeof(dir), &base);
        if (stat(w->paths[i], &sb) == 0 && S_ISDIR(sb.st_mode)) {
            add(w, fd, w->paths[i], NULL, inside);
            add(w, fd, dir, base, above);
        } else {
            /* a store file (or a volume not made yet): its directory, and
             * the directory above for that one made anew */
            add(w, fd, dir, NULL, inside);
            split(dir, top, sizeof(top), &dirbase);
            add(w, fd, top, dirbase, above);
        }
    }
    return fd;
}

/* 1 if what was read from fd concerns the watched paths. */
static int relevant(km_volume_watch *w, int fd)
{
    char buf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
    int hit = 0;
    ssize_t len;

    while ((len = read(fd, buf, sizeof(buf))) > 0) {
        for (char *p = buf; p < buf + len;) {
            const struct inotify_event *ev = (const struct inotify_event *)p;

            for (size_t i = 0; i < w->nwatches; i++)
                if (ev->wd == w->wds[i] &&
                    (w->names[i][0] == '\0' || (ev->len > 0 && strcmp(ev->name, w->names[i]) == 0)))
                    hit = 1;
            if (ev->mask & IN_Q_OVERFLOW)
                hit = 1;
            p += sizeof(*ev) + ev->len;
        }
    }
    return hit;
}

static int stopping(km_volume_watch *w)
{
    int stop;

    pthread_mutex_lock(&registry_lock);
    stop = w->stop;
    pthread_mutex_unlock(&registry_lock);
    return stop;
}

static int drain_wake(km_volume_watch *w)
{
    uint64_t v;

    return read(w->wakefd, &v, sizeof(v)) == (ssize_t)sizeof(v);
}

static void *run(void *arg)
{
    km_volume_watch *w = arg;

    while (!stopping(w)) {
        int fd = arm(w), hit = 0;
        struct pollfd p[2] = { { .fd = w->wakefd, .events = POLLIN }, { .fd = fd, .events = POLLIN } };
        uint64_t deadline = (uint64_t)km_now_ms() + (uint64_t)w->poll_ms;

        /* the caller looks at the volume after the watches are in place */
        for (;;) {
            uint64_t now = (uint64_t)km_now_ms();
            int r = poll(p, fd >= 0 ? 2 : 1, now >= deadline ? 0 : (int)(deadline - now));

            if (r < 0 && errno == EINTR)
                continue;
            if (r <= 0 || (p[0].revents & POLLIN)) {
                drain_wake(w); /* a poke, a stop or the poll interval: look now */
                break;
            }
            if (fd >= 0 && (p[1].revents & POLLIN) && relevant(w, fd)) {
                hit = 1;
                break;
            }
        }
        if (hit) { /* settle: one look per burst of writes */
            uint64_t until = (uint64_t)km_now_ms() + SETTLE_MAX_MS;

            while ((uint64_t)km_now_ms() < until && poll(&p[1], 1, SETTLE_MS) > 0 && relevant(w, fd))
                ;
        }
        if (fd >= 0)
            close(fd);
        if (stopping(w))
            break;
        w->changed(w->opaque);
    }
    return NULL;
}

static void free_watch(km_volume_watch *w)
{
    for (size_t i = 0; i < w->n; i++)
        OPENSSL_free(w->paths[i]);
    if (w->wakefd >= 0)
        close(w->wakefd);
    OPENSSL_free(w);
}

km_volume_watch *km_volume_watch_start(const char *const *paths, size_t n, long poll_ms,
                                       km_volume_changed_fn *changed, void *opaque)
{
    km_volume_watch *w = OPENSSL_zalloc(sizeof(*w));
    sigset_t all, saved;
    int rc;

    if (w == NULL)
        return NULL;
    w->wakefd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    w->poll_ms = poll_ms > 0 ? poll_ms : 1000;
    w->changed = changed;
    w->opaque = opaque;
    for (size_t i = 0; i < n && w->n < MAX_PATHS; i++)
        if (paths[i] != NULL && (w->paths[w->n++] = OPENSSL_strdup(paths[i])) == NULL)
            goto fail;
    if (w->wakefd < 0)
        goto fail;
    pthread_mutex_lock(&registry_lock);
    w->next = registry;
    registry = w;
    pthread_mutex_unlock(&registry_lock);
    /* no application signal handler ever runs on this thread */
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &saved);
    rc = pthread_create(&w->thread, NULL, run, w);
    pthread_sigmask(SIG_SETMASK, &saved, NULL);
    if (rc == 0)
        return w;
    pthread_mutex_lock(&registry_lock);
    for (km_volume_watch **p = &registry; *p != NULL; p = &(*p)->next)
        if (*p == w) {
            *p = w->next;
            break;
        }
    pthread_mutex_unlock(&registry_lock);
fail:
    free_watch(w);
    return NULL;
}

static void poke(km_volume_watch *w)
{
    uint64_t one = 1;

    /* EAGAIN: a wake-up is pending already */
    while (write(w->wakefd, &one, sizeof(one)) < 0 && errno == EINTR)
        ;
}

void km_volume_watch_ask_stop(km_volume_watch *w)
{
    if (w == NULL)
        return;
    pthread_mutex_lock(&registry_lock);
    w->stop = 1;
    poke(w);
    pthread_mutex_unlock(&registry_lock);
}

void km_volume_watch_join_until(km_volume_watch *w, const struct timespec *until)
{
    if (w != NULL && !w->joined)
        w->joined = pthread_timedjoin_np(w->thread, NULL, until) == 0;
}

void km_volume_watch_stop(km_volume_watch *w)
{
    if (w == NULL)
        return;
    pthread_mutex_lock(&registry_lock);
    for (km_volume_watch **p = &registry; *p != NULL; p = &(*p)->next)
        if (*p == w) {
            *p = w->next;
            break;
        }
    pthread_mutex_unlock(&registry_lock);
    km_volume_watch_ask_stop(w);
    if (!w->joined)
        pthread_join(w->thread, NULL);
    free_watch(w);
}

void km_volume_changed(const char *path)
{
    if (path == NULL)
        return;
    pthread_mutex_lock(&registry_lock);
    for (km_volume_watch *w = registry; w != NULL; w = w->next)
        for (size_t i = 0; i < w->n; i++)
            if (strcmp(w->paths[i], path) == 0)
                poke(w);
    pthread_mutex_unlock(&registry_lock);
}
