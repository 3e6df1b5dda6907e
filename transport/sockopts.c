/*
 * librdkafka sets options on the TCP socket it hands to connect_cb
 * (SO_KEEPALIVE with socket.keepalive.enable; from 2.8 also TCP_NODELAY
 * and the buffer sizes). That socket stays the broker connection; a socket
 * the transport opens itself, to move a connection to new credentials,
 * gets the same options. A buffer size is copied only when librdkafka set
 * one: setting SO_SNDBUF/SO_RCVBUF to the current value would turn off the
 * kernel's autotuning.
 */
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <string.h>
#include <sys/socket.h>

#include "internal.h"

static int get_int(int fd, int level, int name)
{
    int v = 0;
    socklen_t len = sizeof(v);

    return getsockopt(fd, level, name, &v, &len) == 0 ? v : 0;
}

void km_sockopts_read(int fd, km_sockopts *o)
{
    memset(o, 0, sizeof(*o));
    o->keepalive = get_int(fd, SOL_SOCKET, SO_KEEPALIVE);
    o->nodelay = get_int(fd, IPPROTO_TCP, TCP_NODELAY);
    o->sndbuf = get_int(fd, SOL_SOCKET, SO_SNDBUF);
    o->rcvbuf = get_int(fd, SOL_SOCKET, SO_RCVBUF);
}

/* Best effort, as librdkafka's own setsockopt calls: a failure only costs
 * the option. */
void km_sockopts_apply(int fd, const km_sockopts *o, const km_sockopts *defaults, int nodelay)
{
    int one = 1;

    if (o->keepalive)
        (void)setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof(one));
    if (o->nodelay || nodelay)
        (void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    /* getsockopt reports twice what was set (socket(7)) */
    if (o->sndbuf != defaults->sndbuf) {
        int v = o->sndbuf / 2;
        (void)setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &v, sizeof(v));
    }
    if (o->rcvbuf != defaults->rcvbuf) {
        int v = o->rcvbuf / 2;
        (void)setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &v, sizeof(v));
    }
}
