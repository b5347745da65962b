/*
 * config.h - the server's settings: defaults, the JSON config file (with
 * comments), and -o KEY=VALUE overrides on the command line.
 *
 * Every key is declared once in a table in config.c with its type and its
 * allowed range; an unknown key, a wrong type or a value out of range is
 * refused with a sentence that names the key and what is allowed.
 */
#ifndef STREAMAVG_CONFIG_H
#define STREAMAVG_CONFIG_H

#include <stddef.h>

#define CONFIG_STR_MAX 256

struct config {
    struct {
        int port;
        char bind[CONFIG_STR_MAX];
        int max_body;
        int max_connections;
        char tls_cert[CONFIG_STR_MAX];  /* both set: HTTPS and WSS */
        char tls_key[CONFIG_STR_MAX];
        char www[CONFIG_STR_MAX];
        char dygraphs[CONFIG_STR_MAX];
    } http;
    struct {
        int port;
        char bind[CONFIG_STR_MAX];
        int max_line;
        int max_clients;
    } graphite;
    struct {
        int enabled;
        int interval_ms;
        char series[CONFIG_STR_MAX];
        int min;
        int max;
    } generator;
    struct {
        int history;
        int max_series;
        int max_memory_mb;  /* all series' history together */
        int max_future;     /* seconds a timestamp may lead the clock */
    } series;
    struct {
        int exact_max;      /* largest window with exact percentiles */
    } stats;
    struct {
        int queue_max;
        int backlog;
        int max_message;
        int max_subscriptions;
        int publish;
        char allowed_origins[CONFIG_STR_MAX];   /* comma-separated */
        char subscribe_token[CONFIG_STR_MAX];   /* "" = none needed */
        int ping_s;             /* idle this long: ping; 0 = never */
        int timeout_s;          /* no pong this long after: drop */
    } stream;
    struct {
        char gnuplot[CONFIG_STR_MAX];
        int max_procs;
        int timeout_ms;
        int max_points;
        int queue_max;
    } plot;
    struct {
        char level[CONFIG_STR_MAX];
    } log;
    struct {
        int port;
        char bind[CONFIG_STR_MAX];
        int flush_ms;
    } statsd;
    struct {
        char token[CONFIG_STR_MAX];
        char allow_from[CONFIG_STR_MAX];
    } ingest;
    struct {
        char dir[CONFIG_STR_MAX];   /* "" turns durability off */
        int fsync_ms;
        int snapshot_s;
        int log_max_mb;
        int queue_max_mb;
    } storage;
};

/* Fill every key with its built-in default. */
void config_defaults(struct config *cfg);

/* Read a JSON config file over the current values.  Returns 0, or -1 with
 * a sentence in err naming the file, the key and what is allowed. */
int config_load_file(struct config *cfg, const char *path, char *err,
                     size_t errlen);

/* Apply one "dotted.key=value" override.  Returns 0 or -1 with err. */
int config_set(struct config *cfg, const char *assignment, char *err,
               size_t errlen);

/* Cross-key checks after everything is loaded (e.g. generator.min <=
 * generator.max).  Returns 0 or -1 with err. */
int config_check(const struct config *cfg, char *err, size_t errlen);

#endif
