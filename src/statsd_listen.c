/*
 * statsd_listen.c - what StatsD metrics mean in streamavg (statsd.h says
 * it for users): gauges become points at once, counters are summed per
 * flush interval and become one point per counter at each flush.
 *
 * The sums wait in an open-addressing table keyed by the counter's series
 * (interned at its first sample, so series.max_series bounds the table),
 * emptied at every flush.
 */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ingest_stats.h"
#include "listeners.h"
#include "server.h"
#include "statsd.h"

struct pending {
    struct series *s;       /* NULL: free slot */
    double sum;
};

struct statsd_state {
    lws_sorted_usec_list_t sul;     /* first: the timer callback casts back */
    struct app *app;
    struct pending *slots;
    size_t cap, used;               /* cap is a power of two */
};

static size_t slot_of(const struct statsd_state *st, const struct series *s)
{
    uint64_t h = (uint64_t)(uintptr_t)s * 0x9e3779b97f4a7c15ULL;

    return (size_t)(h >> 32) & (st->cap - 1);
}

static struct pending *find_slot(struct statsd_state *st, struct series *s)
{
    size_t i = slot_of(st, s);

    while (st->slots[i].s && st->slots[i].s != s)
        i = (i + 1) & (st->cap - 1);
    return &st->slots[i];
}

/* Keep the table at most half full. */
static int grow(struct statsd_state *st)
{
    struct pending *old = st->slots;
    size_t old_cap = st->cap, i;

    st->slots = calloc(old_cap * 2, sizeof(*st->slots));
    if (!st->slots) {
        st->slots = old;
        return -1;
    }
    st->cap = old_cap * 2;
    for (i = 0; i < old_cap; i++)
        if (old[i].s)
            *find_slot(st, old[i].s) = old[i];
    free(old);
    return 0;
}

static void on_flush(lws_sorted_usec_list_t *sul)
{
    struct statsd_state *st = (struct statsd_state *)sul;
    struct app *app = st->app;
    double now = app_now();
    char err[INGEST_ERR_MAX];
    size_t i;

    for (i = 0; i < st->cap && st->used; i++) {
        struct pending *p = &st->slots[i];

        if (!p->s)
            continue;
        if (app_accept_point(app, SRC_STATSD, p->s->name, p->s->name_len,
                             now, p->sum, err, sizeof(err)) < 0)
            warn_ratelimited(RL_LIMIT, "statsd flush: %s\n", err);
        p->s = NULL;
        st->used--;
    }
    lws_sul_schedule(app->ctx, 0, &st->sul, on_flush,
                     (lws_usec_t)app->cfg.statsd.flush_ms * LWS_US_PER_MS);
}

int statsd_start(struct app *app)
{
    struct statsd_state *st = calloc(1, sizeof(*st));

    if (st) {
        st->cap = 64;
        st->slots = calloc(st->cap, sizeof(*st->slots));
    }
    if (!st || !st->slots) {
        free(st);
        lwsl_err("out of memory starting StatsD\n");
        return -1;
    }
    st->app = app;
    app->statsd = st;
    lws_sul_schedule(app->ctx, 0, &st->sul, on_flush,
                     (lws_usec_t)app->cfg.statsd.flush_ms * LWS_US_PER_MS);
    return 0;
}

void statsd_stop(struct app *app)
{
    struct statsd_state *st = app->statsd;

    if (!st)
        return;
    lws_sul_cancel(&st->sul);
    free(st->slots);
    free(st);
    app->statsd = NULL;
}

/* Add a counter sample to its sum for this flush interval.  Returns 0,
 * or the reason it was refused with a sentence in err. */
static int add_to_counter(struct app *app, const struct statsd_metric *m,
                          enum reject_reason *why, char *err, size_t errlen)
{
    struct statsd_state *st = app->statsd;
    struct series *s = store_intern(app->store, m->name, m->name_len, err,
                                    errlen);
    struct pending *p;

    *why = REJ_LIMIT;
    if (!s)
        return -1;
    p = find_slot(st, s);
    if (!p->s) {
        if (2 * (st->used + 1) > st->cap) {
            if (grow(st) < 0)
                return ingest_fail(err, errlen, "out of memory for "
                                   "counters");
            p = find_slot(st, s);
        }
        p->s = s;
        p->sum = 0;
        st->used++;
    }
    if (!isfinite(p->sum + m->value)) {
        *why = REJ_VALUE;
        return ingest_fail(err, errlen, "value makes the counter's sum too "
                           "large for a double");
    }
    p->sum += m->value;
    return 0;
}

/* A gauge's new value: the value itself, or the change applied to the
 * series' newest value. */
static int gauge_value(struct app *app, const struct statsd_metric *m,
                       double *out, char *err, size_t errlen)
{
    struct series *s;

    *out = m->value;
    if (m->type != STATSD_GAUGE_DELTA)
        return 0;
    s = store_find(app->store, m->name, m->name_len);
    if (s && s->ring.len)
        *out += window_value_at(&s->ring, s->ring.len - 1);
    if (!isfinite(*out))
        return ingest_fail(err, errlen, "value makes the gauge too large "
                           "for a double");
    return 0;
}

static void take_line(struct app *app, const char *line, size_t len,
                      size_t line_no, const char *peer)
{
    struct statsd_metric m;
    enum reject_reason why = REJ_VALUE;
    char err[INGEST_ERR_MAX];
    double v;
    int rc = statsd_parse_line(line, len, &m, err, sizeof(err));

    if (rc == 0)
        return;
    if (rc < 0)
        why = ingest_reason_of(err);
    else if (m.type == STATSD_COUNTER)
        rc = add_to_counter(app, &m, &why, err, sizeof(err)) < 0 ? -1 : 0;
    else if (gauge_value(app, &m, &v, err, sizeof(err)) < 0)
        rc = -1;
    else if (app_accept_point(app, SRC_STATSD, m.name, m.name_len, app_now(),
                              v, err, sizeof(err)) < 0)
        warn_ratelimited(RL_LIMIT, "statsd %s: %s\n", peer, err);
    if (rc >= 0)
        return;
    ingest_reject(app, SRC_STATSD, why);
    warn_ratelimited(RL_STATSD_BAD, "statsd %s: line %zu rejected: %s\n",
                     peer, line_no, err);
}

void statsd_take_datagram(struct app *app, const char *data, size_t len,
                          const char *peer)
{
    const char *end = data + len;
    size_t line_no = 0;

    while (data < end) {
        const char *nl = memchr(data, '\n', (size_t)(end - data));
        size_t n = (size_t)((nl ? nl : end) - data);

        take_line(app, data, n, ++line_no, peer);
        data += n + (nl != NULL);
    }
}
