/*
 * listeners.h - the UDP listeners (Graphite plaintext and StatsD) and the
 * per-line work they share with the Graphite TCP listener.
 */
#ifndef STREAMAVG_LISTENERS_H
#define STREAMAVG_LISTENERS_H

#include <stddef.h>

#include "app.h"

/* Take one Graphite line from peer (its address, for the log): parse,
 * store, or count and log the rejection.  too_long: the line was over
 * graphite.max_line and line is NULL.  now: app_now(), read once for all
 * the lines of one read or datagram (the time of a point sent without
 * one, and the reference for series.max_future). */
void graphite_take_line(struct app *app, enum source src, const char *peer,
                        double now, size_t line_no, const char *line,
                        size_t len, int too_long);

/* Open the Graphite UDP socket (on graphite.port, when it is not 0) and
 * the StatsD one (statsd.port, when not 0) and put them on the loop.
 * Returns 0, or -1 after logging why. */
int udp_listeners_start(struct app *app);

/* StatsD (statsd_listen.c): the counters' state and flush timer. */
int statsd_start(struct app *app);
void statsd_stop(struct app *app);
/* Every line of one datagram from peer. */
void statsd_take_datagram(struct app *app, const char *data, size_t len,
                          const char *peer);

#endif
