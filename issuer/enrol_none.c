/*
 * The CA-service exchange in a build without libcurl or json-c (meson:
 * enrol_found false): every enrolment fails, saying what the build lacks,
 * so a configuration that asks for a CA service never falls back to
 * anything.
 */
#include "enrol_internal.h"
#include "kafka-mtls.h"

int km_svc_built(void)
{
    return 0;
}

int km_svc_duration(const char *s, double *seconds)
{
    (void)s;
    (void)seconds;
    return 0;
}

int km_svc_obtain(const km_svc_request *rq, const km_svc_exchange *ex, STACK_OF(X509) **chain,
                  km_svc_result *res, km_status *st)
{
    (void)rq;
    (void)ex;
    (void)res;
    *chain = NULL;
    return km_fail(st, KAFKA_MTLS_R_BAD_REQUEST,
                   "this kafka-mtls was built without enrolment (libcurl and json-c were not found: "
                   "apt-get install libcurl4-openssl-dev libjson-c-dev, and build again)");
}
