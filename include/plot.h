/*
 * plot.h - plots (SVG, PNG, PDF) drawn by a pool of long-lived gnuplot
 * children.
 *
 * Each plot worker is a thread that owns one gnuplot process (run as
 * `gnuplot /dev/stdin`, so that any script error ends it), talks to it over
 * pipes and waits with poll() and a timeout; the event loop never waits on
 * gnuplot.  The loop hands a job to plot_pool_submit(), a worker draws it,
 * queues it as done and calls the pool's notify function (from the worker
 * thread: it must only wake the loop, e.g. with lws_cancel_service()), and
 * the loop collects it with plot_pool_take_done().
 *
 * Only numbers and validated strings reach gnuplot: the points go in as
 * binary data, and the title is checked against a strict alphabet before
 * it is written as a single-quoted literal, so no request text can reach
 * gnuplot's command language (backquotes, system()).
 *
 * This module knows nothing of libwebsockets.
 */
#ifndef STREAMAVG_PLOT_H
#define STREAMAVG_PLOT_H

#include <stddef.h>

enum plot_status {
    PLOT_PENDING = 0,
    PLOT_OK,
    PLOT_TIMEOUT,       /* gnuplot did not finish within the timeout */
    PLOT_FAILED,        /* gnuplot died, would not start or wrote garbage */
    PLOT_SHUTDOWN,      /* the pool stopped before the job was finished */
};

enum plot_format { PLOT_SVG = 0, PLOT_PNG, PLOT_PDF };

#define PLOT_MAX_LINES 8
#define PLOT_NAME_MAX 255

/* One series in a plot: its rolling average, and optionally its raw values
 * and the band between the window's minimum and maximum at each point.
 * Points with a non-finite coordinate are left out. */
struct plot_line {
    char name[PLOT_NAME_MAX + 1];   /* the legend: [A-Za-z0-9._:-] only */
    size_t n;
    double *x;          /* timestamps, seconds since the epoch */
    double *avg;        /* the rolling average */
    double *raw;        /* NULL, or the values themselves */
    double *lo, *hi;    /* NULL, or the window's min and max */
};

struct plot_job {
    /* Input, filled by the loop before submit, read-only afterwards. */
    struct plot_line lines[PLOT_MAX_LINES];
    int nlines;         /* 0, or lines without points, draw "no data" */
    enum plot_format format;
    int width, height;  /* pixels, 100 to 10000 each, else rejected */
    char title[320];    /* [A-Za-z0-9._:=, -] only, NUL-terminated */

    /* Output, written by the worker, read by the loop after take_done. */
    enum plot_status status;
    char *out;          /* the image, malloc'd, owned by the job */
    size_t out_len;
    char error[160];    /* a sentence for the JSON error when not OK */
    double elapsed_ms;  /* from a worker taking the job to its end */

    /* The caller's; the pool never touches it. */
    void *user;
    /* The pool's queues link jobs through this while it holds them. */
    struct plot_job *next;
};

struct plot_pool;

/* Start `procs` workers, each with its own `gnuplot` child (the path of the
 * executable).  A job that takes longer than timeout_ms is failed with
 * PLOT_TIMEOUT and its gnuplot is killed, reaped and replaced.  At most
 * queue_max jobs wait.  notify(arg) is called from a worker thread each
 * time a job is done (and from plot_pool_free's caller for the jobs it
 * cancels).  Ignores SIGPIPE unless the program installed a handler.
 * Returns NULL with a message in err on failure, e.g. when gnuplot cannot
 * be started. */
struct plot_pool *plot_pool_new(const char *gnuplot, int procs,
                                int timeout_ms, size_t queue_max,
                                void (*notify)(void *arg), void *arg,
                                char *err, size_t errlen);

/* Allocate an empty SVG job.  Returns NULL when memory ran out. */
struct plot_job *plot_job_new(void);
void plot_job_free(struct plot_job *job);

/* Add a line named `name` with room for n points; `raw` and `band` say
 * whether to allocate those arrays too.  Returns the line, or NULL when
 * memory ran out or the job has PLOT_MAX_LINES already. */
struct plot_line *plot_job_add_line(struct plot_job *job, const char *name,
                                    size_t n, int raw, int band);

/* The MIME type of a format. */
const char *plot_format_type(enum plot_format f);

/* Queue a job.  Returns 0, or -1 when the queue is full, the pool is
 * stopping, or the title or size is not allowed (job->error says which);
 * the caller still owns the job then. */
int plot_pool_submit(struct plot_pool *pool, struct plot_job *job);

/* Pop one finished job, or NULL.  Call from the loop after notify. */
struct plot_job *plot_pool_take_done(struct plot_pool *pool);

/* Jobs waiting or being drawn, for /metrics. */
size_t plot_pool_pending(struct plot_pool *pool);

/* Stop the workers: queued jobs and jobs being drawn end as PLOT_SHUTDOWN
 * and go to the done queue, children are killed and reaped, threads joined.
 * Then free the pool; jobs still in the done queue are freed too, so the
 * caller must drop its own pointers to every job it submitted and has not
 * taken back. */
void plot_pool_free(struct plot_pool *pool);

#endif
