/*
 * plot.c - a pool of worker threads, each driving one long-lived gnuplot.
 *
 * A worker writes a script and the points (as native doubles, inline
 * binary data) to its gnuplot's stdin, and reads the image from its stdout
 * until a marker line that gnuplot prints once the image is closed.  One
 * poll() loop writes stdin and reads stdout and stderr together, so a large
 * image filling the stdout pipe cannot deadlock the write of a large data
 * set.
 * Any failure (timeout, death, garbage, oversized output) kills the child
 * and its process group, reaps it and starts a fresh one.
 *
 * gnuplot runs as `gnuplot /dev/stdin`: a script given as a file makes
 * gnuplot exit at the first error, whereas interactive stdin carries on
 * with the next line.  So if a plot command ever failed before reading its
 * inline data, the data bytes would never be read as commands.
 */
#include "plot.h"
#include "plot_script.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

enum {
    WIDTH_MIN = 100,
    WIDTH_MAX = 10000,
    OUT_CEILING = 16 * 1024 * 1024,
    OUT_INITIAL = 64 * 1024,
    ERR_TAIL = 1024,            /* last bytes of stderr kept per job */
    READ_CHUNK = 64 * 1024,
};

/* Each worker thread and the gnuplot child it owns. */
struct worker {
    struct plot_pool *pool;
    pthread_t thread;
    pid_t pid;                  /* 0 when no child runs */
    int in_fd, out_fd, err_fd;  /* our ends of its pipes, -1 when closed */
    unsigned long seq;          /* numbers the marker of each job */
    char err_tail[ERR_TAIL];
    size_t err_len;
};

struct plot_pool {
    char *gnuplot;
    int timeout_ms;
    size_t queue_max;
    void (*notify)(void *arg);
    void *arg;

    pthread_mutex_t lock;
    pthread_cond_t wake;
    struct plot_job *queue_head, *queue_tail;
    size_t queued;
    size_t running;
    struct plot_job *done_head, *done_tail;
    bool stopping;

    /* Written once by plot_pool_free and never read: a readable end wakes
     * every worker out of poll() in the middle of a job. */
    int stop_pipe[2];

    int nworkers;
    struct worker *workers;
};

/* Outcome of one exchange with gnuplot, before it is told to the job. */
enum exchange {
    EX_OK,
    EX_TIMEOUT,
    EX_EXITED,      /* stdout closed or stdin refused: the child is gone */
    EX_GARBAGE,     /* output that is not one whole image */
    EX_TOO_BIG,
    EX_STOPPED,
    EX_IO,          /* a system call failed on our side */
};

static double now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static void close_fd(int *fd)
{
    if (*fd >= 0) {
        close(*fd);
        *fd = -1;
    }
}

/* posix_spawn's dup2 onto the same number would keep O_CLOEXEC and lose
 * the fd at exec, so keep our pipe ends off 0, 1 and 2 (they are free when
 * a daemon closed its standard streams). */
static int above_stdio(int fd)
{
    int moved;

    if (fd > 2)
        return fd;
    moved = fcntl(fd, F_DUPFD_CLOEXEC, 3);
    close(fd);
    return moved;
}

static int make_pipe(int ends[2])
{
    if (pipe2(ends, O_CLOEXEC) < 0)
        return -1;
    ends[0] = above_stdio(ends[0]);
    ends[1] = above_stdio(ends[1]);
    if (ends[0] < 0 || ends[1] < 0) {
        close_fd(&ends[0]);
        close_fd(&ends[1]);
        return -1;
    }
    return 0;
}

static void set_nonblocking(int fd)
{
    int flags = fcntl(fd, F_GETFL);

    if (flags >= 0)
        fcntl(fd, F_SETFL, flags | O_NONBLOCK);
}

/* Kill the child's whole process group (a wrapper script's children too),
 * reap it and close our pipe ends.  Returns the wait status, or -1. */
static int stop_child(struct worker *w)
{
    int status = -1;

    close_fd(&w->in_fd);
    close_fd(&w->out_fd);
    close_fd(&w->err_fd);
    if (w->pid > 0) {
        kill(-w->pid, SIGKILL);
        kill(w->pid, SIGKILL);
        while (waitpid(w->pid, &status, 0) < 0 && errno == EINTR)
            ;
        w->pid = 0;
    }
    return status;
}

static int start_child(struct worker *w, char *err, size_t errlen)
{
    int in[2], out[2], errp[2];
    posix_spawn_file_actions_t actions;
    posix_spawnattr_t attr;
    sigset_t none, defaults;
    char *argv[] = { w->pool->gnuplot, "/dev/stdin", NULL };
    int rc;

    if (make_pipe(in) < 0)
        goto fail;
    if (make_pipe(out) < 0)
        goto fail_in;
    if (make_pipe(errp) < 0)
        goto fail_out;
    rc = posix_spawn_file_actions_init(&actions);
    if (rc != 0) {
        errno = rc;
        goto fail_err;
    }
    rc = posix_spawnattr_init(&attr);
    if (rc != 0) {
        errno = rc;
        goto fail_actions;
    }

    /* The child starts with no blocked signals and SIGPIPE back at its
     * default, whatever this process and thread set for themselves, and
     * in a process group of its own so that a kill reaches everything it
     * started. */
    sigemptyset(&none);
    sigemptyset(&defaults);
    sigaddset(&defaults, SIGPIPE);
    rc = posix_spawnattr_setsigmask(&attr, &none);
    if (rc == 0)
        rc = posix_spawnattr_setsigdefault(&attr, &defaults);
    if (rc == 0)
        rc = posix_spawnattr_setpgroup(&attr, 0);
    if (rc == 0)
        rc = posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK |
                                      POSIX_SPAWN_SETSIGDEF |
                                      POSIX_SPAWN_SETPGROUP);
    if (rc == 0)
        rc = posix_spawn_file_actions_adddup2(&actions, in[0], 0);
    if (rc == 0)
        rc = posix_spawn_file_actions_adddup2(&actions, out[1], 1);
    if (rc == 0)
        rc = posix_spawn_file_actions_adddup2(&actions, errp[1], 2);
    if (rc == 0)
        rc = posix_spawn(&w->pid, w->pool->gnuplot, &actions, &attr,
                         argv, environ);
    if (rc != 0) {
        w->pid = 0;
        errno = rc;
        goto fail_attr;
    }

    posix_spawnattr_destroy(&attr);
    posix_spawn_file_actions_destroy(&actions);
    close(in[0]);
    close(out[1]);
    close(errp[1]);
    w->in_fd = in[1];
    w->out_fd = out[0];
    w->err_fd = errp[0];
    /* Only our ends: gnuplot's ends stay blocking.  A non-blocking stdin
     * lets poll() decide how much to write without stalling the reads. */
    set_nonblocking(w->in_fd);
    set_nonblocking(w->out_fd);
    set_nonblocking(w->err_fd);
    return 0;

fail_attr:
    posix_spawnattr_destroy(&attr);
fail_actions:
    posix_spawn_file_actions_destroy(&actions);
fail_err:
    rc = errno;
    close(errp[0]);
    close(errp[1]);
    errno = rc;
fail_out:
    rc = errno;
    close(out[0]);
    close(out[1]);
    errno = rc;
fail_in:
    rc = errno;
    close(in[0]);
    close(in[1]);
    errno = rc;
fail:
    snprintf(err, errlen, "cannot start gnuplot '%s': %s",
             w->pool->gnuplot, strerror(errno));
    return -1;
}

static void keep_err(struct worker *w, const char *data, size_t n)
{
    if (n >= ERR_TAIL) {
        data += n - ERR_TAIL;
        n = ERR_TAIL;
    }
    if (w->err_len + n > ERR_TAIL) {
        size_t drop = w->err_len + n - ERR_TAIL;

        memmove(w->err_tail, w->err_tail + drop, w->err_len - drop);
        w->err_len -= drop;
    }
    memcpy(w->err_tail + w->err_len, data, n);
    w->err_len += n;
}

/* Reads what stderr holds now.  Returns false at its end. */
static bool drain_err(struct worker *w)
{
    char chunk[4096];
    ssize_t n;

    while (w->err_fd >= 0) {
        n = read(w->err_fd, chunk, sizeof chunk);
        if (n > 0) {
            keep_err(w, chunk, (size_t)n);
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        return n < 0 && errno == EAGAIN;
    }
    return false;
}

/* The last non-empty line gnuplot wrote on stderr, or "" if none. */
static void last_err_line(const struct worker *w, char *line, size_t cap)
{
    size_t end = w->err_len, start;

    while (end > 0 && (w->err_tail[end - 1] == '\n' ||
                       w->err_tail[end - 1] == '\r' ||
                       w->err_tail[end - 1] == ' '))
        end--;
    start = end;
    while (start > 0 && w->err_tail[start - 1] != '\n')
        start--;
    snprintf(line, cap, "%.*s", (int)(end - start), w->err_tail + start);
}

static bool is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

static bool looks_like_svg(const char *s, size_t len)
{
    static const char close_tag[] = "</svg>";
    size_t i = 0;

    while (i < len && is_space(s[i]))
        i++;
    if (len - i < 5 || (strncmp(s + i, "<?xml", 5) != 0 &&
                        strncmp(s + i, "<svg", 4) != 0))
        return false;
    while (len > 0 && is_space(s[len - 1]))
        len--;
    return len >= sizeof close_tag - 1 &&
           memcmp(s + len - (sizeof close_tag - 1), close_tag,
                  sizeof close_tag - 1) == 0;
}

/* A whole image of the job's format: its signature first, its end mark
 * last, so a gnuplot that stopped half-way is not taken for a plot. */
static bool looks_whole(enum plot_format f, const char *s, size_t len)
{
    static const char png_head[] = "\x89PNG\r\n\x1a\n";
    static const char png_tail[] = "IEND\xae\x42\x60\x82";

    switch (f) {
    case PLOT_PNG:
        return len > 20 && !memcmp(s, png_head, 8) &&
               !memcmp(s + len - 8, png_tail, 8);
    case PLOT_PDF:
        while (len > 0 && is_space(s[len - 1]))
            len--;
        return len > 10 && !memcmp(s, "%PDF-", 5) &&
               !memcmp(s + len - 5, "%%EOF", 5);
    case PLOT_SVG:
        break;
    }
    return looks_like_svg(s, len);
}

/* Appends what stdout holds to the job's image buffer and looks for the
 * marker line.  Returns -1 on EOF, 0 while waiting, 1 when it came. */
static int read_out(struct worker *w, struct plot_job *job, size_t *cap,
                    const char *marker_line, size_t marker_len,
                    enum exchange *ex)
{
    for (;;) {
        size_t from;
        ssize_t n;
        char *found;

        if (*cap - job->out_len < READ_CHUNK) {
            /* Room for the largest SVG allowed, its marker and a read. */
            size_t most = OUT_CEILING + marker_len + READ_CHUNK + 1;
            size_t bigger = *cap * 2 < most ? *cap * 2 : most;
            char *grown;

            if (*cap >= most) {
                *ex = EX_TOO_BIG;
                return -1;
            }
            grown = realloc(job->out, bigger);
            if (!grown) {
                *ex = EX_IO;
                return -1;
            }
            job->out = grown;
            *cap = bigger;
        }
        n = read(w->out_fd, job->out + job->out_len, *cap - job->out_len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && errno == EAGAIN)
            return 0;
        if (n <= 0) {
            *ex = n == 0 ? EX_EXITED : EX_IO;
            return -1;
        }
        /* The marker may straddle two reads: look back one marker. */
        from = job->out_len > marker_len ? job->out_len - marker_len : 0;
        job->out_len += (size_t)n;
        found = memmem(job->out + from, job->out_len - from, marker_line,
                       marker_len);
        if (found) {
            /* The marker line starts with the newline of the empty print
             * before it: everything before that is the image. */
            job->out_len = (size_t)(found - job->out);
            return 1;
        }
    }
}

/* Feeds the input to gnuplot and collects the SVG, all within the
 * deadline.  The image goes to job->out (NUL-terminated) on EX_OK. */
static enum exchange exchange(struct worker *w, struct plot_job *job,
                              const char *in, size_t inlen,
                              const char *marker_line, size_t marker_len,
                              double deadline)
{
    size_t written = 0, cap = OUT_INITIAL;
    enum exchange ex = EX_IO;
    bool err_open = true;
    char *shrunk;

    job->out = malloc(cap);
    if (!job->out)
        return EX_IO;
    job->out_len = 0;

    for (;;) {
        struct pollfd fds[4];
        int nfds = 0, out_i, err_i = -1, in_i = -1, stop_i, wait_ms, rc;
        double left = deadline - now_ms();

        if (left <= 0)
            return EX_TIMEOUT;
        wait_ms = (int)ceil(left);

        fds[nfds] = (struct pollfd){ .fd = w->out_fd, .events = POLLIN };
        out_i = nfds++;
        stop_i = nfds;
        fds[nfds++] = (struct pollfd){ .fd = w->pool->stop_pipe[0],
                                       .events = POLLIN };
        if (err_open) {
            err_i = nfds;
            fds[nfds++] = (struct pollfd){ .fd = w->err_fd,
                                           .events = POLLIN };
        }
        if (written < inlen) {
            in_i = nfds;
            fds[nfds++] = (struct pollfd){ .fd = w->in_fd,
                                           .events = POLLOUT };
        }

        rc = poll(fds, (nfds_t)nfds, wait_ms);
        if (rc < 0 && errno == EINTR)
            continue;
        if (rc < 0)
            return EX_IO;
        if (fds[stop_i].revents)
            return EX_STOPPED;
        if (err_i >= 0 && fds[err_i].revents)
            err_open = drain_err(w);
        if (in_i >= 0 && fds[in_i].revents) {
            ssize_t n = write(w->in_fd, in + written, inlen - written);

            if (n > 0)
                written += (size_t)n;
            else if (n < 0 && errno == EPIPE)
                return EX_EXITED;
            else if (n < 0 && errno != EAGAIN && errno != EINTR)
                return EX_IO;
        }
        if (fds[out_i].revents) {
            rc = read_out(w, job, &cap, marker_line, marker_len, &ex);
            if (rc < 0)
                return ex;
            if (rc > 0)
                break;
        }
    }

    /* gnuplot wrote its warnings before the marker: collect them now so
     * that they are not blamed on the next job. */
    drain_err(w);
    if (job->out_len > OUT_CEILING)
        return EX_TOO_BIG;
    if (!looks_whole(job->format, job->out, job->out_len))
        return EX_GARBAGE;
    job->out[job->out_len] = '\0';
    /* Give back the read slack: the image may wait a while for its
     * reader. */
    shrunk = realloc(job->out, job->out_len + 1);
    if (shrunk)
        job->out = shrunk;
    return EX_OK;
}

/* Turns a failed exchange into the job's status and sentence.  The child
 * has been reaped already, so its wait status can be told. */
static void explain(struct worker *w, struct plot_job *job, enum exchange ex,
                    int status)
{
    char line[120];

    last_err_line(w, line, sizeof line);
    switch (ex) {
    case EX_TIMEOUT:
        job->status = PLOT_TIMEOUT;
        snprintf(job->error, sizeof job->error,
                 "gnuplot did not finish the plot within %d ms",
                 w->pool->timeout_ms);
        return;
    case EX_STOPPED:
        job->status = PLOT_SHUTDOWN;
        snprintf(job->error, sizeof job->error,
                 "the plot pool stopped before the plot was finished");
        return;
    case EX_TOO_BIG:
        job->status = PLOT_FAILED;
        snprintf(job->error, sizeof job->error,
                 "gnuplot wrote more than %d MB of SVG",
                 OUT_CEILING / (1024 * 1024));
        return;
    case EX_GARBAGE:
        job->status = PLOT_FAILED;
        snprintf(job->error, sizeof job->error,
                 "gnuplot did not write a complete SVG%s%s",
                 line[0] ? ": " : "", line);
        return;
    case EX_EXITED:
        job->status = PLOT_FAILED;
        if (status >= 0 && WIFEXITED(status))
            snprintf(job->error, sizeof job->error,
                     "gnuplot exited with status %d%s%s",
                     WEXITSTATUS(status), line[0] ? ": " : "", line);
        else if (status >= 0 && WIFSIGNALED(status) &&
                 WTERMSIG(status) != SIGKILL)
            snprintf(job->error, sizeof job->error,
                     "gnuplot died of signal %d", WTERMSIG(status));
        else
            snprintf(job->error, sizeof job->error,
                     "gnuplot stopped answering%s%s",
                     line[0] ? ": " : "", line);
        return;
    case EX_IO:
    case EX_OK:
        break;
    }
    job->status = PLOT_FAILED;
    snprintf(job->error, sizeof job->error,
             "the plot could not be drawn: out of memory or I/O error");
}

/* True when the child is there and has not exited while idle. */
static bool child_alive(struct worker *w)
{
    int status;

    if (w->pid <= 0)
        return false;
    return waitpid(w->pid, &status, WNOHANG) == 0;
}

static void run_job(struct worker *w, struct plot_job *job)
{
    char marker[64], marker_line[72];
    char *in = NULL;
    size_t inlen, marker_len;
    double start = now_ms();
    enum exchange ex;
    int status;

    job->out = NULL;
    job->out_len = 0;
    job->error[0] = '\0';
    w->err_len = 0;

    if (!child_alive(w)) {
        /* A child that died while idle was reaped by the check above, so
         * its pid may be reused: only close its pipes. */
        w->pid = 0;
        stop_child(w);
        if (start_child(w, job->error, sizeof job->error) < 0) {
            job->status = PLOT_FAILED;
            goto done;
        }
    }

    /* '@' is not allowed in titles, so no SVG text can look like it. */
    snprintf(marker, sizeof marker, "@@streamavg-plot-%d-%lu@@",
             (int)w->pid, ++w->seq);
    marker_len = (size_t)snprintf(marker_line, sizeof marker_line, "\n%s\n",
                                  marker);
    if (plot_script_build(job, marker, &in, &inlen) < 0) {
        job->status = PLOT_FAILED;
        snprintf(job->error, sizeof job->error,
                 "out of memory for the plot's points");
        goto done;
    }

    ex = exchange(w, job, in, inlen, marker_line, marker_len,
                  start + w->pool->timeout_ms);
    free(in);
    if (ex == EX_OK) {
        job->status = PLOT_OK;
        goto done;
    }
    free(job->out);
    job->out = NULL;
    job->out_len = 0;
    drain_err(w);
    status = stop_child(w);
    explain(w, job, ex, status);
    /* Start the next gnuplot now, while idle, unless the pool is going. */
    if (ex != EX_STOPPED) {
        char ignored[160];

        start_child(w, ignored, sizeof ignored);
    }
done:
    job->elapsed_ms = now_ms() - start;
}

static void push_done(struct plot_pool *pool, struct plot_job *job)
{
    job->next = NULL;
    if (pool->done_tail)
        pool->done_tail->next = job;
    else
        pool->done_head = job;
    pool->done_tail = job;
}

static void *worker_main(void *arg)
{
    struct worker *w = arg;
    struct plot_pool *pool = w->pool;

    for (;;) {
        struct plot_job *job;

        pthread_mutex_lock(&pool->lock);
        while (!pool->stopping && !pool->queue_head)
            pthread_cond_wait(&pool->wake, &pool->lock);
        if (pool->stopping) {
            pthread_mutex_unlock(&pool->lock);
            break;
        }
        job = pool->queue_head;
        pool->queue_head = job->next;
        if (!pool->queue_head)
            pool->queue_tail = NULL;
        pool->queued--;
        pool->running++;
        pthread_mutex_unlock(&pool->lock);

        run_job(w, job);

        pthread_mutex_lock(&pool->lock);
        pool->running--;
        push_done(pool, job);
        pthread_mutex_unlock(&pool->lock);
        pool->notify(pool->arg);
    }
    stop_child(w);
    return NULL;
}

static void ignore_sigpipe(void)
{
    struct sigaction old, ign;

    /* A handler the program installed stays: write() still gets EPIPE. */
    if (sigaction(SIGPIPE, NULL, &old) == 0 && old.sa_handler != SIG_DFL)
        return;
    memset(&ign, 0, sizeof ign);
    ign.sa_handler = SIG_IGN;
    sigemptyset(&ign.sa_mask);
    sigaction(SIGPIPE, &ign, NULL);
}

/* Stops and joins the first `started` workers, then every child. */
static void stop_workers(struct plot_pool *pool, int started)
{
    pthread_mutex_lock(&pool->lock);
    pool->stopping = true;
    pthread_cond_broadcast(&pool->wake);
    pthread_mutex_unlock(&pool->lock);
    while (write(pool->stop_pipe[1], "", 1) < 0 && errno == EINTR)
        ;
    for (int i = 0; i < started; i++)
        pthread_join(pool->workers[i].thread, NULL);
    for (int i = 0; i < pool->nworkers; i++)
        stop_child(&pool->workers[i]);
}

struct plot_pool *plot_pool_new(const char *gnuplot, int procs,
                                int timeout_ms, size_t queue_max,
                                void (*notify)(void *arg), void *arg,
                                char *err, size_t errlen)
{
    struct plot_pool *pool;
    sigset_t all, old;
    int started = 0, rc;

    if (!gnuplot || !*gnuplot || procs < 1 || procs > 64 ||
        timeout_ms < 1 || queue_max < 1 || !notify) {
        snprintf(err, errlen, "plot pool: need a gnuplot path, 1 to 64 "
                 "processes, a timeout, a queue and a notify function");
        return NULL;
    }
    snprintf(err, errlen, "plot pool: out of memory");
    pool = calloc(1, sizeof *pool);
    if (!pool)
        return NULL;
    pool->gnuplot = strdup(gnuplot);
    if (!pool->gnuplot)
        goto fail_pool;
    pool->timeout_ms = timeout_ms;
    pool->queue_max = queue_max;
    pool->notify = notify;
    pool->arg = arg;
    if (pthread_mutex_init(&pool->lock, NULL) != 0)
        goto fail_path;
    if (pthread_cond_init(&pool->wake, NULL) != 0)
        goto fail_lock;
    if (pipe2(pool->stop_pipe, O_CLOEXEC | O_NONBLOCK) < 0) {
        snprintf(err, errlen, "plot pool: pipe: %s", strerror(errno));
        goto fail_cond;
    }
    pool->workers = calloc((size_t)procs, sizeof *pool->workers);
    if (!pool->workers)
        goto fail_stop_pipe;
    pool->nworkers = procs;
    ignore_sigpipe();

    for (int i = 0; i < procs; i++) {
        struct worker *w = &pool->workers[i];

        w->pool = pool;
        w->in_fd = w->out_fd = w->err_fd = -1;
    }
    for (int i = 0; i < procs; i++)
        if (start_child(&pool->workers[i], err, errlen) < 0)
            goto fail_workers;

    /* Workers block every signal, so the program's handlers run on its
     * own threads. */
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    for (; started < procs; started++) {
        rc = pthread_create(&pool->workers[started].thread, NULL,
                            worker_main, &pool->workers[started]);
        if (rc != 0)
            break;
    }
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (started < procs) {
        snprintf(err, errlen, "plot pool: cannot start a thread: %s",
                 strerror(rc));
        goto fail_workers;
    }
    return pool;

fail_workers:
    stop_workers(pool, started);
    free(pool->workers);
fail_stop_pipe:
    close(pool->stop_pipe[0]);
    close(pool->stop_pipe[1]);
fail_cond:
    pthread_cond_destroy(&pool->wake);
fail_lock:
    pthread_mutex_destroy(&pool->lock);
fail_path:
    free(pool->gnuplot);
fail_pool:
    free(pool);
    return NULL;
}

struct plot_job *plot_job_new(void)
{
    return calloc(1, sizeof(struct plot_job));
}

struct plot_line *plot_job_add_line(struct plot_job *job, const char *name,
                                    size_t n, int raw, int band)
{
    struct plot_line *l;
    size_t bytes = (n ? n : 1) * sizeof(double);

    if (job->nlines >= PLOT_MAX_LINES)
        return NULL;
    l = &job->lines[job->nlines];
    memset(l, 0, sizeof(*l));
    snprintf(l->name, sizeof(l->name), "%s", name);
    l->n = n;
    l->x = malloc(bytes);
    l->avg = malloc(bytes);
    l->raw = raw ? malloc(bytes) : NULL;
    l->lo = band ? malloc(bytes) : NULL;
    l->hi = band ? malloc(bytes) : NULL;
    job->nlines++;
    if (!l->x || !l->avg || (raw && !l->raw) ||
        (band && (!l->lo || !l->hi)))
        return NULL;    /* plot_job_free() releases what was allocated */
    return l;
}

void plot_job_free(struct plot_job *job)
{
    int i;

    if (!job)
        return;
    for (i = 0; i < job->nlines; i++) {
        free(job->lines[i].x);
        free(job->lines[i].avg);
        free(job->lines[i].raw);
        free(job->lines[i].lo);
        free(job->lines[i].hi);
    }
    free(job->out);
    free(job);
}

const char *plot_format_type(enum plot_format f)
{
    switch (f) {
    case PLOT_PNG:
        return "image/png";
    case PLOT_PDF:
        return "application/pdf";
    case PLOT_SVG:
        break;
    }
    return "image/svg+xml";
}

int plot_pool_submit(struct plot_pool *pool, struct plot_job *job)
{
    int i;

    if (!plot_text_allowed(job->title, sizeof job->title, true)) {
        snprintf(job->error, sizeof job->error,
                 "the title may hold only letters, digits, spaces and "
                 "._:=,- (at most %zu)", sizeof job->title - 1);
        return -1;
    }
    if (job->width < WIDTH_MIN || job->width > WIDTH_MAX ||
        job->height < WIDTH_MIN || job->height > WIDTH_MAX) {
        snprintf(job->error, sizeof job->error,
                 "width and height must be whole pixels from %d to %d",
                 WIDTH_MIN, WIDTH_MAX);
        return -1;
    }
    if (job->nlines < 0 || job->nlines > PLOT_MAX_LINES ||
        job->format < PLOT_SVG || job->format > PLOT_PDF) {
        snprintf(job->error, sizeof job->error, "a malformed plot job");
        return -1;
    }
    for (i = 0; i < job->nlines; i++) {
        const struct plot_line *l = &job->lines[i];

        if (!plot_text_allowed(l->name, sizeof l->name, false)) {
            snprintf(job->error, sizeof job->error,
                     "a line name may hold only [A-Za-z0-9._:-]");
            return -1;
        }
        if (l->n > 0 && (!l->x || !l->avg)) {
            snprintf(job->error, sizeof job->error,
                     "a line of the job has no points");
            return -1;
        }
    }

    pthread_mutex_lock(&pool->lock);
    if (pool->stopping || pool->queued >= pool->queue_max) {
        size_t queued = pool->queued;
        bool stopping = pool->stopping;

        pthread_mutex_unlock(&pool->lock);
        if (stopping)
            snprintf(job->error, sizeof job->error,
                     "the plot pool is stopping");
        else
            snprintf(job->error, sizeof job->error,
                     "too many plots waiting (%zu); try again shortly",
                     queued);
        return -1;
    }
    job->status = PLOT_PENDING;
    job->error[0] = '\0';
    job->next = NULL;
    if (pool->queue_tail)
        pool->queue_tail->next = job;
    else
        pool->queue_head = job;
    pool->queue_tail = job;
    pool->queued++;
    pthread_cond_signal(&pool->wake);
    pthread_mutex_unlock(&pool->lock);
    return 0;
}

struct plot_job *plot_pool_take_done(struct plot_pool *pool)
{
    struct plot_job *job;

    pthread_mutex_lock(&pool->lock);
    job = pool->done_head;
    if (job) {
        pool->done_head = job->next;
        if (!pool->done_head)
            pool->done_tail = NULL;
        job->next = NULL;
    }
    pthread_mutex_unlock(&pool->lock);
    return job;
}

size_t plot_pool_pending(struct plot_pool *pool)
{
    size_t pending;

    pthread_mutex_lock(&pool->lock);
    pending = pool->queued + pool->running;
    pthread_mutex_unlock(&pool->lock);
    return pending;
}

void plot_pool_free(struct plot_pool *pool)
{
    struct plot_job *job;
    size_t cancelled = 0;

    if (!pool)
        return;

    /* The jobs no worker took end now, as the header promises. */
    pthread_mutex_lock(&pool->lock);
    pool->stopping = true;
    while ((job = pool->queue_head) != NULL) {
        pool->queue_head = job->next;
        job->status = PLOT_SHUTDOWN;
        snprintf(job->error, sizeof job->error,
                 "the plot pool stopped before the plot was drawn");
        push_done(pool, job);
        cancelled++;
    }
    pool->queue_tail = NULL;
    pool->queued = 0;
    pthread_mutex_unlock(&pool->lock);
    while (cancelled-- > 0)
        pool->notify(pool->arg);

    stop_workers(pool, pool->nworkers);

    while ((job = plot_pool_take_done(pool)) != NULL)
        plot_job_free(job);
    free(pool->workers);
    close(pool->stop_pipe[0]);
    close(pool->stop_pipe[1]);
    pthread_cond_destroy(&pool->wake);
    pthread_mutex_destroy(&pool->lock);
    free(pool->gnuplot);
    free(pool);
}
