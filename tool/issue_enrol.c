/*
 * kafka-mtls issue --enrol-url URL --enrol-ca ROOT --token-file F: the
 * volume's certificate from the CA service (km_svc_issue), written as a
 * local CA's would be. The command replaces a certificate of another CA
 * (as it does with --ca), which needs the token.
 */
#include <stdio.h>

#include "issue_enrol.h"

const char *km_cli_enrol_usage(const km_cli_enrol *e, const km_issue_request *rq)
{
    if (e->url == NULL)
        return e->root != NULL || e->token_file != NULL || e->not_after != NULL || e->timeout_ms != 0
                   ? "--enrol-ca, --token-file, --not-after and --enrol-timeout-ms need --enrol-url"
                   : NULL;
    if (rq->ca_cert != NULL || rq->ca_key != NULL)
        return "--enrol-url and --ca/--ca-key are two issuers: give one";
    if (e->root == NULL)
        return "--enrol-url needs --enrol-ca (the service's root certificate)";
    if (rq->validity_days != 0)
        return "--days is a local CA's lifetime: ask the service with --not-after (24h, 90m)";
    return NULL;
}

int km_cli_enrol_issue(const km_cli_enrol *e, const km_issue_request *rq, km_issue_result *res, char *note,
                       size_t n, km_status *st)
{
    km_svc_request svc = { .libctx = rq->libctx, .volume = rq->volume, .alias = rq->alias, .url = e->url,
                           .root = e->root, .token_file = e->token_file, .subject = rq->subject,
                           .san = rq->san, .key_type = rq->key_type, .not_after = e->not_after,
                           .timeout_ms = e->timeout_ms, .deadline_ms = e->deadline_ms,
                           .deadline_by = e->deadline_by, .store_password = rq->store_password,
                           .take_over_other_ca = 1 };
    km_svc_result r;

    if (!km_svc_issue(&svc, &r, st))
        return 0;
    *res = r.issued;
    snprintf(note, n, "%s %s (%s; %.1f ms with the service)", r.call, e->url, r.note, r.service_ms);
    return 1;
}
