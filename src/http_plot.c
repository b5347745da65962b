/*
 * http_plot.c - GET /plot: the loop side of plotting.
 *
 * The loop computes the rolling averages to draw (cheap: O(log n) each),
 * hands them to the plot pool and returns at once.  Requests for the same
 * picture of the same data while it is being drawn join that one flight
 * instead of starting another.  When a worker finishes it wakes the loop
 * with lws_cancel_service(); http_plot_collect() then answers every
 * request still waiting on the flight.  A request whose connection closes
 * first is detached, and the flight is freed only once the pool hands the
 * job back, so neither side frees what the other still uses.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ingest.h"
#include "params.h"
#include "plot.h"
#include "server.h"

#define PLOT_DEFAULT_POINTS 300
#define PLOT_DEFAULT_WIDTH 800
#define PLOT_DEFAULT_HEIGHT 400

/* Finished plots kept for requests that ask for the same picture of the
 * same data again (a dashboard refreshing, several readers of one link).
 * The key holds each series' point count, so new data never hits a stale
 * entry; old entries simply age out. */
#define CACHE_ENTRIES 32
#define CACHE_BYTES (32 * 1024 * 1024)

#define KEY_MAX (PLOT_MAX_LINES * (SERIES_NAME_MAX + 24) + 96)

struct plot_flight {
    char key[KEY_MAX];
    struct plot_job *job;       /* owned by the pool until collected */
    struct http_pss *waiters;
    struct plot_flight *next;
};

struct cached_plot {
    char key[KEY_MAX];
    char *image;
    size_t len;
    const char *type;
    uint64_t used;              /* the cache's clock when last served */
};

struct plot_state {
    struct plot_flight *flights;
    struct cached_plot cache[CACHE_ENTRIES];
    size_t cache_bytes;
    uint64_t clock;
};

/* What one /plot request asks for. */
struct plot_ask {
    struct series *series[PLOT_MAX_LINES];
    int nseries;
    long window, points, width, height, raw, band;
    double seconds;
    enum plot_format format;
    char label[40];
};

static struct plot_state *state(struct app *app)
{
    if (!app->plot_wait)
        app->plot_wait = calloc(1, sizeof(struct plot_state));
    return app->plot_wait;
}

/* An optional whole-number argument in [min, max], def when absent.
 * Returns 0, or -1 after answering 400. */
static int query_long(struct http_pss *pss, const char *name, long min,
                      long max, long def, long *out)
{
    char v[32], err[160];
    int rc = server_query_arg(pss->wsi, name, v, sizeof(v));

    if (rc == 0) {
        *out = def;
        return 0;
    }
    if (rc < 0 || param_uint(name, v, min, max, out, err, sizeof(err)) < 0) {
        if (rc < 0)
            snprintf(err, sizeof(err), "%s must be a whole number from %ld "
                     "to %ld", name, min, max);
        http_answer_error(pss, 400, err);
        return -1;
    }
    return 0;
}

/* series=a,b,c: up to PLOT_MAX_LINES names, each of which must exist.
 * Returns 0, or -1 after answering 400 or 404. */
static int query_series_list(struct http_pss *pss, struct plot_ask *ask)
{
    char list[PLOT_MAX_LINES * (SERIES_NAME_MAX + 1) + 1], err[400];
    int rc = server_query_arg(pss->wsi, "series", list, sizeof(list));
    char *name = list, *end;

    if (rc == 0)
        snprintf(list, sizeof(list), "default");
    while (rc >= 0) {
        struct series *s;
        size_t len;

        end = strchr(name, ',');
        len = end ? (size_t)(end - name) : strlen(name);
        if (ask->nseries == PLOT_MAX_LINES ||
            !ingest_series_name_ok(name, len))
            break;
        s = store_find(pss->app->store, name, len);
        if (!s) {
            snprintf(err, sizeof(err), "unknown series '%.*s'; GET /series "
                     "lists the series that exist", (int)len, name);
            http_answer_error(pss, 404, err);
            return -1;
        }
        ask->series[ask->nseries++] = s;
        if (!end)
            return 0;
        name = end + 1;
    }
    snprintf(err, sizeof(err), "series must be 1 to %d names separated by "
             "commas, each 1 to 255 bytes of [A-Za-z0-9._:-]",
             PLOT_MAX_LINES);
    http_answer_error(pss, 400, err);
    return -1;
}

static int query_format(struct http_pss *pss, enum plot_format *format)
{
    static const char *names[] = {"svg", "png", "pdf"};
    char v[8];
    int rc = server_query_arg(pss->wsi, "format", v, sizeof(v)), i;

    *format = PLOT_SVG;
    if (rc == 0)
        return 0;
    for (i = 0; rc > 0 && i < 3; i++)
        if (!strcmp(v, names[i])) {
            *format = (enum plot_format)i;
            return 0;
        }
    http_answer_error(pss, 400, "format must be svg, png or pdf");
    return -1;
}

/* Read every parameter.  Returns 0, or -1 after answering 4xx. */
static int read_ask(struct http_pss *pss, struct plot_ask *ask)
{
    struct app *app = pss->app;
    char dur[24];

    memset(ask, 0, sizeof(*ask));
    if (query_series_list(pss, ask) < 0 ||
        http_query_window(pss, &ask->window, &ask->seconds) < 0)
        return -1;
    if (ask->window)
        snprintf(ask->label, sizeof(ask->label), "the last %ld points",
                 ask->window);
    else if (server_query_arg(pss->wsi, "window", dur, sizeof(dur)) > 0)
        snprintf(ask->label, sizeof(ask->label), "%s", dur); /* [0-9a-z] */
    if (query_long(pss, "points", 1, app->cfg.plot.max_points,
                   PLOT_DEFAULT_POINTS, &ask->points) ||
        query_long(pss, "width", 100, 10000, PLOT_DEFAULT_WIDTH,
                   &ask->width) ||
        query_long(pss, "height", 100, 10000, PLOT_DEFAULT_HEIGHT,
                   &ask->height) ||
        query_long(pss, "raw", 0, 1, 0, &ask->raw) ||
        query_long(pss, "band", 0, 1, 0, &ask->band) ||
        query_format(pss, &ask->format))
        return -1;
    return 0;
}

/* The same picture of the same data has the same key. */
static void make_key(const struct plot_ask *ask, char *key, size_t len)
{
    size_t used;
    int i;

    used = (size_t)snprintf(key, len, "%s|%ld|%ld|%ld|%ld|%ld|%d",
                            ask->label, ask->points, ask->width,
                            ask->height, ask->raw, ask->band, ask->format);
    for (i = 0; i < ask->nseries && used < len; i++)
        used += (size_t)snprintf(key + used, len - used, "|%s:%llu",
                                 ask->series[i]->name,
                                 (unsigned long long)
                                     ask->series[i]->ring.total);
}

/* One line: the rolling average over the newest `points` points, with the
 * raw values and the window's min-max band when asked. */
static void fill_line(struct plot_line *l, const struct window_ring *w,
                      const struct plot_ask *ask)
{
    size_t first = w->len - l->n, i;

    for (i = 0; i < l->n; i++) {
        size_t last = first + i;
        size_t from = window_first_of(w, last, (size_t)ask->window,
                                      ask->seconds);
        struct window_agg agg;

        window_range_mean(w, from, last, &agg);
        l->x[i] = window_ts_at(w, last);
        l->avg[i] = window_agg_mean(&agg);
        if (l->raw)
            l->raw[i] = window_value_at(w, last);
        if (l->lo) {
            l->lo[i] = agg.min;
            l->hi[i] = agg.max;
        }
    }
}

static struct plot_job *make_job(const struct plot_ask *ask)
{
    struct plot_job *job = plot_job_new();
    int i;

    if (!job)
        return NULL;
    for (i = 0; i < ask->nseries; i++) {
        const struct series *s = ask->series[i];
        size_t n = s->ring.len < (size_t)ask->points ? s->ring.len
                                                     : (size_t)ask->points;
        struct plot_line *l = plot_job_add_line(job, s->name, n,
                                                (int)ask->raw,
                                                (int)ask->band);

        if (!l) {
            plot_job_free(job);
            return NULL;
        }
        fill_line(l, &s->ring, ask);
    }
    job->format = ask->format;
    job->width = (int)ask->width;
    job->height = (int)ask->height;

    /* One series names itself in the title; several go in the legend. */
    if (ask->nseries == 1)
        snprintf(job->title, sizeof(job->title), "%s, average of %s",
                 ask->series[0]->name, ask->label);
    else
        snprintf(job->title, sizeof(job->title), "average of %s",
                 ask->label);
    return job;
}

static void join_flight(struct plot_flight *f, struct http_pss *pss)
{
    struct app *app = pss->app;
    int secs;

    pss->flight = f;
    pss->flight_next = f->waiters;
    f->waiters = pss;

    /* A guard in case the pool never answers: the pool's own timeout
     * covers the drawing, this covers the wait in its queue too. */
    secs = app->cfg.plot.timeout_ms / 1000 + 1;
    secs *= 1 + app->cfg.plot.queue_max / app->cfg.plot.max_procs;
    lws_set_timeout(pss->wsi, PENDING_TIMEOUT_HTTP_CONTENT,
                    secs > 600 ? 600 : secs);
}

static struct cached_plot *cache_find(struct plot_state *ps, const char *key)
{
    int i;

    for (i = 0; i < CACHE_ENTRIES; i++)
        if (ps->cache[i].image && !strcmp(ps->cache[i].key, key))
            return &ps->cache[i];
    return NULL;
}

static void cache_drop(struct plot_state *ps, struct cached_plot *c)
{
    ps->cache_bytes -= c->len;
    free(c->image);
    memset(c, 0, sizeof(*c));
}

/* Keep a copy of a finished plot, evicting the least recently served
 * entries until it fits.  A plot larger than the whole cache is not
 * kept. */
static void cache_put(struct plot_state *ps, const char *key,
                      const struct plot_job *job)
{
    struct cached_plot *slot = NULL;
    int i;

    if (job->out_len > CACHE_BYTES || cache_find(ps, key))
        return;
    for (;;) {
        struct cached_plot *oldest = NULL;

        slot = NULL;
        for (i = 0; i < CACHE_ENTRIES; i++) {
            struct cached_plot *c = &ps->cache[i];

            if (!c->image && !slot)
                slot = c;
            if (c->image && (!oldest || c->used < oldest->used))
                oldest = c;
        }
        if (slot && ps->cache_bytes + job->out_len <= CACHE_BYTES)
            break;
        if (!oldest)
            return;
        cache_drop(ps, oldest);
    }
    slot->image = malloc(job->out_len ? job->out_len : 1);
    if (!slot->image)
        return;
    memcpy(slot->image, job->out, job->out_len);
    slot->len = job->out_len;
    slot->type = plot_format_type(job->format);
    snprintf(slot->key, sizeof(slot->key), "%s", key);
    slot->used = ++ps->clock;
    ps->cache_bytes += slot->len;
}

void http_plot_request(struct http_pss *pss)
{
    struct app *app = pss->app;
    struct plot_state *ps = state(app);
    struct plot_flight *f;
    struct cached_plot *c;
    struct plot_job *job;
    struct plot_ask ask;
    char err[200];

    if (!ps) {
        http_answer_error(pss, 503, "out of memory");
        return;
    }
    if (read_ask(pss, &ask) < 0)
        return;

    f = calloc(1, sizeof(*f));
    if (!f) {
        http_answer_error(pss, 503, "out of memory");
        return;
    }
    make_key(&ask, f->key, sizeof(f->key));

    c = cache_find(ps, f->key);
    if (c) {
        app->m.plots_cached++;
        c->used = ++ps->clock;
        http_answer(pss, 200, c->type, c->image, c->len);
        free(f);
        return;
    }

    if (server_start_plots(app, err, sizeof(err)) < 0) {
        char msg[300];

        snprintf(msg, sizeof(msg), "plots are unavailable: %s "
                 "(plot.gnuplot)", err);
        app->m.plots_failed++;
        free(f);
        http_answer_error(pss, 503, msg);
        return;
    }

    /* The same picture of the same data: join the flight in progress. */
    for (struct plot_flight *g = ps->flights; g; g = g->next) {
        if (!strcmp(g->key, f->key)) {
            app->m.plots_coalesced++;
            join_flight(g, pss);
            free(f);
            return;
        }
    }

    job = make_job(&ask);
    if (!job) {
        free(f);
        http_answer_error(pss, 503, "out of memory");
        return;
    }
    job->user = f;
    f->job = job;

    if (plot_pool_submit(app->plots, job) < 0) {
        snprintf(err, sizeof(err), "cannot plot now: %s", job->error);
        plot_job_free(job);
        free(f);
        app->m.plots_failed++;
        http_answer_error(pss, 503, err);
        return;
    }
    f->next = ps->flights;
    ps->flights = f;
    join_flight(f, pss);
}

void http_plot_detach(struct http_pss *pss)
{
    struct plot_flight *f = pss->flight;
    struct http_pss **pp;

    if (!f)
        return;
    for (pp = &f->waiters; *pp; pp = &(*pp)->flight_next)
        if (*pp == pss) {
            *pp = pss->flight_next;
            break;
        }
    pss->flight = NULL;
    pss->flight_next = NULL;
}

static void record_time(struct metrics *m, double ms)
{
    static const double bounds[PLOT_MS_NBOUNDS] = PLOT_MS_BOUNDS;
    int i;

    for (i = 0; i < PLOT_MS_NBOUNDS && ms > bounds[i]; i++)
        ;
    m->plot_ms_buckets[i]++;
    m->plot_ms_sum += ms;
}

static void answer_waiters(struct app *app, struct plot_flight *f)
{
    struct plot_job *job = f->job;
    struct http_pss *pss, *next;

    for (pss = f->waiters; pss; pss = next) {
        next = pss->flight_next;
        pss->flight = NULL;
        pss->flight_next = NULL;
        lws_set_timeout(pss->wsi, NO_PENDING_TIMEOUT, 0);

        if (job->status == PLOT_OK)
            http_answer(pss, 200, plot_format_type(job->format), job->out,
                        job->out_len);
        else
            http_answer_error(pss, job->status == PLOT_TIMEOUT ? 504 : 503,
                              job->error[0] ? job->error
                                            : "the plot failed");
    }
    f->waiters = NULL;
}

void http_plot_collect(struct app *app)
{
    struct plot_state *ps = app->plot_wait;
    struct plot_job *job;

    if (!app->plots)
        return;
    while ((job = plot_pool_take_done(app->plots))) {
        struct plot_flight *f = job->user, **pp;

        if (job->status == PLOT_OK) {
            app->m.plots_ok++;
            record_time(&app->m, job->elapsed_ms);
            cache_put(ps, f->key, job);
        } else {
            app->m.plots_failed++;
            lwsl_warn("plot failed: %s\n", job->error);
        }
        answer_waiters(app, f);

        for (pp = &ps->flights; *pp; pp = &(*pp)->next)
            if (*pp == f) {
                *pp = f->next;
                break;
            }
        plot_job_free(job);
        free(f);
    }
}

/* At shutdown, after the pool is gone (it freed the jobs): drop the
 * flights that never came back. */
void http_plot_free(struct app *app)
{
    struct plot_state *ps = app->plot_wait;
    struct plot_flight *f, *next;

    if (!ps)
        return;
    for (f = ps->flights; f; f = next) {
        next = f->next;
        free(f);
    }
    for (int i = 0; i < CACHE_ENTRIES; i++)
        free(ps->cache[i].image);
    free(ps);
    app->plot_wait = NULL;
}
