/*
 * http_stats.c - GET /stats: every figure of one window as flat JSON.
 *
 * count, sum, mean, min, max and the deviations cost O(log n) through the
 * block tree; p50, p90 and p99 cost O(log n) and the ewma O(1) when the
 * window is standing, a pass over the window when it is asked about the
 * first time (stats.h, standing.h).
 */
#include <stdio.h>
#include <string.h>

#include <json.h>

#include "jsonfmt.h"
#include "params.h"
#include "server.h"
#include "stats.h"

/* Ten points: a short memory that still smooths single spikes. */
#define DEFAULT_HALFLIFE_POINTS 10

void http_stats_fields(struct json_object *o, const struct stats_result *r,
                       unsigned mask)
{
    int i;

    for (i = 0; i < STATS_FIELDS; i++) {
        if (!(mask & (1u << i)))
            continue;
        json_object_object_add(o, stats_field_name(i),
                               i == 0 ? json_object_new_int64(
                                            (int64_t)r->count)
                                      : jsonfmt_number(
                                            stats_field_value(r, i)));
    }
}

void http_stats_request(struct http_pss *pss)
{
    struct app *app = pss->app;
    struct stats_options opt = {0, DEFAULT_HALFLIFE_POINTS,
                                (size_t)app->cfg.stats.exact_max};
    const struct standing_window *sw;
    struct window_ring *w;
    struct stats_result r;
    struct json_object *o;
    struct series *s;
    char name[300], text[64], err[200], *buf;
    size_t first, last, len;
    double seconds;
    long points;
    int rc;

    s = http_query_series(pss, name, sizeof(name));
    if (!s || http_query_window(pss, &points, &seconds) < 0)
        return;
    rc = server_query_arg(pss->wsi, "halflife", text, sizeof(text));
    if (rc < 0 || (rc > 0 &&
                   param_halflife(text, (long)store_history(app->store),
                                  &opt.halflife_seconds,
                                  &opt.halflife_points, err,
                                  sizeof(err)) < 0)) {
        http_answer_error(pss, 400, rc < 0 ? "halflife is too long to be "
                          "valid" : err);
        return;
    }

    /* An empty series asks for the range [1, 0]: count 0, all null. */
    w = &s->ring;
    last = w->len ? w->len - 1 : 0;
    first = w->len ? window_first_of(w, last, (size_t)points, seconds) : 1;
    sw = standing_ask(&s->standing, &app->standing, w, (size_t)points,
                      seconds, opt.halflife_seconds, opt.halflife_points,
                      app_now());
    if (stats_compute(w, first, last, &opt, sw, &r) < 0) {
        http_answer_error(pss, 503, "out of memory copying the window");
        return;
    }

    o = json_object_new_object();
    json_object_object_add(o, "series", json_object_new_string(s->name));
    if (points) {
        json_object_object_add(o, "window_size",
                               json_object_new_int64(points));
    } else {
        server_query_arg(pss->wsi, "window", text, sizeof(text));
        json_object_object_add(o, "window", json_object_new_string(text));
    }
    http_stats_fields(o, &r, STATS_ALL);
    if (opt.halflife_seconds > 0)
        json_object_object_add(o, "halflife_seconds",
                               jsonfmt_number(opt.halflife_seconds));
    else
        json_object_object_add(o, "halflife_points",
                json_object_new_int64((int64_t)opt.halflife_points));
    json_object_object_add(o, "offset",
                           json_object_new_int64((int64_t)w->total));
    json_object_object_add(o, "late", json_object_new_int64((int64_t)s->late));
    /* Say when the percentiles are estimates, and how close. */
    json_object_object_add(o, "percentiles", json_object_new_string(
                               r.sketched ? "sketch" : "exact"));
    if (r.sketched)
        json_object_object_add(o, "percentile_relative_error",
                               jsonfmt_number(RANK_SKETCH_ALPHA));

    buf = jsonfmt_dump(o, 0, &len);
    json_object_put(o);
    if (!buf) {
        http_answer_error(pss, 503, "out of memory");
        return;
    }
    http_answer_owned(pss, 200, "application/json", buf, len);
}
