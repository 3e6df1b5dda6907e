#ifndef KMTLS_AT_EXIT_H
#define KMTLS_AT_EXIT_H
/*
 * A process may exit without destroying its client (kcat does when its
 * metadata request fails; an interpreter may never collect a producer).
 * OpenSSL's exit handler then frees the library contexts, random generators
 * and providers that the plugin's threads (renewer, volume watcher, live
 * transport) may be using at that moment. Every such thread is registered
 * here; one handler, registered after OpenSSL's and so run before it, halts
 * them all within KM_AT_EXIT_SECONDS together.
 */
#include <time.h>

#define KM_AT_EXIT_SECONDS 2

/* Stop the thread(s) behind opaque, joining them by `until` at the latest;
 * nothing of OpenSSL may be used by them once it returns. */
typedef void km_halt_fn(void *opaque, const struct timespec *until);

typedef struct km_exit_hook {
    struct km_exit_hook *next;
    km_halt_fn *halt;
    void *opaque;
} km_exit_hook;

/* Registers h (storage owned by the caller) until km_at_exit_remove. */
void km_at_exit_add(km_exit_hook *h, km_halt_fn *halt, void *opaque);
/* Unregisters h; waits while the exit handler is running it. */
void km_at_exit_remove(km_exit_hook *h);

#endif
