/*
 * What the transport tests share: a client that behaves as librdkafka does
 * towards its connect_cb socket (lk_*), Kafka request/response frames by
 * hand, SSL_CTX builders over the test certificates, a log sink the tests
 * wait on, and fd/thread counts of this process.
 */
#ifndef KMTLS_TESTS_TRANSPORT_HARNESS_H
#define KMTLS_TESTS_TRANSPORT_HARNESS_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include <openssl/ssl.h>

#include "kmtls/transport.h"

/* $KMTLS_TRANSPORT_CERTS/<rel> */
const char *cert_path(const char *rel);

/* A client SSL_CTX: trusts ca ("ca" or "foreign"), presents identity
 * ("app-v1", "app-v2", "stranger" or NULL for none), verifies the peer,
 * TLS 1.2 .. max_version (0: TLS 1.3). */
SSL_CTX *client_ctx(const char *identity, const char *ca, int max_version);

/* Log lines from the transport, kept for the test to look at. */
typedef struct logsink {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    char text[1 << 16];
    size_t len;
} logsink;

void logsink_init(logsink *s);
void logsink_destroy(logsink *s);
km_transport_log_fn logsink_cb;
/* 1 once a line containing needle is logged (waits up to timeout_ms). */
int logsink_wait(logsink *s, const char *needle, int timeout_ms);
/* 1 once needle occurs n times (waits up to timeout_ms). */
int logsink_wait_count(logsink *s, const char *needle, int n, int timeout_ms);
/* 1 if a line containing needle was logged. */
int logsink_has(logsink *s, const char *needle);
/* The line containing needle, copied into out (empty if none). */
void logsink_line(logsink *s, const char *needle, char *out, size_t n);

/* A fresh socket as librdkafka makes it for a broker: AF_INET (or family)
 * stream, CLOEXEC, SO_KEEPALIVE, non-blocking. */
int lk_socket(void);
int lk_socket_of(int family);
/* lk_socket + km_transport_connect to 127.0.0.1:port as broker_id.
 * Returns the fd (ck_assert on a non-zero return). */
int lk_connect(km_transport *t, int port, const char *broker_id);
/* The same over IPv6, to [::1]:port. */
int lk_connect6(km_transport *t, int port, const char *broker_id);
/* As librdkafka in state CONNECT: poll POLLOUT (ERR/HUP count too), then
 * SO_ERROR. Returns that errno (0 = connected), or -1 on timeout. */
int lk_wait_connected(int fd, int timeout_ms);
/* 1 if fd becomes writable within timeout_ms. */
int lk_writable(int fd, int timeout_ms);

/* An ApiVersionsRequest v0 frame, correlation id corr, client id cid. */
size_t kafka_apiversions(unsigned char *out, size_t cap, int32_t corr, const char *cid);
/* Writes all of buf (polling for room). 0, or an errno. */
int lk_write_all(int fd, const void *buf, size_t n, int timeout_ms);
/* Reads one response frame. Returns its length (body in body), 0 on EOF
 * before any byte, -1 on timeout, -2 on a read error (errno set), -3 on EOF
 * inside a frame. */
long lk_read_frame(int fd, unsigned char *body, size_t cap, int timeout_ms);
/* 1 if fd reports EOF or a reset within timeout_ms (data before it is
 * read and discarded). */
int lk_closed(int fd, int timeout_ms);
/* One ApiVersions round trip on fd: 0 ok (matching correlation id,
 * error_code 0, some APIs listed). */
int lk_apiversions_roundtrip(int fd, int32_t corr, int timeout_ms);

int count_fds(void);
int count_threads(void);

#endif
