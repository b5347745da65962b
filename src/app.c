/*
 * app.c - the path of one accepted point: the store, then the stream.
 */
#include <math.h>
#include <stdio.h>
#include <time.h>

#include "app.h"
#include "storage.h"
#include "stream.h"

double app_now(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* now: the clock, or NAN to read it only when the check needs it. */
static int accept_point(struct app *app, enum source src, const char *name,
                        size_t len, double ts, double value, double now,
                        char *err, size_t errlen)
{
    int future = app->cfg.series.max_future;
    enum storage_refusal why;
    struct series *s;

    /* See README, "Timestamps": one point from the far future would raise
     * every later point of its series to its timestamp. */
    if (future > 0 && ts > (isnan(now) ? app_now() : now) + future) {
        snprintf(err, errlen, "the timestamp is more than %d seconds ahead "
                 "of the server's clock (series.max_future)", future);
        app->m.points_rejected[src]++;
        return -1;
    }
    s = store_intern(app->store, name, len, err, errlen);
    if (!s) {
        app->m.points_rejected[src]++;
        app->m.rejected_by[src][REJ_LIMIT]++;
        return -1;
    }

    /* The log first, as a write-ahead log: a point kept in memory but
     * missing from the log would vanish at the next restart. */
    if (app->storage &&
        (why = storage_append(app->storage, name, len, ts, value, err,
                              errlen)) != STORAGE_OK) {
        app->m.points_rejected[src]++;
        return why == STORAGE_NO_SPACE ? APP_NO_SPACE : APP_STORAGE_DOWN;
    }
    if (store_append(app->store, s, ts, value, err, errlen) < 0) {
        app->m.points_rejected[src]++;
        app->m.rejected_by[src][REJ_LIMIT]++;
        return -1;
    }
    app->m.points_in[src]++;
    stream_publish(app, s);
    return 0;
}

int app_accept_point(struct app *app, enum source src, const char *name,
                     size_t len, double ts, double value, char *err,
                     size_t errlen)
{
    return accept_point(app, src, name, len, ts, value, NAN, err, errlen);
}

int app_accept_point_at(struct app *app, enum source src, const char *name,
                        size_t len, double ts, double value, double now,
                        char *err, size_t errlen)
{
    return accept_point(app, src, name, len, ts, value, now, err, errlen);
}
