/*
 * kmtls-transport: the TLS layer under an unmodified librdkafka client, with
 * credentials that can be replaced while the client runs (live rotation).
 * The only public header of the library; everything else in
 * transport/ is private.
 *
 * librdkafka runs in plaintext. Its connect_cb calls km_transport_connect(),
 * which takes over the broker's TCP socket and leaves librdkafka an AF_UNIX
 * socket in its place. One thread per km_transport does every TLS handshake
 * and moves the bytes between the two. librdkafka never holds a TCP socket,
 * so it cannot put a plaintext byte on the wire: its bytes leave only through
 * SSL_write, and only once the broker has accepted our certificate.
 *
 * ## fd ownership
 * km_transport_connect(fd) runs on librdkafka's broker thread:
 *   1. socketpair(AF_UNIX): end L for librdkafka, end P for us;
 *   2. L is filled with filler bytes until it stops being writable (about a
 *      quarter of its send buffer; 64 KiB on Linux 6.18, see handoff.c):
 *      librdkafka waits for POLLOUT in its CONNECT state, so it stays there;
 *   3. T = a new fd number for librdkafka's TCP socket (the socket options
 *      librdkafka set stay on it); connect(T) starts, non-blocking;
 *   4. dup3(L, fd): librdkafka's fd number is now L; L's own number is closed.
 * From then on librdkafka owns fd (it closes it whenever it likes) and the
 * transport owns T and P (and any socket it opens to move the connection,
 * below): 3 fds per connection, 4 while it moves. The transport never touches fd again: a number
 * librdkafka has closed may already belong to someone else, so replacing
 * it later (e.g. with a socket carrying a chosen SO_ERROR) would race.
 *
 * ## Connection states (one thread, epoll, non-blocking OpenSSL)
 *   CONNECTING  TCP connect in progress on T
 *   HANDSHAKE   SSL_connect
 *   CONFIRM     TLS 1.3 only: the client's Finished is sent but the server
 *               checks our certificate after that; wait for its first
 *               NewSessionTicket (acceptance) or alert (refusal)
 *   UP          filler read off P -> L becomes writable -> librdkafka sees
 *               POLLOUT and SO_ERROR 0: "connected"; bytes are pumped
 *   MOVING      UP, and a TLS connection with newer credentials is being
 *               set up beside it (below)
 *   DRAINING    UP, fenced at a request boundary (below)
 * SSL_read is called only once everything read before is handed to
 * librdkafka, so when the broker closes, nothing is left to flush: P is
 * closed at once and librdkafka sees EOF ("Disconnected").
 * A failure before UP closes P while the filler is still queued in it. Linux
 * then sets ECONNRESET on L (af_unix: a peer released with unread data), so
 * librdkafka sees POLLERR|POLLHUP and getsockopt(SO_ERROR) = ECONNRESET: a
 * failed connect in state CONNECT, "Connect to ipv4#H:P failed: Connection
 * reset by peer", never a connection that opened and closed. The real reason
 * (connect errno, verify result, the broker's alert) goes to cfg.log first.
 *
 * ## Rotation
 * km_transport_set_ctx() makes a new credential generation. New connections
 * use it at once. Connections of older generations then move, one at a
 * time, oldest first (none with cfg.keep_old):
 *   - in place (the default): the transport opens a second TLS connection
 *     (a "spare leg") to the same broker address with the new credentials;
 *     once the broker has accepted it (as above, TLS 1.3 included) the
 *     connection is fenced: librdkafka's requests are read no further than
 *     the next request boundary (4-byte length-prefixed frames). When every
 *     forwarded request that expects a response (all but Produce with
 *     acks=0) has had it and it is handed to librdkafka, the spare becomes
 *     the connection's TLS leg and the old TLS connection is closed
 *     (close_notify). librdkafka's socket stays open: it sees no disconnect,
 *     no ALL_BROKERS_DOWN, no reconnect backoff. Nothing a broker binds to
 *     a TLS connection survives, and Kafka binds nothing but SASL to it.
 *     If the broker refuses the new credentials, the error is logged and
 *     the connection stays on its generation (librdkafka's new connections
 *     use - and fail with - the new one).
 *   - by reconnecting: for a connection that carried SaslHandshake or
 *     SaslAuthenticate (SASL authenticates the connection, and a new one
 *     would be unauthenticated; also when that request went out while the
 *     spare was being set up: the spare is dropped) or with
 *     cfg.move_by_reconnect, which a SASL client should set, since only the
 *     application knows before the first request that it uses SASL. The
 *     connection is fenced the same way and, once idle, closed; librdkafka
 *     reconnects with the new credentials. It starts only while another
 *     connection has carried a response (so librdkafka keeps a broker up
 *     and raises no ALL_BROKERS_DOWN) or once cfg.grace_ms has passed since
 *     the rotation (or since the last such close). Requests librdkafka wrote after the fence never reached
 *     the broker; librdkafka retries them on its new connection.
 *   - a fence that does not drain within cfg.drain_timeout_ms closes the
 *     connection anyway and logs a warning (a response may be lost; the
 *     request is then retried by librdkafka). The same limit bounds a spare
 *     leg's setup.
 * Bound: after a rotation every connection presents the new certificate
 * within n_old x (one handshake + the longest outstanding request) - at
 * most n_old x 2 x drain_timeout_ms, plus grace_ms when reconnecting. An
 * outstanding request is one round trip, or up to fetch.wait.max.ms behind
 * a long-poll Fetch. TLS sessions are never resumed (no SSL_set_session,
 * ever): a full handshake per connection, so no identity outlives its
 * generation.
 *
 * ## Threads
 * km_transport_connect, km_transport_set_ctx, km_transport_stats and
 * km_transport_request_sent may be called from any thread, concurrently.
 * cfg.log is called from the transport's thread and from callers of
 * km_transport_connect and km_transport_request_sent.
 */
#ifndef KMTLS_TRANSPORT_H
#define KMTLS_TRANSPORT_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <time.h>
#include <openssl/ssl.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct km_transport km_transport;

/* One log line, without a trailing newline, starting "kafka-mtls: ".
 * level: syslog's (LOG_ERR a failed connection, LOG_WARNING a forced drain,
 * LOG_INFO rotation progress, LOG_DEBUG per-connection details). Must be
 * thread-safe and must not call into the transport. */
typedef void km_transport_log_fn(void *opaque, int level, const char *line);

/* Zero-initialised is valid: every 0 means "the default". */
typedef struct km_transport_config {
    km_transport_log_fn *log;     /* NULL: no logging */
    void *log_opaque;
    /* 1: the broker's certificate must name the host of broker_id (DNS name
     * via SSL_set1_host, IP literal via X509_VERIFY_PARAM_set1_ip_asc) -
     * librdkafka's ssl.endpoint.identification.algorithm=https. Enforced only
     * when the SSL_CTX verifies the peer (SSL_VERIFY_PEER). */
    int verify_hostname;
    /* 1: old-generation connections are not moved; they live until
     * librdkafka or the broker closes them (weaker: an idle connection may
     * present the old certificate's identity for hours). */
    int keep_old;
    /* 1: move every old connection by closing it (librdkafka reconnects),
     * never in place. Automatic for a connection that carried SASL; the
     * plugin sets it for a sasl_ssl client. */
    int move_by_reconnect;
    /* 1: TCP_NODELAY on the broker socket. librdkafka <= 2.7 sets it (and
     * SO_SNDBUF/SO_RCVBUF) only after connecting, on the fd that is then the
     * AF_UNIX end; the plugin passes socket.nagle.disable here instead. */
    int tcp_nodelay;
    unsigned drain_timeout_ms;    /* 0: KAFKA_MTLS_ROTATION_DRAIN_MS_DEFAULT */
    unsigned grace_ms;            /* default 5000; reconnecting only */
    /* TLS 1.3: how long to wait for the server's NewSessionTicket before the
     * connection is given to librdkafka anyway (default 1000). A server that
     * refuses the certificate sends its alert right after our Finished, one
     * round trip, so the timeout only ever matters for servers that send no
     * ticket at all. */
    unsigned confirm_timeout_ms;
    /* A request alone in flight, of a kind answered at once, whose like was
     * lately answered within half of this: km_transport_request_sent's
     * caller waits up to this long for the response itself (see
     * km_transport_request_sent). 0: KAFKA_MTLS_ROTATION_REPLY_WAIT_US_DEFAULT
     * (the contract, kafka-mtls.h); at most 1 s; < 0: never. */
    int reply_wait_us;
} km_transport_config;

/* Creates the transport and starts its thread. initial: the first
 * credential generation (1). The transport takes its own reference to every
 * SSL_CTX it is given (SSL_CTX_up_ref); the caller keeps its own and must no
 * longer modify that SSL_CTX. The SSL_CTX decides everything about TLS:
 * versions, ciphers, groups, sigalgs, CA store, CRLs, verify mode and verify
 * callback (which the transport chains, never replaces). Returns NULL with
 * a message in err (at most n bytes, NUL-terminated) on failure. */
km_transport *km_transport_new(const km_transport_config *cfg, SSL_CTX *initial,
                               char *err, size_t n);

/* The body of librdkafka's connect_cb(fd, addr, addrlen, id, opaque): fd is
 * librdkafka's fresh non-blocking TCP socket, broker_id its "host:port"
 * (the host is used for SNI and the name check; "[v6]:port" accepted).
 * Never blocks on the network. Returns 0 - fd is now an AF_UNIX socket that
 * becomes writable once TLS is up and confirmed, or reports SO_ERROR
 * ECONNRESET on any failure (logged first) - or an errno, with fd untouched
 * and nothing left behind (librdkafka then logs "Failed to connect to
 * broker" and closes fd): EINVAL bad arguments, EAFNOSUPPORT not
 * AF_INET/AF_INET6, EPROTOTYPE fd is not a TCP socket of addr's family,
 * ESHUTDOWN the transport is being freed, or the errno of a failed
 * socketpair/fcntl/connect/dup3 (e.g. ENETUNREACH, EMFILE). */
int km_transport_connect(km_transport *t, int fd, const struct sockaddr *addr,
                         socklen_t addrlen, const char *broker_id);

/* The body of an on_request_sent interceptor(rk, sockfd, ...), on the
 * thread that wrote the request: librdkafka has just written a whole
 * request on fd. If fd is the AF_UNIX end of a connection that is UP (not
 * in its handshake, not being moved or drained), the request is encrypted
 * and sent from this thread now, instead of waking the transport's thread
 * for it, and the connection goes quiet: librdkafka's next request will
 * not wake that thread either (a tick every 10 ms catches bytes no call
 * follows; see transport/direct.c). If the request is alone in flight and
 * of a kind answered at once, and such replies lately came within half of
 * cfg.reply_wait_us, this thread then waits up to cfg.reply_wait_us for the
 * response, decrypts it and leaves it in fd's socket before it returns, so
 * no other thread hands it over (km_transport_nudge ends the wait early).
 * Returns 1 if a request was sent from here, 0 if the transport's thread
 * forwards (or already forwarded) the bytes as ever: they are in the socket
 * either way, so 0 loses nothing. A thread that does not block SIGPIPE
 * always gets 0 (librdkafka's threads block every signal). Blocks only
 * while the transport's thread works on its own batch, and for the reply
 * wait. */
int km_transport_request_sent(km_transport *t, int fd);

/* Ends every reply wait now (the plugin's on_send: the application has a
 * new message for librdkafka's thread). Costs an atomic load when none is
 * on. Any thread. */
void km_transport_nudge(km_transport *t);

/* New credentials; the caller guarantees that key and certificate match.
 * Connections started after this returns use ctx; existing ones are drained
 * as described above. Returns 0, or EINVAL (ctx NULL). */
int km_transport_set_ctx(km_transport *t, SSL_CTX *ctx);

typedef enum km_conn_state {
    KM_CONN_CONNECTING, KM_CONN_HANDSHAKE, KM_CONN_CONFIRM, KM_CONN_UP,
    KM_CONN_MOVING,               /* a TLS connection with newer credentials is set up beside it */
    KM_CONN_DRAINING              /* fenced at a request boundary, awaiting its responses */
} km_conn_state;

typedef struct km_conn_info {
    char broker_id[128];          /* cut short if longer */
    uint64_t generation;          /* of the SSL_CTX this connection uses */
    km_conn_state state;
    uint64_t requests;            /* request frames forwarded to the broker */
    uint64_t responses;           /* response frames handed to librdkafka */
    uint64_t awaiting;            /* forwarded requests still without a response */
    size_t held;                  /* filler bytes that held librdkafka in CONNECT */
} km_conn_info;

typedef struct km_transport_counts {
    uint64_t generation;          /* current: 1 + number of set_ctx calls */
    unsigned conns;               /* open connections, any state */
    unsigned conns_up;            /* UP, MOVING or DRAINING: librdkafka sees them connected */
    unsigned conns_old;           /* open, of an older generation */
    uint64_t handshakes_ok, handshakes_failed;
    uint64_t prestarted;          /* handshakes whose ClientHello km_transport_connect's caller sent
                                   * (the connect had completed, the thread blocks SIGPIPE) */
    uint64_t moved;               /* connections moved to newer credentials in place */
    uint64_t move_failures;       /* ... whose new credentials the broker refused */
    uint64_t drained;             /* old-generation connections closed at a boundary */
    uint64_t drain_timeouts;      /* ... closed by drain_timeout_ms */
    uint64_t direct;              /* requests sent by km_transport_request_sent's caller */
    uint64_t reply_waits;         /* ... after which it waited for the response */
    uint64_t replies_direct;      /* ... and took it (the rest came through the transport's thread) */
    uint64_t quiet_catches;       /* bytes of a quiet connection found by the quiet tick */
} km_transport_counts;

/* A consistent snapshot, taken by the transport's thread (the caller waits
 * for it; never call this from cfg.log). Up to max_conns connections are
 * copied into conns (may be NULL when max_conns is 0); returns the number of
 * open connections, or -1 (errno ESHUTDOWN) while the transport is freed. */
int km_transport_stats(km_transport *t, km_transport_counts *st,
                       km_conn_info *conns, size_t max_conns);

/* The broker_id of a connection's SSL, for the SSL_CTX's own verify
 * callback (librdkafka's ssl_cert_verify_cb takes the broker name): call it
 * on X509_STORE_CTX_get_ex_data(store, SSL_get_ex_data_X509_STORE_CTX_idx()).
 * NULL for an SSL the transport did not make. Valid during the callback. */
const char *km_transport_ssl_broker(const SSL *ssl);

/* Stops and joins the thread, closes every socket it owns (librdkafka's
 * ends then report ECONNRESET or EOF), releases every SSL_CTX reference and
 * frees everything. No call may be running or made after it starts. NULL is
 * a no-op. In the plugin: from on_conf_destroy, after librdkafka has joined
 * its broker threads. */
void km_transport_free(km_transport *t);

/* The process is exiting with the client alive (the plugin's exit handler,
 * which runs before OpenSSL's cleanup): km_transport_halt tells the
 * transport's thread to end, leaving connections as they are, after which
 * librdkafka's threads no longer touch TLS through km_transport_request_sent;
 * km_transport_join_until waits for it, until `until` at the latest.
 * Nothing is closed, so librdkafka logs no disconnection while the process
 * goes. km_transport_free still works afterwards. */
void km_transport_halt(km_transport *t);
void km_transport_join_until(km_transport *t, const struct timespec *until);

#ifdef __cplusplus
}
#endif

#endif
