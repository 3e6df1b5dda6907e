/* kmockd - librdkafka's mock cluster as a standalone plaintext Kafka-protocol
 * server on 127.0.0.1 whose brokers ADVERTISE caller-chosen ports (those of
 * the TLS terminator in front of it, see mtls-peer.sh) in Metadata.
 *
 * librdkafka < 2.10 has no rd_kafka_mock_broker_set_host_port(): a mock
 * broker advertises whatever getsockname() returns for its listen socket.
 * This executable defines getsockname() (the executable's definition wins
 * over libc's for librdkafka.so) and, only in the main thread and only while
 * rd_kafka_mock_cluster_new() runs, rewrites the port of the i-th AF_INET
 * address returned to the i-th advertised port, remembering the real one.
 * Tested with librdkafka 2.0.2 (needs >= 1.4 for rdkafka_mock.h).
 *
 * Usage: kmockd [-t TOPIC[:PARTITIONS]]... [-r READYFILE] ADV_PORT...
 *   one broker per ADV_PORT (at most KMOCKD_MAX_BROKERS), ids 1..N.  Each
 *   -t topic is created with min(N, 3) replicas (default 1 partition), the
 *   leader of partition p being broker (p mod N) + 1; other topics are
 *   auto-created by librdkafka's mock (4 partitions) on first use.
 * Prints "broker <id> real 127.0.0.1:<port> advertised 127.0.0.1:<adv>" per
 * broker, then "READY".  READYFILE (written atomically, after the listeners
 * exist) gets one "<adv> <real>" line per broker.  Exits on SIGTERM, SIGINT
 * or SIGHUP.
 * Exit status: 0 on signal, 1 on runtime failure, 2 on usage error.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <dlfcn.h>
#include <errno.h>
#include <limits.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#define KMOCKD_MAX_BROKERS 16
#define KMOCKD_MAX_TOPICS 64

typedef int (*getsockname_fn)(int, struct sockaddr *, socklen_t *);

static getsockname_fn real_getsockname;
static pthread_once_t real_once = PTHREAD_ONCE_INIT;

/* Set only by the main thread around rd_kafka_mock_cluster_new(): other
 * threads (and the main thread at any other time) see the real ports. */
static __thread int rewriting;
static int nadv, nseen;
static unsigned short adv_port[KMOCKD_MAX_BROKERS];
static unsigned short real_port[KMOCKD_MAX_BROKERS];

static void resolve_real(void) {
        void *sym = dlsym(RTLD_NEXT, "getsockname");
        /* POSIX guarantees a function address fits in a void *. */
        memcpy(&real_getsockname, &sym, sizeof(real_getsockname));
}

int getsockname(int fd, struct sockaddr *addr, socklen_t *len) {
        pthread_once(&real_once, resolve_real);
        if (!real_getsockname) {
                errno = ENOSYS;
                return -1;
        }
        int r = real_getsockname(fd, addr, len);
        if (r == 0 && rewriting && addr->sa_family == AF_INET &&
            *len >= (socklen_t)sizeof(struct sockaddr_in) && nseen < nadv) {
                struct sockaddr_in *sin = (struct sockaddr_in *)(void *)addr;
                real_port[nseen] = ntohs(sin->sin_port);
                sin->sin_port = htons(adv_port[nseen]);
                nseen++;
        }
        return r;
}

/* The mock cluster's admin calls (topic create, set leader) are ops queued
 * to the mock thread, and librdkafka 2.0.2 sometimes misses the wakeup for
 * one: the op then waits for the thread's 1 s poll timeout (seen under CPU
 * load).  While such calls run, this thread connects to (and at once
 * disconnects from) broker 1 every 5 ms: the listener turning readable
 * wakes the mock thread, which then serves its op queue. */
static atomic_int kicking;

static void *kicker(void *arg) {
        struct sockaddr_in sin = {.sin_family = AF_INET,
                                  .sin_port = htons(real_port[0]),
                                  .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
        const struct timespec pause = {.tv_sec = 0, .tv_nsec = 5000000};
        (void)arg;
        while (atomic_load(&kicking)) {
                int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
                if (fd >= 0) {
                        (void)connect(fd, (struct sockaddr *)&sin, sizeof(sin));
                        close(fd);
                }
                nanosleep(&pause, NULL);
        }
        return NULL;
}

static void usage(const char *argv0) {
        fprintf(stderr,
                "usage: %s [-t TOPIC[:PARTITIONS]]... [-r READYFILE] "
                "ADV_PORT...\n",
                argv0);
}

/* Parse a decimal integer in [lo, hi]; -1 on error. */
static long parse_num(const char *s, long lo, long hi) {
        char *end;
        errno = 0;
        long v = strtol(s, &end, 10);
        if (errno || end == s || *end || v < lo || v > hi)
                return -1;
        return v;
}

static int write_ready(const char *path) {
        char tmp[PATH_MAX];
        int n = snprintf(tmp, sizeof(tmp), "%s.tmp.%ld", path, (long)getpid());
        if (n < 0 || (size_t)n >= sizeof(tmp)) {
                fprintf(stderr, "kmockd: ready file path too long\n");
                return -1;
        }
        FILE *f = fopen(tmp, "w");
        if (!f) {
                fprintf(stderr, "kmockd: %s: %s\n", tmp, strerror(errno));
                return -1;
        }
        for (int i = 0; i < nadv; i++)
                fprintf(f, "%hu %hu\n", adv_port[i], real_port[i]);
        if (fclose(f) != 0 || rename(tmp, path) != 0) {
                fprintf(stderr, "kmockd: %s: %s\n", path, strerror(errno));
                unlink(tmp);
                return -1;
        }
        return 0;
}

int main(int argc, char **argv) {
        const char *topics[KMOCKD_MAX_TOPICS];
        const char *readyfile = NULL;
        int ntopics = 0, opt;
        char errstr[512];

        while ((opt = getopt(argc, argv, "t:r:h")) != -1) {
                switch (opt) {
                case 't':
                        if (ntopics == KMOCKD_MAX_TOPICS) {
                                fprintf(stderr, "kmockd: too many topics\n");
                                return 2;
                        }
                        topics[ntopics++] = optarg;
                        break;
                case 'r':
                        readyfile = optarg;
                        break;
                case 'h':
                        usage(argv[0]);
                        return 0;
                default:
                        usage(argv[0]);
                        return 2;
                }
        }
        if (optind == argc) {
                usage(argv[0]);
                return 2;
        }
        if (argc - optind > KMOCKD_MAX_BROKERS) {
                fprintf(stderr, "kmockd: at most %d brokers\n",
                        KMOCKD_MAX_BROKERS);
                return 2;
        }
        for (; optind < argc; optind++) {
                long p = parse_num(argv[optind], 1, 65535);
                if (p < 0) {
                        fprintf(stderr, "kmockd: bad port '%s'\n",
                                argv[optind]);
                        return 2;
                }
                adv_port[nadv++] = (unsigned short)p;
        }

        /* Block SIGTERM/INT/HUP before any thread exists (threads inherit
         * the mask) and collect them with sigwait() below.  A client that
         * vanishes must never kill us with SIGPIPE. */
        sigset_t sigs;
        sigemptyset(&sigs);
        sigaddset(&sigs, SIGTERM);
        sigaddset(&sigs, SIGINT);
        sigaddset(&sigs, SIGHUP);
        pthread_sigmask(SIG_BLOCK, &sigs, NULL);
        signal(SIGPIPE, SIG_IGN);
        pthread_once(&real_once, resolve_real);

        rd_kafka_conf_t *conf = rd_kafka_conf_new();
        if (rd_kafka_conf_set(conf, "log_level", "4", errstr,
                              sizeof(errstr)) != RD_KAFKA_CONF_OK) {
                fprintf(stderr, "kmockd: %s\n", errstr);
                return 1;
        }
        rd_kafka_t *rk =
            rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof(errstr));
        if (!rk) {
                fprintf(stderr, "kmockd: rd_kafka_new: %s\n", errstr);
                return 1;
        }

        rewriting = 1;
        rd_kafka_mock_cluster_t *mc = rd_kafka_mock_cluster_new(rk, nadv);
        rewriting = 0;
        if (!mc || nseen != nadv) {
                fprintf(stderr,
                        "kmockd: mock cluster creation failed "
                        "(saw %d of %d listeners)\n",
                        nseen, nadv);
                return 1;
        }

        pthread_t kick_thread;
        int kick_started = 0;
        if (ntopics > 0) {
                atomic_store(&kicking, 1);
                kick_started =
                    pthread_create(&kick_thread, NULL, kicker, NULL) == 0;
        }
        for (int i = 0; i < ntopics; i++) {
                char name[256];
                long parts = 1;
                int n = snprintf(name, sizeof(name), "%s", topics[i]);
                if (n < 0 || (size_t)n >= sizeof(name)) {
                        fprintf(stderr, "kmockd: topic name too long\n");
                        return 2;
                }
                char *colon = strrchr(name, ':');
                if (colon) {
                        *colon = '\0';
                        parts = parse_num(colon + 1, 1, 10000);
                }
                if (!*name || parts < 0) {
                        fprintf(stderr, "kmockd: bad topic '%s'\n", topics[i]);
                        return 2;
                }
                rd_kafka_resp_err_t e = rd_kafka_mock_topic_create(
                    mc, name, (int)parts, nadv < 3 ? nadv : 3);
                /* Deterministic leaders, spread over all brokers, so a
                 * client touching every partition touches every broker. */
                for (int p = 0; !e && p < (int)parts; p++)
                        e = rd_kafka_mock_partition_set_leader(
                            mc, name, p, (p % nadv) + 1);
                if (e) {
                        fprintf(stderr, "kmockd: topic %s: %s\n", name,
                                rd_kafka_err2str(e));
                        return 1;
                }
        }

        if (kick_started) {
                atomic_store(&kicking, 0);
                pthread_join(kick_thread, NULL);
        }

        for (int i = 0; i < nadv; i++)
                printf("broker %d real 127.0.0.1:%hu advertised "
                       "127.0.0.1:%hu\n",
                       i + 1, real_port[i], adv_port[i]);
        printf("READY\n");
        fflush(stdout);
        if (readyfile && write_ready(readyfile) != 0)
                return 1;

        int sig = 0;
        sigwait(&sigs, &sig);
        /* Nothing to persist: exit at once and let the kernel close the
         * sockets (rd_kafka_mock_cluster_destroy() + rd_kafka_destroy()
         * would add up to ~1 s of thread joins to every stop). */
        fprintf(stderr, "kmockd: signal %d, exiting\n", sig);
        _exit(0);
}
