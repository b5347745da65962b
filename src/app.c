/*
 * app.c - the path of one accepted point: the store, then the stream.
 */
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

int app_accept_point(struct app *app, enum source src, const char *name,
                     size_t len, double ts, double value, char *err,
                     size_t errlen)
{
    struct series *s = store_intern(app->store, name, len, err, errlen);
    enum storage_refusal why;

    /* The log first, as a write-ahead log: a point kept in memory but
     * missing from the log would vanish at the next restart. */
    if (s && app->storage &&
        (why = storage_append(app->storage, name, len, ts, value, err,
                              errlen)) != STORAGE_OK) {
        app->m.points_rejected[src]++;
        return why == STORAGE_NO_SPACE ? APP_NO_SPACE : APP_STORAGE_DOWN;
    }
    if (!s || series_append(s, ts, value) < 0) {
        if (s)
            snprintf(err, errlen, "out of memory storing a point");
        app->m.points_rejected[src]++;
        return -1;
    }
    app->m.points_in[src]++;
    stream_publish(app, s);
    return 0;
}
