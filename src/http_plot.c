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

struct plot_flight {
    char key[SERIES_NAME_MAX + 96];
    struct plot_job *job;       /* owned by the pool until collected */
    struct http_pss *waiters;
    struct plot_flight *next;
};

struct plot_state {
    struct plot_flight *flights;
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

/* Fill job with the rolling average over the newest `points` points. */
static void fill_job(struct plot_job *job, const struct window_ring *w,
                     size_t window, size_t first)
{
    size_t i;

    for (i = 0; i < job->n; i++) {
        size_t last = first + i;
        size_t from = last + 1 >= window ? last + 1 - window : 0;
        struct window_agg agg;

        window_range(w, from, last, &agg);
        job->x[i] = window_ts_at(w, last);
        job->y[i] = window_agg_mean(&agg);
    }
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

void http_plot_request(struct http_pss *pss)
{
    struct app *app = pss->app;
    struct plot_state *ps = state(app);
    struct plot_flight *f;
    struct plot_job *job;
    struct series *s;
    char name[300], tmp[64], err[200];
    long window, points, width, height;
    size_t n, first;

    if (!ps) {
        http_answer_error(pss, 503, "out of memory");
        return;
    }
    if (server_start_plots(app, err, sizeof(err)) < 0) {
        char msg[300];

        snprintf(msg, sizeof(msg), "plots are unavailable: %s "
                 "(plot.gnuplot)", err);
        app->m.plots_failed++;
        http_answer_error(pss, 503, msg);
        return;
    }

    s = http_query_series(pss, name, sizeof(name));
    if (!s)
        return;

    if (server_query_arg(pss->wsi, "window_size", tmp, sizeof(tmp)) == 0) {
        snprintf(err, sizeof(err), "window_size is required: a whole number "
                 "of points from 1 to %zu", store_history(app->store));
        http_answer_error(pss, 400, err);
        return;
    }
    if (query_long(pss, "window_size", 1, (long)store_history(app->store), 0,
                   &window) ||
        query_long(pss, "points", 1, app->cfg.plot.max_points,
                   PLOT_DEFAULT_POINTS, &points) ||
        query_long(pss, "width", 100, 10000, PLOT_DEFAULT_WIDTH, &width) ||
        query_long(pss, "height", 100, 10000, PLOT_DEFAULT_HEIGHT, &height))
        return;

    n = s->ring.len < (size_t)points ? s->ring.len : (size_t)points;
    first = s->ring.len - n;

    /* The same picture of the same data: join the flight in progress. */
    snprintf(name, sizeof(name), "%s|%ld|%zu|%ld|%ld|%llu", s->name, window,
             n, width, height, (unsigned long long)s->ring.total);
    for (f = ps->flights; f; f = f->next) {
        if (!strcmp(f->key, name)) {
            app->m.plots_coalesced++;
            join_flight(f, pss);
            return;
        }
    }

    f = calloc(1, sizeof(*f));
    job = plot_job_new(n);
    if (!f || !job) {
        free(f);
        plot_job_free(job);
        http_answer_error(pss, 503, "out of memory");
        return;
    }
    snprintf(f->key, sizeof(f->key), "%s", name);
    fill_job(job, &s->ring, (size_t)window, first);
    job->width = (int)width;
    job->height = (int)height;
    snprintf(job->title, sizeof(job->title), "%s, average of the last %ld "
             "points", s->name, window);
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
    static const double bounds[] = {1, 5, 10, 50, 100, 500, 1000};
    int i;

    for (i = 0; i < 7 && ms > bounds[i]; i++)
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
            http_answer(pss, 200, "image/svg+xml", job->svg, job->svg_len);
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
    free(ps);
    app->plot_wait = NULL;
}
