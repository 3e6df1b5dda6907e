/*
 * The plugin's property validation: km_settings_set on a sequence of
 * properties (path checks, numbers, subject, SAN, key type, renew window,
 * Java store types, the empty ssl.endpoint.identification.algorithm), then
 * km_settings_dup and km_settings_free on the result.
 *
 * Input: lines "name=value" as in a client's properties file, one
 * km_settings_set per line (a line without '=' sets name to NULL value).
 * A first line "!N" makes errstr N bytes long (1..64) instead of 512, as a
 * caller with a small buffer would (make-corpus.sh: settings/).
 */
#include <stdlib.h>
#include <string.h>
#include <openssl/crypto.h>

#include "kafka-mtls.h"
#include "fuzz_common.h"
#include "settings.h"

static const char *const secret_props[] = {
    "ssl.keystore.password", "ssl.key.password", "ssl.truststore.password",
    "mtls.ca.key.password",
};

static int is_secret(const char *name)
{
    for (size_t i = 0; i < sizeof(secret_props) / sizeof(secret_props[0]); i++)
        if (strcmp(name, secret_props[i]) == 0)
            return 1;
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = OPENSSL_strndup((const char *)data, size), *line, *next;
    size_t errsz = 512;
    km_settings *s = km_settings_new(), *d;
    int nlines = 0;

    if (text == NULL || s == NULL)
        abort();
    line = text;
    if (line[0] == '!') {
        errsz = (size_t)(strtoul(line + 1, NULL, 10) % 64) + 1;
        next = strchr(line, '\n');
        line = next != NULL ? next + 1 : line + strlen(line);
    }
    for (; *line != '\0' && nlines < 32; line = next, nlines++) {
        char *eq, *value, *errstr = OPENSSL_zalloc(errsz);
        rd_kafka_conf_res_t r;

        if (errstr == NULL)
            abort();
        next = strchr(line, '\n');
        if (next != NULL)
            *next++ = '\0';
        else
            next = line + strlen(line);
        eq = strchr(line, '=');
        value = eq != NULL ? eq + 1 : NULL;
        if (eq != NULL)
            *eq = '\0';
        r = km_settings_set(s, line, value, errstr, errsz);
        if (r != RD_KAFKA_CONF_OK && r != RD_KAFKA_CONF_INVALID && r != RD_KAFKA_CONF_UNKNOWN)
            kmf_die("km_settings_set(%s) returned %d", line, (int)r);
        if (memchr(errstr, '\0', errsz) == NULL)
            kmf_die("km_settings_set(%s): errstr not terminated", line);
        if (r == RD_KAFKA_CONF_INVALID && errsz > 1 && errstr[0] == '\0')
            kmf_die("km_settings_set(%s) refused without a message", line);
        if (r == RD_KAFKA_CONF_INVALID && is_secret(line) && value != NULL && strlen(value) >= 4 &&
            strstr(errstr, value) != NULL)
            kmf_die("km_settings_set(%s) echoed the secret value", line);
        OPENSSL_free(errstr);
    }
    if ((d = km_settings_dup(s)) == NULL)
        abort();
    if (d->wait_ms != s->wait_ms || d->validity_days != s->validity_days ||
        (s->volume != NULL) != (d->volume != NULL) ||
        (s->volume != NULL && strcmp(s->volume, d->volume) != 0))
        kmf_die("km_settings_dup differs from its source");
    if (s->wait_ms < 0 || s->wait_ms > 3600000)
        kmf_die("mtls.wait.ms %ld accepted", s->wait_ms);
    km_settings_free(d);
    km_settings_free(s);
    OPENSSL_free(text);
    return 0;
}
