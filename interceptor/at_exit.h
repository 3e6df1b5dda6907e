#ifndef KMTLS_AT_EXIT_H
#define KMTLS_AT_EXIT_H
/*
 * A process may exit without destroying its client (kcat does when its
 * metadata request fails; an interpreter may never collect a producer).
 * OpenSSL's exit handler then frees the library contexts, random generators
 * and providers that the plugin's threads (renewer, volume watcher, live
 * transport) may be using at that moment. Every such thread is registered
 * here; one handler, registered after OpenSSL's and so run before it, asks
 * them all to stop, then joins them, within KM_AT_EXIT_SECONDS together (one
 * slow to end does not keep the others running).
 */
#include <time.h>

#define KM_AT_EXIT_SECONDS 2

/* ask: tell the thread(s) behind opaque to stop, without waiting. join:
 * wait for them until `until` at the latest; once they are joined, nothing
 * of OpenSSL is used by them. */
typedef void km_ask_fn(void *opaque);
typedef void km_join_fn(void *opaque, const struct timespec *until);

typedef struct km_exit_hook {
    struct km_exit_hook *next;
    km_ask_fn *ask;
    km_join_fn *join;
    void *opaque;
} km_exit_hook;

/* Registers h (storage owned by the caller) until km_at_exit_remove. */
void km_at_exit_add(km_exit_hook *h, km_ask_fn *ask, km_join_fn *join, void *opaque);
/* Unregisters h; waits while the exit handler is running it. */
void km_at_exit_remove(km_exit_hook *h);

#endif
