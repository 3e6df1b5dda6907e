/*
 * The plugin's one exit handler (at_exit.h): threads of clients the
 * process never destroyed are halted before OpenSSL cleans up under them.
 */
#include <pthread.h>
#include <stdlib.h>
#include <openssl/crypto.h>

#include "at_exit.h"

static pthread_mutex_t hooks_mu = PTHREAD_MUTEX_INITIALIZER;
static km_exit_hook *hooks;
static pthread_once_t registered = PTHREAD_ONCE_INIT;

static void halt_all(void)
{
    struct timespec until;

    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += KM_AT_EXIT_SECONDS;
    pthread_mutex_lock(&hooks_mu);
    for (km_exit_hook *h = hooks; h; h = h->next)
        h->ask(h->opaque);
    for (km_exit_hook *h = hooks; h; h = h->next)
        h->join(h->opaque, &until);
    pthread_mutex_unlock(&hooks_mu);
}

static void register_handler(void)
{
    /* exit handlers run last registered first: OpenSSL's must come before
     * ours (it registers it when it initialises) */
    OPENSSL_init_crypto(0, NULL);
    atexit(halt_all);
}

void km_at_exit_add(km_exit_hook *h, km_ask_fn *ask, km_join_fn *join, void *opaque)
{
    pthread_once(&registered, register_handler);
    h->ask = ask;
    h->join = join;
    h->opaque = opaque;
    pthread_mutex_lock(&hooks_mu);
    h->next = hooks;
    hooks = h;
    pthread_mutex_unlock(&hooks_mu);
}

void km_at_exit_remove(km_exit_hook *h)
{
    pthread_mutex_lock(&hooks_mu);
    for (km_exit_hook **p = &hooks; *p; p = &(*p)->next)
        if (*p == h) {
            *p = h->next;
            break;
        }
    pthread_mutex_unlock(&hooks_mu);
}
