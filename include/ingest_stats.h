/*
 * ingest_stats.h - the per-protocol ingest counters of /metrics: points
 * accepted and rejected by reason, bytes, connections, refusals and the
 * time spent parsing and storing.
 */
#ifndef STREAMAVG_INGEST_STATS_H
#define STREAMAVG_INGEST_STATS_H

#include "app.h"

/* The protocol label of a source, e.g. "graphite_udp". */
const char *ingest_source_name(enum source src);

/* The reason label, e.g. "timestamp". */
const char *ingest_reason_name(enum reject_reason why);

/* The reason a parser's error sentence gives.  Every parser starts its
 * sentences with what was wrong ("value ...", "timestamp ...", "series
 * name ...", "type ..."); anything else is a syntax error. */
enum reject_reason ingest_reason_of(const char *err);

/* Count one rejected point or line. */
void ingest_reject(struct app *app, enum source src, enum reject_reason why);

/* Seconds from a monotonic clock, for the parse-time counters. */
double ingest_clock(void);

/* The per-protocol block of /metrics, in Prometheus text format; the
 * caller frees it.  NULL when memory ran out. */
char *ingest_stats_text(const struct app *app);

#endif
