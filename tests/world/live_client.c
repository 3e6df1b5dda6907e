/*
 * live-client: a long-running idempotent producer and a group consumer in
 * one process, each configured only by a properties file whose first line
 * loads the plugin (as any application is configured), for the live
 * rotation scenario. It produces "seq-N" at a steady rate until CONTROL/stop
 * exists, then waits for every delivery report and for the consumer to have
 * seen every delivered message, and prints one line:
 *   RESULT produced=P delivered=D failed=F consumed=C duplicates=X missing=M
 *          assigned=A revoked=R errors=E admin=0|1
 * exiting 0 only if everything produced was delivered and consumed exactly
 * once, the group was assigned once and never revoked (no rebalance),
 * neither client reported an error, and the admin API (ListConsumerGroups,
 * on the consumer's handle) lists the group. Every line either client logs
 * goes to stdout as "producer|LEVEL|FAC| line" or "consumer|...", and
 * CONTROL/status holds the counts, rewritten every second. With
 * KMTLS_LIVE_CLIENT_RECONNECTS=1 (SASL: connections move by reconnecting)
 * librdkafka's _TRANSPORT and _ALL_BROKERS_DOWN are counted as
 * disconnects=N in RESULT, not as errors.
 *
 *   live-client PRODUCER.properties CONSUMER.properties TOPIC GROUP CONTROL [RATE]
 *
 * Built against the system's librdkafka; runs on another one (same soname)
 * with LD_LIBRARY_PATH.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <librdkafka/rdkafka.h>

#define MAX_MSGS 2000000

static pthread_mutex_t out_lock = PTHREAD_MUTEX_INITIALIZER;
static unsigned char *seen;        /* per sequence number: times consumed */
static unsigned char *acked;       /* per sequence number: delivered */
static long produced, delivered, failed, consumed, duplicates, assigned, revoked, errors, disconnects;

static void out(const char *who, int level, const char *fac, const char *line)
{
    pthread_mutex_lock(&out_lock);
    printf("%s|%d|%s| %s\n", who, level, fac, line);
    fflush(stdout);
    pthread_mutex_unlock(&out_lock);
}

static void producer_log(const rd_kafka_t *rk, int level, const char *fac, const char *buf)
{
    (void)rk;
    out("producer", level, fac, buf);
}

static void consumer_log(const rd_kafka_t *rk, int level, const char *fac, const char *buf)
{
    (void)rk;
    out("consumer", level, fac, buf);
}

static void on_error(rd_kafka_t *rk, int err, const char *reason, void *opaque)
{
    char line[1024];

    (void)opaque;
    snprintf(line, sizeof(line), "%s: %s", rd_kafka_err2name(err), reason);
    out(rd_kafka_type(rk) == RD_KAFKA_PRODUCER ? "producer" : "consumer", 3, "ERROR_CB", line);
    if ((err == RD_KAFKA_RESP_ERR__TRANSPORT || err == RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN) &&
        getenv("KMTLS_LIVE_CLIENT_RECONNECTS") != NULL)
        __atomic_add_fetch(&disconnects, 1, __ATOMIC_RELAXED);
    else
        __atomic_add_fetch(&errors, 1, __ATOMIC_RELAXED);
}

static long seq_of(const void *payload, size_t len)
{
    char buf[32];

    if (len < 5 || len >= sizeof(buf))
        return -1;
    memcpy(buf, payload, len);
    buf[len] = '\0';
    return strncmp(buf, "seq-", 4) == 0 ? strtol(buf + 4, NULL, 10) : -1;
}

static void on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
    long seq = seq_of(m->payload, m->len);
    char line[256];

    (void)rk, (void)opaque;
    if (m->err) {
        failed++;
        snprintf(line, sizeof(line), "delivery of seq %ld failed: %s", seq, rd_kafka_err2str(m->err));
        out("producer", 3, "DELIVERY", line);
    } else if (seq >= 0 && seq < MAX_MSGS) {
        delivered++;
        acked[seq] = 1;
    }
}

static void on_rebalance(rd_kafka_t *rk, rd_kafka_resp_err_t err, rd_kafka_topic_partition_list_t *parts,
                         void *opaque)
{
    char line[128];

    (void)opaque;
    if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
        assigned++;
        rd_kafka_assign(rk, parts);
    } else {
        revoked++;
        rd_kafka_assign(rk, NULL);
    }
    snprintf(line, sizeof(line), "%s %d partition(s)", err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS ? "assigned" :
             "revoked", parts->cnt);
    out("consumer", 5, "REBALANCE", line);
}

/* A configuration from a properties file, lines in order (the plugin first). */
static rd_kafka_conf_t *conf_from(const char *path)
{
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    char line[4096], err[512];
    FILE *f = fopen(path, "r");

    if (f == NULL) {
        fprintf(stderr, "live-client: %s: %s\n", path, strerror(errno));
        exit(2);
    }
    while (fgets(line, sizeof(line), f) != NULL) {
        char *eq, *end = line + strlen(line);

        while (end > line && (end[-1] == '\n' || end[-1] == '\r'))
            *--end = '\0';
        if (line[0] == '#' || line[0] == '\0' || (eq = strchr(line, '=')) == NULL)
            continue;
        *eq = '\0';
        if (rd_kafka_conf_set(conf, line, eq + 1, err, sizeof(err)) != RD_KAFKA_CONF_OK) {
            fprintf(stderr, "live-client: %s: %s: %s\n", path, line, err);
            exit(2);
        }
    }
    fclose(f);
    return conf;
}

static void write_status(const char *control)
{
    char path[4096], tmp[4200];
    FILE *f;

    snprintf(path, sizeof(path), "%s/status", control);
    snprintf(tmp, sizeof(tmp), "%s.tmp", path);
    if ((f = fopen(tmp, "w")) == NULL)
        return;
    fprintf(f, "produced=%ld delivered=%ld failed=%ld consumed=%ld duplicates=%ld assigned=%ld revoked=%ld "
            "errors=%ld\n", produced, delivered, failed, consumed, duplicates, assigned, revoked,
            __atomic_load_n(&errors, __ATOMIC_RELAXED));
    fclose(f);
    rename(tmp, path);
}

static double now_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void consume_some(rd_kafka_t *c, int timeout_ms)
{
    rd_kafka_message_t *m = rd_kafka_consumer_poll(c, timeout_ms);

    if (m == NULL)
        return;
    if (m->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
        long seq = seq_of(m->payload, m->len);

        if (seq >= 0 && seq < MAX_MSGS) {
            if (seen[seq]++ == 0)
                consumed++;
            else
                duplicates++;
        }
    } else if (m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF) {
        char line[512];

        snprintf(line, sizeof(line), "consume error: %s", rd_kafka_message_errstr(m));
        out("consumer", 3, "CONSUME", line);
        errors++;
    }
    rd_kafka_message_destroy(m);
}

/* The admin API through the same connections: 1 if group is listed. */
static int lists_group(rd_kafka_t *rk, const char *group)
{
    rd_kafka_queue_t *q = rd_kafka_queue_new(rk);
    rd_kafka_event_t *ev;
    int found = 0;
    char line[512];

    rd_kafka_ListConsumerGroups(rk, NULL, q);
    if ((ev = rd_kafka_queue_poll(q, 30000)) != NULL) {
        const rd_kafka_ListConsumerGroups_result_t *res = rd_kafka_event_ListConsumerGroups_result(ev);
        size_t n = 0;
        const rd_kafka_ConsumerGroupListing_t **groups =
            res != NULL ? rd_kafka_ListConsumerGroups_result_valid(res, &n) : NULL;

        for (size_t i = 0; i < n; i++)
            found |= strcmp(rd_kafka_ConsumerGroupListing_group_id(groups[i]), group) == 0;
        snprintf(line, sizeof(line), "ListConsumerGroups: %s, %zu group(s)%s",
                 rd_kafka_event_error(ev) ? rd_kafka_event_error_string(ev) : "ok", n,
                 found ? ", ours among them" : "");
        out("consumer", 5, "ADMIN", line);
        rd_kafka_event_destroy(ev);
    } else {
        out("consumer", 3, "ADMIN", "ListConsumerGroups: no answer in 30 s");
    }
    rd_kafka_queue_destroy(q);
    return found;
}

int main(int argc, char **argv)
{
    rd_kafka_conf_t *pc, *cc;
    rd_kafka_t *p, *c;
    rd_kafka_topic_partition_list_t *topics;
    char err[1024], stop[4096], payload[32];
    const char *topic, *control;
    double rate, t0, last_status = 0;
    long missing = 0;
    int ok, admin;

    if (argc < 6) {
        fprintf(stderr, "usage: live-client PRODUCER.properties CONSUMER.properties TOPIC GROUP CONTROL [RATE]\n");
        return 2;
    }
    topic = argv[3];
    control = argv[5];
    rate = argc > 6 ? atof(argv[6]) : 100;
    snprintf(stop, sizeof(stop), "%s/stop", control);
    seen = calloc(MAX_MSGS, 1);
    acked = calloc(MAX_MSGS, 1);
    if (seen == NULL || acked == NULL)
        return 1;

    pc = conf_from(argv[1]);
    rd_kafka_conf_set_log_cb(pc, producer_log);
    rd_kafka_conf_set_error_cb(pc, on_error);
    rd_kafka_conf_set_dr_msg_cb(pc, on_delivery);
    if (rd_kafka_conf_set(pc, "enable.idempotence", "true", err, sizeof(err)) != RD_KAFKA_CONF_OK ||
        rd_kafka_conf_set(pc, "linger.ms", "5", err, sizeof(err)) != RD_KAFKA_CONF_OK) {
        fprintf(stderr, "live-client: %s\n", err);
        return 2;
    }
    cc = conf_from(argv[2]);
    rd_kafka_conf_set_log_cb(cc, consumer_log);
    rd_kafka_conf_set_error_cb(cc, on_error);
    rd_kafka_conf_set_rebalance_cb(cc, on_rebalance);
    if (rd_kafka_conf_set(cc, "group.id", argv[4], err, sizeof(err)) != RD_KAFKA_CONF_OK ||
        rd_kafka_conf_set(cc, "auto.offset.reset", "earliest", err, sizeof(err)) != RD_KAFKA_CONF_OK) {
        fprintf(stderr, "live-client: %s\n", err);
        return 2;
    }
    if ((p = rd_kafka_new(RD_KAFKA_PRODUCER, pc, err, sizeof(err))) == NULL) {
        fprintf(stderr, "live-client: producer: %s\n", err);
        return 3;
    }
    if ((c = rd_kafka_new(RD_KAFKA_CONSUMER, cc, err, sizeof(err))) == NULL) {
        fprintf(stderr, "live-client: consumer: %s\n", err);
        return 3;
    }
    rd_kafka_poll_set_consumer(c);
    topics = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(topics, topic, RD_KAFKA_PARTITION_UA);
    rd_kafka_subscribe(c, topics);
    rd_kafka_topic_partition_list_destroy(topics);
    printf("STARTED librdkafka %s pid %d\n", rd_kafka_version_str(), (int)getpid());
    fflush(stdout);

    /* steady production, consumption alongside, until told to stop */
    t0 = now_s();
    while (access(stop, F_OK) != 0 && produced < MAX_MSGS) {
        while (produced < (long)((now_s() - t0) * rate) && produced < MAX_MSGS) {
            int len = snprintf(payload, sizeof(payload), "seq-%ld", produced);
            rd_kafka_resp_err_t e = rd_kafka_producev(p, RD_KAFKA_V_TOPIC(topic),
                                                      RD_KAFKA_V_VALUE(payload, (size_t)len),
                                                      RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END);
            if (e != RD_KAFKA_RESP_ERR_NO_ERROR) {
                snprintf(err, sizeof(err), "produce: %s", rd_kafka_err2str(e));
                out("producer", 3, "PRODUCE", err);
                errors++;
                break;
            }
            produced++;
        }
        rd_kafka_poll(p, 0);
        consume_some(c, 20);
        if (now_s() - last_status >= 1) {
            write_status(control);
            last_status = now_s();
        }
    }
    /* every delivery report, then every delivered message consumed */
    rd_kafka_flush(p, 60000);
    for (double until = now_s() + 60; consumed < delivered && now_s() < until;)
        consume_some(c, 100);
    for (double until = now_s() + 2; now_s() < until;) /* late duplicates would show here */
        consume_some(c, 100);
    for (long i = 0; i < produced; i++)
        missing += acked[i] && !seen[i];
    admin = lists_group(c, argv[4]);
    write_status(control);
    ok = produced > 0 && delivered == produced && failed == 0 && consumed == delivered && duplicates == 0 &&
         missing == 0 && assigned == 1 && revoked == 0 && errors == 0 && admin;
    printf("RESULT produced=%ld delivered=%ld failed=%ld consumed=%ld duplicates=%ld missing=%ld assigned=%ld "
           "revoked=%ld errors=%ld admin=%d disconnects=%ld\n", produced, delivered, failed, consumed, duplicates,
           missing, assigned, revoked, __atomic_load_n(&errors, __ATOMIC_RELAXED), admin,
           __atomic_load_n(&disconnects, __ATOMIC_RELAXED));
    fflush(stdout);
    rd_kafka_consumer_close(c);
    rd_kafka_destroy(c);
    rd_kafka_destroy(p);
    free(seen);
    free(acked);
    return ok ? 0 : 1;
}
