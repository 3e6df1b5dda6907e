/*
 * The real programs the transport tests talk to:
 *   mtls_peer  tests/peer/mtls-peer.sh: librdkafka's mock cluster behind
 *              stunnel4, which requires and verifies client certificates
 *              and logs the subject of each one it accepts;
 *   sserver    `openssl s_server -Verify 1`: a plain TLS peer that never
 *              answers a Kafka request (what a drain timeout needs);
 *   relay      a TCP relay inside the test: records the first bytes each
 *              way (what went on the wire) and can hold the broker's bytes
 *              back (a response "in flight", a handshake that stalls).
 */
#ifndef KMTLS_TESTS_TRANSPORT_PEERS_H
#define KMTLS_TESTS_TRANSPORT_PEERS_H

#include <limits.h>
#include <pthread.h>
#include <stddef.h>
#include <sys/types.h>

typedef struct mtls_peer {
    int port;
    char dir[PATH_MAX];
} mtls_peer;

/* tls_max: NULL, or e.g. "TLSv1.2" (PEER_TLS_MAX). */
void mtls_peer_start(mtls_peer *p, const char *tls_max);
/* The same with the broker certificate of $KMTLS_TRANSPORT_CERTS/<server>/
 * (server.crt, server.key) instead of server/. */
void mtls_peer_start_as(mtls_peer *p, const char *tls_max, const char *server);
/* The same served on [::1]:port too (PEER_IPV6=1); Metadata still
 * advertises 127.0.0.1. */
void mtls_peer_start_ipv6(mtls_peer *p);
void mtls_peer_stop(mtls_peer *p);
/* stunnel.log's size now: a mark for mtls_peer_wait_accepted */
long mtls_peer_mark(const mtls_peer *p);
/* 1 once stunnel.log (after mark) holds a line containing what (e.g.
 * "Certificate accepted at depth=0: CN=app-v2"), waiting up to timeout_ms. */
int mtls_peer_wait_log(const mtls_peer *p, long mark, const char *what, int timeout_ms);
/* occurrences of what after mark */
int mtls_peer_count_log(const mtls_peer *p, long mark, const char *what);
/* 1 once what occurs n times after mark (waits up to timeout_ms) */
int mtls_peer_wait_count(const mtls_peer *p, long mark, const char *what, int n, int timeout_ms);

typedef struct sserver {
    pid_t pid;
    int port;
    int in_fd, out_fd;
    pthread_t reader;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    char out[1 << 16];            /* what it printed: the plaintext it received */
    size_t len;
} sserver;

/* openssl s_server on 127.0.0.1:<picked by the kernel>, the test CA's
 * server certificate, client certificate required; extra: more arguments,
 * NULL-terminated (e.g. "-tls1_3"). */
void sserver_start(sserver *s, const char *const *extra);
void sserver_stop(sserver *s);
/* 1 once s_server has printed needle (waits up to timeout_ms). */
int sserver_wait_output(sserver *s, const char *needle, int timeout_ms);

typedef struct relay relay;
relay *relay_start(int target_port);
int relay_port(const relay *r);
/* Connections accepted from now on hold the broker's bytes back. */
void relay_hold_new(relay *r, int hold);
/* Connection idx (0 = the first accepted): hold or release (flushing). */
void relay_hold(relay *r, int idx, int hold);
int relay_conns(relay *r);
/* 1 once connection idx is closed (by either side), waiting up to timeout_ms */
int relay_wait_closed(relay *r, int idx, int timeout_ms);
/* 1 once connection idx holds at least min bytes back. */
int relay_wait_held(relay *r, int idx, size_t min, int timeout_ms);
/* The first bytes that went to_server (1) or to the client (0). */
size_t relay_capture(relay *r, int idx, int to_server, unsigned char *out, size_t cap);
void relay_stop(relay *r);

#endif
