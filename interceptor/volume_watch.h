/*
 * Noticing that a volume's material may have changed, for a running client
 * (mtls.rotation=live): whoever rewrites it (a sidecar, kubelet swapping
 * ..data, cert-manager, the plugin's own renewer) is seen through inotify,
 * with a poll as the safety net for filesystems that send no events.
 *
 * This is the meeting point for everything in the process that learns of a
 * change: km_volume_changed(path) wakes every watcher of that volume at
 * once (the renewer calls it after it renewed one).
 */
#ifndef KMTLS_VOLUME_WATCH_H
#define KMTLS_VOLUME_WATCH_H

#include <stddef.h>
#include <time.h>

/* The volume's material may have changed (or poll_ms passed): look again.
 * Called on the watcher's own thread, never two at once for one watcher. */
typedef void km_volume_changed_fn(void *opaque);

typedef struct km_volume_watch km_volume_watch;

/*
 * Starts a thread that calls changed(opaque) once events on paths[0..n)
 * (directories or files: a volume, a store file, a truststore) have been
 * quiet for a moment (a writer's burst is one change), when
 * km_volume_changed names one of them, and every poll_ms. A directory that
 * is removed and made again (the seed's sidecar) is watched again. NULL if
 * the thread cannot start.
 */
km_volume_watch *km_volume_watch_start(const char *const *paths, size_t n, long poll_ms,
                                       km_volume_changed_fn *changed, void *opaque);

/* Stops and joins the thread (no callback runs after it returns). */
void km_volume_watch_stop(km_volume_watch *w);
/* At exit (at_exit.h): tells the thread to stop (no callback starts after
 * it), then joins it by until at the latest; km_volume_watch_stop still
 * frees w afterwards. */
void km_volume_watch_ask_stop(km_volume_watch *w);
void km_volume_watch_join_until(km_volume_watch *w, const struct timespec *until);

/* Someone in this process changed the volume (or the store file) at path:
 * every watcher of it looks again now. Thread-safe; any thread. */
void km_volume_changed(const char *path);

#endif
