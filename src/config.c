/*
 * config.c - one table of keys drives the defaults, the file reader and the
 * -o overrides, so the three can never disagree about a key.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json.h>

#include "access.h"
#include "config.h"
#include "ingest.h"

enum key_type { KEY_INT, KEY_BOOL, KEY_STR };

struct key {
    const char *name;
    enum key_type type;
    size_t offset;
    long min, max;          /* ints: the range; strings: min/max length */
    const char *def;        /* the default, as text */
};

#define K(name, type, field, min, max, def) \
    { name, type, offsetof(struct config, field), min, max, def }

static const struct key keys[] = {
    K("http.port", KEY_INT, http.port, 1, 65535, "8080"),
    K("http.bind", KEY_STR, http.bind, 0, 255, "127.0.0.1"),
    K("http.max_body", KEY_INT, http.max_body, 1024, 1 << 30, "4194304"),
    K("http.max_connections", KEY_INT, http.max_connections, 1, 1000000,
      "10000"),
    K("http.tls_cert", KEY_STR, http.tls_cert, 0, 255, ""),
    K("http.tls_key", KEY_STR, http.tls_key, 0, 255, ""),
    K("http.www", KEY_STR, http.www, 1, 255, "www"),
    K("http.dygraphs", KEY_STR, http.dygraphs, 1, 255,
      "/usr/share/javascript/dygraphs"),
    K("graphite.port", KEY_INT, graphite.port, 0, 65535, "2003"),
    K("graphite.bind", KEY_STR, graphite.bind, 0, 255, "127.0.0.1"),
    K("graphite.max_line", KEY_INT, graphite.max_line, 64, 1 << 20, "4096"),
    K("graphite.max_clients", KEY_INT, graphite.max_clients, 1, 1000000,
      "1000"),
    K("generator.enabled", KEY_BOOL, generator.enabled, 0, 1, "true"),
    K("generator.interval_ms", KEY_INT, generator.interval_ms, 10, 86400000,
      "1000"),
    K("generator.series", KEY_STR, generator.series, 1, 255, "default"),
    K("generator.min", KEY_INT, generator.min, -1000000000, 1000000000, "0"),
    K("generator.max", KEY_INT, generator.max, -1000000000, 1000000000,
      "100"),
    K("series.history", KEY_INT, series.history, 1, 100000000, "100000"),
    K("series.max_memory_mb", KEY_INT, series.max_memory_mb, 1, 1 << 20,
      "1024"),
    K("series.max_series", KEY_INT, series.max_series, 1, 10000000,
      "10000"),
    K("series.max_future", KEY_INT, series.max_future, 0, 315360000, "600"),
    K("stats.exact_max", KEY_INT, stats.exact_max, 1, 100000000, "1000000"),
    K("stream.queue_max", KEY_INT, stream.queue_max, 1, 1000000, "1024"),
    K("stream.backlog", KEY_INT, stream.backlog, 0, 100000, "300"),
    K("stream.max_message", KEY_INT, stream.max_message, 64, 1 << 24,
      "65536"),
    K("stream.max_subscriptions", KEY_INT, stream.max_subscriptions, 1,
      10000, "64"),
    K("stream.allowed_origins", KEY_STR, stream.allowed_origins, 0, 255, ""),
    K("stream.subscribe_token", KEY_STR, stream.subscribe_token, 0, 255, ""),
    K("stream.ping_s", KEY_INT, stream.ping_s, 0, 3600, "30"),
    K("stream.timeout_s", KEY_INT, stream.timeout_s, 1, 3600, "10"),
    K("plot.gnuplot", KEY_STR, plot.gnuplot, 1, 255, "/usr/bin/gnuplot"),
    K("plot.max_procs", KEY_INT, plot.max_procs, 1, 64, "2"),
    K("plot.timeout_ms", KEY_INT, plot.timeout_ms, 100, 600000, "5000"),
    K("plot.max_points", KEY_INT, plot.max_points, 2, 1000000, "10000"),
    K("plot.queue_max", KEY_INT, plot.queue_max, 1, 100000, "64"),
    K("log.level", KEY_STR, log.level, 1, 255, "notice"),
    K("stream.publish", KEY_BOOL, stream.publish, 0, 1, "false"),
    K("statsd.port", KEY_INT, statsd.port, 0, 65535, "0"),
    K("statsd.bind", KEY_STR, statsd.bind, 0, 255, "127.0.0.1"),
    K("statsd.flush_ms", KEY_INT, statsd.flush_ms, 100, 3600000, "1000"),
    K("ingest.token", KEY_STR, ingest.token, 0, 255, ""),
    K("ingest.allow_from", KEY_STR, ingest.allow_from, 0, 255, ""),
    K("storage.dir", KEY_STR, storage.dir, 0, 255, "data/state"),
    K("storage.fsync_ms", KEY_INT, storage.fsync_ms, 10, 60000, "1000"),
    K("storage.snapshot_s", KEY_INT, storage.snapshot_s, 1, 86400, "300"),
    K("storage.log_max_mb", KEY_INT, storage.log_max_mb, 1, 65536, "64"),
    K("storage.queue_max_mb", KEY_INT, storage.queue_max_mb, 1, 4096, "64"),
};

#define NKEYS (sizeof(keys) / sizeof(keys[0]))

static const struct key *find_key(const char *name)
{
    size_t i;

    for (i = 0; i < NKEYS; i++)
        if (!strcmp(keys[i].name, name))
            return &keys[i];
    return NULL;
}

/* Is `prefix` a section (e.g. "http") that some key lives under? */
static int is_section(const char *prefix)
{
    size_t n = strlen(prefix), i;

    for (i = 0; i < NKEYS; i++)
        if (!strncmp(keys[i].name, prefix, n) && keys[i].name[n] == '.')
            return 1;
    return 0;
}

static const char *type_name(enum key_type t)
{
    switch (t) {
    case KEY_INT:
        return "an integer";
    case KEY_BOOL:
        return "true or false";
    default:
        return "a string";
    }
}

static void describe_allowed(const struct key *k, char *buf, size_t len)
{
    if (k->type == KEY_INT)
        snprintf(buf, len, "an integer from %ld to %ld", k->min, k->max);
    else if (k->type == KEY_BOOL)
        snprintf(buf, len, "true or false");
    else
        snprintf(buf, len, "a string of %ld to %ld bytes", k->min, k->max);
}

static void unknown_key(const char *where, const char *name, char *err,
                        size_t errlen)
{
    char list[1024] = "";
    size_t i, used = 0;

    for (i = 0; i < NKEYS && used < sizeof(list) - 1; i++)
        used += snprintf(list + used, sizeof(list) - used, "%s%s",
                         i ? ", " : "", keys[i].name);
    snprintf(err, errlen, "%s: unknown key '%s'; known keys are: %s",
             where, name, list);
}

static int set_int(struct config *cfg, const struct key *k, long v,
                   const char *where, char *err, size_t errlen)
{
    char allowed[96];

    if (v < k->min || v > k->max) {
        describe_allowed(k, allowed, sizeof(allowed));
        snprintf(err, errlen, "%s: '%s' is %ld; it must be %s", where,
                 k->name, v, allowed);
        return -1;
    }
    *(int *)((char *)cfg + k->offset) = (int)v;
    return 0;
}

static int set_str(struct config *cfg, const struct key *k, const char *v,
                   size_t len, const char *where, char *err, size_t errlen)
{
    char allowed[96];

    if ((long)len < k->min || (long)len > k->max || memchr(v, '\0', len)) {
        describe_allowed(k, allowed, sizeof(allowed));
        snprintf(err, errlen, "%s: '%s' has a length of %zu; it must be %s",
                 where, k->name, len, allowed);
        return -1;
    }
    memcpy((char *)cfg + k->offset, v, len);
    ((char *)cfg + k->offset)[len] = '\0';
    return 0;
}

/* Parse the text form of a value (defaults and -o overrides). */
static int set_text(struct config *cfg, const struct key *k, const char *v,
                    const char *where, char *err, size_t errlen)
{
    char allowed[96], *end;
    long n;

    switch (k->type) {
    case KEY_INT:
        errno = 0;
        n = strtol(v, &end, 10);
        if (errno || end == v || *end)
            break;
        return set_int(cfg, k, n, where, err, errlen);
    case KEY_BOOL:
        if (!strcmp(v, "true") || !strcmp(v, "false"))
            return set_int(cfg, k, !strcmp(v, "true"), where, err, errlen);
        break;
    case KEY_STR:
        return set_str(cfg, k, v, strlen(v), where, err, errlen);
    }
    describe_allowed(k, allowed, sizeof(allowed));
    snprintf(err, errlen, "%s: '%s' must be %s", where, k->name, allowed);
    return -1;
}

void config_defaults(struct config *cfg)
{
    char err[256];
    size_t i;

    memset(cfg, 0, sizeof(*cfg));
    for (i = 0; i < NKEYS; i++)
        if (set_text(cfg, &keys[i], keys[i].def, "default", err,
                     sizeof(err)) < 0)
            abort();        /* the table above is wrong */
}

static int set_json(struct config *cfg, const struct key *k,
                    struct json_object *v, const char *where, char *err,
                    size_t errlen)
{
    enum json_type t = json_object_get_type(v);

    switch (k->type) {
    case KEY_INT:
        if (t != json_type_int)
            break;
        errno = 0;
        return set_int(cfg, k, (long)json_object_get_int64(v), where, err,
                       errlen);
    case KEY_BOOL:
        if (t != json_type_boolean)
            break;
        return set_int(cfg, k, json_object_get_boolean(v), where, err,
                       errlen);
    case KEY_STR:
        if (t != json_type_string)
            break;
        return set_str(cfg, k, json_object_get_string(v),
                       (size_t)json_object_get_string_len(v), where, err,
                       errlen);
    }
    snprintf(err, errlen, "%s: '%s' must be %s, not %s", where, k->name,
             type_name(k->type), json_type_to_name(t));
    return -1;
}

/* Walk one level of the file's object; `prefix` is "" or "section.". */
static int load_object(struct config *cfg, struct json_object *obj,
                       const char *prefix, const char *where, char *err,
                       size_t errlen)
{
    struct json_object_iterator it = json_object_iter_begin(obj);
    struct json_object_iterator end = json_object_iter_end(obj);

    for (; !json_object_iter_equal(&it, &end); json_object_iter_next(&it)) {
        const char *name = json_object_iter_peek_name(&it);
        struct json_object *v = json_object_iter_peek_value(&it);
        char full[300];
        const struct key *k;

        snprintf(full, sizeof(full), "%s%s", prefix, name);
        k = find_key(full);
        if (k) {
            if (set_json(cfg, k, v, where, err, errlen) < 0)
                return -1;
            continue;
        }
        if (!*prefix && is_section(full)) {
            if (!json_object_is_type(v, json_type_object)) {
                snprintf(err, errlen, "%s: '%s' must be an object of keys",
                         where, full);
                return -1;
            }
            strncat(full, ".", sizeof(full) - strlen(full) - 1);
            if (load_object(cfg, v, full, where, err, errlen) < 0)
                return -1;
            continue;
        }
        unknown_key(where, full, err, errlen);
        return -1;
    }
    return 0;
}

static char *read_file(const char *path, size_t *len, char *err,
                       size_t errlen)
{
    FILE *f = fopen(path, "rb");
    char *buf = NULL;
    long size;

    if (!f) {
        snprintf(err, errlen, "%s: cannot open: %s", path, strerror(errno));
        return NULL;
    }
    if (fseek(f, 0, SEEK_END) || (size = ftell(f)) < 0 ||
        fseek(f, 0, SEEK_SET))
        goto fail;
    if (size == LONG_MAX) {
        snprintf(err, errlen, "%s: not a regular file", path);
        fclose(f);
        return NULL;
    }
    if (size > (1 << 20)) {
        snprintf(err, errlen, "%s: larger than 1 MB, not a config file",
                 path);
        fclose(f);
        return NULL;
    }
    buf = malloc((size_t)size + 1);
    if (!buf || fread(buf, 1, (size_t)size, f) != (size_t)size)
        goto fail;
    buf[size] = '\0';
    *len = (size_t)size;
    fclose(f);
    return buf;

fail:
    snprintf(err, errlen, "%s: cannot read: %s", path, strerror(errno));
    free(buf);
    fclose(f);
    return NULL;
}

int config_load_file(struct config *cfg, const char *path, char *err,
                     size_t errlen)
{
    struct json_tokener *tok;
    struct json_object *root;
    size_t len, end, i, line = 1;
    char *text = read_file(path, &len, err, errlen);
    int rc = -1;

    if (!text)
        return -1;

    /* json-c's default (non-strict) tokener accepts comments. */
    tok = json_tokener_new();
    if (!tok) {
        snprintf(err, errlen, "%s: out of memory", path);
        free(text);
        return -1;
    }
    root = json_tokener_parse_ex(tok, text, (int)len);
    end = json_tokener_get_parse_end(tok);
    for (i = 0; i < end && i < len; i++)
        line += text[i] == '\n';

    if (!root) {
        snprintf(err, errlen, "%s:%zu: not valid JSON: %s", path, line,
                 json_tokener_error_desc(json_tokener_get_error(tok)));
        goto out;
    }
    if (!json_object_is_type(root, json_type_object)) {
        snprintf(err, errlen, "%s: the top level must be an object", path);
        goto out;
    }
    rc = load_object(cfg, root, "", path, err, errlen);

out:
    json_object_put(root);
    json_tokener_free(tok);
    free(text);
    return rc;
}

int config_set(struct config *cfg, const char *assignment, char *err,
               size_t errlen)
{
    const char *eq = strchr(assignment, '=');
    char name[128];
    const struct key *k;

    if (!eq || eq == assignment || (size_t)(eq - assignment) >= sizeof(name)) {
        snprintf(err, errlen, "-o takes KEY=VALUE, e.g. -o http.port=9000");
        return -1;
    }
    memcpy(name, assignment, (size_t)(eq - assignment));
    name[eq - assignment] = '\0';

    k = find_key(name);
    if (!k) {
        unknown_key("-o", name, err, errlen);
        return -1;
    }
    return set_text(cfg, k, eq + 1, "-o", err, errlen);
}

/* A bind address is "" (every address) or an IPv4 or IPv6 literal: lws
 * would take a misspelt one as an interface name, log it and carry on. */
static int bind_invalid(const char *addr, const char *key, char *err,
                        size_t errlen)
{
    unsigned char buf[16];

    if (!*addr || inet_pton(AF_INET, addr, buf) == 1 ||
        inet_pton(AF_INET6, addr, buf) == 1)
        return 0;
    snprintf(err, errlen, "%s is '%s'; it must be an IPv4 or IPv6 address "
             "(e.g. 127.0.0.1, 0.0.0.0, ::1) or \"\" for every address",
             key, addr);
    return 1;
}

int config_check(const struct config *cfg, char *err, size_t errlen)
{
    static const char *levels[] = {"err", "warn", "notice", "info",
                                   "debug", NULL};
    int i;

    if (cfg->generator.min > cfg->generator.max) {
        snprintf(err, errlen, "generator.min (%d) must not be above "
                 "generator.max (%d)", cfg->generator.min,
                 cfg->generator.max);
        return -1;
    }
    if (cfg->graphite.port && cfg->graphite.port == cfg->http.port &&
        !strcmp(cfg->graphite.bind, cfg->http.bind)) {
        snprintf(err, errlen, "graphite.port and http.port are both %d; "
                 "give them different ports (graphite.port 0 turns the "
                 "Graphite listener off)", cfg->http.port);
        return -1;
    }
    if (bind_invalid(cfg->http.bind, "http.bind", err, errlen) ||
        bind_invalid(cfg->graphite.bind, "graphite.bind", err, errlen) ||
        bind_invalid(cfg->statsd.bind, "statsd.bind", err, errlen) ||
        access_config_check(cfg, err, errlen) < 0)
        return -1;
    if (!ingest_series_name_ok(cfg->generator.series,
                               strlen(cfg->generator.series))) {
        snprintf(err, errlen, "generator.series '%s' is not a series name: "
                 "1 to 255 bytes of [A-Za-z0-9._:-]", cfg->generator.series);
        return -1;
    }
    if (!cfg->http.tls_cert[0] != !cfg->http.tls_key[0]) {
        snprintf(err, errlen, "http.tls_cert and http.tls_key go together: "
                 "set both (PEM files) for TLS, or neither");
        return -1;
    }
    for (i = 0; levels[i]; i++)
        if (!strcmp(cfg->log.level, levels[i]))
            return 0;
    snprintf(err, errlen, "log.level is '%s'; it must be one of err, warn, "
             "notice, info, debug", cfg->log.level);
    return -1;
}
