/*
 * The issuer's other source of certificates: a CA service (smallstep
 * step-ca) that signs a CSR, so that no client holds the CA's key. The
 * volume is written exactly as km_issue writes it (kmtls/issuer.h: the
 * seed's layout, ALIAS_creds last, under the volume lock the caller holds);
 * the key is made here and never leaves the process.
 *
 * Which call (enrol/README.md has the service's side):
 *   no readable certificate, or an expired one   sign: CSR + the one-time
 *                                                token of token_file
 *   a valid one chaining to root                 rekey: a new key, mutual
 *                                                TLS with the current one
 *   ... whose key type, lifetime or identity     sign (rekey keeps all
 *       the request changes                      three)
 *   rekey refused (client certificate, 401)      sign, when a token file
 *                                                is configured
 * Everything else fails with the service's reason and writes nothing:
 * the caller keeps using a still-valid certificate.
 *
 * "Our CA" is root: a volume whose certificate does not chain to it is
 * another CA's (left alone unless take_over_other_ca), and root, never
 * anything from the service's answer, is what the truststore holds.
 */
#ifndef KMTLS_ISSUER_ENROL_H
#define KMTLS_ISSUER_ENROL_H

#include "kmtls/issuer.h"

typedef struct km_svc_request {
    OSSL_LIB_CTX *libctx;          /* with the kafka-mtls provider and "default" (the volume is
                                    * read through it) */
    const char *volume;            /* absolute dir, as for km_issue */
    const char *alias;             /* NULL = basename of volume */
    const char *url;               /* https://host:port[/prefix] (mtls.enrol.url) */
    const char *root;              /* PEM: the service's root(s) (mtls.enrol.ca.location) */
    const char *token_file;        /* the one-time token, one line; NULL: renewals only */
    const char *subject;           /* NULL: the token's subject (the service adds O, C); else the
                                    * identity asked for: its CN goes into the CSR, and the issued
                                    * subject must be it exactly (template as km_issue's) */
    const char *san;               /* NULL: the token's; else the issued SANs must be these */
    const char *key_type;          /* NULL = "rsa:2048", as for km_issue */
    const char *not_after;         /* the lifetime asked for, a Go duration ("24h"); NULL: the
                                    * service's default */
    long timeout_ms;               /* one exchange at most; 0: 10 s */
    double deadline_ms;            /* > 0: the km_now_ms() time by which the whole call ends (the
                                    * caller's bound, its lock wait included): each exchange gets
                                    * what is left, at most timeout_ms, and none starts without
                                    * time left. 0: timeout_ms per exchange only */
    const char *deadline_by;       /* what set the deadline, for messages ("mtls.wait.ms=1500") */
    const char *store_password;    /* as for km_issue */
    int take_over_other_ca;        /* replace a certificate that does not chain to root (the
                                    * command); 0: leave it (the plugin) */
    const km_renew_before *rb;     /* the caller's renew window, or NULL: only to say whether the
                                    * certificate the service chose the lifetime of is inside it
                                    * at once (res->in_window) */
} km_svc_request;

typedef struct km_svc_result {
    km_issue_result issued;        /* what was written (warning: e.g. a readable token file) */
    const char *call;              /* "sign" or "rekey": what produced the certificate */
    char note[600];                /* "" or what came first (a rekey the service refused) */
    int left_alone;                /* nothing written: the volume's certificate is another CA's */
    double service_ms;             /* of the exchange(s) with the service */
    int in_window;                 /* the new certificate is inside rq->rb's window already: every
                                    * start (and the renewer) will renew it again */
} km_svc_result;

/* 1 when this build can enrol (libcurl and json-c were found). */
int km_svc_available(void);

/* A lifetime for the service: a Go duration of at most 32 characters,
 * positive, at most KM_MAX_VALIDITY_DAYS. 1, or 0 with st set
 * (KAFKA_MTLS_R_BAD_REQUEST). */
int km_svc_not_after_check(const char *value, km_status *st);

/* The service's URL as far as it can be judged here: https://, a host
 * (libcurl judges the rest before anything is sent). 1, or 0 with st. */
int km_svc_url_check(const char *url, km_status *st);

/* A token file: an absolute path; if it exists (an orchestrator may write
 * it later: only a first enrolment needs it), a regular file. */
int km_svc_token_file_check(const char *path, km_status *st);

/* What can be checked without the network or the volume: url, root,
 * token_file (readable when given), key type, subject, SAN, lifetime,
 * timeout. 1, or 0 with st set. */
int km_svc_request_check(const km_svc_request *rq, km_status *st);

/*
 * Gets a certificate for the volume from the service and writes it (the
 * caller holds the volume lock). 1 on success (res says what was done, or
 * res->left_alone), 0 with st set: the message names the service's URL and
 * its reason (step-ca's own message for a refusal), and nothing was
 * written.
 */
int km_svc_issue(const km_svc_request *rq, km_svc_result *res, km_status *st);

#endif
