/*
 * Volume pinning with retry: the volume directory is held open for one
 * read (so every file comes from one side of a swap), and a read during
 * which the volume's fingerprint changed is done again.
 */
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "assembly.h"
#include "kafka-mtls.h"
#include "kmtls/fingerprint.h"
#include "kmtls/safe_path.h"
#include "kmtls/trace.h"
#include "material.h"

/* A volume that keeps changing is read this often, then reported as read. */
#define MAX_ATTEMPTS 5

/* The directory this thread's last read held open. OSSL_STORE has no way
 * to hand it back with the objects, and a caller that reads one volume in
 * two opens (the plugin: identity, then trust) needs it to know both came
 * from the same directory: a fingerprint taken before and after cannot
 * tell, when a swapped-out directory is swapped back in between. */
static _Thread_local km_volume_id last_pinned;

void km_pinned_forget(void)
{
    memset(&last_pinned, 0, sizeof(last_pinned));
}

km_volume_id km_pinned_last(void)
{
    return last_pinned;
}

/*
 * A volume directory held open for one read, and reached through
 * /proc/self/fd/N: every file of the read then comes from that directory,
 * whatever is renamed or re-pointed meanwhile. Kubernetes' volumes are
 * links through ..data, so it is ..data's target that is held.
 */
typedef struct pinned_volume {
    int fd;
    char path[64];
    km_uri uri;
    km_request rq;
} pinned_volume;

/* The request, redirected to a pinned copy of its volume, opened under the
 * symlink and owner rule (kmtls/safe_path.h); rq itself when the URI names
 * a file or nothing yet (discovery says what it is) or /proc is not there
 * (the fingerprint check in km_material_load still notices a swap). NULL
 * with st set when the rule refuses the volume. */
static const km_request *pin(const km_request *rq, pinned_volume *p, km_status *st)
{
    km_status refused = { 0 };
    struct stat sb;
    int fd, data;

    p->fd = -1;
    km_pinned_forget();
    if (stat(rq->uri->path, &sb) != 0 || !S_ISDIR(sb.st_mode))
        return rq;
    if ((fd = km_safe_dir_open(rq->uri->path, "volume", 0, &refused)) < 0) {
        /* gone or changed meanwhile (a swap): discovery says what is there */
        if (refused.reason != KAFKA_MTLS_R_INSECURE)
            return rq;
        km_status_take(st, &refused, 0);
        return NULL;
    }
    if (!km_safe_link_at(fd, "..data", "..data in the volume", st)) {
        close(fd);
        return NULL;
    }
    if ((data = openat(fd, "..data", O_RDONLY | O_DIRECTORY | O_CLOEXEC)) >= 0) {
        close(fd);
        fd = data;
    }
    snprintf(p->path, sizeof(p->path), "/proc/self/fd/%d", fd);
    if (stat(p->path, &sb) != 0 || !S_ISDIR(sb.st_mode)) {
        close(fd);
        return rq;
    }
    p->fd = fd;
    if (fstat(fd, &sb) == 0) {
        last_pinned.dev = (unsigned long long)sb.st_dev;
        last_pinned.ino = (unsigned long long)sb.st_ino;
    }
    p->uri = *rq->uri;
    p->uri.path = p->path;
    p->uri.name = strrchr(rq->uri->path, '/') + 1;
    p->rq = *rq;
    p->rq.uri = &p->uri;
    p->rq.pinned_fd = &p->fd;
    km_trace("%s: held open for this read as %s", rq->uri->path, p->path);
    return &p->rq;
}

/* Closes the pin; messages name the volume as the user did, not /proc. */
static void unpin(pinned_volume *p, const char *shown, km_status *st)
{
    char msg[sizeof(st->msg)];
    const char *from = st->msg, *at;
    size_t len = 0, n;

    if (p->fd < 0)
        return;
    close(p->fd);
    n = strlen(p->path);
    msg[0] = '\0';
    while ((at = strstr(from, p->path)) != NULL && len < sizeof(msg)) {
        len += (size_t)snprintf(msg + len, sizeof(msg) - len, "%.*s%s", (int)(at - from), from, shown);
        from = at + n;
    }
    if (len < sizeof(msg))
        snprintf(msg + len, sizeof(msg) - len, "%s", from);
    memcpy(st->msg, msg, sizeof(msg));
}

/*
 * Certificate services replace a volume while clients start (a directory
 * swapped by rename, Kubernetes re-pointing ..data). A directory is read
 * through a pin, so one read sees one volume; should the volume still
 * change during the read (a non-atomic swap), it is read again.
 */
int km_material_load(const km_request *rq, km_material *out, km_status *st)
{
    for (int attempt = 1;; attempt++) {
        unsigned long long before = km_fingerprint(rq->uri->path);
        km_status local = { 0 };
        pinned_volume p;
        const km_request *pinned = pin(rq, &p, &local);
        int ok = pinned != NULL && km_assemble(pinned, out, &local);

        unpin(&p, rq->uri->path, &local);
        if (km_fingerprint(rq->uri->path) == before || attempt == MAX_ATTEMPTS) {
            if (!ok)
                km_status_take(st, &local, 0);
            return ok;
        }
        km_trace("%s changed during read %d: reading it again", rq->uri->path, attempt);
        km_material_clear(out);
    }
}

