/*
 * Clients under mtls.rotation=live come and go without leaving anything
 * behind: configurations made, duplicated (as the C++ API and the Python
 * client do) and destroyed, clients created, connected through the plugin's
 * transport, rotated and destroyed, again and again. The process's file
 * descriptors and threads come back to where they were; valgrind (the
 * valgrind setup) and LeakSanitizer (the asan setup) see the memory. And a
 * process that exits with its client alive, in the middle of its traffic,
 * exits as it asked to.
 */
#include <check.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/wait.h>
#include <unistd.h>

#include <librdkafka/rdkafka.h>

#include "harness.h"
#include "live_client.h"
#include "peers.h"

#define CYCLES 4

static mtls_peer peer;

static void start_peer(void) { mtls_peer_start(&peer, NULL); }
static void stop_peer(void) { mtls_peer_stop(&peer); }

/* One client's life: made from a duplicated configuration, connected, one
 * message delivered, its volume renewed under it, destroyed. */
static void one_life(const char *vol, int rotate)
{
    rd_kafka_conf_t *conf = live_conf(vol, bootstrap_of(peer.port)), *dup = rd_kafka_conf_dup(conf);
    rd_kafka_t *rk;

    rd_kafka_conf_destroy(conf);
    rk = client_new(RD_KAFKA_PRODUCER, dup);
    ck_assert_int_eq(produce_n(rk, "lifecycle", "m", 5, 30000), 5);
    if (rotate) {
        volume_certmanager(vol, "app-v2", "ca");
        for (time_t until = time(NULL) + 30; time(NULL) < until && !logsink_has(&applog, "moved from generation 1 to 2");)
            ck_assert_int_eq(produce_n(rk, "lifecycle", "r", 1, 30000), 1);
        ck_assert_msg(logsink_has(&applog, "moved from generation 1 to 2"), "%s", applog.text);
        volume_certmanager(vol, "app-v1", "ca");
    }
    rd_kafka_destroy(rk);
}

START_TEST(create_dup_destroy_leaves_nothing)
{
    char *vol = make_tmpdir("life");
    int fds, threads;

    logsink_init(&applog);
    volume_certmanager(vol, "app-v1", "ca");
    /* the first life loads the plugin, OpenSSL and the provider for good */
    one_life(vol, 0);
    fds = count_fds();
    threads = count_threads();
    for (int i = 0; i < CYCLES; i++) {
        applog.len = 0;
        applog.text[0] = '\0';
        one_life(vol, i % 2);
        /* a consumer that never connects, and a configuration only duplicated */
        rd_kafka_conf_t *conf = live_conf(vol, bootstrap_of(peer.port));
        conf_set(conf, "group.id", "kmtls-lifecycle");
        rd_kafka_conf_destroy(rd_kafka_conf_dup(conf));
        rd_kafka_destroy(client_new(RD_KAFKA_CONSUMER, conf));
        ck_assert_int_eq(count_fds(), fds);
        ck_assert_int_eq(count_threads(), threads);
    }
    printf("%d lives: %d fds and %d threads before and after each\n", CYCLES, fds, threads);
    rmtree(vol);
    free(vol);
}
END_TEST

static pthread_mutex_t delivered_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t delivered_cv = PTHREAD_COND_INITIALIZER;
static int delivered;

static void *keep_producing(void *rk)
{
    for (;;)
        if (produce_n(rk, "lifecycle", "exit", 1, 30000) == 1) {
            pthread_mutex_lock(&delivered_mu);
            delivered++;
            pthread_cond_signal(&delivered_cv);
            pthread_mutex_unlock(&delivered_mu);
        }
    return NULL;
}

/* kcat exits without destroying its client when a request fails, and an
 * interpreter may never collect its producer: OpenSSL's exit handler then
 * runs while the transport's and the watcher's threads still do TLS. The
 * plugin halts them first (interceptor/at_exit.c); the process must end
 * with the status it gave exit(), with nothing for valgrind or ASan to see. */
START_TEST(exit_with_the_client_alive_keeps_its_status)
{
    char *vol = make_tmpdir("exit");
    int status = 0;
    pid_t pid;

    volume_certmanager(vol, "app-v1", "ca");
    fflush(NULL);
    if ((pid = fork()) == 0) {
        rd_kafka_t *rk;
        pthread_t producer;

        logsink_init(&applog);
        rk = client_new(RD_KAFKA_PRODUCER, live_conf(vol, bootstrap_of(peer.port)));
        if (pthread_create(&producer, NULL, keep_producing, rk) != 0)
            _exit(2);
        /* a sync producer: each message a request and a reply on the wire;
         * once 20 went, a renewal: exit as the transport moves to it (new
         * handshakes, which draw on OpenSSL's random generator) */
        struct timespec until;
        int enough;

        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_sec += 60;
        pthread_mutex_lock(&delivered_mu);
        while (delivered < 20 && pthread_cond_timedwait(&delivered_cv, &delivered_mu, &until) == 0)
            ;
        enough = delivered >= 20;
        pthread_mutex_unlock(&delivered_mu);
        volume_certmanager(vol, "app-v2", "ca");
        enough = enough && logsink_wait(&applog, "is generation 2", 30000);
        free(vol);
        exit(enough ? 7 : 3);
    }
    ck_assert_int_gt(pid, 0);
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    ck_assert_msg(WIFEXITED(status), "the process ended by signal %d", WIFSIGNALED(status) ? WTERMSIG(status) : -1);
    ck_assert_msg(WEXITSTATUS(status) == 7, "exit status %d (3: fewer than 20 messages delivered, or no rotation)",
                  WEXITSTATUS(status));
    rmtree(vol);
    free(vol);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("live-lifecycle");
    TCase *tc = tcase_create("lifecycle");
    SRunner *sr;
    int failed;

    tcase_add_unchecked_fixture(tc, start_peer, stop_peer);
    tcase_set_timeout(tc, 600);
    tcase_add_test(tc, create_dup_destroy_leaves_nothing);
    tcase_add_test(tc, exit_with_the_client_alive_keeps_its_status);
    suite_add_tcase(s, tc);
    sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
