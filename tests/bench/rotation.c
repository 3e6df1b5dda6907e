/*
 * rotation: the time from new files on a live-rotation client's volume to
 * the new certificate on the wire. The volume is a Kubernetes secret volume
 * (VOLUME/..data -> ..A, the files linked through it); each round re-points
 * ..data at the other identity's directory in one rename, as kubelet does,
 * and the clock stops when the broker (stunnel, which logs every client
 * certificate it accepts) has accepted the other identity's certificate
 * from this client's idle connection. Prints one line per round:
 *   "rotation: round N: X ms"
 * and, given log_level=7, one per TLS connection the plugin set up:
 *   "handshake: X ms" (connect to confirmed, the transport's own measure)
 *
 *   rotation ROUNDS STUNNEL_LOG VOLUME DIR_A CN_A DIR_B CN_B TOPIC KEY=VALUE...
 * DIR_A and DIR_B (tls.crt, tls.key, ca.crt) must lie inside VOLUME, and
 * ..data must point at DIR_A when it starts.
 */
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <librdkafka/rdkafka.h>

#include "bench_conf.h"

static double now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/* 1 if the log, from offset mark on, holds needle */
static int logged(const char *log, long mark, const char *needle)
{
    FILE *f = fopen(log, "r");
    char line[4096];
    int found = 0;

    if (f == NULL)
        return 0;
    fseek(f, mark, SEEK_SET);
    while (!found && fgets(line, sizeof(line), f) != NULL)
        found = strstr(line, needle) != NULL;
    fclose(f);
    return found;
}

/* The transport's debug line "... TLS up: TLSv1.3, ..., N ms after connect" */
static void log_cb(const rd_kafka_t *rk, int level, const char *fac, const char *buf)
{
    const char *up = strstr(buf, "TLS up: "), *after = strstr(buf, " ms after connect");

    (void)rk, (void)level, (void)fac;
    if (up != NULL && after != NULL) {
        const char *n = after;

        while (n > up && n[-1] >= '0' && n[-1] <= '9')
            n--;
        printf("handshake: %.*s ms\n", (int)(after - n), n);
        fflush(stdout);
    }
}

static long size_of(const char *path)
{
    struct stat sb;

    return stat(path, &sb) == 0 ? (long)sb.st_size : 0;
}

int main(int argc, char **argv)
{
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    char errstr[1024], data[PATH_MAX], tmp[PATH_MAX], want[512];
    const char *log, *vol, *dirs[2], *cns[2];
    rd_kafka_t *rk;
    int rounds;

    if (argc < 9 || (rounds = atoi(argv[1])) <= 0) {
        fprintf(stderr, "usage: rotation ROUNDS STUNNEL_LOG VOLUME DIR_A CN_A DIR_B CN_B TOPIC KEY=VALUE...\n");
        return 2;
    }
    log = argv[2], vol = argv[3], dirs[0] = argv[4], cns[0] = argv[5], dirs[1] = argv[6], cns[1] = argv[7];
    rd_kafka_conf_set_log_cb(conf, log_cb);
    if (!bench_conf_args(conf, argv, 9, argc, "rotation"))
        return 2;
    if ((rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof(errstr))) == NULL) {
        fprintf(stderr, "rotation: %s\n", errstr);
        return 1;
    }
    /* connected: one message through */
    rd_kafka_producev(rk, RD_KAFKA_V_TOPIC(argv[8]), RD_KAFKA_V_VALUE("m", 1), RD_KAFKA_V_END);
    if (rd_kafka_flush(rk, 10000) != RD_KAFKA_RESP_ERR_NO_ERROR)
        return 1;
    snprintf(data, sizeof(data), "%s/..data", vol);
    snprintf(tmp, sizeof(tmp), "%s/..data_tmp", vol);
    for (int r = 1; r <= rounds; r++) {
        const char *to = dirs[r % 2], *cn = cns[r % 2];
        int in = inotify_init1(IN_CLOEXEC | IN_NONBLOCK);
        long mark = size_of(log);
        double t0;

        snprintf(want, sizeof(want), "Certificate accepted at depth=0: CN=%s", cn);
        if (in < 0 || inotify_add_watch(in, log, IN_MODIFY) < 0)
            return 1;
        unlink(tmp);
        if (symlink(strrchr(to, '/') + 1, tmp) != 0)
            return 1;
        t0 = now_ms();
        if (rename(tmp, data) != 0)
            return 1;
        /* stunnel writes its log as it accepts: wait for writes, not time */
        while (!logged(log, mark, want)) {
            struct pollfd p = { .fd = in, .events = POLLIN };
            char ev[4096];

            if (now_ms() - t0 > 30000) {
                fprintf(stderr, "rotation: round %d: %s not seen in 30 s\n", r, cn);
                return 1;
            }
            rd_kafka_poll(rk, 0);
            if (poll(&p, 1, 100) > 0)
                while (read(in, ev, sizeof(ev)) > 0)
                    ;
        }
        printf("rotation: round %d: %.1f ms\n", r, now_ms() - t0);
        fflush(stdout);
        close(in);
        /* the move completes (the old connection drains) before the next round */
        for (double until = now_ms() + 300; now_ms() < until;)
            rd_kafka_poll(rk, 50);
    }
    rd_kafka_destroy(rk);
    return 0;
}
