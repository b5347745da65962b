/*
 * test_plot.c - the gnuplot pool against the real /usr/bin/gnuplot, and
 * against small stand-in scripts that hang or die.
 */
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <dirent.h>

#include <cmocka.h>

#include "plot.h"
#include "plot_script.h"

#define GNUPLOT "/usr/bin/gnuplot"
#define WAIT_LIMIT_S 30         /* generous: only a broken pool reaches it */

/* 2023-11-14 22:00:00 UTC, on the hour so that tick labels land on it. */
static const double EPOCH_ON_HOUR = 1699999200.0;

/* Counts notify calls so tests wait for completion, not for time. */
struct waiter {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    size_t notified;
};

static void waiter_notify(void *arg)
{
    struct waiter *w = arg;

    pthread_mutex_lock(&w->lock);
    w->notified++;
    pthread_cond_broadcast(&w->cond);
    pthread_mutex_unlock(&w->lock);
}

static void waiter_init(struct waiter *w)
{
    pthread_mutex_init(&w->lock, NULL);
    pthread_cond_init(&w->cond, NULL);
    w->notified = 0;
}

static void waiter_destroy(struct waiter *w)
{
    pthread_cond_destroy(&w->cond);
    pthread_mutex_destroy(&w->lock);
}

/* Waits until `count` notifications came in all, or the limit passed. */
static void wait_for(struct waiter *w, size_t count)
{
    struct timespec limit;
    int rc = 0;

    clock_gettime(CLOCK_REALTIME, &limit);
    limit.tv_sec += WAIT_LIMIT_S;
    pthread_mutex_lock(&w->lock);
    while (w->notified < count && rc == 0)
        rc = pthread_cond_timedwait(&w->cond, &w->lock, &limit);
    pthread_mutex_unlock(&w->lock);
    assert_int_equal(rc, 0);
}

static double wall_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

/* n points a minute apart from `start`, values a saw tooth. */
static struct plot_job *series_job(size_t n, double start, double step,
                                   const char *title)
{
    struct plot_job *job = plot_job_new();
    struct plot_line *l;

    assert_non_null(job);
    l = plot_job_add_line(job, "s", n, 0, 0);
    assert_non_null(l);
    for (size_t i = 0; i < n; i++) {
        l->x[i] = start + (double)i * step;
        l->avg[i] = (double)(i % 17) * 1.5;
    }
    job->width = 640;
    job->height = 400;
    snprintf(job->title, sizeof job->title, "%s", title);
    return job;
}

/* Submits one job, waits for it and hands it back. */
static struct plot_job *draw(struct plot_pool *pool, struct waiter *w,
                             struct plot_job *job)
{
    struct plot_job *done;
    size_t before;

    pthread_mutex_lock(&w->lock);
    before = w->notified;
    pthread_mutex_unlock(&w->lock);
    assert_int_equal(plot_pool_submit(pool, job), 0);
    wait_for(w, before + 1);
    done = plot_pool_take_done(pool);
    assert_ptr_equal(done, job);
    return done;
}

static void assert_whole_svg(const struct plot_job *job)
{
    const char *end;

    assert_int_equal(job->status, PLOT_OK);
    assert_non_null(job->out);
    assert_int_equal(strlen(job->out), job->out_len);
    assert_true(strncmp(job->out, "<?xml", 5) == 0 ||
                strncmp(job->out, "<svg", 4) == 0);
    end = job->out + job->out_len;
    while (end > job->out && (end[-1] == '\n' || end[-1] == ' '))
        end--;
    assert_true(end - job->out >= 6);
    assert_memory_equal(end - 6, "</svg>", 6);
    /* Exactly one document, nothing of the marker left. */
    assert_ptr_equal(strstr(job->out, "</svg>"), end - 6);
    assert_null(strchr(job->out, '@'));
}

/* The HH:MM label a reader of the plot sees for t, computed without
 * gnuplot: gnuplot writes times in UTC. */
static void utc_label(double t, const char *format, char *label, size_t cap)
{
    time_t secs = (time_t)t;
    struct tm tm;
    char text[32];

    gmtime_r(&secs, &tm);
    strftime(text, sizeof text, format, &tm);
    snprintf(label, cap, "<text>%s</text>", text);
}

/* Open descriptors of this process, to show the pool closes its pipes. */
static int count_fds(void)
{
    DIR *dir = opendir("/proc/self/fd");
    int count = 0;

    assert_non_null(dir);
    while (readdir(dir))
        count++;
    closedir(dir);
    return count;
}

static struct plot_pool *new_pool(const char *gnuplot, int procs,
                                  int timeout_ms, size_t queue_max,
                                  struct waiter *w)
{
    char err[200] = "";
    struct plot_pool *pool;

    pool = plot_pool_new(gnuplot, procs, timeout_ms, queue_max,
                         waiter_notify, w, err, sizeof err);
    if (!pool)
        fail_msg("plot_pool_new: %s", err);
    return pool;
}

static void test_known_points(void **state)
{
    struct waiter w;
    struct plot_pool *pool;
    struct plot_job *job;
    char label[64];

    waiter_init(&w);
    pool = new_pool(GNUPLOT, 1, 10000, 4, &w);
    /* One hour, a point a minute. */
    job = draw(pool, &w, series_job(61, EPOCH_ON_HOUR, 60,
                                    "cpu.load window_size=5"));
    assert_whole_svg(job);
    assert_non_null(strstr(job->out, "<text>cpu.load window_size=5</text>"));
    assert_non_null(strstr(job->out, "<text>average</text>"));
    assert_true(job->elapsed_ms > 0);
    /* The first and last ticks are the hours the data starts and ends
     * on; an hour later is off the axis. */
    utc_label(EPOCH_ON_HOUR, "%H:%M", label, sizeof label);
    assert_string_equal(label, "<text>22:00</text>");
    assert_non_null(strstr(job->out, label));
    utc_label(EPOCH_ON_HOUR + 3600, "%H:%M", label, sizeof label);
    assert_non_null(strstr(job->out, label));
    utc_label(EPOCH_ON_HOUR + 7200, "%H:%M", label, sizeof label);
    assert_null(strstr(job->out, label));
    plot_job_free(job);

    /* Ten minutes: seconds on the labels. */
    job = draw(pool, &w, series_job(11, EPOCH_ON_HOUR + 1800, 60, "short"));
    assert_whole_svg(job);
    utc_label(EPOCH_ON_HOUR + 1800, "%H:%M:%S", label, sizeof label);
    assert_non_null(strstr(job->out, label));
    plot_job_free(job);
    assert_int_equal(plot_pool_pending(pool), 0);
    plot_pool_free(pool);
    waiter_destroy(&w);
}

static void test_empty_flat_single(void **state)
{
    struct waiter w;
    struct plot_pool *pool;
    struct plot_job *job;
    char label[64];

    waiter_init(&w);
    pool = new_pool(GNUPLOT, 1, 10000, 4, &w);

    job = draw(pool, &w, series_job(0, 0, 0, "nothing yet"));
    assert_whole_svg(job);
    assert_non_null(strstr(job->out, "<text>no data</text>"));
    assert_non_null(strstr(job->out, "<text>nothing yet</text>"));
    plot_job_free(job);

    job = series_job(50, EPOCH_ON_HOUR, 10, "flat");
    for (size_t i = 0; i < job->lines[0].n; i++)
        job->lines[0].avg[i] = 3.0;
    job = draw(pool, &w, job);
    assert_whole_svg(job);
    plot_job_free(job);

    job = draw(pool, &w, series_job(1, EPOCH_ON_HOUR, 0, "one point"));
    assert_whole_svg(job);
    utc_label(EPOCH_ON_HOUR, "%H:%M:%S", label, sizeof label);
    assert_non_null(strstr(job->out, label));
    plot_job_free(job);

    /* Points that are not numbers are left out; none left is no data. */
    job = series_job(3, EPOCH_ON_HOUR, 10, "undefined");
    for (size_t i = 0; i < job->lines[0].n; i++)
        job->lines[0].avg[i] = NAN;
    job = draw(pool, &w, job);
    assert_whole_svg(job);
    assert_non_null(strstr(job->out, "<text>no data</text>"));
    plot_job_free(job);

    plot_pool_free(pool);
    waiter_destroy(&w);
}

static void test_refused(void **state)
{
    static const char *const bad[] = {
        "it's", "a`id`b", "say \"hi\"", "x'; system('id'); '", "a\nb",
        "$HOME", "semi;colon", "back\\slash", "caf\xc3\xa9", "at@sign",
    };
    struct waiter w;
    struct plot_pool *pool;
    struct plot_job *job;

    waiter_init(&w);
    pool = new_pool(GNUPLOT, 1, 10000, 4, &w);
    job = series_job(5, EPOCH_ON_HOUR, 60, "");
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        snprintf(job->title, sizeof job->title, "%s", bad[i]);
        job->error[0] = '\0';
        assert_int_equal(plot_pool_submit(pool, job), -1);
        assert_non_null(strstr(job->error, "title"));
    }
    /* A title with no terminating NUL inside the array. */
    memset(job->title, 'a', sizeof job->title);
    assert_int_equal(plot_pool_submit(pool, job), -1);

    snprintf(job->title, sizeof job->title, "fine");
    job->width = 99;
    assert_int_equal(plot_pool_submit(pool, job), -1);
    assert_non_null(strstr(job->error, "width"));
    job->width = 640;
    job->height = 10001;
    assert_int_equal(plot_pool_submit(pool, job), -1);
    job->height = 400;
    assert_int_equal(plot_pool_pending(pool), 0);

    /* Every allowed character, at the longest length, goes through. */
    memset(job->title, '=', sizeof job->title - 1);
    job->title[sizeof job->title - 1] = '\0';
    memcpy(job->title, "Az09._:=, -", 11);
    job = draw(pool, &w, job);
    assert_whole_svg(job);
    assert_non_null(strstr(job->out, "Az09._:=, -"));
    plot_job_free(job);

    plot_pool_free(pool);
    waiter_destroy(&w);
}

static void test_concurrent(void **state)
{
    enum { JOBS = 12 };
    static const size_t sizes[] = { 0, 1, 300, 3000, 30000, 50 };
    struct waiter w;
    struct plot_pool *pool;
    struct plot_job *job;
    size_t done = 0;

    waiter_init(&w);
    pool = new_pool(GNUPLOT, 2, 20000, JOBS, &w);
    for (int i = 0; i < JOBS; i++) {
        char title[32];

        snprintf(title, sizeof title, "job %d", i);
        job = series_job(sizes[i % 6], EPOCH_ON_HOUR, 1, title);
        job->user = (void *)(intptr_t)i;
        assert_int_equal(plot_pool_submit(pool, job), 0);
    }
    assert_true(plot_pool_pending(pool) > 0);
    wait_for(&w, JOBS);
    while ((job = plot_pool_take_done(pool)) != NULL) {
        char title[40];

        assert_whole_svg(job);
        /* Each SVG belongs to its own job. */
        snprintf(title, sizeof title, "<text>job %d</text>",
                 (int)(intptr_t)job->user);
        assert_non_null(strstr(job->out, title));
        plot_job_free(job);
        done++;
    }
    assert_int_equal(done, JOBS);
    assert_int_equal(plot_pool_pending(pool), 0);
    plot_pool_free(pool);
    waiter_destroy(&w);
}

/* A temporary folder for stand-in gnuplots, removed by the test. */
struct standins {
    char dir[64];
    char path[128];
};

static void write_script(struct standins *s, const char *name,
                         const char *body)
{
    FILE *f;

    snprintf(s->path, sizeof s->path, "%s/%s", s->dir, name);
    f = fopen(s->path, "w");
    assert_non_null(f);
    fprintf(f, "#!/bin/sh\n%s\n", body);
    assert_int_equal(fclose(f), 0);
    assert_int_equal(chmod(s->path, 0700), 0);
}

static int make_dir(void **state)
{
    struct standins *s = calloc(1, sizeof *s);

    if (!s)
        return -1;
    snprintf(s->dir, sizeof s->dir, "/tmp/test_plot.XXXXXX");
    if (!mkdtemp(s->dir)) {
        free(s);
        return -1;
    }
    *state = s;
    return 0;
}

static int remove_dir(void **state)
{
    struct standins *s = *state;
    char cmd[160];

    snprintf(cmd, sizeof cmd, "rm -rf '%s'", s->dir);
    if (system(cmd) != 0)
        return -1;
    free(s);
    return 0;
}

static void test_timeout_then_recovery(void **state)
{
    struct standins *s = *state;
    struct waiter w;
    struct plot_pool *pool;
    struct plot_job *job;
    char body[400];
    double start;
    int fds;

    /* Hangs the first time it runs, is gnuplot afterwards. */
    snprintf(body, sizeof body,
             "if [ ! -e '%s/started' ]; then\n"
             "    touch '%s/started'\n"
             "    sleep 100\n"
             "fi\n"
             "exec " GNUPLOT " \"$@\"", s->dir, s->dir);
    write_script(s, "hang-once", body);
    waiter_init(&w);
    fds = count_fds();
    pool = new_pool(s->path, 1, 500, 4, &w);

    start = wall_ms();
    job = draw(pool, &w, series_job(100, EPOCH_ON_HOUR, 60, "hangs"));
    assert_int_equal(job->status, PLOT_TIMEOUT);
    assert_null(job->out);
    assert_non_null(strstr(job->error, "500 ms"));
    assert_true(job->elapsed_ms >= 490);
    assert_true(wall_ms() - start < 3000);
    plot_job_free(job);

    job = draw(pool, &w, series_job(100, EPOCH_ON_HOUR, 60, "recovered"));
    assert_whole_svg(job);
    assert_non_null(strstr(job->out, "<text>recovered</text>"));
    plot_job_free(job);
    plot_pool_free(pool);
    assert_int_equal(count_fds(), fds);
    waiter_destroy(&w);
}

static void test_always_hangs(void **state)
{
    struct standins *s = *state;
    struct waiter w;
    struct plot_pool *pool;
    struct plot_job *job;

    write_script(s, "hang", "sleep 100");
    waiter_init(&w);
    pool = new_pool(s->path, 1, 300, 4, &w);
    for (int i = 0; i < 2; i++) {
        job = draw(pool, &w, series_job(10, EPOCH_ON_HOUR, 60, "hangs"));
        assert_int_equal(job->status, PLOT_TIMEOUT);
        assert_true(job->elapsed_ms >= 290 && job->elapsed_ms < 3000);
        plot_job_free(job);
    }
    plot_pool_free(pool);
    waiter_destroy(&w);
}

static void test_dies(void **state)
{
    struct standins *s = *state;
    struct waiter w;
    struct plot_pool *pool;
    struct plot_job *job;

    write_script(s, "dies", "echo 'this is not gnuplot' >&2\nexit 3");
    waiter_init(&w);
    pool = new_pool(s->path, 1, 5000, 4, &w);
    for (int i = 0; i < 2; i++) {
        job = draw(pool, &w, series_job(10, EPOCH_ON_HOUR, 60, "dies"));
        assert_int_equal(job->status, PLOT_FAILED);
        assert_null(job->out);
        assert_true(job->elapsed_ms < 3000);
        assert_non_null(strstr(job->error, "status 3"));
        assert_non_null(strstr(job->error, "this is not gnuplot"));
        plot_job_free(job);
    }
    plot_pool_free(pool);
    waiter_destroy(&w);
}

static void test_garbage(void **state)
{
    struct standins *s = *state;
    struct waiter w;
    struct plot_pool *pool;
    struct plot_job *job;

    /* Prints whatever `print` line comes, but never an SVG. */
    write_script(s, "garbage",
                 "while read -r line; do\n"
                 "    case \"$line\" in\n"
                 "    print*) echo \"${line#print }\" | tr -d \"'\";;\n"
                 "    esac\n"
                 "done");
    waiter_init(&w);
    pool = new_pool(s->path, 1, 5000, 4, &w);
    job = draw(pool, &w, series_job(0, 0, 0, "garbage"));
    assert_int_equal(job->status, PLOT_FAILED);
    assert_non_null(strstr(job->error, "SVG"));
    plot_job_free(job);
    plot_pool_free(pool);
    waiter_destroy(&w);
}

static void test_too_big(void **state)
{
    struct standins *s = *state;
    struct waiter w;
    struct plot_pool *pool;
    struct plot_job *job;

    /* Output without end: the ceiling stops it before the timeout. */
    write_script(s, "flood", "exec yes '<svg>'");
    waiter_init(&w);
    pool = new_pool(s->path, 1, 20000, 4, &w);
    job = draw(pool, &w, series_job(10, EPOCH_ON_HOUR, 60, "flood"));
    assert_int_equal(job->status, PLOT_FAILED);
    assert_non_null(strstr(job->error, "MB"));
    assert_null(job->out);
    assert_true(job->elapsed_ms < 15000);
    plot_job_free(job);
    plot_pool_free(pool);
    waiter_destroy(&w);
}

static void test_no_such_gnuplot(void **state)
{
    char err[200] = "";
    struct plot_pool *pool;

    pool = plot_pool_new("/nonexistent/gnuplot", 1, 1000, 4,
                         waiter_notify, NULL, err, sizeof err);
    assert_null(pool);
    assert_non_null(strstr(err, "/nonexistent/gnuplot"));
    pool = plot_pool_new(GNUPLOT, 0, 1000, 4, waiter_notify, NULL, err,
                         sizeof err);
    assert_null(pool);
}

static void test_free_with_queue(void **state)
{
    struct standins *s = *state;
    struct waiter w;
    struct plot_pool *pool;
    struct plot_job *jobs[3];
    int accepted = 0, fds;
    double start;

    write_script(s, "hang", "sleep 100");
    waiter_init(&w);
    fds = count_fds();
    pool = new_pool(s->path, 1, 20000, 1, &w);
    for (int i = 0; i < 3; i++) {
        jobs[i] = series_job(10, EPOCH_ON_HOUR, 60, "queued");
        if (plot_pool_submit(pool, jobs[i]) == 0) {
            accepted++;
        } else {
            assert_non_null(strstr(jobs[i]->error, "waiting"));
            plot_job_free(jobs[i]);
        }
    }
    /* One slot: whether or not the worker took the first job already,
     * the third cannot have found room. */
    assert_in_range(accepted, 1, 2);
    assert_int_equal(plot_pool_pending(pool), (size_t)accepted);

    /* The running job hangs for 20 s; the pool stops at once anyway and
     * frees the accepted jobs (ASan checks that nothing leaks). */
    start = wall_ms();
    plot_pool_free(pool);
    assert_true(wall_ms() - start < 2000);
    /* Each accepted job was reported done, as PLOT_SHUTDOWN. */
    assert_int_equal(w.notified, (size_t)accepted);
    assert_int_equal(count_fds(), fds);
    waiter_destroy(&w);
}

static int compare_doubles(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;

    return (x > y) - (x < y);
}

/* Not a check: prints the median time of plots on a reused gnuplot. */
static void test_timing(void **state)
{
    enum { RUNS = 21 };
    static const size_t sizes[] = { 300, 3000, 30000 };
    struct waiter w;
    struct plot_pool *pool;

    waiter_init(&w);
    pool = new_pool(GNUPLOT, 1, 20000, 4, &w);
    for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
        double worker[RUNS], round_trip[RUNS];

        for (int i = -1; i < RUNS; i++) {
            struct plot_job *job = series_job(sizes[s], EPOCH_ON_HOUR, 1,
                                              "timing");
            double start = wall_ms();

            job = draw(pool, &w, job);
            assert_whole_svg(job);
            /* The first run warms gnuplot up and is not counted. */
            if (i >= 0) {
                worker[i] = job->elapsed_ms;
                round_trip[i] = wall_ms() - start;
            }
            plot_job_free(job);
        }
        qsort(worker, RUNS, sizeof worker[0], compare_doubles);
        qsort(round_trip, RUNS, sizeof round_trip[0], compare_doubles);
        print_message("median of %d plots of %zu points on a reused "
                      "gnuplot: %.2f ms in the worker, %.2f ms round "
                      "trip\n", RUNS, sizes[s], worker[RUNS / 2],
                      round_trip[RUNS / 2]);
    }
    plot_pool_free(pool);
    waiter_destroy(&w);
}

/* Decimation keeps, per pixel column, the lowest and the highest point in
 * the order they came; the reference is a direct scan per column. */
static void test_decimate(void **state)
{
    enum { N = 10000, COLS = 50 };
    static double x[N], y[N], ox[2 * COLS], oy[2 * COLS];
    size_t n, c, k = 0;

    (void)state;
    for (size_t i = 0; i < N; i++) {
        x[i] = 1000.0 + (double)i;
        y[i] = sin((double)i / 37.0) * 100 + (i == 4321 ? 5000 : 0);
    }
    n = plot_decimate(x, y, N, x[0], x[N - 1], COLS, ox, oy);
    assert_true(n <= 2 * COLS);
    for (c = 0; c < COLS; c++) {
        size_t lo = SIZE_MAX, hi = SIZE_MAX;

        for (size_t i = 0; i < N; i++) {
            double col = (x[i] - x[0]) / (x[N - 1] - x[0]) * COLS;
            size_t ci = col >= COLS ? COLS - 1 : (size_t)col;

            if (ci != c)
                continue;
            if (lo == SIZE_MAX || y[i] < y[lo])
                lo = i;
            if (hi == SIZE_MAX || y[i] > y[hi])
                hi = i;
        }
        assert_true(ox[k] == x[lo < hi ? lo : hi]);
        assert_true(oy[k++] == y[lo < hi ? lo : hi]);
        if (lo != hi) {
            assert_true(ox[k] == x[lo < hi ? hi : lo]);
            assert_true(oy[k++] == y[lo < hi ? hi : lo]);
        }
    }
    assert_int_equal(k, n);
    /* The spike survives. */
    for (k = 0; k < n && oy[k] != y[4321]; k++)
        ;
    assert_true(k < n);

    /* Few points are copied as they are. */
    assert_int_equal(plot_decimate(x, y, 60, x[0], x[59], COLS, ox, oy), 60);
    assert_true(ox[59] == x[59] && oy[59] == y[59]);
}

/* Two series, raw values and a band, in SVG: each element in the legend. */
static void test_lines_raw_band(void **state)
{
    struct waiter w;
    struct plot_pool *pool;
    struct plot_job *job = plot_job_new();

    (void)state;
    waiter_init(&w);
    pool = new_pool(GNUPLOT, 1, 10000, 4, &w);
    for (int k = 0; k < 2; k++) {
        struct plot_line *l = plot_job_add_line(job, k ? "b.two" : "a.one",
                                                40, 1, 1);

        assert_non_null(l);
        for (size_t i = 0; i < l->n; i++) {
            l->x[i] = EPOCH_ON_HOUR + (double)i * 60;
            l->raw[i] = (double)((i * 7 + (size_t)k) % 11);
            l->avg[i] = l->raw[i] / 2;
            l->lo[i] = l->avg[i] - 1;
            l->hi[i] = l->avg[i] + 1;
        }
    }
    job->width = 640;
    job->height = 400;
    snprintf(job->title, sizeof job->title, "two");
    job = draw(pool, &w, job);
    assert_whole_svg(job);
    assert_non_null(strstr(job->out, "<text>a.one average</text>"));
    assert_non_null(strstr(job->out, "<text>b.two value</text>"));
    assert_non_null(strstr(job->out, "<text>b.two min-max</text>"));
    plot_job_free(job);

    /* A line name outside the alphabet is refused. */
    job = plot_job_new();
    assert_non_null(plot_job_add_line(job, "a'b", 2, 0, 0));
    job->lines[0].x[0] = job->lines[0].x[1] = EPOCH_ON_HOUR;
    job->width = job->height = 400;
    assert_int_equal(plot_pool_submit(pool, job), -1);
    assert_non_null(strstr(job->error, "name"));
    plot_job_free(job);

    plot_pool_free(pool);
    waiter_destroy(&w);
}

/* PNG and PDF come out whole: signature first, end mark last. */
static void test_png_pdf(void **state)
{
    struct waiter w;
    struct plot_pool *pool;

    (void)state;
    waiter_init(&w);
    pool = new_pool(GNUPLOT, 1, 10000, 4, &w);
    for (int f = PLOT_PNG; f <= PLOT_PDF; f++) {
        struct plot_job *job = series_job(100, EPOCH_ON_HOUR, 60, "bin");

        job->format = (enum plot_format)f;
        job = draw(pool, &w, job);
        assert_int_equal(job->status, PLOT_OK);
        if (f == PLOT_PNG) {
            assert_memory_equal(job->out, "\x89PNG\r\n\x1a\n", 8);
            assert_memory_equal(job->out + job->out_len - 4, "\xae\x42\x60\x82",
                                4);
        } else {
            assert_memory_equal(job->out, "%PDF-", 5);
        }
        plot_job_free(job);
    }
    plot_pool_free(pool);
    waiter_destroy(&w);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_known_points),
        cmocka_unit_test(test_decimate),
        cmocka_unit_test(test_lines_raw_band),
        cmocka_unit_test(test_png_pdf),
        cmocka_unit_test(test_empty_flat_single),
        cmocka_unit_test(test_refused),
        cmocka_unit_test(test_concurrent),
        cmocka_unit_test(test_no_such_gnuplot),
        cmocka_unit_test_setup_teardown(test_timeout_then_recovery,
                                        make_dir, remove_dir),
        cmocka_unit_test_setup_teardown(test_always_hangs,
                                        make_dir, remove_dir),
        cmocka_unit_test_setup_teardown(test_dies, make_dir, remove_dir),
        cmocka_unit_test_setup_teardown(test_garbage, make_dir, remove_dir),
        cmocka_unit_test_setup_teardown(test_too_big, make_dir, remove_dir),
        cmocka_unit_test_setup_teardown(test_free_with_queue,
                                        make_dir, remove_dir),
        cmocka_unit_test(test_timing),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
