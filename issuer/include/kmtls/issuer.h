/*
 * The issuer's public interface: a CA-signed client (or broker)
 * certificate written into a volume in the seed's layout, the checks of
 * what may be asked for, and the renewal decision. Used by the `kafka-mtls`
 * command and the librdkafka plugin (static library issuer_core); the
 * volume is read back through the provider (kmtls/provider.h). The one
 * public header of issuer/: issuance from a CA service is at its end.
 *
 * Layout written in VOLUME (each file 0600, temp file + fsync + rename,
 * then an fsync of the directory; the directory is 0700):
 *   ALIAS.keystore.jks     PKCS#12 as keytool 17 writes it: the key entry ALIAS
 *                          (leaf + CA) and the trusted entry "CARoot"
 *   ALIAS.truststore.jks   PKCS#12: the CA as a trustedCertEntry ("CARoot")
 *   ALIAS-ca-signed.crt    the leaf certificate, PEM
 *   ALIAS_creds            the store password + "\n", written LAST: a volume
 *                          without it is "not ready"
 *   .kafka-mtls.lock       flock(2) lock serialising issuers across processes
 */
#ifndef KMTLS_ISSUER_H
#define KMTLS_ISSUER_H

#include <stddef.h>
#include <time.h>
#include <openssl/types.h>

#include "kafka-mtls.h"   /* properties, reasons (KAFKA_MTLS_R_BAD_REQUEST ...) */
#include "kmtls/secret.h" /* km_secret */
#include "kmtls/status.h" /* km_status */
#include "kmtls/clock.h"  /* km_now_ms: the clock of km_lock_wait.until, km_svc_request.deadline_ms */

#define KAFKA_MTLS_KEY_TYPE_DEFAULT "rsa:2048"
#define KAFKA_MTLS_VALIDITY_DEFAULT 90
/* The longest lifetime (and renew window) in days anyone may ask for. */
#define KM_MAX_VALIDITY_DAYS 36500
/* The shortest lifetime: a minute (SPIFFE-style short-lived certificates). */
#define KM_MIN_VALIDITY_SECONDS 60
#define KAFKA_MTLS_TRUSTED_ALIAS    "CARoot" /* as the seed names it; keytool lists "caroot" */
/* notBefore is set this far in the past, so that peers whose clocks run a
 * little behind ours accept a certificate issued a moment ago - or a twelfth
 * of the validity when that is shorter (5 s for a 1-minute certificate),
 * so that a short lifetime is not mostly spent before it was issued. */
#define KAFKA_MTLS_BACKDATE_SECONDS 300

typedef struct km_issue_request {
    OSSL_LIB_CTX *libctx;          /* NULL = default; must offer the "default" provider's algorithms */
    const char *volume;            /* absolute dir; created 0700 if missing; refused if group/other-writable */
    const char *alias;             /* seed ALIAS (NULL = basename of volume) */
    const char *ca_cert;           /* CA certificate PEM path: the issuing CA, then its chain up to
                                    * the root (the root is the truststore's anchor) */
    const char *ca_key;            /* CA private key PEM path (may be encrypted) */
    const char *ca_key_password;   /* NULL if not encrypted (its file: km_ca_password_read) */
    int ca_key_insecure_ok;        /* allow a CA key readable by group or others (issuance
                                    * then warns); see km_ca_file_check */
    const char *ca_key_insecure_option; /* what allows it, for messages ("--allow-insecure-ca-key") */
    const char *subject;           /* NULL = kept from renewing, else "CN=${alias}"; ${alias} and
                                    * ${hostname} expand inside values; "CN=a,O=b" (RFC 4514
                                    * order) or "/CN=a/O=b" (DER order) */
    const char *san;               /* NULL = kept from renewing, else none; or "DNS:x,URI:y,IP:1.2.3.4"
                                    * (${alias}, ${hostname} expand inside values) */
    const X509 *renewing;          /* the certificate being replaced, or NULL */
    const char *key_type;          /* NULL = "rsa:2048"; rsa:3072, rsa:4096, ec:P-256, ec:P-384, ed25519 */
    const char *extended_key_usage;/* NULL = "clientAuth"; "serverAuth,clientAuth" for a broker */
    int validity_days;             /* 0 = 90 */
    long validity_seconds;         /* 0 = validity_days; else the lifetime in seconds, from
                                    * KM_MIN_VALIDITY_SECONDS (km_validity_parse) */
    const char *store_password;    /* NULL: keep the existing ALIAS_creds password, else a fresh
                                    * random one; non-NULL: this password */
} km_issue_request;

typedef struct km_issue_result {
    char alias[256];
    char subject[512];             /* RFC 2253 */
    char serial[64];               /* hex, as openssl prints it */
    time_t not_before, not_after;
    int not_after_clamped;         /* the CA expires first: notAfter = the CA's notAfter */
    int password_kept;             /* the existing ALIAS_creds password was reused */
    char warning[512];             /* "" or something the user should fix (e.g. a CA key
                                    * readable by others, allowed); issuance went ahead */
    double keygen_ms;              /* of the issuance, the time spent generating the key */
} km_issue_result;

/*
 * Checks what can be checked without touching files (alias, key type, days,
 * subject, SAN, extended key usage), e.g. when a property is set. 1, or 0
 * with st set (KAFKA_MTLS_R_BAD_REQUEST).
 */
int km_issue_request_check(const km_issue_request *rq, km_status *st);

/* Single fields of a request, as km_issue_request_check judges them (in a
 * template ${alias} stands for a plain name). 1, or 0 with st set. */
int km_subject_check(const char *tmpl, km_status *st);
int km_san_check(const char *tmpl, km_status *st);
int km_key_type_check(const char *spec, km_status *st);      /* "rsa:2048", ... */
int km_renew_before_check(const char *spec, km_status *st);  /* see km_renew_before_parse */
int km_validity_check(const char *spec, km_status *st);      /* see km_validity_parse */

/* A lifetime: "N" followed by d (days), h (hours), m (minutes) or s
 * (seconds), from KM_MIN_VALIDITY_SECONDS to KM_MAX_VALIDITY_DAYS days
 * ("90d", "12h", "30m"). 1 with *seconds, or 0 with err naming spec. */
int km_validity_parse(const char *spec, long *seconds, char *err, size_t n);

/* The volume's ALIAS: alias if given, else the directory's name. 1, or 0
 * with st set (an alias that breaks the alias rule, kmtls/seed.h). */
int km_alias_resolve(const char *volume, const char *alias, char *out, size_t n, km_status *st);

/*
 * Issues a certificate for rq and writes the volume. The caller holds the
 * volume lock (km_volume_lock). 1 on success, 0 with st set (the message names
 * the file and the cause). Refuses a CA certificate that is not a CA, is
 * expired or not yet valid, and a CA key that does not match it.
 */
int km_issue(const km_issue_request *rq, km_issue_result *res, km_status *st);

/*
 * The CA key (what: "CA key") or its password file ("CA key password
 * file") as issuance judges it, whenever an issuer is configured (not only
 * when it issues): read through one descriptor and judged by that
 * descriptor's fstat. It must be a regular file owned by the effective user
 * or root (whoever owns it can read it), with no access for group or others
 * unless insecure_ok (option names what allowed it, for messages; warning,
 * of n bytes, then says so if it is still "", and stays "" otherwise). 1, or
 * 0 with st set (INSECURE: the owner, or the mode and option; NOT_FOUND,
 * READ_FAILED).
 */
int km_ca_file_check(const char *path, const char *what, int insecure_ok, const char *option, char *warning,
                     size_t n, km_status *st);

/* The CA key password file's one line into out (see km_read_password_at),
 * the file judged as km_ca_file_check judges it. 1, or 0 with st set. */
int km_ca_password_read(const char *path, int insecure_ok, const char *option, km_secret *out, char *warning,
                        size_t n, km_status *st);

/* How long a wait for the volume lock may take, and what set that bound,
 * for the message when it runs out ("mtls.wait.ms=1000", "--wait 30"). */
typedef struct km_lock_wait {
    long ms;
    const char *by;
    /* > 0: the wait ends at this km_now_ms() time instead of ms from now
     * (a caller bounding a whole operation, the lock wait included) */
    double until;
} km_lock_wait;

/* Creates VOLUME (0700) if missing, checks it (kmtls/safe_path.h) and takes
 * flock(LOCK_EX) on VOLUME/.kafka-mtls.lock (O_NOFOLLOW, 0600), waiting at
 * most w->ms for another holder (WRITE_FAILED naming w->by after that). */
int km_volume_lock(const char *volume, const km_lock_wait *w, int *fd, km_status *st);
void km_volume_unlock(int fd);
/* 1 if the rule the writer follows (kmtls/safe_path.h: owners, symlinks,
 * a directory writable by group or others) lets VOLUME be written, 0 with
 * st naming why not. Nothing is created, locked or written. */
int km_volume_writable(const char *volume, km_status *st);

typedef enum km_renew_kind {
    KM_RENEW_FRACTION = 0,         /* the last third of the lifetime (default) */
    KM_RENEW_DAYS,                 /* the last value days */
    KM_RENEW_PERCENT,              /* the last value % of the lifetime */
    KM_RENEW_SECONDS               /* the last value seconds ("12h", "20m", "30s") */
} km_renew_kind;

typedef struct km_renew_before {
    km_renew_kind kind;
    long value;
} km_renew_before;

/* NULL or "" = one third of the lifetime; "N" or "Nd" = N days (up to
 * KM_MAX_VALIDITY_DAYS); "Nh", "Nm", "Ns" = hours, minutes, seconds (as
 * long); "N%" (1-99) = N percent of the lifetime. 1, or 0 with err. */
int km_renew_before_parse(const char *spec, km_renew_before *out, char *err, size_t n);

/* A renew window that would start before a certificate of lifetime_seconds
 * is issued (the window as long as the lifetime or longer) renews it
 * forever: 1 if rb leaves some of the lifetime outside the window, else 0
 * with st (BAD_REQUEST) naming both. */
int km_renew_window_check(long lifetime_seconds, const km_renew_before *rb, km_status *st);

enum { KM_CERT_FRESH = 0, KM_CERT_RENEW = 1, KM_CERT_EXPIRED = 2 };
/* Given the leaf: KM_CERT_FRESH, KM_CERT_RENEW (inside the renew window) or
 * KM_CERT_EXPIRED (also: not yet valid); *window_start = the window's start.
 * -1 if the certificate's dates cannot be read. */
int km_renewal_state(const X509 *leaf, const km_renew_before *rb, time_t now, time_t *window_start);

/* What an issuer finds in a volume, read through the provider. */
typedef enum km_vol_state {
    KM_VOL_FRESH = 0,              /* ready, key matches, issued by the CA, before the window */
    KM_VOL_RENEW,                  /* inside the renew window */
    KM_VOL_EXPIRED,                /* expired or not yet valid */
    KM_VOL_MISSING,                /* nothing there yet: no directory, or no store in it */
    KM_VOL_OTHER_CA,               /* not issued by the configured CA, or its truststore lacks it */
    KM_VOL_WRITING,                /* stores there but ALIAS_creds missing or empty: another
                                    * writer is still writing it (wait for it, never issue) */
    KM_VOL_UNREADABLE              /* any other failure to read it (wrong password, corrupt,
                                    * integrity, refused owner...): never issued over, unless
                                    * a person says so (kafka-mtls issue --force) */
} km_vol_state;

typedef struct km_vol_check {
    km_vol_state state;
    char why[640];                 /* one line for the user (never a secret) */
    char serial[64];               /* hex; "" if no certificate was read */
    time_t not_after, window_start;
    X509 *leaf;                    /* the certificate read, or NULL: km_vol_check_clear frees it */
} km_vol_check;

void km_vol_check_clear(km_vol_check *c);

/* Whether leaf was issued by the CA of ca_cert (its first certificate): 1
 * yes; 0 no, with why naming the leaf's issuer and the CA's subject
 * ("issued by CN=B, not by the configured CA CN=A"); -1 with why when the
 * CA file cannot be read. */
int km_leaf_from_ca(OSSL_LIB_CTX *libctx, const X509 *leaf, const char *ca_cert, char *why, size_t n);

/* The seed layout's PEM copy of the leaf, ALIAS-ca-signed.crt, must be
 * the keystore's certificate: 1 if it is (or there is none), 0 if it
 * differs (a renewal interrupted between its renames) or cannot be read. */
int km_volume_crt_matches(OSSL_LIB_CTX *libctx, const char *volume, const char *alias, const X509 *leaf);

/*
 * Reads keystore:VOLUME?alias=ALIAS through OSSL_STORE in libctx (which
 * must have the kafka-mtls provider and "default" loaded) and decides.
 * ca_cert (PEM path, or NULL) is the CA the certificate must be issued by.
 * Returns out->state; a failed read is KM_VOL_MISSING only when nothing of
 * a store is there, KM_VOL_WRITING when the stores are there without their
 * ALIAS_creds, else KM_VOL_UNREADABLE, with the provider's message in
 * out->why. out->leaf is set whenever a
 * certificate was read: release it with km_vol_check_clear.
 */
km_vol_state km_volume_check(OSSL_LIB_CTX *libctx, const char *volume, const char *alias,
                             const char *ca_cert, const km_renew_before *rb, time_t now,
                             km_vol_check *out);

/*
 * Decides whether this process issues, so that many processes starting at
 * once on one volume check it in parallel and only one writes. Returns 1
 * with *fd == -1 when there is nothing to do (out->state KM_VOL_FRESH, or
 * KM_VOL_OTHER_CA unless take_over_other_ca) or nothing may be done
 * (KM_VOL_WRITING, KM_VOL_UNREADABLE), 1 with *fd >= 0 when the
 * caller must issue (the exclusive volume lock is held: release it with
 * km_volume_unlock; out says why), or 0 with st set when the volume cannot
 * be locked within w (every lock wait of the claim shares one deadline; a
 * shared lock not had by then is read without). In every case out is to be
 * released with km_vol_check_clear.
 */
int km_volume_claim(OSSL_LIB_CTX *libctx, const char *volume, const char *alias, const char *ca_cert,
                    const km_renew_before *rb, int take_over_other_ca, const km_lock_wait *w,
                    km_vol_check *out, int *fd, km_status *st);

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
