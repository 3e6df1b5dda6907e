/* Client creation and renewal with a CA service (mtls.enrol.url): the
 * plugin enrols through the issuer (km_svc_issue, kmtls/issuer.h) instead of
 * signing with a CA key, and holds no CA key at all. */
#ifndef KMTLS_ENROLLING_H
#define KMTLS_ENROLLING_H

#include <stddef.h>

#include "settings.h"

/* mtls.enrol.url is set. */
int km_enrols(const km_settings *s);

/* The mtls.enrol.* properties agree with each other and with the rest (a
 * root for the service, no CA key beside it, a timeout within
 * mtls.wait.ms, no local-CA lifetime). 1, or 0 with errstr naming the
 * properties. */
int km_enrol_config_ok(const km_settings *s, char *errstr, size_t n);

/* The bound on one exchange: mtls.enrol.timeout.ms, else mtls.wait.ms (its
 * default when that is 0, "do not wait"), at most what the service client
 * takes. */
long km_enrol_timeout_ms(const km_settings *s);

/*
 * With the volume lock held: a certificate from the service, written into
 * the volume (store_password: the one to write, or NULL as km_issue
 * takes it), every exchange ending by deadline_ms (km_now_ms() time;
 * deadline_by names the bound in messages). 1 with issued saying what was
 * done (for the log; "" if nothing), or 0 with errstr: the service's URL
 * and reason, nothing written.
 */
int km_enrol_locked(const km_settings *s, const char *store_password, double deadline_ms, const char *deadline_by,
                    char *issued, size_t issued_size, char *errstr, size_t n);

#endif
