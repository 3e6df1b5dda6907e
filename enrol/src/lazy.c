/*
 * kmtls/enrol.h for the plugin, on kafka-mtls-enrol.so loaded the first
 * time a call needs it (kmtls/enrol_module.h says why). The module is
 * looked for beside the object this code is linked into (the plugin), by
 * absolute path, never through the library search path; it is loaded once
 * and never unloaded. km_enrol_duration and km_enrol_reason_name are pure
 * and linked in directly (src/duration.c, src/fail.c), so checking a
 * configuration loads nothing.
 */
#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "fail.h"
#include "kmtls/enrol_module.h"

static pthread_once_t once = PTHREAD_ONCE_INIT;
static const km_enrol_module *module;
static char why[1200];            /* why it is not there: set once, under once */

static void load(void)
{
    Dl_info self;
    char path[1024];
    const char *slash;
    void *h;
    const km_enrol_module *m;

    if (dladdr((void *)load, &self) == 0 || self.dli_fname == NULL ||
        (slash = strrchr(self.dli_fname, '/')) == NULL) {
        snprintf(why, sizeof(why), "cannot tell where the plugin is, to find %s beside it", KM_ENROL_MODULE_FILE);
        return;
    }
    if (snprintf(path, sizeof(path), "%.*s/%s", (int)(slash - self.dli_fname), self.dli_fname,
                 KM_ENROL_MODULE_FILE) >= (int)sizeof(path)) {
        snprintf(why, sizeof(why), "the path of %s is too long", KM_ENROL_MODULE_FILE);
        return;
    }
    if ((h = dlopen(path, RTLD_NOW | RTLD_LOCAL | RTLD_NODELETE)) == NULL) {
        snprintf(why, sizeof(why), "cannot load the enrolment module: %s", dlerror());
        return;
    }
    m = dlsym(h, KM_ENROL_MODULE_SYMBOL);
    if (m == NULL || m->version != KM_ENROL_MODULE_VERSION || m->size != sizeof(*m)) {
        snprintf(why, sizeof(why), "%s is not the enrolment module of this build (%s)", path,
                 m == NULL ? "no " KM_ENROL_MODULE_SYMBOL : "another version");
        return;
    }
    module = m;
}

static const km_enrol_module *get(char *err, size_t n)
{
    pthread_once(&once, load);
    if (module == NULL)
        kme_fail(err, n, KM_ENROL_INTERNAL, "%s", why);
    return module;
}

km_enrol_reason km_enrol_csr_new(EVP_PKEY *key, const char *common_name, X509_REQ **csr, char *err, size_t n)
{
    const km_enrol_module *m = get(err, n);

    if (csr != NULL)
        *csr = NULL;
    return m ? m->csr_new(key, common_name, csr, err, n) : KM_ENROL_INTERNAL;
}

km_enrol_reason km_enrol_sign(const km_enrol_service *svc, X509_REQ *csr, const char *token, const char *not_after,
                              STACK_OF(X509) **chain, char *err, size_t n)
{
    const km_enrol_module *m = get(err, n);

    if (chain != NULL)
        *chain = NULL;
    return m ? m->sign(svc, csr, token, not_after, chain, err, n) : KM_ENROL_INTERNAL;
}

km_enrol_reason km_enrol_rekey(const km_enrol_service *svc, X509_REQ *csr, X509 *current, EVP_PKEY *current_key,
                               STACK_OF(X509) *current_chain, STACK_OF(X509) **chain, char *err, size_t n)
{
    const km_enrol_module *m = get(err, n);

    if (chain != NULL)
        *chain = NULL;
    return m ? m->rekey(svc, csr, current, current_key, current_chain, chain, err, n) : KM_ENROL_INTERNAL;
}

km_enrol_reason km_enrol_renew(const km_enrol_service *svc, X509 *current, EVP_PKEY *current_key,
                               STACK_OF(X509) *current_chain, STACK_OF(X509) **chain, char *err, size_t n)
{
    const km_enrol_module *m = get(err, n);

    if (chain != NULL)
        *chain = NULL;
    return m ? m->renew(svc, current, current_key, current_chain, chain, err, n) : KM_ENROL_INTERNAL;
}

km_enrol_reason km_enrol_token_subject(const char *token, char *sub, size_t sub_n, char *err, size_t n)
{
    const km_enrol_module *m = get(err, n);

    return m ? m->token_subject(token, sub, sub_n, err, n) : KM_ENROL_INTERNAL;
}
