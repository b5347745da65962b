/*
 * udp_listen.c - Graphite plaintext and StatsD over UDP, on lws's loop.
 *
 * Each datagram stands alone: every line in it is taken, its last line
 * needs no newline, and nothing carries over to the next datagram (a line
 * cut by the sender's packet size is lost, as with carbon).
 *
 * Why not lws_create_adopt_udp(): in lws 4.1.6 it binds with
 * sizeof(struct sockaddr), so an IPv6 bind address fails; it receives into
 * a struct sockaddr, which truncates an IPv6 sender's address (and so the
 * ingest.allow_from check); a zero-length datagram reads as "closed" and
 * ends the listener; and it sets SO_REUSEADDR, so a second server on the
 * same port binds without an error and steals datagrams.  The socket is
 * made here instead and adopted into the loop as a raw descriptor, and
 * each readiness reads up to BATCH datagrams with recvfrom().
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "access.h"
#include "ingest.h"
#include "ingest_stats.h"
#include "listeners.h"
#include "server.h"

/* Datagrams read per wakeup: enough to drain a burst, few enough that a
 * flood on one socket cannot starve HTTP and WebSocket. */
#define BATCH 64
/* Larger than any UDP payload (65,507 bytes over IPv4). */
#define DGRAM_MAX 65536

struct udp_listener {
    struct app *app;
    enum source src;
    const char *what;       /* for the log */
    struct lws *wsi;
};

static struct lws_protocols udp_protocols[2];
static struct udp_listener listeners[2];
/* One buffer: the loop reads one datagram at a time. */
static char dgram_buf[DGRAM_MAX];

static void peer_name(const struct sockaddr_storage *ss, char *buf,
                      size_t len)
{
    const void *a = ss->ss_family == AF_INET6
        ? (const void *)&((const struct sockaddr_in6 *)ss)->sin6_addr
        : (const void *)&((const struct sockaddr_in *)ss)->sin_addr;

    if (!inet_ntop(ss->ss_family, a, buf, (socklen_t)len))
        snprintf(buf, len, "?");
}

/* Every line of a Graphite datagram; the last one needs no newline. */
static void graphite_datagram(struct app *app, const char *data, size_t len,
                              const char *peer)
{
    size_t max = (size_t)app->cfg.graphite.max_line, line_no = 0;
    const char *end = data + len;
    double now = app_now();

    while (data < end) {
        const char *nl = memchr(data, '\n', (size_t)(end - data));
        size_t n = (size_t)((nl ? nl : end) - data);

        graphite_take_line(app, SRC_GRAPHITE_UDP, peer, now, ++line_no,
                           n > max ? NULL : data, n > max ? 0 : n, n > max);
        data += n + (nl != NULL);
    }
}

static void take(struct udp_listener *l, size_t n,
                 const struct sockaddr_storage *ss, socklen_t sl)
{
    struct app *app = l->app;
    char peer[INET6_ADDRSTRLEN];
    double t0;

    app->m.ingest_connections[l->src]++;
    app->m.bytes_in[l->src] += n;
    peer_name(ss, peer, sizeof(peer));
    if (app->allow_from &&
        !access_list_allows(app->allow_from, (const struct sockaddr *)ss,
                            sl)) {
        app->m.ingest_denied[l->src]++;
        warn_ratelimited(RL_LIMIT, "%s %s: datagram refused, not in "
                         "ingest.allow_from\n", l->what, peer);
        return;
    }
    t0 = ingest_clock();
    if (l->src == SRC_STATSD)
        statsd_take_datagram(app, dgram_buf, n, peer);
    else
        graphite_datagram(app, dgram_buf, n, peer);
    app->m.ingest_seconds[l->src] += ingest_clock() - t0;
}

static int callback_udp(struct lws *wsi, enum lws_callback_reasons reason,
                        void *user, void *in, size_t len)
{
    struct udp_listener *l = lws_get_opaque_user_data(wsi);
    struct sockaddr_storage ss;
    socklen_t sl;
    ssize_t n;
    int i;

    if (reason != LWS_CALLBACK_RAW_RX_FILE || !l)
        return 0;
    for (i = 0; i < BATCH; i++) {
        sl = sizeof(ss);
        n = recvfrom(lws_get_socket_fd(wsi), dgram_buf, DGRAM_MAX,
                     MSG_DONTWAIT, (struct sockaddr *)&ss, &sl);
        if (n < 0) {
            if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
                warn_ratelimited(RL_LIMIT, "%s: recvfrom: %s\n", l->what,
                                 strerror(errno));
            break;
        }
        take(l, (size_t)n, &ss, sl);
    }
    return 0;
}

/* A non-blocking UDP socket bound to bind:port ("" = every address). */
static int open_socket(const char *bind_addr, int port)
{
    struct sockaddr_in6 a6;
    struct sockaddr_in a4;
    struct sockaddr *sa;
    socklen_t sl;
    int fd, fam, off = 0;

    memset(&a6, 0, sizeof(a6));
    memset(&a4, 0, sizeof(a4));
    if (!bind_addr[0] || strchr(bind_addr, ':')) {
        fam = AF_INET6;
        a6.sin6_family = AF_INET6;
        a6.sin6_port = htons((uint16_t)port);
        a6.sin6_addr = in6addr_any;
        if (bind_addr[0] && inet_pton(AF_INET6, bind_addr, &a6.sin6_addr) != 1)
            return -1;
        sa = (struct sockaddr *)&a6;
        sl = sizeof(a6);
    } else {
        fam = AF_INET;
        a4.sin_family = AF_INET;
        a4.sin_port = htons((uint16_t)port);
        if (inet_pton(AF_INET, bind_addr, &a4.sin_addr) != 1)
            return -1;
        sa = (struct sockaddr *)&a4;
        sl = sizeof(a4);
    }
    fd = socket(fam, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    /* "" means IPv4 and IPv6 alike, as for the TCP listeners. */
    if ((fam == AF_INET6 &&
         setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &off, sizeof(off))) ||
        bind(fd, sa, sl)) {
        close(fd);
        return -1;
    }
    return fd;
}

static int start_one(struct app *app, struct lws_vhost *vh, int i,
                     enum source src, const char *what, const char *bind_addr,
                     int port)
{
    struct udp_listener *l = &listeners[i];
    lws_sock_file_fd_type fd;

    fd.filefd = open_socket(bind_addr, port);
    if (fd.filefd < 0) {
        lwsl_err("cannot listen for %s on UDP %s port %d: %s\n", what,
                 bind_addr[0] ? bind_addr : "*", port, strerror(errno));
        return -1;
    }
    l->app = app;
    l->src = src;
    l->what = what;
    l->wsi = lws_adopt_descriptor_vhost(vh, LWS_ADOPT_RAW_FILE_DESC, fd,
                                        "udp-ingest", NULL);
    if (!l->wsi) {
        /* lws closed the descriptor when adoption failed. */
        lwsl_err("cannot put the %s UDP socket on the loop\n", what);
        return -1;
    }
    lws_set_opaque_user_data(l->wsi, l);
    lwsl_notice("listening: %s on UDP %s:%d\n", what,
                bind_addr[0] ? bind_addr : "*", port);
    return 0;
}

int udp_listeners_start(struct app *app)
{
    struct lws_context_creation_info info;
    struct lws_vhost *vh;
    const struct config *cfg = &app->cfg;

    if (!cfg->graphite.port && !cfg->statsd.port)
        return 0;
    udp_protocols[0] = (struct lws_protocols){
        "udp-ingest", callback_udp, 0, 0, 0, NULL, 0};
    memset(&info, 0, sizeof(info));
    info.vhost_name = "udp";
    info.port = CONTEXT_PORT_NO_LISTEN_SERVER;
    info.protocols = udp_protocols;
    vh = lws_create_vhost(app->ctx, &info);
    if (!vh) {
        lwsl_err("cannot create the UDP vhost\n");
        return -1;
    }
    if (cfg->graphite.port &&
        start_one(app, vh, 0, SRC_GRAPHITE_UDP, "graphite",
                  cfg->graphite.bind, cfg->graphite.port) < 0)
        return -1;
    if (cfg->statsd.port &&
        (statsd_start(app) < 0 ||
         start_one(app, vh, 1, SRC_STATSD, "statsd", cfg->statsd.bind,
                   cfg->statsd.port) < 0))
        return -1;
    return 0;
}
