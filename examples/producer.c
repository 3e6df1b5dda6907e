/*
 * producer — an ordinary librdkafka producer. It has no TLS code at all:
 * every setting, including the kafka-mtls plugin, comes from a properties
 * file (conf/kafka-client.properties or a Java client's properties with
 * "plugin.library.paths=libkafka-mtls" as its first line).
 *
 *   producer PROPERTIES TOPIC MESSAGE [COUNT]
 *
 * PROPERTIES: "key=value" lines, applied in file order with
 * rd_kafka_conf_set(); "#" and "!" lines and blank lines are skipped;
 * whitespace around keys and values is trimmed (so Java's
 * "ssl.endpoint.identification.algorithm=" is an empty value).
 * Sends COUNT (default 1) messages, "MESSAGE" or "MESSAGE #i" when
 * COUNT > 1, waits for their delivery reports and exits 0 only if all
 * of them were delivered. Errors print librdkafka's text; exit status
 * 1 = failure, 2 = usage.
 */
#define _POSIX_C_SOURCE 200809L
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <librdkafka/rdkafka.h>

#define FLUSH_TIMEOUT_MS 30000

static const char *prog = "producer";
static int delivered, failed;

static char *trim(char *s)
{
    char *end;

    while (isspace((unsigned char)*s))
        s++;
    end = s + strlen(s);
    while (end > s && isspace((unsigned char)end[-1]))
        *--end = '\0';
    return s;
}

/* Applies PATH to conf line by line; returns 0 after printing the error. */
static int read_properties(rd_kafka_conf_t *conf, const char *path)
{
    FILE *f = fopen(path, "r");
    char *line = NULL, errstr[512];
    size_t cap = 0;
    int lineno = 0, ok = 1;

    if (f == NULL) {
        fprintf(stderr, "%s: %s: %s\n", prog, path, strerror(errno));
        return 0;
    }
    while (ok && getline(&line, &cap, f) != -1) {
        char *key = trim(line), *value;

        lineno++;
        if (*key == '\0' || *key == '#' || *key == '!')
            continue;
        if ((value = strchr(key, '=')) == NULL || value == key) {
            fprintf(stderr, "%s: %s:%d: expected key=value\n", prog, path, lineno);
            ok = 0;
            break;
        }
        *value++ = '\0';
        key = trim(key);
        value = trim(value);
        if (rd_kafka_conf_set(conf, key, value, errstr, sizeof(errstr)) != RD_KAFKA_CONF_OK) {
            fprintf(stderr, "%s: %s:%d: %s\n", prog, path, lineno, errstr);
            ok = 0;
        }
    }
    if (ok && ferror(f)) {
        fprintf(stderr, "%s: %s: read error\n", prog, path);
        ok = 0;
    }
    free(line);
    fclose(f);
    return ok;
}

static void on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
    (void)rk, (void)opaque;
    if (m->err) {
        failed++;
        fprintf(stderr, "%s: delivery failed: %s\n", prog, rd_kafka_err2str(m->err));
        return;
    }
    delivered++;
    printf("delivered to %s [%d] at offset %lld: %.*s\n", rd_kafka_topic_name(m->rkt),
           (int)m->partition, (long long)m->offset, (int)m->len, (const char *)m->payload);
}

int main(int argc, char **argv)
{
    rd_kafka_conf_t *conf;
    rd_kafka_t *rk;
    rd_kafka_resp_err_t err;
    char errstr[512], *value;
    long count = 1;

    if (argc < 4 || argc > 5 || (argc == 5 && (count = strtol(argv[4], NULL, 10)) < 1)) {
        fprintf(stderr, "usage: %s PROPERTIES TOPIC MESSAGE [COUNT]\n", argv[0]);
        return 2;
    }

    conf = rd_kafka_conf_new();
    if (!read_properties(conf, argv[1])) {
        rd_kafka_conf_destroy(conf);
        return 1;
    }
    rd_kafka_conf_set_dr_msg_cb(conf, on_delivery);

    /* On success rd_kafka_new() owns conf. On failure the application
     * still does, but librdkafka < 2.13 has already freed the plugins'
     * interceptors kept in it (librdkafka #4142): rd_kafka_conf_destroy()
     * would call a freed hook and crash (SIGSEGV on 2.0.2). We are about
     * to exit, so leave conf to the OS there. */
    if ((rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof(errstr))) == NULL) {
        fprintf(stderr, "%s: cannot create the producer: %s\n", prog, errstr);
        if (rd_kafka_version() >= 0x020d0000)
            rd_kafka_conf_destroy(conf);
        return 1;
    }

    if ((value = malloc(strlen(argv[3]) + 24)) == NULL) {
        fprintf(stderr, "%s: out of memory\n", prog);
        failed++;
    }
    for (long i = 1; value != NULL && i <= count; i++) {
        if (count == 1)
            strcpy(value, argv[3]);
        else
            sprintf(value, "%s #%ld", argv[3], i);
        err = rd_kafka_producev(rk, RD_KAFKA_V_TOPIC(argv[2]), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                                RD_KAFKA_V_VALUE(value, strlen(value)), RD_KAFKA_V_END);
        if (err) {
            fprintf(stderr, "%s: produce failed: %s\n", prog, rd_kafka_err2str(err));
            failed++;
            break;
        }
        rd_kafka_poll(rk, 0); /* serve delivery reports as they come */
    }
    free(value);

    err = rd_kafka_flush(rk, FLUSH_TIMEOUT_MS);
    if (err)
        fprintf(stderr, "%s: flush: %s (%d message(s) undelivered)\n", prog, rd_kafka_err2str(err),
                rd_kafka_outq_len(rk));
    rd_kafka_destroy(rk);

    printf("%d of %ld message(s) delivered\n", delivered, count);
    return !err && failed == 0 && delivered == count ? 0 : 1;
}
