/*
 * http_api.c - the JSON endpoints: /average, /series, /health, /metrics
 * and POST /ingest.  /plot lives in http_plot.c; the dashboard's files are
 * served by lws's own file mounts (server.c).
 *
 * Every request gets exactly one answer, queued with http_answer() and
 * written in pieces of at most WRITE_CHUNK bytes, the first together with
 * the headers.
 */
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#include <json.h>

#include "ingest.h"
#include "ingest_stats.h"
#include "storage.h"
#include "jsonfmt.h"
#include "params.h"
#include "server.h"
#include "sockread.h"
#include "stream.h"

#define WRITE_CHUNK 16384
/* Room for an answer's headers: status line, type, length, two more. */
#define HEADER_ROOM 1024
#define MAX_REPORTED_ERRORS 10
#define BODY_TIMEOUT_S 60
#define VERSION_STRING "0.1.0"

static const char JSON_TYPE[] = "application/json";

/* ---- answers ---------------------------------------------------------- */

static void http_pss_reset(struct http_pss *pss)
{
    free(pss->out);
    free(pss->body);
    if (pss->flight)
        http_plot_detach(pss);
    if (pss->in_flight)
        pss->app->m.http_in_flight--;
    memset(pss, 0, sizeof(*pss));
}

void http_answer_owned(struct http_pss *pss, int status, const char *type,
                       char *body, size_t len)
{
    if (pss->answering) {
        /* A second answer would corrupt the stream: keep the first. */
        free(body);
        return;
    }
    pss->answering = 1;
    pss->status = status;
    pss->content_type = type;
    pss->out = body;
    pss->out_len = len;
    pss->out_off = 0;
    if (status >= 400)
        pss->app->m.http_errors++;
    lws_callback_on_writable(pss->wsi);
}

void http_answer(struct http_pss *pss, int status, const char *type,
                 const char *body, size_t len)
{
    char *copy = malloc(len + 1);

    if (!copy) {
        /* Nothing sensible to send: drop the connection. */
        lws_set_timeout(pss->wsi, PENDING_TIMEOUT_CLOSE_SEND,
                        LWS_TO_KILL_ASYNC);
        return;
    }
    memcpy(copy, body, len);
    copy[len] = '\0';
    http_answer_owned(pss, status, type, copy, len);
}

/* Answer with obj serialised, then release obj. */
static void answer_json(struct http_pss *pss, int status,
                        struct json_object *obj)
{
    size_t len;
    char *buf = jsonfmt_dump(obj, 0, &len);

    json_object_put(obj);
    if (!buf) {
        http_answer(pss, 500, JSON_TYPE, "{\"error\":\"out of memory\"}",
                    25);
        return;
    }
    http_answer_owned(pss, status, JSON_TYPE, buf, len);
}

void http_answer_error(struct http_pss *pss, int status, const char *msg)
{
    struct json_object *o = json_object_new_object();

    json_object_object_add(o, "error", json_object_new_string(msg));
    answer_json(pss, status, o);
}

static int reads_received(struct lws *wsi, uint64_t *n);
static int complete_transaction(struct lws *wsi, const uint64_t *received);

/* Write the queued answer: from WRITEABLE one piece at a time, or, with
 * `now`, all of it at once (lws keeps what the socket does not take).
 * On HTTP/1 the headers and the first WRITE_CHUNK bytes of the body go
 * out in one write, so a small answer is one send() and one TCP segment;
 * lws 4.1 counts nothing per write on HTTP/1 (no content-length
 * bookkeeping), so the combined write is just bytes to it.  HTTP/2 needs
 * its headers as their own HEADERS frame.  Returns what the callback
 * must return. */
static int write_answer(struct http_pss *pss, int now)
{
    struct lws *wsi = pss->wsi;
    uint64_t received;
    /* Counted before this call writes: see complete_transaction(). */
    int counted = !pss->close_after && !reads_received(wsi, &received);

    if (!pss->headers_sent) {
        unsigned char buf[LWS_PRE + HEADER_ROOM + WRITE_CHUNK];
        unsigned char *start = buf + LWS_PRE, *p = start;
        unsigned char *end = start + HEADER_ROOM - 1;
        size_t n = pss->out_len < WRITE_CHUNK ? pss->out_len : WRITE_CHUNK;
        int last = n == pss->out_len;

        if (lws_add_http_common_headers(wsi, (unsigned)pss->status,
                                        pss->content_type, pss->out_len,
                                        &p, end) ||
            lws_add_http_header_by_name(wsi,
                    (const unsigned char *)"cache-control:",
                    (const unsigned char *)"no-store", 8, &p, end) ||
            (pss->close_after &&
             lws_add_http_header_by_name(wsi,
                    (const unsigned char *)"connection:",
                    (const unsigned char *)"close", 5, &p, end)))
            return -1;
        if (lws_get_network_wsi(wsi) != wsi) {
            if (lws_finalize_write_http_header(wsi, start, &p, end))
                return -1;
            pss->headers_sent = 1;
            if (pss->out_len && !now) {
                lws_callback_on_writable(wsi);
                return 0;
            }
        } else {
            if (lws_finalize_http_header(wsi, &p, end))
                return -1;
            memcpy(p, pss->out, n);
            p += n;
            if (lws_write(wsi, start, (size_t)(p - start),
                          last ? LWS_WRITE_HTTP_FINAL : LWS_WRITE_HTTP) !=
                (int)(p - start))
                return -1;
            pss->headers_sent = 1;
            pss->out_off = n;
            if (!last && !now) {
                lws_callback_on_writable(wsi);
                return 0;
            }
        }
    }

    while (pss->out_off < pss->out_len) {
        size_t n = pss->out_len - pss->out_off;
        unsigned char buf[LWS_PRE + WRITE_CHUNK];
        int last;

        if (n > WRITE_CHUNK)
            n = WRITE_CHUNK;
        last = pss->out_off + n == pss->out_len;
        memcpy(buf + LWS_PRE, pss->out + pss->out_off, n);
        if (lws_write(wsi, buf + LWS_PRE, n,
                      last ? LWS_WRITE_HTTP_FINAL : LWS_WRITE_HTTP) != (int)n)
            return -1;
        pss->out_off += n;
        if (!last && !now) {
            lws_callback_on_writable(wsi);
            return 0;
        }
    }

    /* The whole answer is out. */
    if (pss->close_after)
        return -1;
    http_pss_reset(pss);
    return complete_transaction(wsi, counted ? &received : NULL) ? -1 : 0;
}

/*
 * An answer that is ready when the request callback returns goes out at
 * once on HTTP/1, the transaction completed there and then: a loop turn
 * sooner, and, after a POST body, it must.  lws 4.1 keeps an HTTP/1
 * connection in its body state until the transaction completes, and with
 * more input already buffered behind the body it calls BODY_COMPLETION
 * again on each loop turn until WRITEABLE comes.  HTTP/2 streams keep to
 * WRITEABLE, one write each.
 */
static int answer_now(struct http_pss *pss)
{
    if (!pss->answering || lws_get_network_wsi(pss->wsi) != pss->wsi)
        return 0;
    return write_answer(pss, 1);
}

/* ---- requests with a body pipelined behind another ---------------------- */

/*
 * lws 4.1.6 cannot read the body of an HTTP/1 request whose head it took
 * from input it had already buffered, that is, a request pipelined behind
 * another one in the same read.  When LWS_CALLBACK_HTTP returns 0 for a
 * request with a body, lws_http_action() (roles/http/server/server.c)
 * hands the connection's buffered input (wsi->buflist) to lws_read_h1()
 * as the body; but lws_h1_server_socket_service() (roles/h1/ops-h1.c),
 * which is parsing that same buffered segment, only marks the request's
 * head as used after lws_read_h1() returns.  So the "body" is the
 * request's own head, and then:
 *  - if the callback returns 0, the loop in lws_http_action() calls
 *    BODY_COMPLETION for ever without consuming anything (100% CPU, the
 *    whole server stops answering);
 *  - if it returns nonzero to get out, the inner lws_read_h1() closes and
 *    frees the wsi, and the outer lws_read_h1() reads the freed wsi and
 *    closes it again (valgrind: invalid reads in lws_read_h1 and
 *    __lws_close_free_wsi);
 *  - if the body is longer than what is buffered, the inner call frees
 *    the buffered segment and the outer one goes on reading it.
 * Whatever the callbacks return after that is wrong.  Only a nonzero
 * return from FILTER_HTTP_CONNECTION or LWS_CALLBACK_HTTP keeps lws out
 * of that loop (it then closes the connection once, cleanly), and lws has
 * no call that says whether a request came from its buffer.
 *
 * The socket says it.  lws reads from an HTTP/1 socket only when nothing
 * is buffered, and every HTTP/1 transaction that keeps the connection
 * ends in lws_http_transaction_completed(), which rebinds the protocol:
 * HTTP_BIND_PROTOCOL here, whoever completed it (this file, a file mount,
 * lws itself).  So the bytes read from the socket are noted at that bind,
 * and a request whose head arrives with no read from the socket since
 * came out of lws's buffer: if it has a body it is refused and the
 * connection closed.  The first request on a connection always comes
 * from a read.  A FIN counts as one byte in the kernel's counters, so a
 * read means at least two bytes.
 *
 * lws also binds between FILTER_HTTP_CONNECTION and LWS_CALLBACK_HTTP (or
 * a file mount's FILE_COMPLETION), to route the request; nothing is read
 * there, so those binds are skipped.  If a transaction ends with no bind
 * seen after its dispatch, the next request is treated as buffered:
 * refused if it has a body, never read wrongly.  The count costs three
 * system calls, or one for an answer written here (complete_transaction);
 * counting high is always the safe side.
 */
struct conn_reads {
    uint64_t at_bind;       /* bytes read at the last transaction's end */
    unsigned requests;      /* FILTER_HTTP_CONNECTIONs seen */
    unsigned noted_at;      /* requests when at_bind was noted */
    uint64_t received;      /* see complete_transaction() */
    unsigned char dispatching;  /* between FILTER and HTTP/FILE_COMPLETION */
    unsigned char unknown;      /* the kernel could not count */
    unsigned char completing;   /* in complete_transaction(), received set */
};

/* Indexed by socket descriptor, set up in FILTER_NETWORK_CONNECTION. */
static struct conn_reads *conn_reads;
static size_t conn_reads_len;

static struct conn_reads *reads_of(struct lws *wsi)
{
    int fd = lws_get_socket_fd(wsi);

    if (lws_get_network_wsi(wsi) != wsi || fd < 0 ||
        (size_t)fd >= conn_reads_len)
        return NULL;
    return &conn_reads[fd];
}

/* A new connection on fd.  Urgent data is read inline: otherwise the
 * kernel's count of queued bytes stops at it and the count of bytes read
 * comes out too high.  Returns -1 when out of memory. */
static int reads_new_connection(int fd)
{
    int one = 1;

    if (fd < 0)
        return -1;
    if ((size_t)fd >= conn_reads_len) {
        size_t n = conn_reads_len ? conn_reads_len : 1024;
        struct conn_reads *t;

        while (n <= (size_t)fd)
            n *= 2;
        t = realloc(conn_reads, n * sizeof(*t));
        if (!t)
            return -1;
        conn_reads = t;
        conn_reads_len = n;
    }
    memset(&conn_reads[fd], 0, sizeof(conn_reads[fd]));
    if (setsockopt(fd, SOL_SOCKET, SO_OOBINLINE, &one, sizeof(one)) < 0)
        conn_reads[fd].unknown = 1;
    return 0;
}

/* HTTP_BIND_PROTOCOL: outside a dispatch, a transaction has just ended. */
static void reads_transaction_end(struct lws *wsi)
{
    struct conn_reads *c = reads_of(wsi);

    if (!c || c->dispatching || c->unknown)
        return;
    if (c->completing)
        c->at_bind = c->received;
    else if (sock_bytes_read(lws_get_socket_fd(wsi), &c->at_bind) < 0)
        c->unknown = 1;
    c->noted_at = c->requests;
}

/* Bytes received so far on an HTTP/1 connection's socket; -1 elsewhere. */
static int reads_received(struct lws *wsi, uint64_t *n)
{
    struct conn_reads *c = reads_of(wsi);

    if (!c || c->unknown)
        return -1;
    return sock_bytes_received(lws_get_socket_fd(wsi), n);
}

/*
 * lws_http_transaction_completed() for an answer write_answer() has just
 * written whole, with what the socket had received before that write
 * began (or NULL).  Until then a client that waits for each answer can
 * have sent nothing more, so all it sent was read: bytes received is bytes
 * read, and one system call stands for the three of sock_bytes_read().
 * A client that sent more (pipelining) makes it count high, which only
 * makes its next request with a body look buffered.  Used when the bind
 * comes inside this call; a completion lws defers (the answer not yet all
 * on the socket) counts at its own bind.
 */
static int complete_transaction(struct lws *wsi, const uint64_t *received)
{
    struct conn_reads *c = received ? reads_of(wsi) : NULL;
    int n;

    if (c) {
        c->received = *received;
        c->completing = 1;
    }
    n = lws_http_transaction_completed(wsi);
    c = reads_of(wsi);
    if (c)
        c->completing = 0;
    return n;
}

/* FILTER_HTTP_CONNECTION: a request's head is in.  For a request with a
 * body, returns whether it came out of lws's buffer rather than a read
 * from the socket since the previous transaction ended (when that cannot
 * be told: yes).  0 for a request without a body. */
static int reads_request_buffered(struct lws *wsi, int has_body)
{
    struct conn_reads *c = reads_of(wsi);
    uint64_t now;
    int buffered = 0;

    if (lws_get_network_wsi(wsi) != wsi)
        return 0;   /* HTTP/2: a stream's buffered input is its body */
    if (!c)
        return has_body;
    if (has_body && c->requests)
        buffered = c->unknown || c->noted_at != c->requests ||
                   sock_bytes_read(lws_get_socket_fd(wsi), &now) < 0 ||
                   now < c->at_bind + 2;   /* at_bind may count high */
    c->requests++;
    c->dispatching = 1;
    return buffered;
}

/* LWS_CALLBACK_HTTP or FILE_COMPLETION: the request is dispatched. */
static void reads_dispatched(struct lws *wsi)
{
    struct conn_reads *c = reads_of(wsi);

    if (c)
        c->dispatching = 0;
}

static int method_is(struct lws *wsi, enum lws_token_indexes tok)
{
    return lws_hdr_total_length(wsi, tok) > 0;
}

/* Whether lws will read a body for this request, decided as
 * lws_http_action() does: POST, PUT and PATCH have one (of 100 MB!)
 * unless a Content-Length says otherwise; other methods have one when a
 * Content-Length says so. */
static int body_declared(struct lws *wsi)
{
    char clen[32];
    long long n = method_is(wsi, WSI_TOKEN_POST_URI) ||
                  method_is(wsi, WSI_TOKEN_PUT_URI) ||
                  method_is(wsi, WSI_TOKEN_PATCH_URI);

    if (lws_hdr_total_length(wsi, WSI_TOKEN_HTTP_CONTENT_LENGTH) &&
        lws_hdr_copy(wsi, clen, sizeof(clen) - 1,
                     WSI_TOKEN_HTTP_CONTENT_LENGTH) > 0)
        n = atoll(clen);
    return n > 0;
}

/* ---- parameters ------------------------------------------------------- */

int server_query_arg(struct lws *wsi, const char *name, char *buf,
                     size_t len)
{
    size_t nl = strlen(name);
    int n, flen, rc = 0;

    /* lws_get_urlarg_by_name() stops at the first argument that does not
     * fit its buffer, hiding the ones after it; walk them ourselves. */
    for (n = 0; !rc && (flen = lws_hdr_fragment_length(
                            wsi, WSI_TOKEN_HTTP_URI_ARGS, n)) > 0; n++) {
        char *frag = malloc((size_t)flen + 1);

        if (!frag)
            return -1;
        if (lws_hdr_copy_fragment(wsi, frag, flen + 1,
                                  WSI_TOKEN_HTTP_URI_ARGS, n) >= 0 &&
            !strncmp(frag, name, nl) && frag[nl] == '=') {
            size_t vl = strlen(frag + nl + 1);

            rc = vl < len ? 1 : -1;
            if (rc > 0)
                memcpy(buf, frag + nl + 1, vl + 1);
        }
        free(frag);
    }
    return rc;
}

/* As server_query_arg(), answering 400 for a value too long to be valid.
 * Returns 1 present, 0 absent, -1 answered. */
static int query_arg(struct http_pss *pss, const char *name, char *buf,
                     size_t len)
{
    char msg[120];
    int rc = server_query_arg(pss->wsi, name, buf, len);

    if (rc < 0) {
        snprintf(msg, sizeof(msg), "%s is too long to be valid", name);
        http_answer_error(pss, 400, msg);
    }
    return rc;
}

struct series *http_query_series(struct http_pss *pss, char *name,
                                 size_t len)
{
    struct series *s;
    char msg[400];

    int rc = server_query_arg(pss->wsi, "series", name, len);

    if (rc == 0)
        snprintf(name, len, "default");
    if (rc < 0 || !ingest_series_name_ok(name, strlen(name))) {
        http_answer_error(pss, 400, "series must be 1 to 255 bytes of "
                          "[A-Za-z0-9._:-]");
        return NULL;
    }
    s = store_find(pss->app->store, name, strlen(name));
    if (!s) {
        snprintf(msg, sizeof(msg), "unknown series '%s'; GET /series "
                 "lists the series that exist", name);
        http_answer_error(pss, 404, msg);
    }
    return s;
}

int http_query_window(struct http_pss *pss, long *points, double *seconds)
{
    long history = (long)store_history(pss->app->store);
    char n[64], d[64], err[200];
    int has_n, has_d;

    *points = 0;
    *seconds = 0;
    if ((has_n = query_arg(pss, "window_size", n, sizeof(n))) < 0 ||
        (has_d = query_arg(pss, "window", d, sizeof(d))) < 0)
        return -1;
    if (has_n && has_d) {
        http_answer_error(pss, 400, "give window_size or window, not both");
        return -1;
    }
    if (!has_n && !has_d) {
        snprintf(err, sizeof(err), "window_size is required: a whole "
                 "number of points from 1 to %ld (or window=DURATION, "
                 "e.g. 30s)", history);
        http_answer_error(pss, 400, err);
        return -1;
    }
    if (has_n ? param_uint("window_size", n, 1, history, points, err,
                           sizeof(err))
              : param_duration("window", d, 366 * 86400.0, seconds, err,
                               sizeof(err))) {
        http_answer_error(pss, 400, err);
        return -1;
    }
    return 0;
}

/* ---- GET endpoints ---------------------------------------------------- */

/* The answer is four fields, so it is written with one snprintf rather
 * than built as a json-c tree: the tree, its serialisation and their
 * mallocs were most of the user-space cost of a request.  The series
 * name and the duration need no escaping: both were checked to hold only
 * [A-Za-z0-9._:-] (a duration: digits and a unit). */
static void get_average(struct http_pss *pss)
{
    struct window_agg agg;
    struct series *s;
    char name[300], dur[64], avg[32], body[512];
    double seconds;
    long points;
    int n;

    s = http_query_series(pss, name, sizeof(name));
    if (!s || http_query_window(pss, &points, &seconds) < 0)
        return;

    /* The average needs no deviation: the tree's M2 is left out. */
    if (s->ring.len) {
        size_t last = s->ring.len - 1;

        window_range_mean(&s->ring,
                          window_first_of(&s->ring, last, (size_t)points,
                                          seconds),
                          last, &agg);
    } else {
        window_range_mean(&s->ring, 1, 0, &agg);
    }
    if (!points)
        server_query_arg(pss->wsi, "window", dur, sizeof(dur));
    if (agg.count)
        jsonfmt_number_text(avg, sizeof(avg), window_agg_mean(&agg));
    else
        strcpy(avg, "null");
    if (points)
        n = snprintf(body, sizeof(body), "{\"series\":\"%s\",\"window_size\""
                     ":%ld,\"count\":%llu,\"average\":%s}", s->name, points,
                     (unsigned long long)agg.count, avg);
    else
        n = snprintf(body, sizeof(body), "{\"series\":\"%s\",\"window\":"
                     "\"%s\",\"count\":%llu,\"average\":%s}", s->name, dur,
                     (unsigned long long)agg.count, avg);
    if (n < 0 || (size_t)n >= sizeof(body)) {
        http_answer_error(pss, 500, "the answer did not fit its buffer");
        return;
    }
    http_answer(pss, 200, JSON_TYPE, body, (size_t)n);
}

static void get_series(struct http_pss *pss)
{
    struct store *st = pss->app->store;
    struct json_object *o = json_object_new_object();
    struct json_object *list = json_object_new_array();
    size_t i;

    for (i = 0; i < store_count(st); i++) {
        struct series *s = store_at(st, i);
        struct json_object *e = json_object_new_object();
        size_t n = s->ring.len;

        json_object_object_add(e, "name", json_object_new_string(s->name));
        json_object_object_add(e, "count", json_object_new_int64((int64_t)n));
        json_object_object_add(e, "total",
                               json_object_new_int64((int64_t)s->ring.total));
        json_object_object_add(e, "last_timestamp",
                n ? jsonfmt_number(window_ts_at(&s->ring, n - 1)) : NULL);
        json_object_object_add(e, "last_value",
                n ? jsonfmt_number(window_value_at(&s->ring, n - 1)) : NULL);
        json_object_array_add(list, e);
    }
    json_object_object_add(o, "series", list);
    answer_json(pss, 200, o);
}

static void get_health(struct http_pss *pss)
{
    struct app *app = pss->app;
    struct json_object *o = json_object_new_object();

    json_object_object_add(o, "status", json_object_new_string("ok"));
    json_object_object_add(o, "version",
                           json_object_new_string(VERSION_STRING));
    json_object_object_add(o, "uptime_seconds",
                           jsonfmt_number(app_now() - app->started));
    json_object_object_add(o, "series",
            json_object_new_int64((int64_t)store_count(app->store)));
    json_object_object_add(o, "points",
            json_object_new_int64((int64_t)store_points(app->store)));
    answer_json(pss, 200, o);
}

/* Append printf output to a growing buffer; the metrics page is a few KB. */
struct textbuf {
    char *p;
    size_t len, cap;
    int failed;
};

static void tb_printf(struct textbuf *tb, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void tb_printf(struct textbuf *tb, const char *fmt, ...)
{
    va_list ap;
    int n;

    if (tb->failed)
        return;
    for (;;) {
        va_start(ap, fmt);
        n = vsnprintf(tb->p + tb->len, tb->cap - tb->len, fmt, ap);
        va_end(ap);
        if (n < 0) {
            tb->failed = 1;
            return;
        }
        if ((size_t)n < tb->cap - tb->len) {
            tb->len += (size_t)n;
            return;
        }
        char *np = realloc(tb->p, tb->cap * 2 + (size_t)n);

        if (!np) {
            tb->failed = 1;
            return;
        }
        tb->p = np;
        tb->cap = tb->cap * 2 + (size_t)n;
    }
}

static void counter(struct textbuf *tb, const char *name, const char *help,
                    const char *type, uint64_t v)
{
    tb_printf(tb, "# HELP %s %s\n# TYPE %s %s\n%s %llu\n", name, help, name,
              type, name, (unsigned long long)v);
}

static void storage_metrics(struct textbuf *tb, struct storage *st)
{
    struct storage_stats s;

    if (!st)
        return;
    storage_get_stats(st, &s);
    counter(tb, "streamavg_storage_records_total", "Points appended to the "
            "log.", "counter", s.records);
    counter(tb, "streamavg_storage_refused_total", "Points refused because "
            "the log could not take them.", "counter", s.refused);
    counter(tb, "streamavg_storage_bytes_written_total", "Bytes written to "
            "the log.", "counter", s.bytes_written);
    counter(tb, "streamavg_storage_fsyncs_total", "fsync calls on the "
            "log.", "counter", s.fsyncs);
    counter(tb, "streamavg_storage_write_errors_total", "Failed writes or "
            "fsyncs of the log.", "counter", s.write_errors);
    counter(tb, "streamavg_storage_pending_bytes", "Log bytes waiting for "
            "the disk.", "gauge", s.pending_bytes);
    counter(tb, "streamavg_storage_failing", "1 while the log cannot be "
            "written.", "gauge", s.failing != 0);
    counter(tb, "streamavg_storage_snapshots_total", "Snapshots written.",
            "counter", s.snapshots);
    counter(tb, "streamavg_storage_snapshots_failed_total", "Snapshots "
            "that failed.", "counter", s.snapshots_failed);
    tb_printf(tb, "# HELP streamavg_storage_fsync_max_milliseconds The "
              "slowest fsync of the log.\n# TYPE "
              "streamavg_storage_fsync_max_milliseconds gauge\n"
              "streamavg_storage_fsync_max_milliseconds %.3f\n",
              s.fsync_ms_max);
    tb_printf(tb, "# HELP streamavg_storage_fork_max_milliseconds The "
              "longest fork() for a snapshot (the loop waits for it).\n"
              "# TYPE streamavg_storage_fork_max_milliseconds gauge\n"
              "streamavg_storage_fork_max_milliseconds %.3f\n",
              s.fork_ms_max);
}

static void get_metrics(struct http_pss *pss)
{
    static const double bounds[PLOT_MS_NBOUNDS] = PLOT_MS_BOUNDS;
    struct metrics *m = &pss->app->m;
    struct textbuf tb = {malloc(4096), 0, 4096, 0};
    char *per_protocol = ingest_stats_text(pss->app);
    uint64_t cum = 0;
    int i;

    if (!tb.p) {
        free(per_protocol);
        http_answer_error(pss, 500, "out of memory");
        return;
    }
    tb_printf(&tb, "# HELP streamavg_points_total Points accepted, by "
              "protocol.\n# TYPE streamavg_points_total counter\n");
    for (i = 0; i < SRC_COUNT; i++)
        tb_printf(&tb, "streamavg_points_total{protocol=\"%s\"} %llu\n",
                  ingest_source_name(i), (unsigned long long)m->points_in[i]);
    tb_printf(&tb, "# HELP streamavg_points_rejected_total Points or lines "
              "rejected, by protocol.\n# TYPE "
              "streamavg_points_rejected_total counter\n");
    for (i = 0; i < SRC_COUNT; i++)
        tb_printf(&tb, "streamavg_points_rejected_total{protocol=\"%s\"} "
                  "%llu\n", ingest_source_name(i),
                  (unsigned long long)m->points_rejected[i]);

    counter(&tb, "streamavg_series", "Series that exist.", "gauge",
            store_count(pss->app->store));
    counter(&tb, "streamavg_points_retained", "Points held in history.",
            "gauge", store_points(pss->app->store));
    counter(&tb, "streamavg_history_bytes", "Bytes the history rings hold.",
            "gauge", store_bytes(pss->app->store));
    counter(&tb, "streamavg_standing_windows", "Windows whose percentiles "
            "are kept current point by point.", "gauge",
            pss->app->standing.live);
    counter(&tb, "streamavg_standing_bytes", "Bytes the standing windows "
            "hold (stats.standing_max_mb).", "gauge",
            pss->app->standing.bytes);
    counter(&tb, "streamavg_standing_refused_total", "Standing windows not "
            "built or dropped for want of memory.", "counter",
            pss->app->standing.refused);
    counter(&tb, "streamavg_http_requests_total", "HTTP requests answered "
            "by the API.", "counter", m->http_requests);
    counter(&tb, "streamavg_http_errors_total", "HTTP answers with a 4xx "
            "or 5xx status.", "counter", m->http_errors);
    counter(&tb, "streamavg_http_connections", "HTTP and WebSocket "
            "connections open.", "gauge",
            (uint64_t)pss->app->m.http_connections);
    counter(&tb, "streamavg_http_connections_refused_total", "Connections "
            "refused over http.max_connections.", "counter",
            m->http_refused);
    counter(&tb, "streamavg_ws_refused_origin_total", "WebSocket "
            "handshakes refused: Origin not in stream.allowed_origins.",
            "counter", m->ws_refused_origin);
    counter(&tb, "streamavg_ws_refused_token_total", "WebSocket handshakes "
            "refused: no or wrong stream.subscribe_token.", "counter",
            m->ws_refused_token);
    counter(&tb, "streamavg_ws_connections", "WebSocket connections open.",
            "gauge", m->ws_connections);
    counter(&tb, "streamavg_ws_subscriptions", "WebSocket subscriptions "
            "open.", "gauge", m->ws_subscriptions);
    counter(&tb, "streamavg_ws_messages_pushed_total", "WebSocket frames "
            "written (one message, or a JSON array of averages).",
            "counter", m->ws_pushed);
    counter(&tb, "streamavg_ws_messages_dropped_total", "Averages a slow "
            "subscriber never read because newer ones replaced them.",
            "counter", m->ws_dropped);
    counter(&tb, "streamavg_ws_messages_batched_total", "Averages sent to a "
            "subscriber that lagged, several to a frame (a JSON array).",
            "counter", m->ws_batched);
    counter(&tb, "streamavg_graphite_connections", "Graphite TCP "
            "connections open.", "gauge", m->graphite_connections);
    counter(&tb, "streamavg_plots_total", "Plots drawn.", "counter",
            m->plots_ok);
    counter(&tb, "streamavg_plots_failed_total", "Plots that failed or "
            "timed out.", "counter", m->plots_failed);
    counter(&tb, "streamavg_plots_coalesced_total", "Plot requests served "
            "by an identical plot already being drawn.", "counter",
            m->plots_coalesced);
    counter(&tb, "streamavg_plots_cached_total", "Plot requests served "
            "from the cache of finished plots.", "counter",
            m->plots_cached);

    storage_metrics(&tb, pss->app->storage);

    tb_printf(&tb, "# HELP streamavg_plot_milliseconds Time a plot worker "
              "spent on a plot.\n# TYPE streamavg_plot_milliseconds "
              "histogram\n");
    for (i = 0; i < PLOT_MS_NBOUNDS; i++) {
        cum += m->plot_ms_buckets[i];
        tb_printf(&tb, "streamavg_plot_milliseconds_bucket{le=\"%g\"} "
                  "%llu\n", bounds[i], (unsigned long long)cum);
    }
    cum += m->plot_ms_buckets[PLOT_MS_NBOUNDS];
    tb_printf(&tb, "streamavg_plot_milliseconds_bucket{le=\"+Inf\"} %llu\n"
              "streamavg_plot_milliseconds_sum %.3f\n"
              "streamavg_plot_milliseconds_count %llu\n",
              (unsigned long long)cum, m->plot_ms_sum,
              (unsigned long long)cum);
    if (per_protocol)
        tb_printf(&tb, "%s", per_protocol);
    else
        tb.failed = 1;
    free(per_protocol);

    if (tb.failed) {
        free(tb.p);
        http_answer_error(pss, 500, "out of memory");
        return;
    }
    http_answer_owned(pss, 200, "text/plain; version=0.0.4", tb.p, tb.len);
}

/* ---- POST /ingest ----------------------------------------------------- */

enum body_format { FMT_NONE, FMT_NDJSON, FMT_JSON, FMT_GRAPHITE };

struct ingest_report {
    struct app *app;
    struct json_object *errors;
    long accepted, rejected;
    double now;
    int storage_status;     /* 507 or 503 once the log refused a point */
    char storage_error[INGEST_ERR_MAX];
};

/* List a rejected line or item in the answer (counted by the caller). */
static void note_reject(struct ingest_report *r, const char *what,
                        size_t no, const char *err)
{
    r->rejected++;
    if (json_object_array_length(r->errors) < MAX_REPORTED_ERRORS) {
        struct json_object *e = json_object_new_object();

        json_object_object_add(e, what, json_object_new_int64((int64_t)no));
        json_object_object_add(e, "error", json_object_new_string(err));
        json_object_array_add(r->errors, e);
    }
}

static void report_reject(struct ingest_report *r, const char *what,
                          size_t no, const char *err)
{
    ingest_reject(r->app, SRC_HTTP, ingest_reason_of(err));
    note_reject(r, what, no, err);
}

static void take_point(struct ingest_report *r, const char *what, size_t no,
                       const struct ingest_point *p)
{
    char err[INGEST_ERR_MAX];
    int rc;

    /* Once the log refused, the rest of the body would be refused too. */
    if (r->storage_status) {
        r->rejected++;
        r->app->m.points_rejected[SRC_HTTP]++;
        return;
    }
    rc = app_accept_point(r->app, SRC_HTTP, p->name, p->name_len, p->ts,
                          p->value, err, sizeof(err));
    if (rc == APP_NO_SPACE || rc == APP_STORAGE_DOWN) {
        r->storage_status = rc == APP_NO_SPACE ? 507 : 503;
        snprintf(r->storage_error, sizeof(r->storage_error), "%s", err);
        r->rejected++;
        return;
    }
    if (rc < 0) {
        /* app_accept_point counted it already. */
        note_reject(r, what, no, err);
        return;
    }
    r->accepted++;
}

static int on_json_item(void *arg, size_t item_no,
                        const struct ingest_point *p, const char *err)
{
    struct ingest_report *r = arg;

    if (p)
        take_point(r, "item", item_no, p);
    else
        report_reject(r, "item", item_no, err);
    return 0;
}

/* NDJSON and Graphite bodies: one point a line.  The body is whole in
 * memory, so a final line without '\n' is simply the last line. */
static void ingest_lines(struct ingest_report *r, const char *body,
                         size_t len, enum body_format fmt)
{
    const char *p = body, *end = body + len;
    size_t line_no = 0;

    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t n = (size_t)((nl ? nl : end) - p);
        struct ingest_point pt;
        char err[INGEST_ERR_MAX];
        int rc;

        line_no++;
        rc = fmt == FMT_NDJSON
                 ? ingest_parse_json_line(p, n, r->now, &pt, err, sizeof(err))
                 : ingest_parse_graphite(p, n, r->now, &pt, err, sizeof(err));
        if (rc > 0)
            take_point(r, "line", line_no, &pt);
        else if (rc < 0)
            report_reject(r, "line", line_no, err);
        p += n + (nl != NULL);
    }
}

static enum body_format body_format(const char *ctype)
{
    char media[64];
    size_t n = strcspn(ctype, ";");

    if (n >= sizeof(media))
        return FMT_NONE;
    memcpy(media, ctype, n);
    while (n && media[n - 1] == ' ')
        n--;
    media[n] = '\0';
    if (!strcasecmp(media, "application/x-ndjson") ||
        !strcasecmp(media, "application/jsonlines") ||
        !strcasecmp(media, "application/json-seq"))
        return FMT_NDJSON;
    if (!strcasecmp(media, "application/json"))
        return FMT_JSON;
    if (!strcasecmp(media, "text/plain"))
        return FMT_GRAPHITE;
    return FMT_NONE;
}

static void finish_ingest(struct http_pss *pss)
{
    struct ingest_report r = {.app = pss->app,
                              .errors = json_object_new_array(),
                              .now = app_now()};
    enum body_format fmt = body_format(pss->content_type_in);
    struct json_object *o;
    char err[INGEST_ERR_MAX];
    int status = 200;
    double t0 = ingest_clock();

    pss->app->m.bytes_in[SRC_HTTP] += pss->body_len;
    if (fmt == FMT_JSON) {
        if (ingest_parse_json_body(pss->body ? pss->body : "", pss->body_len,
                                   r.now, on_json_item, &r, err,
                                   sizeof(err)) < 0) {
            json_object_put(r.errors);
            ingest_reject(pss->app, SRC_HTTP, REJ_SYNTAX);
            http_answer_error(pss, 400, err);
            return;
        }
    } else {
        ingest_lines(&r, pss->body, pss->body_len, fmt);
    }
    pss->app->m.ingest_seconds[SRC_HTTP] += ingest_clock() - t0;

    if (r.accepted == 0 && r.rejected == 0) {
        json_object_put(r.errors);
        http_answer_error(pss, 400, "the body held no points");
        return;
    }
    if (r.accepted == 0)
        status = 400;

    o = json_object_new_object();
    if (r.storage_status) {
        /* The points before the refusal were taken; say how many. */
        status = r.storage_status;
        json_object_object_add(o, "error",
                               json_object_new_string(r.storage_error));
    }
    json_object_object_add(o, "accepted", json_object_new_int64(r.accepted));
    json_object_object_add(o, "rejected", json_object_new_int64(r.rejected));
    json_object_object_add(o, "errors", r.errors);
    answer_json(pss, status, o);
}

/* Checks made before any of the body arrives.  Returns 0 to read the
 * body, or -1 after answering. */
static int start_ingest(struct http_pss *pss)
{
    struct lws *wsi = pss->wsi;
    int max = pss->app->cfg.http.max_body;
    char clen[32], msg[200];
    long n = 0;

    if (lws_hdr_copy(wsi, pss->content_type_in,
                     sizeof(pss->content_type_in),
                     WSI_TOKEN_HTTP_CONTENT_TYPE) < 0)
        pss->content_type_in[0] = '\0';

    if (lws_hdr_copy(wsi, clen, sizeof(clen),
                     WSI_TOKEN_HTTP_CONTENT_LENGTH) > 0)
        n = strtol(clen, NULL, 10);

    if (n > max) {
        snprintf(msg, sizeof(msg), "the body has %ld bytes; the limit is "
                 "%d (http.max_body)", n, max);
        pss->close_after = 1;
        http_answer_error(pss, 413, msg);
        return -1;
    }
    if (!pss->is_write && body_format(pss->content_type_in) == FMT_NONE) {
        pss->close_after = n > 0;
        http_answer_error(pss, 415, "Content-Type must be "
                          "application/x-ndjson (one JSON point a line), "
                          "application/json (a point or an array of them) "
                          "or text/plain (Graphite lines)");
        return -1;
    }
    if (lws_hdr_total_length(wsi, WSI_TOKEN_HTTP_TRANSFER_ENCODING)) {
        /* lws 4.1 hands a chunked request body over undecoded and never
         * says it ended: refuse it plainly rather than guess. */
        pss->close_after = 1;
        http_answer_error(pss, 411, "send the body with a Content-Length; "
                          "chunked request bodies are not taken");
        return -1;
    }
    if (n <= 0) {
        /* lws sends no BODY callbacks for an empty body: answer now. */
        http_answer_error(pss, 400, "the body is empty; send points, one a "
                          "line (or a JSON array)");
        return -1;
    }
    pss->is_ingest = 1;

    /* However slowly it trickles in, the whole body must arrive in this
     * time: a peer cannot hold a connection open a byte at a time. */
    lws_set_timeout(wsi, PENDING_TIMEOUT_HTTP_CONTENT, BODY_TIMEOUT_S);
    return 0;
}

static int add_body(struct http_pss *pss, const char *in, size_t len)
{
    size_t max = (size_t)pss->app->cfg.http.max_body;
    char *nb, msg[120];

    if (pss->answering)
        return 0;   /* already refused; let the rest go by */
    if (pss->body_len + len > max) {
        snprintf(msg, sizeof(msg), "the body is over the limit of %zu bytes "
                 "(http.max_body)", max);
        pss->close_after = 1;
        http_answer_error(pss, 413, msg);
        return 0;
    }
    nb = realloc(pss->body, pss->body_len + len + 1);
    if (!nb) {
        pss->close_after = 1;
        http_answer_error(pss, 503, "out of memory reading the body");
        return 0;
    }
    pss->body = nb;
    memcpy(pss->body + pss->body_len, in, len);
    pss->body_len += len;
    pss->body[pss->body_len] = '\0';
    return 0;
}

/* ---- dispatch --------------------------------------------------------- */

/* The request's path, whatever its method.  `in` of LWS_CALLBACK_HTTP is
 * the path below the mount point, and the mount points are the endpoints
 * themselves, so the full path comes from the method's URI token. */
static void request_path(struct lws *wsi, char *path, size_t len)
{
    static const enum lws_token_indexes methods[] = {
        WSI_TOKEN_GET_URI,   WSI_TOKEN_POST_URI,  WSI_TOKEN_HEAD_URI,
        WSI_TOKEN_OPTIONS_URI, WSI_TOKEN_PUT_URI, WSI_TOKEN_PATCH_URI,
        WSI_TOKEN_DELETE_URI,
    };
    size_t i;

    for (i = 0; i < sizeof(methods) / sizeof(methods[0]); i++)
        if (lws_hdr_copy(wsi, path, (int)len, methods[i]) > 0)
            return;
    snprintf(path, len, "?");
}

static void route(struct http_pss *pss, const char *path)
{
    struct lws *wsi = pss->wsi;
    int get = method_is(wsi, WSI_TOKEN_GET_URI);
    int post = method_is(wsi, WSI_TOKEN_POST_URI);
    static const struct {
        const char *path;
        void (*get)(struct http_pss *);
    } gets[] = {
        {"/average", get_average}, {"/series", get_series},
        {"/health", get_health},   {"/metrics", get_metrics},
        {"/plot", http_plot_request},     {"/stats", http_stats_request},
    };
    size_t i;

    pss->app->m.http_requests++;

    if (!strcmp(path, "/ingest") || !strcmp(path, "/write")) {
        enum source src = path[1] == 'w' ? SRC_INFLUX : SRC_HTTP;

        if (!post) {
            pss->close_after = 1;
            http_answer_error(pss, 405, "/ingest and /write take POST");
            return;
        }
        pss->app->m.ingest_connections[src]++;
        pss->is_write = src == SRC_INFLUX;
        if (!http_ingest_allowed(pss, src) ||
            (pss->is_write && http_write_start(pss) < 0))
            return;
        start_ingest(pss);
        return;
    }
    for (i = 0; i < sizeof(gets) / sizeof(gets[0]); i++) {
        if (strcmp(path, gets[i].path))
            continue;
        if (!get) {
            /* A body we will not read may follow: close after answering. */
            pss->close_after = 1;
            http_answer_error(pss, 405, "this endpoint takes GET");
            return;
        }
        gets[i].get(pss);
        return;
    }
    http_answer_error(pss, 404, "no such endpoint; see the README for "
                      "/average, /stats, /plot, /series, /health, "
                      "/metrics, /ingest, /write and /stream");
}

/* Called for each accepted socket before lws reads from it.  Over
 * http.max_connections, send a short 503 (plain HTTP only: on a TLS port
 * it would be noise) and have lws close the socket.  The fd is new and
 * its send buffer empty, so the small send() cannot block. */
static int connection_over_limit(struct app *app, int fd)
{
    char body[160], out[400];
    int blen, len;

    /* This connection has no wsi yet, so is not counted. */
    if (app->m.http_connections < app->cfg.http.max_connections)
        return 0;
    app->m.http_refused++;
    warn_ratelimited(RL_LIMIT, "refusing a connection: %lld open, the "
                     "limit is %d (http.max_connections)\n",
                     (long long)app->m.http_connections,
                     app->cfg.http.max_connections);
    if (app->cfg.http.tls_cert[0])
        return 1;
    blen = snprintf(body, sizeof(body), "{\"error\":\"too many connections: "
                    "the limit is %d (http.max_connections)\"}",
                    app->cfg.http.max_connections);
    len = snprintf(out, sizeof(out), "HTTP/1.1 503 Service Unavailable\r\n"
                   "Content-Type: application/json\r\nContent-Length: %d"
                   "\r\nConnection: close\r\n\r\n%s", blen, body);
    if (send(fd, out, (size_t)len, MSG_DONTWAIT | MSG_NOSIGNAL) < 0)
        lwsl_debug("could not tell a refused peer why\n");
    return 1;
}

/* A request with a body pipelined behind another one (see "requests with
 * a body pipelined behind another"): answer 400 and close, before lws
 * tries to read the body. */
static int refuse_pipelined_body(struct http_pss *pss, struct lws *wsi)
{
    http_pss_reset(pss);
    pss->wsi = wsi;
    pss->app = server_app(wsi);
    pss->in_flight = 1;
    pss->app->m.http_in_flight++;
    pss->app->m.http_requests++;
    pss->close_after = 1;
    http_answer_error(pss, 400, "a request with a body pipelined behind "
                      "another request on one connection is not read; "
                      "send it after the previous answer, or on a new "
                      "connection");
    return answer_now(pss);
}

int callback_http_api(struct lws *wsi, enum lws_callback_reasons reason,
                      void *user, void *in, size_t len)
{
    struct http_pss *pss = user;
    char path[128];

    switch (reason) {
    case LWS_CALLBACK_WSI_CREATE:
        server_app(wsi)->m.http_connections++;
        return 0;

    case LWS_CALLBACK_WSI_DESTROY:
        server_app(wsi)->m.http_connections--;
        return 0;

    case LWS_CALLBACK_FILTER_NETWORK_CONNECTION:
        if (connection_over_limit(server_app(wsi), (int)(intptr_t)in))
            return 1;
        return reads_new_connection((int)(intptr_t)in) < 0;

    case LWS_CALLBACK_HTTP_BIND_PROTOCOL:
        /* Also where every kept HTTP/1 transaction ends. */
        reads_transaction_end(wsi);
        break;

    case LWS_CALLBACK_FILTER_HTTP_CONNECTION:
        /* Before lws binds the request to its mount: the one point every
         * HTTP request passes where a nonzero return still keeps lws
         * from reading a body. */
        if (reads_request_buffered(wsi, body_declared(wsi)))
            return refuse_pipelined_body(pss, wsi);
        return 0;

    case LWS_CALLBACK_HTTP_FILE_COMPLETION:
        reads_dispatched(wsi);
        break;

    case LWS_CALLBACK_HTTP:
        reads_dispatched(wsi);
        http_pss_reset(pss);
        pss->wsi = wsi;
        pss->app = server_app(wsi);
        pss->in_flight = 1;
        pss->app->m.http_in_flight++;
        if (pss->app->stopping) {
            pss->close_after = 1;
            http_answer_error(pss, 503, "the server is shutting down");
            return answer_now(pss);
        }

        request_path(wsi, path, sizeof(path));
        route(pss, path);
        /* A body lws would go on reading (up to 100 MB for a POST with
         * no Content-Length) and nobody wants: close after the answer. */
        if (!pss->is_ingest && body_declared(wsi))
            pss->close_after = 1;
        return answer_now(pss);

    case LWS_CALLBACK_FILTER_PROTOCOL_CONNECTION:
        /* A WebSocket handshake that named no subprotocol lands on the
         * first protocol, this one: only "streamavg" speaks WebSocket. */
        return 1;

    case LWS_CALLBACK_HTTP_BODY:
        if (pss->is_ingest)
            return add_body(pss, in, len);
        return 0;

    case LWS_CALLBACK_HTTP_BODY_COMPLETION:
        if (!pss->is_ingest)
            return 0;   /* answered already (an empty body, a refusal) */
        lws_set_timeout(wsi, NO_PENDING_TIMEOUT, 0);
        if (!pss->answering && pss->is_write)
            http_write_finish(pss);
        else if (!pss->answering)
            finish_ingest(pss);
        return answer_now(pss);

    case LWS_CALLBACK_HTTP_WRITEABLE:
        if (!pss || !pss->answering)
            return 0;
        return write_answer(pss, 0);

    case LWS_CALLBACK_CLOSED_HTTP:
        if (pss && pss->app)
            http_pss_reset(pss);
        return 0;

    case LWS_CALLBACK_EVENT_WAIT_CANCELLED:
        http_plot_collect(server_app(wsi));
        return 0;

    case LWS_CALLBACK_PROTOCOL_DESTROY:
        free(conn_reads);
        conn_reads = NULL;
        conn_reads_len = 0;
        break;

    default:
        break;
    }
    return lws_callback_http_dummy(wsi, reason, user, in, len);
}
