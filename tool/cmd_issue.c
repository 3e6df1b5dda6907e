/*
 * kafka-mtls issue VOLUME_DIR --ca CA.crt --ca-key CA.key [options]
 *
 * Lock, re-read the volume through the provider, issue if it has no usable
 * certificate (or it is in its renew window, expired, from another CA, or
 * --force), unlock. Prints what it did; the serial is printed in every case,
 * so concurrent runs can be told apart.
 */
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "issue_enrol.h"
#include "kmtls/clock.h"
#include "kmtls/issuer.h"

typedef struct issue_opts {
    km_issue_request rq;
    const char *ca_key_password_file, *password_file, *renew_before;
    km_renew_before rb;
    km_cli_enrol enrol;            /* --enrol-url ...: a CA service instead of --ca/--ca-key */
    km_lock_wait wait;
    char wait_by[32];
    int force;
} issue_opts;

enum { O_CA = 256, O_CA_KEY, O_CA_KEY_PW, O_ALIAS, O_SUBJECT, O_SAN, O_KEY_TYPE, O_EKU, O_DAYS,
       O_VALIDITY, O_RENEW, O_PWFILE, O_WAIT, O_INSECURE_CA_KEY, O_FORCE, O_HELP };

enum { O_ENROL_URL = 512, O_ENROL_CA, O_TOKEN_FILE, O_NOT_AFTER, O_ENROL_TIMEOUT };

static const struct option options[] = {
    { "ca", required_argument, NULL, O_CA },
    { "enrol-url", required_argument, NULL, O_ENROL_URL },
    { "enrol-ca", required_argument, NULL, O_ENROL_CA },
    { "token-file", required_argument, NULL, O_TOKEN_FILE },
    { "not-after", required_argument, NULL, O_NOT_AFTER },
    { "enrol-timeout-ms", required_argument, NULL, O_ENROL_TIMEOUT },
    { "ca-key", required_argument, NULL, O_CA_KEY },
    { "ca-key-password-file", required_argument, NULL, O_CA_KEY_PW },
    { "alias", required_argument, NULL, O_ALIAS },
    { "subject", required_argument, NULL, O_SUBJECT },
    { "san", required_argument, NULL, O_SAN },
    { "key-type", required_argument, NULL, O_KEY_TYPE },
    { "eku", required_argument, NULL, O_EKU },
    { "days", required_argument, NULL, O_DAYS },
    { "validity", required_argument, NULL, O_VALIDITY },
    { "renew-before", required_argument, NULL, O_RENEW },
    { "password-file", required_argument, NULL, O_PWFILE },
    { "wait", required_argument, NULL, O_WAIT },
    { "allow-insecure-ca-key", no_argument, NULL, O_INSECURE_CA_KEY },
    { "force", no_argument, NULL, O_FORCE },
    { "help", no_argument, NULL, O_HELP },
    { NULL, 0, NULL, 0 },
};

static int usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int usage_error(const char *fmt, ...)
{
    va_list ap;

    fprintf(stderr, "kafka-mtls issue: ");
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\nusage: kafka-mtls issue VOLUME_DIR --ca CA.crt --ca-key CA.key [options] "
                    "(see kafka-mtls --help)\n");
    return KM_EXIT_USAGE;
}

static int parse_days(const char *s, int *out)
{
    char *end;
    long v = strtol(s, &end, 10);

    if (*s == '\0' || *end != '\0' || v < 1 || v > KM_MAX_VALIDITY_DAYS)
        return 0;
    *out = (int)v;
    return 1;
}

/* How long to wait for another holder of the volume lock: 0 to 3600 s. */
#define WAIT_DEFAULT_SECONDS 30
#define WAIT_MAX_SECONDS 3600

static int parse_wait(const char *s, issue_opts *o)
{
    char *end;
    long v = strtol(s, &end, 10);

    if (*s == '\0' || *end != '\0' || v < 0 || v > WAIT_MAX_SECONDS)
        return 0;
    o->wait.ms = v * 1000;
    snprintf(o->wait_by, sizeof(o->wait_by), "--wait %ld", v);
    return 1;
}

static int parse(int argc, char **argv, issue_opts *o)
{
    char err[256];
    int c;

    memset(o, 0, sizeof(*o));
    o->rq.ca_key_insecure_option = "--allow-insecure-ca-key";
    o->wait = (km_lock_wait){ .ms = WAIT_DEFAULT_SECONDS * 1000L, .by = o->wait_by };
    snprintf(o->wait_by, sizeof(o->wait_by), "--wait %d", WAIT_DEFAULT_SECONDS);
    optind = 1;
    while ((c = getopt_long(argc, argv, "", options, NULL)) != -1) {
        switch (c) {
        case O_CA: o->rq.ca_cert = optarg; break;
        case O_CA_KEY: o->rq.ca_key = optarg; break;
        case O_ENROL_URL: o->enrol.url = optarg; break;
        case O_ENROL_CA: o->enrol.root = optarg; break;
        case O_TOKEN_FILE: o->enrol.token_file = optarg; break;
        case O_NOT_AFTER: o->enrol.not_after = optarg; break;
        case O_ENROL_TIMEOUT: {
            char *end;

            o->enrol.timeout_ms = strtol(optarg, &end, 10);
            if (*optarg == '\0' || *end != '\0' || o->enrol.timeout_ms < 1 || o->enrol.timeout_ms > 600000)
                return usage_error("--enrol-timeout-ms '%s': expected 1 to 600000", optarg);
            break;
        }
        case O_CA_KEY_PW: o->ca_key_password_file = optarg; break;
        case O_ALIAS: o->rq.alias = optarg; break;
        case O_SUBJECT: o->rq.subject = optarg; break;
        case O_SAN: o->rq.san = optarg; break;
        case O_KEY_TYPE: o->rq.key_type = optarg; break;
        case O_EKU: o->rq.extended_key_usage = optarg; break;
        case O_DAYS:
            if (!parse_days(optarg, &o->rq.validity_days))
                return usage_error("--days '%s': expected a number of days from 1 to %d", optarg,
                                   KM_MAX_VALIDITY_DAYS);
            break;
        case O_VALIDITY: /* 90d, 12h, 30m: the plugin's mtls.validity */
            if (!km_validity_parse(optarg, &o->rq.validity_seconds, err, sizeof(err)))
                return usage_error("--%s", err);
            break;
        case O_RENEW: o->renew_before = optarg; break;
        case O_PWFILE: o->password_file = optarg; break;
        case O_WAIT:
            if (!parse_wait(optarg, o))
                return usage_error("--wait '%s': expected a number of seconds from 0 to %d", optarg,
                                   WAIT_MAX_SECONDS);
            break;
        case O_INSECURE_CA_KEY: o->rq.ca_key_insecure_ok = 1; break;
        case O_FORCE: o->force = 1; break;
        case O_HELP: km_cli_help(stdout, 1); return -1;
        default: return KM_EXIT_USAGE;
        }
    }
    if (optind != argc - 1)
        return usage_error("%s", optind >= argc ? "no VOLUME_DIR given" : "more than one VOLUME_DIR given");
    o->rq.volume = argv[optind];
    if (o->rq.volume[0] != '/')
        return usage_error("VOLUME_DIR '%s': give an absolute path", o->rq.volume);
    if (km_cli_enrol_usage(&o->enrol, &o->rq) != NULL)
        return usage_error("%s", km_cli_enrol_usage(&o->enrol, &o->rq));
    if (o->enrol.url == NULL && (o->rq.ca_cert == NULL || o->rq.ca_key == NULL))
        return usage_error("%s", "--ca and --ca-key are required (or --enrol-url and --enrol-ca: a CA service)");
    if (!km_renew_before_parse(o->renew_before, &o->rb, err, sizeof(err)))
        return usage_error("--%s", err);
    {
        /* a window covering the lifetime would renew at every run: refused */
        km_status st = { 0 };
        long lifetime = o->rq.validity_seconds
                            ? o->rq.validity_seconds
                            : 86400L * (o->rq.validity_days ? o->rq.validity_days : KAFKA_MTLS_VALIDITY_DEFAULT);

        if (!km_renew_window_check(lifetime, &o->rb, &st))
            return usage_error("--renew-before %s: %s", o->renew_before, st.msg);
    }
    return KM_EXIT_OK;
}

typedef struct timings {
    double check, issue, readback, total; /* check: with the waits for the lock */
} timings;

static void print_issued(const char *verb, const issue_opts *o, const char *why, const km_issue_result *r,
                         const km_vol_check *after, const timings *t)
{
    char nb[64], na[64], rf[64];

    printf("%s: %s (%s)\n", verb, o->rq.volume, why);
    printf("  subject     %s\n", r->subject);
    printf("  serial      %s\n", r->serial);
    printf("  not-before  %s\n", km_utc_text(r->not_before, nb, sizeof(nb)));
    printf("  not-after   %s (%ld days)%s\n", km_utc_text(r->not_after, na, sizeof(na)),
           (long)((r->not_after - r->not_before + 43200) / 86400),
           r->not_after_clamped ? ", cut to the CA's own expiry" : "");
    printf("  renew-from  %s\n", km_utc_text(after->window_start, rf, sizeof(rf)));
    printf("  files       %s.keystore.jks %s.truststore.jks %s-ca-signed.crt %s_creds (written last)\n",
           r->alias, r->alias, r->alias, r->alias);
    if (o->rq.store_password != NULL)
        printf("  password    from --password-file, in %s_creds\n", r->alias);
    else if (r->password_kept)
        printf("  password    kept from %s_creds\n", r->alias);
    else
        printf("  password    new, random, in %s_creds\n", r->alias);
    printf("  elapsed     %.1f ms (check and lock %.1f, issue %.1f of which key generation %.1f, "
           "read back %.1f)\n", t->total, t->check, t->issue, r->keygen_ms, t->readback);
}

static void print_fresh(const issue_opts *o, const km_vol_check *vc, double total_ms)
{
    char na[64], rf[64];

    printf("fresh: %s (%s; not renewed before %s; --force renews now)\n", o->rq.volume, vc->why,
           km_utc_text(vc->window_start, rf, sizeof(rf)));
    printf("  serial      %s\n", vc->serial);
    printf("  not-after   %s (%ld days left)\n", km_utc_text(vc->not_after, na, sizeof(na)),
           (long)((vc->not_after - time(NULL)) / 86400));
    printf("  elapsed     %.0f ms\n", total_ms);
}

static int ca_files_ok(issue_opts *o, km_secret *ca_pw);

static int run(issue_opts *o, OSSL_LIB_CTX *libctx, km_secret *ca_pw)
{
    km_status st = { 0 };
    km_vol_check before = { 0 }, after = { 0 };
    km_issue_result res;
    timings t;
    char alias[256], why[700], service[1200] = "";
    double t0 = km_now_ms(), t1;
    int lock = -1, ok;

    if (!km_issue_request_check(&o->rq, &st) ||
        !km_alias_resolve(o->rq.volume, o->rq.alias, alias, sizeof(alias), &st)) {
        char shown[4 * sizeof(st.msg)];

        /* the refusal quotes what was given, control characters and all */
        fprintf(stderr, "kafka-mtls issue: %s\n", km_cli_safe(st.msg, shown, sizeof(shown)));
        return KM_EXIT_USAGE;
    }
    /* --wait bounds the whole run with a CA service: the lock wait and
     * every exchange after it. --wait 0 (no waiting for the lock) leaves
     * the exchanges --enrol-timeout-ms, all of them together when given. */
    if (o->enrol.url != NULL && (o->wait.ms > 0 || o->enrol.timeout_ms > 0)) {
        o->enrol.deadline_ms = km_now_ms() + (double)(o->wait.ms > 0 ? o->wait.ms : o->enrol.timeout_ms);
        o->enrol.deadline_by = o->wait.ms > 0 ? o->wait_by : "--enrol-timeout-ms";
        if (o->wait.ms > 0)
            o->wait.until = o->enrol.deadline_ms;
    }
    /* the CA key and its password file are judged on every run, a fresh
     * volume's too, not only when a certificate is issued */
    if (!ca_files_ok(o, ca_pw))
        return KM_EXIT_FAIL;
    /* SIGINT and SIGTERM keep their default action: they end a wait for
     * the lock at once, and nothing has been written while waiting */
    if (o->force ? !km_volume_lock(o->rq.volume, &o->wait, &lock, &st)
                 : !km_volume_claim(libctx, o->rq.volume, alias, o->rq.ca_cert, &o->rb, 1, &o->wait, &before,
                                    &lock, &st)) {
        km_vol_check_clear(&before);
        fprintf(stderr, "kafka-mtls issue: %s\n", st.msg);
        return KM_EXIT_FAIL;
    }
    if (o->force)
        km_volume_check(libctx, o->rq.volume, alias, o->rq.ca_cert, &o->rb, time(NULL), &before);
    t.check = km_now_ms() - t0;
    if (lock < 0 && (before.state == KM_VOL_WRITING || before.state == KM_VOL_UNREADABLE)) {
        /* a volume it cannot read is never replaced without a person saying
         * so; --force is offered only where the writer's rule would let it */
        km_status dir = { 0 };
        int forcible = km_volume_writable(o->rq.volume, &dir);

        fprintf(stderr, "kafka-mtls issue: %s: %s: %s; nothing was written (%s)\n",
                o->rq.volume,
                before.state == KM_VOL_WRITING ? "another writer is still writing it (its stores are there, "
                                                 "their password file is not)"
                                               : "cannot read it",
                before.why,
                forcible ? "--force replaces it" : "the directory itself is refused, with --force too");
        km_vol_check_clear(&before);
        return KM_EXIT_FAIL;
    }
    if (lock < 0) { /* fresh: someone, maybe another process just now, issued it */
        print_fresh(o, &before, km_now_ms() - t0);
        km_vol_check_clear(&before);
        return KM_EXIT_OK;
    }
    o->rq.libctx = libctx;
    o->rq.renewing = before.leaf; /* its subject and SANs are kept unless given */
    t1 = km_now_ms();
    ok = o->enrol.url != NULL ? km_cli_enrol_issue(&o->enrol, &o->rq, &res, service, sizeof(service), &st)
                              : km_issue(&o->rq, &res, &st);
    o->rq.renewing = NULL;
    km_vol_check_clear(&before);
    if (!ok) {
        km_volume_unlock(lock);
        fprintf(stderr, "kafka-mtls issue: %s\n", st.msg);
        return KM_EXIT_FAIL;
    }
    t.issue = km_now_ms() - t1;
    /* what was written must read back, through the provider, as clients read it */
    t1 = km_now_ms();
    km_volume_check(libctx, o->rq.volume, alias, o->rq.ca_cert, &o->rb, time(NULL), &after);
    km_volume_unlock(lock);
    km_vol_check_clear(&after);
    t.readback = km_now_ms() - t1;
    t.total = km_now_ms() - t0;
    if (after.state != KM_VOL_FRESH && after.state != KM_VOL_RENEW) {
        fprintf(stderr, "kafka-mtls issue: %s: issued serial %s, but the volume does not read back: %s\n",
                o->rq.volume, res.serial, after.why);
        return KM_EXIT_FAIL;
    }
    if (after.state == KM_VOL_RENEW)
        fprintf(stderr, "kafka-mtls issue: warning: the renew window (--renew-before %s) covers the whole "
                "lifetime of the certificate: every run will renew it\n",
                o->renew_before ? o->renew_before : "");
    /* a CA key's warning was printed before the volume was looked at */
    if (res.warning[0] != '\0' && o->rq.ca_key == NULL)
        fprintf(stderr, "kafka-mtls issue: warning: %s\n", res.warning);
    if (before.state == KM_VOL_FRESH)
        snprintf(why, sizeof(why), "--force; serial %s replaced", before.serial);
    else
        snprintf(why, sizeof(why), "%s", before.why);
    /* nothing readable was there before: a first issuance, whatever it replaced */
    print_issued(before.state == KM_VOL_MISSING || before.state == KM_VOL_WRITING ||
                         before.state == KM_VOL_UNREADABLE
                     ? "issued"
                     : "renewed",
                 o, why, &res, &after, &t);
    if (service[0] != '\0')
        printf("  service     %s\n", service);
    return KM_EXIT_OK;
}

static int ca_files_ok(issue_opts *o, km_secret *ca_pw)
{
    km_status st = { 0 };
    char warning[sizeof(((km_issue_result *)0)->warning)] = "";

    if (o->rq.ca_key != NULL &&
        !km_ca_file_check(o->rq.ca_key, "CA key", o->rq.ca_key_insecure_ok, o->rq.ca_key_insecure_option, warning,
                          sizeof(warning), &st)) {
        fprintf(stderr, "kafka-mtls issue: --ca-key: %s\n", st.msg);
        return 0;
    }
    if (warning[0] != '\0')
        fprintf(stderr, "kafka-mtls issue: warning: %s\n", warning);
    warning[0] = '\0';
    if (o->ca_key_password_file != NULL) {
        if (!km_ca_password_read(o->ca_key_password_file, o->rq.ca_key_insecure_ok, o->rq.ca_key_insecure_option,
                                 ca_pw, warning, sizeof(warning), &st)) {
            fprintf(stderr, "kafka-mtls issue: --ca-key-password-file: %s\n", st.msg);
            return 0;
        }
        o->rq.ca_key_password = ca_pw->data;
    }
    if (warning[0] != '\0')
        fprintf(stderr, "kafka-mtls issue: warning: %s\n", warning);
    return 1;
}

int km_cmd_issue(int argc, char **argv)
{
    issue_opts o;
    km_secret ca_pw = { 0 }, store_pw = { 0 };
    kmtls_libctx *lc = NULL;
    int rc = parse(argc, argv, &o);

    if (rc != KM_EXIT_OK)
        return rc < 0 ? KM_EXIT_OK : rc;   /* -1: --help was printed */
    rc = KM_EXIT_FAIL;
    if (o.password_file != NULL) {
        if (!km_cli_password_file(o.password_file, "--password-file", &store_pw))
            goto done;
        o.rq.store_password = store_pw.data;
    }
    if ((lc = km_cli_libctx()) == NULL)
        goto done;
    rc = run(&o, lc->libctx, &ca_pw);
done:
    km_secret_clear(&ca_pw);
    km_secret_clear(&store_pw);
    kmtls_libctx_free(lc);
    return rc;
}
