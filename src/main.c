/*
 * main.c - command line, configuration, logging and the process limits,
 * then hand over to the server loop.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include <libwebsockets.h>

#include "app.h"
#include "ingest.h"
#include "storage.h"
#include "store.h"
#include "stream.h"
#include "server.h"

#define VERSION "0.1.0"

static void usage(FILE *f)
{
    fprintf(f,
        "usage: streamavg [-c FILE] [-o KEY=VALUE]... [-d] [-h] [--version]\n"
        "\n"
        "  -c FILE        read the configuration from FILE (JSON, comments\n"
        "                 allowed); without it the built-in defaults apply\n"
        "  -o KEY=VALUE   set one key after the file, e.g. -o http.port=9000\n"
        "                 (repeatable; keys as in conf/streamavg.conf)\n"
        "  -d             log at debug level (same as -o log.level=debug)\n"
        "  -h, --help     this text\n"
        "  --version      print the version\n");
}

static int log_mask(const char *level)
{
    int mask = LLL_USER | LLL_ERR;

    if (!strcmp(level, "err"))
        return mask;
    mask |= LLL_WARN;
    if (!strcmp(level, "warn"))
        return mask;
    mask |= LLL_NOTICE;
    if (!strcmp(level, "notice"))
        return mask;
    mask |= LLL_INFO;
    if (!strcmp(level, "info"))
        return mask;
    return mask | LLL_DEBUG;
}

/* Thousands of subscribers need thousands of fds; the soft limit is often
 * 1024.  Raise it to the hard limit and say so. */
static void raise_fd_limit(void)
{
    struct rlimit rl;

    if (getrlimit(RLIMIT_NOFILE, &rl))
        return;
    if (rl.rlim_cur < rl.rlim_max) {
        unsigned long long was = (unsigned long long)rl.rlim_cur;

        rl.rlim_cur = rl.rlim_max;
        if (!setrlimit(RLIMIT_NOFILE, &rl)) {
            lwsl_notice("open files limit raised from %llu to %llu\n", was,
                        (unsigned long long)rl.rlim_cur);
            return;
        }
        rl.rlim_cur = was;
    }
    lwsl_notice("open files limit: %llu\n", (unsigned long long)rl.rlim_cur);
}

static void storage_log(int level, const char *msg)
{
    if (level == 0)
        lwsl_err("%s\n", msg);
    else if (level == 1)
        lwsl_warn("%s\n", msg);
    else
        lwsl_notice("%s\n", msg);
}

/* With storage.dir set, the store is rebuilt from the folder; without, it
 * starts empty. */
static struct store *open_store(struct app *app)
{
    const struct config *cfg = &app->cfg;
    struct storage_opts opts = {
        cfg->storage.dir, cfg->storage.fsync_ms, cfg->storage.snapshot_s,
        (size_t)cfg->storage.log_max_mb << 20,
        (size_t)cfg->storage.queue_max_mb << 20};

    if (!cfg->storage.dir[0]) {
        lwsl_notice("storage: off (storage.dir is empty); history is lost "
                    "at exit\n");
        return store_new((size_t)cfg->series.history,
                         (size_t)cfg->series.max_series,
                         (size_t)cfg->series.max_memory_mb << 20);
    }
    app->storage = storage_open(&opts, storage_log);
    if (!app->storage)
        return NULL;
    return storage_load(app->storage, (size_t)cfg->series.history,
                        (size_t)cfg->series.max_series,
                        (size_t)cfg->series.max_memory_mb << 20);
}

int main(int argc, char **argv)
{
    static struct app app;
    char err[2048];
    const char *conf = NULL;
    int i, debug = 0, rc;

    config_defaults(&app.cfg);

    /* The file first, then the overrides, whatever order they came in. */
    for (i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
            usage(stdout);
            return 0;
        }
        if (!strcmp(argv[i], "--version")) {
            printf("streamavg %s\n", VERSION);
            return 0;
        }
        if (!strcmp(argv[i], "-c") || !strcmp(argv[i], "-o")) {
            if (i + 1 >= argc) {
                fprintf(stderr, "streamavg: %s needs an argument\n", argv[i]);
                usage(stderr);
                return 2;
            }
            if (argv[i][1] == 'c')
                conf = argv[i + 1];
            i++;
            continue;
        }
        if (!strcmp(argv[i], "-d")) {
            debug = 1;
            continue;
        }
        fprintf(stderr, "streamavg: unknown option '%s'\n", argv[i]);
        usage(stderr);
        return 2;
    }

    if (conf && config_load_file(&app.cfg, conf, err, sizeof(err)) < 0)
        goto bad_config;
    for (i = 1; i < argc; i++)
        if (!strcmp(argv[i], "-o") &&
            config_set(&app.cfg, argv[++i], err, sizeof(err)) < 0)
            goto bad_config;
    if (debug)
        snprintf(app.cfg.log.level, sizeof(app.cfg.log.level), "debug");
    if (config_check(&app.cfg, err, sizeof(err)) < 0)
        goto bad_config;

    lws_set_log_level(log_mask(app.cfg.log.level), NULL);
    lwsl_user("streamavg %s starting (config: %s)\n", VERSION,
              conf ? conf : "built-in defaults");
    raise_fd_limit();

    app.started = app_now();
    app.standing.exact_max = (size_t)app.cfg.stats.exact_max;
    app.standing.max_bytes = (size_t)app.cfg.stats.standing_max_mb << 20;
    app.standing.per_series = (unsigned)app.cfg.stats.standing_per_series;
    app.standing.idle_s = app.cfg.stats.standing_idle_s;
    app.store = open_store(&app);
    if (!app.store || stream_init(&app) < 0) {
        fprintf(stderr, "streamavg: out of memory\n");
        return 1;
    }
    /* The seed's requests name no series: "default" exists from the
     * start. */
    if (!store_intern(app.store, "default", 7, err, sizeof(err))) {
        fprintf(stderr, "streamavg: %s\n", err);
        return 1;
    }

    rc = server_run(&app);

    /* The loop has stopped: every accepted point is queued; write it. */
    storage_close(app.storage);
    stream_free(&app);
    store_free(app.store);
    lwsl_notice("stopped\n");
    return rc;

bad_config:
    fprintf(stderr, "streamavg: configuration refused: %s\n", err);
    return 2;
}
