/*
 * Private structures of the transport, shared by its files:
 *   engine.c     the thread, its epoll loop, commands from other threads
 *   handoff.c    km_transport_connect: librdkafka's fd becomes an AF_UNIX end
 *   sockopts.c   librdkafka's socket options, carried to sockets we open
 *   leg.c        one TLS connection to the broker: connect, handshake,
 *                TLS 1.3 confirmation
 *   tlsverify.c  per-SSL setup (SNI, name check, verify chaining) and the
 *                text of a failure
 *   conn.c       a connection as librdkafka sees it: release, events,
 *                switching legs, teardown
 *   pump.c       bytes in UP: P -> SSL_write, SSL_read -> P
 *   direct.c     a request sent from librdkafka's own thread (on_request_sent)
 *   frames.c     Kafka frame accounting (request boundaries, responses due)
 *   drain.c      which old-generation connection moves next, and how
 *   log.c        "kafka-mtls: broker ...: ..." lines to cfg.log
 */
#ifndef KMTLS_TRANSPORT_INTERNAL_H
#define KMTLS_TRANSPORT_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <sys/socket.h>

#include "frames.h"
#include "kafka-mtls.h"
#include "kmtls/transport.h"

/* The two a user sets (mtls.rotation.drain.timeout.ms, .reply.wait.us) are
 * the contract's; the others are the transport's own. */
#define KM_DEFAULT_DRAIN_MS ((unsigned)KAFKA_MTLS_ROTATION_DRAIN_MS_DEFAULT)
#define KM_DEFAULT_GRACE_MS 5000u
#define KM_DEFAULT_CONFIRM_MS 1000u
#define KM_DEFAULT_REPLY_WAIT_US KAFKA_MTLS_ROTATION_REPLY_WAIT_US_DEFAULT
/* One TLS record of plaintext each way: SSL_read returns at most a record,
 * SSL_write of 16 KiB is one record. */
#define KM_BUF 16384

typedef struct km_conn km_conn;
typedef struct km_leg km_leg;

/* What epoll reports: one per fd, so an event names its connection and,
 * for a TLS socket, its leg. */
typedef struct km_endpoint {
    km_conn *c;
    km_leg *leg;                  /* NULL: P, librdkafka's side */
    int fd;
    uint32_t events;              /* registered mask, to skip needless EPOLL_CTL_MOD */
} km_endpoint;

/* The socket options librdkafka put on its TCP socket, for the sockets the
 * transport opens itself when it moves a connection. */
typedef struct km_sockopts {
    int keepalive, nodelay;
    int sndbuf, rcvbuf;           /* 0: not set by librdkafka (kernel autotuning) */
} km_sockopts;

typedef enum km_leg_phase { LEG_CONNECTING, LEG_HANDSHAKE, LEG_CONFIRM, LEG_UP } km_leg_phase;

/* One TLS connection to the broker. A connection has one (the active leg)
 * and, while it moves to new credentials, a second (the spare). */
struct km_leg {
    km_endpoint ep;               /* ep.fd: the TCP socket */
    SSL *ssl;
    SSL_CTX *ctx;                 /* a reference, for the leg's life */
    uint64_t gen;
    km_leg_phase phase;
    uint64_t started_ms, deadline_ms; /* CONFIRM: give up waiting for a ticket */
    /* set by the TLS callbacks during the handshake */
    int got_ticket;
    int alert;                    /* last alert received, -1 none */
    int verify_err, verify_depth; /* first failure our verify callback saw */
    char verify_subject[256];
    int (*ctx_verify)(int, X509_STORE_CTX *); /* the SSL_CTX's own verify callback */
    int tls_failed;               /* a fatal TLS error: no SSL_shutdown */
    int tls_eof;                  /* the broker closed */
    int write_wants_write;        /* SSL_write waits for the socket writable */
    int write_wants_read;         /* SSL_write waits for it readable (rare) */
    int read_wants_write;         /* SSL_read waits for it writable (rare) */
    uint32_t prestarted;          /* the ClientHello went out on librdkafka's thread:
                                   * what to watch for next (km_leg_prestart) */
};

/* A request from another thread to the transport's thread. */
typedef struct km_cmd {
    struct km_cmd *next;
    enum { KM_CMD_ADD, KM_CMD_STATS } kind;
    km_conn *conn;                /* ADD */
    /* STATS: filled by the transport's thread, then done = 1 and signalled */
    km_transport_counts *st;
    km_conn_info *conns;
    size_t max_conns;
    int result;
    int done;
} km_cmd;

struct km_conn {
    km_conn *prev, *next;
    km_transport *t;
    km_endpoint plain;            /* P: our end of the pair; librdkafka holds the other */
    km_leg *tls;                  /* the active leg */
    km_leg *spare;                /* the leg being set up with newer credentials */
    km_conn_state state;
    int dead;                     /* closed; freed after the current epoll batch */
    char broker[256];             /* broker_id as given */
    char host[256];               /* its host part: SNI and name check */
    struct sockaddr_storage addr; /* the broker's address, for spare legs */
    socklen_t addrlen;
    km_sockopts opts;
    size_t held;                  /* filler bytes still queued in P */
    size_t held_total;
    uint64_t drain_deadline_ms;
    uint64_t move_failed_gen;     /* the newest generation the broker refused here */
    /* up: librdkafka -> broker, down: broker -> librdkafka */
    unsigned char *up, *down;
    size_t up_len, up_off, down_len, down_off;
    int fenced;                   /* draining: read no request past the boundary */
    int up_drained;               /* the last read of P was short: P is empty */
    km_frames req, resp;
    uint64_t responses;           /* handed to librdkafka in full */
    uint64_t awaiting;            /* forwarded requests still without a response */
    km_cmd add_cmd;               /* preallocated: nothing can fail after dup3 */
    int rk_fd;                    /* librdkafka's fd number (the other end of P) */
    uint64_t serial;              /* order of creation: the newest of a reused rk_fd wins */
    /* librdkafka's own thread at work (direct.c) */
    int quiet;                    /* P's EPOLLIN unwatched: requests come through
                                   * km_transport_request_sent, the quiet tick catches the rest */
    uint64_t quiet_ms;            /* the last request forwarded that way */
    uint64_t caught_ms;           /* the quiet tick last found bytes: not quiet for a while */
    int stranded;                 /* the last quiet tick saw bytes in P ... */
    uint64_t stranded_at;         /* ... with up_bytes at this */
    int borrowed;                 /* a reply wait is on: the transport's thread keeps off */
    int replies_lent;             /* while quiet, librdkafka's thread takes the replies: the TLS
                                   * socket is watched for a hang-up only (direct.c) */
    uint64_t lone_sent_us;        /* when the one request in flight went out; 0: not one alone */
    uint64_t reply_us;            /* how long a request alone waited for its response (EWMA) */
    uint64_t up_bytes;            /* read from P, ever */
};

struct km_transport {
    km_transport_config cfg;
    pthread_t thread;
    int epfd, wakefd;
    int nudgefd;                  /* eventfd: ends reply waits early (km_transport_nudge) */
    atomic_int waiting;           /* reply waits in progress */
    km_sockopts default_opts;     /* a fresh TCP socket's, to tell what librdkafka set */

    /* shared with other threads, under mu */
    pthread_mutex_t mu;
    pthread_cond_t cond;          /* STATS answered */
    SSL_CTX *ctx;                 /* current generation's */
    uint64_t gen;
    km_cmd *cmd_head, *cmd_tail;
    int stopping;                 /* KM_STOP or KM_HALT once asked */
    uint64_t conn_serial;         /* the last km_conn.serial handed out */

    /* Held by the transport's thread while it works (from epoll_wait's
     * return to its next call) and by km_transport_request_sent: every
     * connection, its legs and buffers are touched only under it. Taken
     * before mu, never after it. */
    pthread_mutex_t work;

    /* under work: the transport's thread, and km_transport_request_sent
     * for the one connection it forwards on */
    km_conn *conns, *graveyard;
    uint64_t seen_gen;            /* generation the drain logic has seen */
    uint64_t rotated_ms;          /* when seen_gen last changed, or the last close by
                                   * reconnecting: cfg.grace_ms counts from here */
    km_conn *moving;              /* the one connection being moved or drained */
    uint64_t quiet_tick_ms;       /* when the quiet tick is due next (direct.c) */
    int ticking;                  /* the transport's thread sleeps no longer than that */
    km_transport_counts counters; /* handshakes, moves, drains, direct requests and replies */
    int halted;                   /* the thread ended by km_transport_halt: connections left as
                                   * they were, and no longer touched from librdkafka's threads */

    int joined;                   /* the thread, by km_transport_join_until: only the caller's */
};

/* t->stopping: stop closes every connection as the thread ends; halt (the
 * process is exiting) leaves them as they are */
#define KM_STOP 1
#define KM_HALT 2

/* engine.c */
uint64_t km_transport_clock_ms(void);
uint64_t km_transport_clock_us(void);
int km_register(km_endpoint *ep, uint32_t events);
void km_watch(km_endpoint *ep, uint32_t events);
void km_unwatch(km_endpoint *ep);
void km_wake(km_transport *t);
int km_submit(km_transport *t, km_cmd *cmd); /* 0, or ESHUTDOWN */
SSL_CTX *km_current_ctx(km_transport *t, uint64_t *gen); /* a new reference */

/* sockopts.c */
void km_sockopts_read(int fd, km_sockopts *o);
void km_sockopts_apply(int fd, const km_sockopts *o, const km_sockopts *defaults, int nodelay);

/* leg.c */
km_leg *km_leg_new(km_conn *c, SSL_CTX *ctx, uint64_t gen);   /* takes the ctx reference */
void km_leg_prestart(km_leg *l);                              /* librdkafka's thread: ClientHello if connected */
int km_leg_start(km_leg *l, char *why, size_t n);             /* TLS set up, socket watched */
int km_leg_open(km_leg *l, char *why, size_t n);              /* a spare: new socket + connect */
void km_leg_event(km_leg *l);                                 /* drives it towards LEG_UP */
void km_leg_timer(km_leg *l, uint64_t now);
void km_leg_close(km_leg *l);                                 /* close_notify if fine, close */
void km_leg_free(km_leg *l);

/* conn.c */
km_conn *km_conn_new(km_transport *t, const char *broker_id, int *err);
void km_conn_discard(km_conn *c);            /* before it was ever started */
void km_conn_start(km_conn *c);              /* on the transport's thread */
void km_conn_event(km_conn *c, km_leg *leg, uint32_t events);
void km_conn_timer(km_conn *c, uint64_t now);
void km_conn_close(km_conn *c, const char *why);
void km_conn_free(km_conn *c);
void km_conn_interest(km_conn *c);
/* from leg.c: a leg is up (confirmed), or failed with a reason */
void km_conn_leg_up(km_conn *c, km_leg *l);
void km_conn_leg_failed(km_conn *c, km_leg *l, const char *reason);
/* from drain.c: the spare replaces the active leg (at an idle point) */
void km_conn_switch(km_conn *c);

/* tlsverify.c */
int km_tls_prepare(km_leg *l, const char *host, int verify_hostname, char *why, size_t n);
void km_tls_failure(km_leg *l, int ssl_err, int sys_errno, const char *host, const char *when,
                    char *out, size_t n);
void km_tls_confirmed(km_leg *l);

/* pump.c; kick: what epoll reported (or KM_KICK_ALL: try everything) */
#define KM_KICK_PLAIN_IN 1u
#define KM_KICK_PLAIN_OUT 2u
#define KM_KICK_TLS_IN 4u
#define KM_KICK_TLS_OUT 8u
#define KM_KICK_ALL 16u
int km_pump(km_conn *c, unsigned kick);      /* 0 ok, -1 the connection is done */
int km_pump_idle(const km_conn *c);          /* nothing forwarded awaits its response */
int km_pump_alloc(km_conn *c);
int km_pump_up(km_conn *c);                  /* librdkafka -> broker only: 0 ok, -1 done */

/* direct.c: whether the calling thread blocks SIGPIPE, which any write to a
 * TCP socket from a thread other than the transport's requires. */
int km_thread_blocks_sigpipe(void);
/* direct.c: km_transport_request_sent's work, with t->work held; 1 if a
 * request was completed and sent by the calling thread */
int km_direct_forward(km_transport *t, int fd);
int km_direct_quiet(const km_conn *c);       /* P's EPOLLIN is left unwatched */
void km_direct_tick(km_transport *t, uint64_t now);   /* the quiet tick, on the transport's thread */
int km_direct_ticking(const km_transport *t);         /* some connection is quiet */
#define KM_QUIET_TICK_MS 10u
#define KM_QUIET_IDLE_MS 1000u
#define KM_QUIET_MAX_REQUEST 16384u   /* a bigger one: bulk, where wake-ups do not count */

/* drain.c */
void km_drain_tick(km_transport *t, uint64_t now);
uint64_t km_drain_deadline(const km_transport *t);
void km_drain_forget(km_transport *t, km_conn *c);
void km_drain_spare_up(km_conn *c);
void km_drain_spare_failed(km_conn *c, const char *reason);

/* log.c */
void km_log(km_transport *t, int level, const char *broker, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

#endif
