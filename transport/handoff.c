/*
 * km_transport_connect: what librdkafka's connect_cb must do, on librdkafka's
 * broker thread, with the broker lock held - so nothing here may block.
 * librdkafka's fd number ends up naming our AF_UNIX end L, held unwritable
 * by filler bytes; its TCP socket moves to a number only the transport
 * knows. See transport.h for the whole picture.
 */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <syslog.h>
#include <unistd.h>

#include "internal.h"

/* librdkafka, in state CONNECT, polls its fd for POLLOUT and then reads
 * SO_ERROR: as long as L is not writable, librdkafka waits. An AF_UNIX
 * stream socket is writable while the memory of what it sent and its peer
 * has not read stays under a quarter of its send buffer (skb truesize, not
 * payload bytes). Measured on Linux 6.18, net.core.wmem_default 212992:
 * writable stops after 4 writes of 16 KiB (65536 bytes; EAGAIN would come
 * only 147456 bytes later), after 70 one-byte writes, after 11 of 4 KiB.
 * So: write 16 KiB at a time and ask poll() after each write, on any kernel
 * and any buffer size, instead of trusting a number. */
#define HOLD_CHUNK 16384
#define HOLD_MAX_WRITES 64   /* 1 MiB: a socket still writable after that is not what we think */

static int hold(int l, size_t *held)
{
    static const unsigned char filler[HOLD_CHUNK];

    for (int i = 0; i <= HOLD_MAX_WRITES; i++) {
        struct pollfd p = {.fd = l, .events = POLLOUT};
        if (poll(&p, 1, 0) < 0)
            return errno;
        if (!(p.revents & POLLOUT))
            return 0;
        if (i == HOLD_MAX_WRITES)
            break;
        ssize_t w = send(l, filler, sizeof(filler), MSG_DONTWAIT | MSG_NOSIGNAL);
        if (w < 0 && errno != EAGAIN && errno != EINTR)
            return errno;
        if (w > 0)
            *held += (size_t)w;
    }
    return EMSGSIZE;
}

static int check_address(const struct sockaddr *addr, socklen_t len)
{
    if (addr == NULL)
        return EINVAL;
    if (addr->sa_family == AF_INET)
        return len >= (socklen_t)sizeof(struct sockaddr_in) ? 0 : EINVAL;
    if (addr->sa_family == AF_INET6)
        return len >= (socklen_t)sizeof(struct sockaddr_in6) ? 0 : EINVAL;
    return EAFNOSUPPORT;
}

static int check_socket(int fd, int family)
{
    int domain = -1, type = -1, proto = -1;
    socklen_t len = sizeof(int);

    if (getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &domain, &len) < 0)
        return errno;
    len = sizeof(int);
    if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) < 0)
        return errno;
    len = sizeof(int);
    if (getsockopt(fd, SOL_SOCKET, SO_PROTOCOL, &proto, &len) < 0)
        return errno;
    return domain == family && type == SOCK_STREAM && proto == IPPROTO_TCP ? 0 : EPROTOTYPE;
}

static void close_quietly(int fd)
{
    int saved = errno;

    if (fd >= 0)
        close(fd);
    errno = saved;
}

int km_transport_connect(km_transport *t, int fd, const struct sockaddr *addr, socklen_t addrlen,
                         const char *broker_id)
{
    int pair[2] = {-1, -1}, tcp = -1, fdflags, flags, err;
    size_t held = 0;
    km_conn *c;

    if (t == NULL || fd < 0 || broker_id == NULL)
        return EINVAL;
    if ((err = check_address(addr, addrlen)) != 0)
        return err;
    if ((fdflags = fcntl(fd, F_GETFD)) < 0)
        return errno;
    /* Only librdkafka's own TCP socket: an application socket_cb could have
     * made anything, and the transport must not speak TLS over it. */
    if ((err = check_socket(fd, addr->sa_family)) != 0)
        return err;
    if ((c = km_conn_new(t, broker_id, &err)) == NULL)
        return err;

    /* Everything that can fail happens before dup3: on any error fd is
     * still librdkafka's own TCP socket (at most with a connect started),
     * which librdkafka closes since connect_cb failed, never having written
     * to it. */
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, pair) < 0)
        goto fail_errno;
    if ((err = hold(pair[0], &held)) != 0) {
        km_log(t, LOG_ERR, broker_id, "cannot hold the connection until TLS is up: %s",
               err == EMSGSIZE ? "the AF_UNIX socket stays writable" : strerror(err));
        goto fail;
    }
    if ((tcp = fcntl(fd, F_DUPFD_CLOEXEC, 0)) < 0)
        goto fail_errno;
    /* what a spare leg needs to reach the same broker the same way */
    memcpy(&c->addr, addr, addrlen < sizeof(c->addr) ? addrlen : sizeof(c->addr));
    c->addrlen = addrlen < sizeof(c->addr) ? addrlen : (socklen_t)sizeof(c->addr);
    km_sockopts_read(tcp, &c->opts);
    /* O_NONBLOCK belongs to the open file, shared with fd: librdkafka set it
     * already; make sure, since the transport's thread must never block. */
    if ((flags = fcntl(tcp, F_GETFL)) < 0 ||
        (!(flags & O_NONBLOCK) && fcntl(tcp, F_SETFL, flags | O_NONBLOCK) < 0))
        goto fail_errno;
    if (t->cfg.tcp_nodelay) {
        int one = 1;
        if (setsockopt(tcp, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)) < 0)
            goto fail_errno;
    }
    if (connect(tcp, addr, addrlen) < 0 && errno != EINPROGRESS && errno != EINTR) {
        err = errno;
        km_log(t, LOG_ERR, broker_id, "connect failed: %s", strerror(err));
        goto fail;
    }
    /* The point of no return: from here librdkafka's fd is the AF_UNIX end. */
    if (dup3(pair[0], fd, (fdflags & FD_CLOEXEC) ? O_CLOEXEC : 0) < 0)
        goto fail_errno;
    close(pair[0]);

    c->tls->ep.fd = tcp;
    c->plain.fd = pair[1];
    c->rk_fd = fd;
    c->held = c->held_total = held;
    km_leg_prestart(c->tls);
    if ((err = km_submit(t, &c->add_cmd)) != 0) {
        /* Closing P with the filler queued makes fd report ECONNRESET. */
        km_conn_discard(c);
        return err;
    }
    return 0;

fail_errno:
    err = errno;
fail:
    close_quietly(pair[0]);
    close_quietly(pair[1]);
    close_quietly(tcp);
    c->plain.fd = -1;
    km_conn_discard(c);
    return err;
}
