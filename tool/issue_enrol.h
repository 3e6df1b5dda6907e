/* kafka-mtls issue with a CA service (--enrol-url): the command as a
 * client of step-ca, holding no CA key. */
#ifndef KMTLS_ISSUE_ENROL_H
#define KMTLS_ISSUE_ENROL_H

#include <stddef.h>

#include "kmtls/issuer.h"

/* Options of the service (filled by cmd_issue.c's parser). */
typedef struct km_cli_enrol {
    const char *url, *root, *token_file, *not_after;
    long timeout_ms;
    double deadline_ms;            /* the run's bound (--wait from its start), km_now_ms() time */
    const char *deadline_by;       /* "--wait 30" */
} km_cli_enrol;

/* The certificate for rq's volume, alias, names, key type and store
 * password from the service (the volume lock held): as km_issue's result,
 * with note[n] saying which call and why. 1, or 0 with st. */
int km_cli_enrol_issue(const km_cli_enrol *e, const km_issue_request *rq, km_issue_result *res, char *note,
                       size_t n, km_status *st);

/* The service's options hold together (and --ca/--ca-key are not given
 * beside them): NULL, or what is wrong, for a usage error. */
const char *km_cli_enrol_usage(const km_cli_enrol *e, const km_issue_request *rq);

#endif
