/*
 * Binding to the librdkafka that called conf_init. librdkafka loads a
 * plugin with dlopen(RTLD_LOCAL) and calls its conf_init directly, so
 * conf_init's return address lies inside the calling copy; dladdr1 names
 * the object, and each function is looked up there and checked to come
 * from that object (dlsym on a handle also searches its dependencies, and
 * on the main program the whole global scope).
 */
#include <dlfcn.h>
#include <link.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "rdkafka_host.h"

#define MAX_COPIES 8 /* distinct librdkafka copies in one process */

static struct {
    const void *base;
    km_rdkafka api;
    char path[512];
} hosts[MAX_COPIES];
static int nhosts;
static pthread_mutex_t hosts_lock = PTHREAD_MUTEX_INITIALIZER;

/* The object's own definition of name, or NULL. */
static void *own_symbol(void *handle, const void *base, const char *name)
{
    void *sym = dlsym(handle, name);
    Dl_info info;

    if (sym == NULL || dladdr(sym, &info) == 0 || info.dli_fbase != base)
        return NULL;
    return sym;
}

static int resolve(km_rdkafka *api, void *handle, const void *base, const char *path, char *errstr,
                   size_t n)
{
    static const struct {
        const char *name;
        size_t offset;
    } fns[] = {
#define FN(field, symbol) { #symbol, offsetof(km_rdkafka, field) }
        FN(version_fn, rd_kafka_version),
        FN(version_str, rd_kafka_version_str),
        FN(err2str, rd_kafka_err2str),
        FN(conf_set, rd_kafka_conf_set),
        FN(conf_get, rd_kafka_conf_get),
        FN(add_on_conf_set, rd_kafka_conf_interceptor_add_on_conf_set),
        FN(add_on_conf_dup, rd_kafka_conf_interceptor_add_on_conf_dup),
        FN(add_on_conf_destroy, rd_kafka_conf_interceptor_add_on_conf_destroy),
        FN(add_on_new, rd_kafka_conf_interceptor_add_on_new),
        FN(add_on_destroy, rd_kafka_interceptor_add_on_destroy),
        FN(add_on_thread_start, rd_kafka_interceptor_add_on_thread_start),
        FN(add_on_request_sent, rd_kafka_interceptor_add_on_request_sent),
        FN(add_on_send, rd_kafka_interceptor_add_on_send),
        FN(log_print, rd_kafka_log_print),
        FN(conf_new, rd_kafka_conf_new),
        FN(conf_destroy, rd_kafka_conf_destroy),
        FN(conf_set_connect_cb, rd_kafka_conf_set_connect_cb),
        FN(opaque, rd_kafka_opaque),
#undef FN
    };

    for (size_t i = 0; i < sizeof(fns) / sizeof(fns[0]); i++) {
        void *sym = own_symbol(handle, base, fns[i].name);

        if (sym == NULL) {
            /* the reason first: some bindings give conf_set a 128-byte errstr */
            snprintf(errstr, n,
                     "kafka-mtls: this program's librdkafka does not export %s (link it with "
                     "-Wl,--export-dynamic-symbol=rd_kafka_* or dynamically): %s", fns[i].name, path);
            return 0;
        }
        /* object and function pointers have one representation on the
         * platforms dlsym serves (POSIX requires it) */
        memcpy((char *)api + fns[i].offset, &sym, sizeof(sym));
    }
    api->version = api->version_fn();
    return 1;
}

const km_rdkafka *km_rdkafka_bind(const void *caller, char *errstr, size_t n)
{
    struct link_map *lm = NULL;
    const km_rdkafka *found = NULL;
    Dl_info info;
    void *handle;

    if (dladdr1(caller, &info, (void **)&lm, RTLD_DL_LINKMAP) == 0 || lm == NULL) {
        snprintf(errstr, n, "kafka-mtls: cannot tell which librdkafka loaded the plugin (dladdr failed)");
        return NULL;
    }
    pthread_mutex_lock(&hosts_lock);
    for (int i = 0; i < nhosts && found == NULL; i++)
        if (hosts[i].base == info.dli_fbase)
            found = &hosts[i].api;
    if (found != NULL || nhosts == MAX_COPIES)
        goto done;
    /* an empty name is the main program (librdkafka linked into it) */
    handle = lm->l_name[0] != '\0' ? dlopen(lm->l_name, RTLD_NOW | RTLD_NOLOAD) : dlopen(NULL, RTLD_NOW);
    snprintf(hosts[nhosts].path, sizeof(hosts[nhosts].path), "%s",
             lm->l_name[0] != '\0' ? lm->l_name : (info.dli_fname ? info.dli_fname : "the program"));
    hosts[nhosts].api.path = hosts[nhosts].path;
    if (handle == NULL) {
        snprintf(errstr, n, "kafka-mtls: cannot open the librdkafka that loaded the plugin (%s): %s",
                 hosts[nhosts].path, dlerror());
    } else if (resolve(&hosts[nhosts].api, handle, info.dli_fbase, hosts[nhosts].path, errstr, n)) {
        /* the handle is kept: the copy outlives every configuration it owns */
        hosts[nhosts].base = info.dli_fbase;
        found = &hosts[nhosts++].api;
    } else {
        dlclose(handle);
    }
done:
    if (found == NULL && nhosts == MAX_COPIES)
        snprintf(errstr, n, "kafka-mtls: more than %d librdkafka copies in one process", MAX_COPIES);
    pthread_mutex_unlock(&hosts_lock);
    return found;
}
