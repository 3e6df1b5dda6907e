/*
 * Issuance and renewal at client creation. The common case costs one read
 * of the volume: only a volume that needs a certificate takes the lock,
 * looks again (another process may have issued meanwhile) and issues.
 */
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <openssl/crypto.h>

#include "enrolling.h"
#include "issuing.h"
#include "kafka-mtls.h"
#include "keysource.h"
#include "kmtls/files.h"
#include "kmtls/issuer.h"

int km_is_issuer(const km_settings *s)
{
    return (s->ca_cert != NULL && s->ca_key != NULL) || km_enrols(s);
}

/* Reads an optional password file into out (NULL path: nothing). */
static int optional_password(const char *path, km_secret *out, km_status *st)
{
    return path == NULL || km_read_password_at(AT_FDCWD, path, path, KAFKA_MTLS_R_PASSWORD_FILE, 0, out, st);
}

/* The password of the stores written: ssl.keystore.password, else the file
 * mtls.keystore.password.file or mtls.password.file names (read into
 * file_pw), else NULL (ALIAS_creds kept, or a random one). */
static int store_password(const km_settings *s, km_secret *file_pw, const char **pw, km_status *st)
{
    if ((*pw = s->keystore_password) != NULL)
        return 1;
    if (!optional_password(s->keystore_password_file ? s->keystore_password_file : s->password_file, file_pw, st))
        return 0;
    *pw = file_pw->data;
    return 1;
}

/* The end of one issuance that starts at start (km_now_ms()): mtls.wait.ms
 * bounds the lock wait and the enrolment together. With mtls.wait.ms=0 (no
 * waiting for the lock) an enrolment still has its exchange's bound. */
static double deadline_of(const km_settings *s, double start)
{
    return start + (double)(s->wait_ms > 0 ? s->wait_ms : km_enrols(s) ? km_enrol_timeout_ms(s) : 0);
}

/* With the volume lock held: a certificate from the CA service instead. */
static int enrol_locked(const km_settings *s, double deadline, const char *bound, char *issued, size_t issued_size,
                        char *errstr, size_t n)
{
    km_secret file_pw = { 0 };
    km_status st = { 0 };
    const char *pw;
    int ok;

    if (!store_password(s, &file_pw, &pw, &st)) {
        snprintf(errstr, n, "kafka-mtls: %s", st.msg);
        return 0;
    }
    ok = km_enrol_locked(s, pw, deadline, bound, issued, issued_size, errstr, n);
    km_secret_clear(&file_pw);
    return ok;
}

/* mtls.validity (90d, 12h, 30m) wins over mtls.validity.days; both were
 * checked when set. A renew window as long as the lifetime would renew
 * every certificate as soon as it is issued: refused. */
static int lifetime_ok(const km_settings *s, km_issue_request *rq, char *errstr, size_t n)
{
    km_renew_before rb;
    km_status st = { 0 };
    char err[256];

    if (s->validity != NULL && !km_validity_parse(s->validity, &rq->validity_seconds, err, sizeof(err))) {
        snprintf(errstr, n, "kafka-mtls: %s: %s", KAFKA_MTLS_PROP_VALIDITY, err);
        return 0;
    }
    if (!km_renew_before_parse(s->renew_before, &rb, err, sizeof(err))) {
        snprintf(errstr, n, "kafka-mtls: %s: %s", KAFKA_MTLS_PROP_RENEW_BEFORE, err);
        return 0;
    }
    if (!km_renew_window_check(rq->validity_seconds
                                   ? rq->validity_seconds
                                   : 86400L * (rq->validity_days ? rq->validity_days : KAFKA_MTLS_VALIDITY_DEFAULT),
                               &rb, &st)) {
        snprintf(errstr, n, "kafka-mtls: %s=%s: %s", KAFKA_MTLS_PROP_RENEW_BEFORE, s->renew_before, st.msg);
        return 0;
    }
    return 1;
}

#define CA_INSECURE_OPTION KAFKA_MTLS_PROP_CA_KEY_INSECURE_OK "=true"

static int ca_insecure_ok(const km_settings *s)
{
    return s->ca_key_insecure_ok != NULL && strcmp(s->ca_key_insecure_ok, "true") == 0;
}

/* With the volume lock held, check saying why it needs a certificate. */
static int issue_locked(const km_settings *s, const km_vol_check *check, char *issued, size_t issued_size,
                        char *errstr, size_t n)
{
    OSSL_LIB_CTX *libctx = km_keysource_libctx();
    km_issue_target t;
    const char *vol = t.volume;
    km_secret ca_pw = { 0 }, store_pw = { 0 };
    const char *store = NULL;
    km_issue_request rq = { 0 };
    km_issue_result res;
    km_status st = { 0 };
    int ok = 0;

    if (!km_issue_target_of(s, &t, errstr, n))
        return 0;
    if ((s->ca_key_password == NULL && s->ca_key_password_file != NULL &&
         !km_ca_password_read(s->ca_key_password_file, ca_insecure_ok(s), CA_INSECURE_OPTION, &ca_pw, NULL, 0,
                              &st)) ||
        !store_password(s, &store_pw, &store, &st)) {
        snprintf(errstr, n, "kafka-mtls: %s", st.msg);
        goto done;
    }
    rq.libctx = libctx;
    rq.volume = vol;
    rq.alias = t.alias;
    rq.ca_cert = s->ca_cert;
    rq.ca_key = s->ca_key;
    rq.ca_key_password = s->ca_key_password != NULL ? s->ca_key_password : ca_pw.data;
    rq.ca_key_insecure_ok = ca_insecure_ok(s);
    rq.ca_key_insecure_option = CA_INSECURE_OPTION;
    rq.subject = s->subject;
    rq.san = s->san;
    rq.key_type = s->key_type;
    rq.validity_days = (int)s->validity_days;
    /* mtls.validity (90d, 12h, 30m) wins over mtls.validity.days; it was
     * checked when set. A renew window as long as the lifetime would renew
     * every certificate as soon as it is issued. */
    if (!lifetime_ok(s, &rq, errstr, n))
        goto done;
    rq.store_password = store;
    rq.renewing = check->leaf; /* its subject and SANs are kept unless configured */
    if (!km_issue(&rq, &res, &st)) {
        snprintf(errstr, n, "kafka-mtls: issuing a certificate into %s=%s failed: %s",
                 km_settings_source_property(s), vol, st.msg);
        goto done;
    }
    snprintf(issued, issued_size, "kafka-mtls: %s %s for %s (serial %s) into %s%s%s",
             check->state == KM_VOL_MISSING ? "issued" : "renewed", "a certificate", res.subject,
             res.serial, vol, res.warning[0] ? "; warning: " : "", res.warning);
    ok = 1;
done:
    km_secret_clear(&ca_pw);
    km_secret_clear(&store_pw);
    return ok;
}

/* km_issue_if_needed by deadline (km_now_ms() time), saying in *state what
 * the claim found. */
static int claim_and_issue(const km_settings *s, double deadline, char *issued, size_t issued_size, char *errstr,
                           size_t n, km_vol_state *state)
{
    km_renew_before rb;
    km_vol_check check;
    km_status st = { 0 };
    km_issue_target t;
    char err[256], bound[64];
    int fd = -1, ok;

    *state = KM_VOL_UNREADABLE;
    if (!km_issue_target_of(s, &t, errstr, n))
        return 0;
    if (!km_renew_before_parse(s->renew_before, &rb, err, sizeof(err))) {
        snprintf(errstr, n, "kafka-mtls: %s: %s", KAFKA_MTLS_PROP_RENEW_BEFORE, err);
        return 0;
    }
    issued[0] = '\0';
    if (s->wait_ms > 0 || !km_enrols(s))
        snprintf(bound, sizeof(bound), "%s=%ld", KAFKA_MTLS_PROP_WAIT_MS, s->wait_ms);
    else if (s->enrol_timeout_ms > 0)
        snprintf(bound, sizeof(bound), "%s=%ld", KAFKA_MTLS_PROP_ENROL_TIMEOUT_MS, s->enrol_timeout_ms);
    else
        snprintf(bound, sizeof(bound), "%s's default %ld ms", KAFKA_MTLS_PROP_ENROL_TIMEOUT_MS,
                 km_enrol_timeout_ms(s));
    /* another process may have got there first; a volume of another CA is
     * not ours to replace. The lock wait is part of the bound. */
    if (!km_volume_claim(km_keysource_libctx(), t.volume, t.alias, s->ca_cert, &rb, 0,
                         &(km_lock_wait){ .ms = s->wait_ms, .by = bound, .until = s->wait_ms > 0 ? deadline : 0 },
                         &check, &fd, &st)) {
        km_vol_check_clear(&check);
        snprintf(errstr, n, "kafka-mtls: %s: %s", km_settings_source_property(s), st.msg);
        return 0;
    }
    *state = check.state;
    if (fd < 0 && (check.state == KM_VOL_WRITING || check.state == KM_VOL_UNREADABLE)) {
        /* only a volume that reads, or holds nothing of a store, is issued into */
        snprintf(errstr, n, "kafka-mtls: %s=%s: %s; nothing was written: %s", km_settings_source_property(s),
                 km_settings_source(s),
                 check.state == KM_VOL_WRITING ? "another writer is still writing it (its stores are there, "
                                                 "their password file is not)"
                                               : "cannot read it, so it is never replaced",
                 check.why);
        km_vol_check_clear(&check);
        return 0;
    }
    ok = fd < 0 || (km_enrols(s) ? enrol_locked(s, deadline, bound, issued, issued_size, errstr, n)
                                 : issue_locked(s, &check, issued, issued_size, errstr, n));
    km_volume_unlock(fd);
    km_vol_check_clear(&check);
    return ok;
}

int km_issue_if_needed(const km_settings *s, char *issued, size_t issued_size, char *errstr, size_t n)
{
    km_vol_state state;

    return claim_and_issue(s, deadline_of(s, km_now_ms()), issued, issued_size, errstr, n, &state);
}

/* Another writer's stores are there without their password file: wait for
 * it (mtls.wait.ms, inotify) as a client without a CA waits, then fail
 * closed naming that writer. */
static int wait_for_writer(const km_settings *s, km_pem_bundle *b, char *errstr, size_t n)
{
    char why[1024];
    int reason = 0;

    if (km_keysource_load(s, 0, b, &reason, why, sizeof(why)))
        return 1;
    if (reason == KAFKA_MTLS_R_NOT_READY)
        snprintf(errstr, n, "kafka-mtls: %s=%s: another writer is still writing it (its stores are there, "
                 "their password file is not): still not ready after %s=%ld; nothing was written",
                 km_settings_source_property(s), km_settings_source(s), KAFKA_MTLS_PROP_WAIT_MS, s->wait_ms);
    else
        snprintf(errstr, n, "%s", why);
    return 0;
}

static void warn(rd_kafka_t *rk, const km_settings *s, const char *fmt, const char *a, const char *b)
{
    char line[1024];

    snprintf(line, sizeof(line), fmt, a, b);
    km_client_log_line(&s->log, rk, 4, line);
}

/* Issuance properties without an issuer would be ignored, and the only
 * error later "not ready": say what is missing instead. */
static int issuance_config_ok(const km_settings *s, char *errstr, size_t n)
{
    const struct {
        const char *name;
        int set;
    } only_issuing[] = {
        { KAFKA_MTLS_PROP_SUBJECT, s->subject != NULL },
        { KAFKA_MTLS_PROP_SAN, s->san != NULL },
        { KAFKA_MTLS_PROP_KEY_TYPE, s->key_type != NULL },
        { KAFKA_MTLS_PROP_VALIDITY_DAYS, s->validity_days != 0 },
        { KAFKA_MTLS_PROP_VALIDITY, s->validity != NULL },
        { KAFKA_MTLS_PROP_KEYSTORE_PASSWORD_FILE, s->keystore_password_file != NULL },
        { KAFKA_MTLS_PROP_CA_KEY_PASSWORD, s->ca_key_password != NULL },
        { KAFKA_MTLS_PROP_CA_KEY_PASSWORD_FILE, s->ca_key_password_file != NULL },
        { KAFKA_MTLS_PROP_CA_KEY_INSECURE_OK, s->ca_key_insecure_ok != NULL },
    };

    if ((s->ca_cert != NULL) != (s->ca_key != NULL)) {
        snprintf(errstr, n, "kafka-mtls: %s is set but %s is not: the plugin issues only with both",
                 s->ca_cert != NULL ? KAFKA_MTLS_PROP_CA_LOCATION : KAFKA_MTLS_PROP_CA_KEY_LOCATION,
                 s->ca_cert != NULL ? KAFKA_MTLS_PROP_CA_KEY_LOCATION : KAFKA_MTLS_PROP_CA_LOCATION);
        return 0;
    }
    for (size_t i = 0; !km_is_issuer(s) && i < sizeof(only_issuing) / sizeof(only_issuing[0]); i++)
        if (only_issuing[i].set) {
            snprintf(errstr, n, "kafka-mtls: %s is set, but the plugin uses it only when it issues, with %s and "
                     "%s: configure the CA, or remove %s", only_issuing[i].name, KAFKA_MTLS_PROP_CA_LOCATION,
                     KAFKA_MTLS_PROP_CA_KEY_LOCATION, only_issuing[i].name);
            return 0;
        }
    return 1;
}

/* A volume another CA issued is used as it is, but never silently: the
 * clients of a process with CA A take CA B's certificate and truststore. */
static int warn_other_ca(rd_kafka_t *rk, const km_settings *s, const km_pem_bundle *b)
{
    char why[600], line[1024];

    /* with a CA service there is no CA certificate to compare with: "ours"
     * is a chain to mtls.enrol.ca.location, which km_svc_issue checks (and
     * says "left alone") whenever the volume needs a certificate */
    if (km_enrols(s))
        return 1;
    if (b->leaf_cert != NULL && km_leaf_from_ca(km_keysource_libctx(), b->leaf_cert, s->ca_cert, why,
                                                sizeof(why)) == 0) {
        snprintf(line, sizeof(line), "kafka-mtls: %s=%s: its certificate %s was %s (%s=%s): using it as it is; "
                 "the plugin does not replace another CA's volume", km_settings_source_property(s),
                 km_settings_source(s), b->subject, why, KAFKA_MTLS_PROP_CA_LOCATION, s->ca_cert);
        warn(rk, s, "%s%s", line, "");
    }
    return 1;
}

/* A CA key (or its password file) anyone else can read is refused when
 * the client is made, not first when a renewal is due; one allowed by
 * mtls.ca.key.insecure.ok is logged. */
static int ca_files_ok(rd_kafka_t *rk, const km_settings *s, char *errstr, size_t n)
{
    const struct {
        const char *property, *path, *what;
    } files[] = {
        { KAFKA_MTLS_PROP_CA_KEY_LOCATION, s->ca_key, "CA key" },
        { KAFKA_MTLS_PROP_CA_KEY_PASSWORD_FILE, s->ca_key_password == NULL ? s->ca_key_password_file : NULL,
          "CA key password file" },
    };

    for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
        km_status st = { 0 };
        char warning[512] = "";

        if (files[i].path == NULL)
            continue;
        if (!km_ca_file_check(files[i].path, files[i].what, ca_insecure_ok(s), CA_INSECURE_OPTION, warning,
                              sizeof(warning), &st)) {
            snprintf(errstr, n, "kafka-mtls: %s: %s", files[i].property, st.msg);
            return 0;
        }
        if (warning[0] != '\0')
            warn(rk, s, "kafka-mtls: %s: warning: %s", files[i].property, warning);
    }
    return 1;
}

int km_obtain(rd_kafka_t *rk, const km_settings *s, km_pem_bundle *b, char *errstr, size_t n)
{
    int issuer = km_is_issuer(s), reason = 0, state;
    /* one bound for all of it, counted from here: the lock wait, the key
     * generation and every exchange with a CA service */
    double deadline = deadline_of(s, km_now_ms());
    km_vol_state found;
    km_issue_target target;
    km_renew_before rb;
    time_t window;
    char err[256], issued[1024];
    struct stat sb;

    if (!km_renew_before_parse(s->renew_before, &rb, err, sizeof(err))) {
        snprintf(errstr, n, "kafka-mtls: %s: %s", KAFKA_MTLS_PROP_RENEW_BEFORE, err);
        return 0;
    }
    /* half an enrolment configuration, or one beside a CA key: fail closed now */
    if (!km_enrol_config_ok(s, errstr, n))
        return 0;
    if (!issuance_config_ok(s, errstr, n))
        return 0;
    if (s->ca_cert != NULL && s->ca_key != NULL && !ca_files_ok(rk, s, errstr, n))
        return 0;
    /* a volume not made yet is made by the issuer; ssl.keystore.location
     * names its directory and alias */
    if (issuer && !km_issue_target_of(s, &target, errstr, n))
        return 0;
    if (issuer && s->volume != NULL && stat(s->volume, &sb) == 0 && !S_ISDIR(sb.st_mode)) {
        snprintf(errstr, n, "kafka-mtls: %s=%s: issuing needs a volume directory, not a file (or give the file "
                 "as ssl.keystore.location=DIR/ALIAS.keystore.jks)", KAFKA_MTLS_PROP_VOLUME, s->volume);
        return 0;
    }
    if (km_keysource_load(s, issuer, b, &reason, errstr, n)) {
        state = km_renewal_state(b->leaf_cert, &rb, time(NULL), &window);
        if (state == KM_CERT_FRESH)
            return !issuer || warn_other_ca(rk, s, b);
        if (!issuer) {
            if (state == KM_CERT_RENEW) {
                warn(rk, s, "kafka-mtls: the client certificate %s expires on %s and no CA is configured "
                         "to renew it (mtls.ca.location, mtls.ca.key.location)", b->subject, b->not_after);
                return 1;
            }
            snprintf(errstr, n, "kafka-mtls: %s=%s: the client certificate %s expired on %s "
                     "(or is not yet valid); renew the volume or configure mtls.ca.location and "
                     "mtls.ca.key.location", km_settings_source_property(s), km_settings_source(s), b->subject,
                     b->not_after);
            km_pem_bundle_clear(b);
            return 0;
        }
        if (!claim_and_issue(s, deadline, issued, sizeof(issued), errstr, n, &found)) {
            /* a certificate that is still valid beats no client: a
             * read-only volume, say, cannot be renewed by us */
            if (state == KM_CERT_RENEW) {
                warn(rk, s, "kafka-mtls: could not renew the client certificate %s, which expires on %s: "
                         "using it as it is; the reason follows", b->subject, b->not_after);
                km_client_log_line(&s->log, rk, 4, errstr);
                return 1;
            }
            km_pem_bundle_clear(b);
            return 0;
        }
        km_pem_bundle_clear(b);
    } else if (!issuer || reason != KAFKA_MTLS_R_NOT_READY) {
        return 0; /* never overwrite a volume we cannot read: that needs a human */
    } else if (!claim_and_issue(s, deadline, issued, sizeof(issued), errstr, n, &found)) {
        return found == KM_VOL_WRITING && wait_for_writer(s, b, errstr, n);
    }
    if (issued[0] != '\0')
        km_client_log_line(&s->log, rk, 5, issued);
    return km_keysource_load(s, 1, b, &reason, errstr, n) && warn_other_ca(rk, s, b);
}
