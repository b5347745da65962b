/*
 * gsend.c - Graphite plaintext load generator for the ingest benchmarks.
 *
 * Builds N lines "bench.sK VALUE TIMESTAMP\n" in memory first (cycling
 * over S series), splits them over C connections, one thread each, writes
 * them as fast as the server reads, then half-closes and waits for the
 * server to close its side.  A server that parses as it reads (streamavg,
 * carbon's line receiver, the sink) closes only after the last line, so the
 * time to that EOF is the time it took to take every point.
 *
 * Output: "points N", "seconds S", "points_per_s R" on stdout.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

struct part {
    const char *buf;
    size_t len;
    int port;
    int fd;
    int failed;
};

static double now_mono(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static int connect_to(int port)
{
    struct sockaddr_in sa;
    int fd = socket(AF_INET, SOCK_STREAM, 0);

    if (fd < 0)
        return -1;
    memset(&sa, 0, sizeof(sa));
    sa.sin_family = AF_INET;
    sa.sin_port = htons((uint16_t)port);
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
        close(fd);
        return -1;
    }
    return fd;
}

static void *send_part(void *arg)
{
    struct part *p = arg;
    size_t off = 0;
    char sink[4096];

    while (off < p->len) {
        ssize_t n = write(p->fd, p->buf + off, p->len - off);

        if (n <= 0) {
            p->failed = 1;
            return NULL;
        }
        off += (size_t)n;
    }
    shutdown(p->fd, SHUT_WR);
    while (read(p->fd, sink, sizeof(sink)) > 0)
        ;
    return NULL;
}

int main(int argc, char **argv)
{
    long npoints = 1000000, nseries = 100;
    int port = 0, nconn = 1, ch, i;
    double base_ts = 1700000000, t0, t1;
    struct part *parts;
    pthread_t *th;
    char **bufs;

    while ((ch = getopt(argc, argv, "p:c:n:s:t:")) != -1) {
        switch (ch) {
        case 'p': port = atoi(optarg); break;
        case 'c': nconn = atoi(optarg); break;
        case 'n': npoints = atol(optarg); break;
        case 's': nseries = atol(optarg); break;
        case 't': base_ts = atof(optarg); break;
        default:
            fprintf(stderr, "usage: gsend -p PORT [-c CONNS] [-n POINTS] "
                    "[-s SERIES] [-t BASE_TS]\n");
            return 2;
        }
    }
    if (port <= 0 || nconn < 1 || npoints < 1 || nseries < 1)
        return 2;
    signal(SIGPIPE, SIG_IGN);

    parts = calloc((size_t)nconn, sizeof(*parts));
    th = calloc((size_t)nconn, sizeof(*th));
    bufs = calloc((size_t)nconn, sizeof(*bufs));
    for (i = 0; i < nconn; i++) {
        long first = npoints * i / nconn, last = npoints * (i + 1) / nconn;
        size_t cap = (size_t)(last - first) * 48 + 64, len = 0;
        long k;

        bufs[i] = malloc(cap);
        if (!bufs[i])
            return 1;
        /* Connection i sends the series i, i + C, ... (when S is a
         * multiple of C), so each series' points stay in order. */
        for (k = first; k < last; k++) {
            long j = k - first, s = (i + (long)nconn * j) % nseries;

            len += (size_t)snprintf(bufs[i] + len, cap - len,
                                    "bench.s%ld %ld.%02ld %.0f\n", s,
                                    k % 1000, k % 97,
                                    base_ts + (double)(j / 100));
        }
        parts[i].buf = bufs[i];
        parts[i].len = len;
        parts[i].port = port;
    }
    for (i = 0; i < nconn; i++) {
        parts[i].fd = connect_to(port);
        if (parts[i].fd < 0) {
            perror("gsend: connect");
            return 1;
        }
    }
    t0 = now_mono();
    for (i = 0; i < nconn; i++)
        pthread_create(&th[i], NULL, send_part, &parts[i]);
    for (i = 0; i < nconn; i++)
        pthread_join(th[i], NULL);
    t1 = now_mono();
    for (i = 0; i < nconn; i++)
        if (parts[i].failed) {
            fprintf(stderr, "gsend: connection %d failed\n", i);
            return 1;
        }
    printf("points %ld\nseconds %.4f\npoints_per_s %.0f\n", npoints,
           t1 - t0, (double)npoints / (t1 - t0));
    return 0;
}
