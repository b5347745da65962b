/*
 * wsload.c - WebSocket fan-out load client for the streamavg benchmarks.
 *
 * Opens N client connections to ws://127.0.0.1:PORT/stream (subprotocol
 * "streamavg"), each subscribed in the URL to one (series, window) pair,
 * on libwebsockets' client API.  By default it runs on lws's libev event
 * library plugin (-e own selects lws's own poll loop): at a thousand
 * connections the own loop's per-wakeup scan of every fd costs more than
 * the messages do.
 *
 * Once every connection has had its first message (the history), the
 * feeder posts one NDJSON point per 1/RATE seconds to POST /ingest over
 * four keep-alive HTTP connections (point i on connection i mod 4), each
 * waiting for its answer as an ordinary client does.  Each point's value
 * is its due time on the wall clock; the receiving side subtracts it from
 * its own clock (same machine, same clock).  Stamping the due time rather
 * than the send time keeps a server that answers late from hiding its
 * delay by slowing the feeder down.
 *
 * -P pipelines the whole feed on one connection instead, a second thread
 * draining the answers.  streamavg 0.1.0 stopped answering and spun when
 * two POSTs arrived in one read (bench/README.md); it now refuses the
 * second with 400 and closes, which -P shows.
 *
 * Output, one "key value" per line on stdout, so the driver can parse it;
 * "READY", "FEED_START" and "FEED_END" lines let the driver sample the
 * server's CPU time at the right moments.  A message may also be a JSON
 * array of averages (a batched frame): every "value" in it is counted.
 *
 * With -r 0 the connections stay idle after READY until stdin closes:
 * the driver then measures the server's memory per idle connection.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <arpa/inet.h>
#include <time.h>
#include <unistd.h>

#include <ev.h>
#include <libwebsockets.h>

/* Latency histogram: 10 us buckets up to 2 s, then one overflow bucket
 * per second up to 120 s. */
#define FINE_US 10
#define FINE_N 200000
#define COARSE_N 120

struct conn {
    struct lws *wsi;
    int established;
    int got_first;
    int skipping;       /* inside a history message */
};

static struct {
    const char *host, *series, *evlib;
    int port, nconns, window, rate, idle;
    double duration, grace;
    int connect_batch;
} opt = {"127.0.0.1", "bench", "ev", 0, 1000, 10, 100, 0, 5.0, 3.0, 100};

static struct lws_context *ctx;
static struct conn *conns;
static int next_conn, n_established, n_first, n_failed, n_closed;
static volatile int stop_all;
static lws_sorted_usec_list_t sul_connect, sul_tick;

/* Counters touched on the loop thread only. */
static uint64_t msgs_total, msgs_in_window, dropped_total, bytes_total,
                frames_total;
static uint64_t hist_fine[FINE_N], hist_coarse[COARSE_N + 1];
static double lat_max;

/* Feeder state, shared with the loop through these atomics. */
static volatile double feed_start_rt, feed_end_rt;   /* wall clock, s */
static volatile int feed_state;     /* 0 none, 1 running, 2 done */
static volatile uint64_t feed_sent, feed_answers;

static double now_rt(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static double now_mono(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void record_latency(double sent, double now)
{
    double lat = now - sent;
    long us;

    if (lat < 0)
        lat = 0;
    if (lat > lat_max)
        lat_max = lat;
    us = (long)(lat * 1e6);
    if (us / FINE_US < FINE_N)
        hist_fine[us / FINE_US]++;
    else
        hist_coarse[lat < COARSE_N ? (int)lat : COARSE_N]++;
}

/* The p-quantile of the latency over every message that should have
 * arrived: one still missing at the end of the run counts as slower than
 * any that arrived, and a quantile that falls among them is -1. */
static double percentile(double p, uint64_t should)
{
    uint64_t n = 0, want, seen = 0;
    long i;

    for (i = 0; i < FINE_N; i++)
        n += hist_fine[i];
    for (i = 0; i <= COARSE_N; i++)
        n += hist_coarse[i];
    if (!n)
        return -1;
    if (should > n) {
        want = (uint64_t)(p * (double)should);
        if (want >= n)
            return -1;
        n = should;
    }
    want = (uint64_t)(p * (double)n);
    if (want >= n)
        want = n - 1;
    for (i = 0; i < FINE_N; i++) {
        seen += hist_fine[i];
        if (seen > want)
            return (double)(i * FINE_US + FINE_US / 2) * 1e-6;
    }
    for (i = 0; i <= COARSE_N; i++) {
        seen += hist_coarse[i];
        if (seen > want)
            return (double)i + 0.5;
    }
    return lat_max;
}

/* Count every "value": in a chunk of live averages (one object or an
 * array of them) and every "dropped": N. */
static void parse_live(const char *p, size_t len)
{
    const char *end = p + len, *q = p;
    double now = now_rt();

    while (q < end && (q = memmem(q, (size_t)(end - q), "\"value\":", 8))) {
        char *e;
        double v;

        q += 8;
        v = strtod(q, &e);
        if (e == q)
            continue;
        msgs_total++;
        if (feed_state && now <= feed_start_rt + opt.duration)
            msgs_in_window++;
        if (v > 1e9)
            record_latency(v, now);
    }
    for (q = p; q < end &&
         (q = memmem(q, (size_t)(end - q), "\"dropped\":", 10)); q += 10)
        dropped_total += strtoull(q + 10, NULL, 10);
}

static void connect_one(int i)
{
    struct lws_client_connect_info ci;
    char path[300];

    snprintf(path, sizeof(path), opt.idle ? "/stream" :
             "/stream?series=%s&window_size=%d", opt.series, opt.window);
    memset(&ci, 0, sizeof(ci));
    ci.context = ctx;
    ci.address = opt.host;
    ci.port = opt.port;
    ci.path = path;
    ci.host = opt.host;
    ci.origin = opt.host;
    ci.protocol = "streamavg";
    ci.local_protocol_name = "wsload";
    ci.pwsi = &conns[i].wsi;
    ci.userdata = &conns[i];
    if (!lws_client_connect_via_info(&ci))
        n_failed++;
}

/* Connect in batches so the server's listen backlog never overflows. */
static void connect_more(lws_sorted_usec_list_t *sul)
{
    int i;

    for (i = 0; i < opt.connect_batch && next_conn < opt.nconns; i++)
        connect_one(next_conn++);
    if (next_conn < opt.nconns)
        lws_sul_schedule(ctx, 0, &sul_connect, connect_more,
                         10 * LWS_US_PER_MS);
}

static int callback_client(struct lws *wsi, enum lws_callback_reasons reason,
                           void *user, void *in, size_t len)
{
    struct conn *c = user;

    switch (reason) {
    case LWS_CALLBACK_CLIENT_CONNECTION_ERROR:
        n_failed++;
        if (c)
            c->wsi = NULL;
        lwsl_err("connection error: %s\n", in ? (char *)in : "(none)");
        break;
    case LWS_CALLBACK_CLIENT_ESTABLISHED:
        c->established = 1;
        n_established++;
        break;
    case LWS_CALLBACK_CLIENT_RECEIVE:
        bytes_total += len;
        if (lws_is_first_fragment(wsi)) {
            const char *p = in;
            size_t look = len < 40 ? len : 40;

            frames_total++;
            c->skipping = memmem(p, look, "\"history\"", 9) != NULL ||
                          memmem(p, look, "\"error\"", 7) != NULL;
        }
        if (!c->skipping)
            parse_live(in, len);
        if (lws_is_final_fragment(wsi) &&
            !lws_remaining_packet_payload(wsi)) {
            c->skipping = 0;
            if (!c->got_first) {
                c->got_first = 1;
                n_first++;
            }
        }
        break;
    case LWS_CALLBACK_CLIENT_CLOSED:
        n_closed++;
        if (c)
            c->wsi = NULL;
        break;
    default:
        break;
    }
    return lws_callback_http_dummy(wsi, reason, user, in, len);
}

static const struct lws_protocols protocols[] = {
    {"wsload", callback_client, 0, 0, 0, NULL, 0},
    {NULL, NULL, 0, 0, 0, NULL, 0}
};

/* ---- the feeder ------------------------------------------------------- */

#define FEED_CONNS 4

static int feed_fds[FEED_CONNS];
static int feed_pipelined;      /* -P: one connection, pipelined */
static struct timespec feed_t0;

static int open_feed(void)
{
    struct sockaddr_in sa;
    int fd = socket(AF_INET, SOCK_STREAM, 0), one = 1;

    if (fd < 0)
        return -1;
    memset(&sa, 0, sizeof(sa));
    sa.sin_family = AF_INET;
    sa.sin_port = htons((uint16_t)opt.port);
    inet_pton(AF_INET, opt.host, &sa.sin_addr);
    if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
        close(fd);
        return -1;
    }
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    return fd;
}

/* -P only: reads and discards the answers, counting the status lines. */
static void *drain_main(void *arg)
{
    char buf[65536];
    ssize_t n;

    (void)arg;
    while ((n = read(feed_fds[0], buf, sizeof(buf))) > 0) {
        char *p = buf, *end = buf + n;

        while ((p = memmem(p, (size_t)(end - p), "HTTP/1.1 ", 9))) {
            __atomic_add_fetch(&feed_answers, 1, __ATOMIC_RELAXED);
            p += 9;
        }
    }
    return NULL;
}

/* Waits for one whole answer on fd (headers and Content-Length body). */
/* Read one answer.  Returns 0, 1 when the server said it closes the
 * connection after it (streamavg does after every POST), or -1. */
static int read_answer(int fd)
{
    char buf[4096];
    size_t have = 0;
    long want = -1;

    for (;;) {
        ssize_t n = read(fd, buf + have, sizeof(buf) - 1 - have);
        char *hend;

        if (n <= 0)
            return -1;
        have += (size_t)n;
        buf[have] = '\0';
        hend = strstr(buf, "\r\n\r\n");
        if (hend && want < 0) {
            char *cl = strcasestr(buf, "content-length:");

            want = (long)(hend + 4 - buf) + (cl ? atol(cl + 15) : 0);
        }
        if (want >= 0 && (long)have >= want)
            return strcasestr(buf, "connection: close") ? 1 : 0;
        if (have >= sizeof(buf) - 1)
            return -1;
    }
}

/* Feeder connection t sends points t, t + K, t + 2K, ... each at its due
 * time, and waits for each answer before its next point, as an ordinary
 * keep-alive client does.  The value is the point's due wall-clock time,
 * not the moment it went out: a server that answers late delays the
 * feeder, and that delay must show in the latency too. */
static void *feed_conn_main(void *arg)
{
    int t = (int)(intptr_t)arg, fd = feed_fds[t];
    int step = feed_pipelined ? 1 : FEED_CONNS;
    uint64_t i, total = (uint64_t)(opt.rate * opt.duration);
    char body[128], req[512];

    for (i = (uint64_t)t; i < total && !stop_all; i += (uint64_t)step) {
        uint64_t ns = (uint64_t)((double)i * 1e9 / opt.rate);
        struct timespec due;
        int blen, rlen, rc;

        due.tv_sec = feed_t0.tv_sec + (time_t)(ns / 1000000000u);
        due.tv_nsec = feed_t0.tv_nsec + (long)(ns % 1000000000u);
        if (due.tv_nsec >= 1000000000L) {
            due.tv_sec++;
            due.tv_nsec -= 1000000000L;
        }
        clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &due, NULL);
        /* A server that answers late has made the feeder late: the
         * points still due when the window has closed are not sent. */
        if (now_rt() > feed_start_rt + opt.duration + 0.05)
            break;
        blen = snprintf(body, sizeof(body),
                        "{\"series\":\"%s\",\"value\":%.6f}\n", opt.series,
                        feed_start_rt + (double)ns * 1e-9);
        rlen = snprintf(req, sizeof(req),
                        "POST /ingest HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                        "Content-Type: application/x-ndjson\r\n"
                        "Content-Length: %d\r\n\r\n%s", blen, body);
        if (write(fd, req, (size_t)rlen) != rlen) {
            fprintf(stderr, "feeder: write: %s\n", strerror(errno));
            break;
        }
        __atomic_add_fetch(&feed_sent, 1, __ATOMIC_RELAXED);
        if (feed_pipelined)
            continue;
        rc = read_answer(fd);
        if (rc < 0) {
            fprintf(stderr, "feeder: no answer from the server\n");
            break;
        }
        __atomic_add_fetch(&feed_answers, 1, __ATOMIC_RELAXED);
        if (rc == 1) {
            /* The server closes the connection (it did after every
             * POST before): a new one for the next point, as any
             * HTTP/1.1 client does. */
            close(fd);
            fd = feed_fds[t] = open_feed();
            if (fd < 0) {
                fprintf(stderr, "feeder: cannot reconnect\n");
                break;
            }
        }
    }
    return NULL;
}

static void *feed_main(void *arg)
{
    pthread_t th[FEED_CONNS];
    int t, n = feed_pipelined ? 1 : FEED_CONNS;

    (void)arg;
    clock_gettime(CLOCK_MONOTONIC, &feed_t0);
    feed_start_rt = now_rt();
    __atomic_store_n(&feed_state, 1, __ATOMIC_SEQ_CST);
    printf("FEED_START %.6f\n", now_mono());
    fflush(stdout);
    for (t = 0; t < n; t++)
        pthread_create(&th[t], NULL, feed_conn_main, (void *)(intptr_t)t);
    for (t = 0; t < n; t++)
        pthread_join(th[t], NULL);
    feed_end_rt = now_rt();
    printf("FEED_END %.6f\n", now_mono());
    fflush(stdout);
    __atomic_store_n(&feed_state, 2, __ATOMIC_SEQ_CST);
    return NULL;
}

/* ---- main ------------------------------------------------------------- */

static struct ev_loop *evloop;
static int phase, done;     /* phase 0 connect, 1 idle, 2 feed */
static double t_start, t_ready, deadline;
static pthread_t feeder, drainer;

static void on_signal(int sig)
{
    (void)sig;
    stop_all = 1;
}

static void usage(void)
{
    fprintf(stderr,
            "usage: wsload -p PORT [-n CONNS] [-s SERIES] [-w WINDOW] "
            "[-r POINTS_PER_S (0: idle until stdin closes)] [-d SECONDS] "
            "[-g GRACE_S] [-e ev|own] [-i (no subscription)] "
            "[-P (pipeline the feed on one connection)]\n");
    exit(2);
}

static void report(void)
{
    double dur = opt.duration;
    uint64_t should = feed_sent * (uint64_t)n_first;
    double p50, p99;

    printf("connections %d\nestablished %d\nfailed %d\nclosed %d\n",
           opt.nconns, n_established, n_failed, n_closed);
    printf("connect_seconds %.3f\n", t_ready);
    printf("points_due %llu\npoints_sent %llu\nanswers %llu\n",
           (unsigned long long)(opt.rate * opt.duration),
           (unsigned long long)feed_sent, (unsigned long long)feed_answers);
    printf("feed_seconds %.3f\n", dur);
    printf("expected %llu\n",
           (unsigned long long)(feed_sent * (uint64_t)n_first));
    printf("messages %llu\nmessages_in_window %llu\nframes %llu\n"
           "bytes %llu\ndropped %llu\n",
           (unsigned long long)msgs_total,
           (unsigned long long)msgs_in_window,
           (unsigned long long)frames_total,
           (unsigned long long)bytes_total,
           (unsigned long long)dropped_total);
    printf("msgs_per_s %.1f\n", dur > 0 ? (double)msgs_in_window / dur : 0);
    should = should > dropped_total ? should - dropped_total : 0;
    p50 = percentile(0.50, should);
    p99 = percentile(0.99, should);
    printf("undelivered %llu\n", (unsigned long long)
           (should > msgs_total ? should - msgs_total : 0));
    /* -1: more than 50% (1%) of the messages had not arrived by the end
     * of the grace period. */
    printf("lat_p50_ms %.3f\nlat_p99_ms %.3f\nlat_max_ms %.3f\n",
           p50 < 0 ? -1 : p50 * 1e3, p99 < 0 ? -1 : p99 * 1e3,
           lat_max * 1e3);
    fflush(stdout);
}

static void finish(void)
{
    done = 1;
    if (evloop)
        ev_break(evloop, EVBREAK_ALL);
}

/* Every 10 ms on the loop: move from connecting to idling or feeding, and
 * notice when the run is over. */
static void tick(lws_sorted_usec_list_t *sul)
{
    int ready = opt.idle ? n_established : n_first;

    if (stop_all) {
        finish();
        return;
    }
    switch (phase) {
    case 0:
        if (next_conn == opt.nconns && ready + n_failed >= opt.nconns) {
            /* everyone is in */
        } else if (now_mono() > deadline) {
            fprintf(stderr, "wsload: only %d of %d ready after %.0f s\n",
                    ready, opt.nconns, deadline - t_start);
        } else {
            break;
        }
        t_ready = now_mono() - t_start;
        printf("READY %d\n", ready);
        fflush(stdout);
        if (opt.rate == 0) {
            fcntl(0, F_SETFL, O_NONBLOCK);
            phase = 1;
            break;
        }
        for (int k = 0; k < (feed_pipelined ? 1 : FEED_CONNS); k++) {
            feed_fds[k] = open_feed();
            if (feed_fds[k] < 0) {
                fprintf(stderr, "wsload: cannot connect the feeder\n");
                finish();
                return;
            }
        }
        if (feed_pipelined)
            pthread_create(&drainer, NULL, drain_main, NULL);
        pthread_create(&feeder, NULL, feed_main, NULL);
        phase = 2;
        break;
    case 1: {
        char b[64];
        ssize_t r = read(0, b, sizeof(b));

        if (r == 0 || (r < 0 && errno != EAGAIN)) {
            finish();
            return;
        }
        break;
    }
    case 2:
        if (feed_state == 2) {
            uint64_t expect = feed_sent * (uint64_t)n_first;

            if (msgs_total + dropped_total >= expect ||
                now_rt() > feed_start_rt + opt.duration + opt.grace) {
                finish();
                return;
            }
        }
        break;
    }
    lws_sul_schedule(ctx, 0, &sul_tick, tick, 10 * LWS_US_PER_MS);
}

int main(int argc, char **argv)
{
    struct lws_context_creation_info info;
    struct rlimit rl;
    void *foreign[1];
    int ch;

    while ((ch = getopt(argc, argv, "h:p:n:s:w:r:d:g:e:b:iP")) != -1) {
        switch (ch) {
        case 'h': opt.host = optarg; break;
        case 'p': opt.port = atoi(optarg); break;
        case 'n': opt.nconns = atoi(optarg); break;
        case 's': opt.series = optarg; break;
        case 'w': opt.window = atoi(optarg); break;
        case 'r': opt.rate = atoi(optarg); break;
        case 'd': opt.duration = atof(optarg); break;
        case 'g': opt.grace = atof(optarg); break;
        case 'e': opt.evlib = optarg; break;
        case 'b': opt.connect_batch = atoi(optarg); break;
        case 'i': opt.idle = 1; break;
        case 'P': feed_pipelined = 1; break;
        default: usage();
        }
    }
    if (opt.port <= 0 || opt.nconns <= 0 || opt.rate < 0)
        usage();
    if (opt.idle)
        opt.rate = 0;

    signal(SIGPIPE, SIG_IGN);
    signal(SIGINT, on_signal);
    signal(SIGTERM, on_signal);
    if (!getrlimit(RLIMIT_NOFILE, &rl)) {
        rlim_t want = (rlim_t)opt.nconns + 256;

        if (rl.rlim_max < want)
            rl.rlim_max = want;
        rl.rlim_cur = rl.rlim_max;
        if (setrlimit(RLIMIT_NOFILE, &rl))
            fprintf(stderr, "cannot raise the fd limit to %llu\n",
                    (unsigned long long)want);
    }
    conns = calloc((size_t)opt.nconns, sizeof(*conns));
    if (!conns)
        return 1;

    lws_set_log_level(LLL_ERR, NULL);
    memset(&info, 0, sizeof(info));
    info.port = CONTEXT_PORT_NO_LISTEN;
    info.protocols = protocols;
    info.fd_limit_per_thread = (unsigned)opt.nconns + 64;
    if (!strcmp(opt.evlib, "ev")) {
        /* Our own libev loop, handed to lws, so that we can break it:
         * lws_service() on an event library runs the loop until it has
         * nothing left to watch. */
        evloop = ev_loop_new(EVFLAG_AUTO);
        foreign[0] = evloop;
        info.foreign_loops = foreign;
        info.options |= LWS_SERVER_OPTION_LIBEV;
    } else if (strcmp(opt.evlib, "own")) {
        usage();
    }
    ctx = lws_create_context(&info);
    if (!ctx) {
        fprintf(stderr, "wsload: cannot create the lws context (event lib "
                "'%s'; the libev plugin is Debian's "
                "libwebsockets-evlib-ev)\n", opt.evlib);
        return 1;
    }
    printf("evlib %s\n", opt.evlib);

    t_start = now_mono();
    deadline = t_start + 60 + opt.nconns / 200.0;
    lws_sul_schedule(ctx, 0, &sul_connect, connect_more, 1);
    lws_sul_schedule(ctx, 0, &sul_tick, tick, 10 * LWS_US_PER_MS);

    if (evloop)
        ev_run(evloop, 0);
    else
        while (!done && lws_service(ctx, 0) >= 0)
            ;

    stop_all = 1;
    if (phase == 2) {
        pthread_join(feeder, NULL);
        for (int k = 0; k < (feed_pipelined ? 1 : FEED_CONNS); k++)
            shutdown(feed_fds[k], SHUT_RDWR);
        if (feed_pipelined)
            pthread_join(drainer, NULL);
    }
    report();
    /* The connections close with the process; a client that tore down
     * 10,000 of them one by one would only measure itself. */
    fflush(stdout);
    _exit(0);
}
