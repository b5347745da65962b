/*
 * storage.c - the log, its writer thread, snapshots and start-up recovery.
 *
 * Threads: the loop thread encodes records into `pending` under `mu`; the
 * writer thread swaps `pending` with its own buffer `w` under `mu`, then
 * writes and fsyncs `w` with the lock released, so an fsync of any length
 * never holds up an append.  Fields marked (writer) are touched by the
 * writer only once it runs; fields marked (loop) by the loop only.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "ingest.h"
#include "storage.h"
#include "storage_format.h"

#define NO_ROTATION SIZE_MAX

struct buf {
    uint8_t *p;
    size_t len, cap;
};

struct storage {
    char dir[512];
    struct storage_opts opts;
    void (*log)(int level, const char *msg);

    pthread_mutex_t mu;
    pthread_cond_t cv;
    pthread_t writer;
    int writer_started;

    /* Under mu. */
    struct buf pending;
    size_t rotate_at;       /* offset in pending where log.<rotate_gen>
                             * begins, or NO_ROTATION */
    uint64_t rotate_gen;
    int rotating;           /* a rotation is not finished yet */
    int stop, kick;
    int failing;            /* errno of the last failed write, or 0 */
    struct storage_stats stats;

    /* (writer) */
    struct buf w;
    size_t w_off;           /* bytes of w already written */
    size_t w_rotate_at;
    uint64_t w_rotate_gen;
    int dirfd, fd, dirty;
    uint64_t gen;           /* the log segment being appended to */

    /* (loop) */
    uint64_t next_gen;
    uint64_t oldest_gen;    /* no file of an older generation exists */
    uint64_t last_snap_gen; /* newest good snapshot, 0 if none */
    size_t log_bytes;       /* appended since the last snapshot began */
    double last_snap_at;
    pid_t child;
    uint64_t child_gen, child_prev;
    double child_started;
};

/* ---- small helpers ---------------------------------------------------- */

static double mono_now(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void say(struct storage *st, int level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void say(struct storage *st, int level, const char *fmt, ...)
{
    char line[768];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    if (st->log)
        st->log(level, line);
}

/* "log.42" without stdio: the snapshot child may only make calls that are
 * safe after fork() in a threaded process. */
static void gen_name(char *out, const char *prefix, uint64_t gen,
                     const char *suffix)
{
    char digits[24];
    int n = 0;

    do {
        digits[n++] = (char)('0' + gen % 10);
        gen /= 10;
    } while (gen);
    while (*prefix)
        *out++ = *prefix++;
    while (n)
        *out++ = digits[--n];
    while (*suffix)
        *out++ = *suffix++;
    *out = '\0';
}

static int buf_reserve(struct buf *b, size_t more)
{
    size_t cap;
    uint8_t *p;

    if (b->len + more <= b->cap)
        return 0;
    cap = b->cap ? b->cap : 65536;
    while (cap < b->len + more)
        cap *= 2;
    p = realloc(b->p, cap);
    if (!p)
        return -1;
    b->p = p;
    b->cap = cap;
    return 0;
}

/* A burst or a slow disk grows the buffers; once batches are small again,
 * give half back, so the memory of a long-running server follows its
 * load rather than its worst moment.  b must be empty or fully written. */
static void buf_shrink(struct buf *b)
{
    uint8_t *p;

    if (b->cap <= (1u << 20) || b->len >= b->cap / 4)
        return;
    p = realloc(b->p, b->cap / 2);
    if (p) {
        b->p = p;
        b->cap /= 2;
    }
}

/* write() all of p[0..n), retrying short writes.  -1 with errno. */
static int write_full(int fd, const uint8_t *p, size_t n)
{
    while (n) {
        ssize_t k = write(fd, p, n);

        if (k < 0 && errno == EINTR)
            continue;
        if (k < 0)
            return -1;
        p += k;
        n -= (size_t)k;
    }
    return 0;
}

static int mkdir_p(const char *path)
{
    char tmp[512];
    size_t i, n = strlen(path);

    if (n >= sizeof(tmp)) {
        errno = ENAMETOOLONG;
        return -1;
    }
    memcpy(tmp, path, n + 1);
    for (i = 1; i <= n; i++) {
        if (tmp[i] != '/' && tmp[i] != '\0')
            continue;
        tmp[i] = '\0';
        if (mkdir(tmp, 0755) < 0 && errno != EEXIST)
            return -1;
        tmp[i] = path[i];
    }
    return 0;
}

static int open_dir(struct storage *st)
{
    if (st->dirfd >= 0)
        return 0;
    if (mkdir_p(st->dir) < 0)
        return -1;
    st->dirfd = open(st->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    return st->dirfd < 0 ? -1 : 0;
}

static int truncate_at(struct storage *st, const char *name, off_t len)
{
    int fd = openat(st->dirfd, name, O_WRONLY | O_CLOEXEC);
    int rc;

    if (fd < 0)
        return -1;
    rc = ftruncate(fd, len);
    if (!rc)
        rc = fsync(fd);
    close(fd);
    return rc;
}

/* ---- reading records back --------------------------------------------- */

struct reader {
    int fd;
    uint8_t *buf;
    size_t start, end;
    off_t next;         /* file offset of the next record */
    int eof;
};

#define READER_CAP (REC_PAYLOAD_MAX + REC_HEADER + 65536)

/* Open name in the storage folder and check its magic.  Returns 0, or -1
 * (missing, unreadable or not ours). */
static int reader_open(struct storage *st, struct reader *r,
                       const char *name, const char *magic)
{
    uint8_t head[STORAGE_MAGIC_LEN];

    memset(r, 0, sizeof(*r));
    r->fd = openat(st->dirfd, name, O_RDONLY | O_CLOEXEC);
    if (r->fd < 0)
        return -1;
    if (read(r->fd, head, sizeof(head)) != (ssize_t)sizeof(head) ||
        memcmp(head, magic, sizeof(head)))
        goto fail;
    r->buf = malloc(READER_CAP);
    if (!r->buf)
        goto fail;
    r->next = STORAGE_MAGIC_LEN;
    return 0;

fail:
    close(r->fd);
    r->fd = -1;
    return -1;
}

static void reader_close(struct reader *r)
{
    if (r->fd >= 0)
        close(r->fd);
    free(r->buf);
}

/* The next record: 1 with its payload, 0 at a clean end, -1 at a torn or
 * corrupt record (which starts at r->next). */
static int reader_next(struct reader *r, const uint8_t **payload,
                       size_t *plen)
{
    for (;;) {
        long n = rec_check(r->buf + r->start, r->end - r->start, payload,
                           plen);
        ssize_t got;

        if (n > 0) {
            r->start += (size_t)n;
            r->next += n;
            return 1;
        }
        if (n < 0)
            return -1;
        if (r->eof)
            return r->start == r->end ? 0 : -1;
        memmove(r->buf, r->buf + r->start, r->end - r->start);
        r->end -= r->start;
        r->start = 0;
        got = read(r->fd, r->buf + r->end, READER_CAP - r->end);
        if (got < 0 && errno == EINTR)
            continue;
        if (got <= 0)
            r->eof = 1;
        else
            r->end += (size_t)got;
    }
}

/* ---- start-up: snapshot, then the log --------------------------------- */

struct gens {
    uint64_t *v;
    size_t n, cap;
};

static int gens_add(struct gens *g, uint64_t gen)
{
    if (g->n == g->cap) {
        size_t cap = g->cap ? g->cap * 2 : 16;
        uint64_t *v = realloc(g->v, cap * sizeof(*v));

        if (!v)
            return -1;
        g->v = v;
        g->cap = cap;
    }
    g->v[g->n++] = gen;
    return 0;
}

static int cmp_gen(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

    return x < y ? -1 : x > y;
}

/* "prefix<digits>" exactly: the generation, or 0. */
static uint64_t parse_gen(const char *name, const char *prefix)
{
    size_t n = strlen(prefix);
    char *end;
    uint64_t gen;

    if (strncmp(name, prefix, n) || name[n] < '1' || name[n] > '9')
        return 0;
    gen = strtoull(name + n, &end, 10);
    return *end ? 0 : gen;
}

/* List the snapshots and log segments; remove what a crashed snapshot left
 * behind. */
static int scan_dir(struct storage *st, struct gens *snaps,
                    struct gens *logs)
{
    int fd = dup(st->dirfd);
    DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
    struct dirent *e;
    uint64_t gen;

    if (!d) {
        if (fd >= 0)
            close(fd);
        return -1;
    }
    rewinddir(d);
    while ((e = readdir(d))) {
        size_t n = strlen(e->d_name);

        if (n > 4 && !strcmp(e->d_name + n - 4, ".tmp") &&
            !strncmp(e->d_name, "snap.", 5)) {
            unlinkat(st->dirfd, e->d_name, 0);
            continue;
        }
        if ((gen = parse_gen(e->d_name, "snap.")) &&
            gens_add(snaps, gen) < 0)
            break;
        if ((gen = parse_gen(e->d_name, "log.")) && gens_add(logs, gen) < 0)
            break;
    }
    closedir(d);
    if (snaps->n)
        qsort(snaps->v, snaps->n, sizeof(uint64_t), cmp_gen);
    if (logs->n)
        qsort(logs->v, logs->n, sizeof(uint64_t), cmp_gen);
    return e ? -1 : 0;
}

/* Restore one series from a REC_SERIES payload and the REC_POINTS that
 * follow it.  Returns 0, or -1 when the snapshot is malformed. */
static int load_series(struct reader *r, const uint8_t *p, size_t plen,
                       struct store *store, uint64_t *skipped)
{
    char err[200];
    struct series *s;
    uint64_t total, late, want, got = 0;
    size_t n;

    if (plen < 2 || (n = p[1]) == 0 || plen != 2 + n + 24 ||
        !ingest_series_name_ok((const char *)p + 2, n))
        return -1;
    total = fmt_get_u64(p + 2 + n);
    late = fmt_get_u64(p + 10 + n);
    want = fmt_get_u64(p + 18 + n);
    s = store_intern(store, (const char *)p + 2, n, err, sizeof(err));
    if (!s)
        (*skipped)++;
    while (got < want) {
        uint32_t k, i;

        if (reader_next(r, &p, &plen) != 1 || plen < 5 ||
            p[0] != REC_POINTS)
            return -1;
        k = fmt_get_u32(p + 1);
        if (k == 0 || k > want - got || plen != 5 + (size_t)k * 16)
            return -1;
        for (i = 0; s && i < k; i++)
            if (store_append(store, s, fmt_get_f64(p + 5 + 16 * i),
                             fmt_get_f64(p + 13 + 16 * i), err,
                             sizeof(err)) < 0) {
                /* Over the memory budget: keep what fit. */
                (*skipped)++;
                break;
            }
        got += k;
    }
    if (s) {
        s->ring.total = total;
        s->late = late;
    }
    return 0;
}

/* Returns 0 with the snapshot in store, or -1 when it is unreadable,
 * corrupt or torn. */
static int load_snapshot(struct storage *st, uint64_t gen,
                         struct store *store)
{
    struct reader r;
    const uint8_t *p;
    size_t plen;
    uint64_t series = 0, skipped = 0;
    char name[40];
    int rc;

    gen_name(name, "snap.", gen, "");
    if (reader_open(st, &r, name, STORAGE_SNAP_MAGIC) < 0)
        return -1;
    while ((rc = reader_next(&r, &p, &plen)) == 1) {
        if (p[0] == REC_SERIES) {
            if (load_series(&r, p, plen, store, &skipped) < 0)
                break;
            series++;
        } else if (p[0] == REC_END && plen == 9 &&
                   fmt_get_u64(p + 1) == series) {
            reader_close(&r);
            if (skipped)
                say(st, 1, "storage: %" PRIu64 " series of %s were not "
                    "restored: the series limit (series.max_series) is "
                    "lower than when they were saved", skipped, name);
            return 0;
        } else {
            break;
        }
    }
    reader_close(&r);
    return -1;
}

/* Replay log.<gen> into store.  A torn or corrupt record and everything
 * after it is cut off, with a warning. */
static void replay_log(struct storage *st, uint64_t gen, struct store *store,
                       uint64_t *points)
{
    struct reader r;
    const uint8_t *p;
    size_t plen, nlen;
    const char *nm;
    double ts, v;
    char name[40], err[200];
    uint64_t refused = 0;
    int rc;

    gen_name(name, "log.", gen, "");
    if (reader_open(st, &r, name, STORAGE_LOG_MAGIC) < 0) {
        say(st, 1, "storage: %s/%s is unreadable or not a streamavg log; "
            "skipped", st->dir, name);
        return;
    }
    while ((rc = reader_next(&r, &p, &plen)) == 1) {
        struct series *s;

        if (rec_decode_point(p, plen, &nm, &nlen, &ts, &v) < 0 ||
            !ingest_series_name_ok(nm, nlen) || !isfinite(ts) ||
            !isfinite(v)) {
            rc = -1;
            break;
        }
        s = store_intern(store, nm, nlen, err, sizeof(err));
        if (!s || store_append(store, s, ts, v, err, sizeof(err)) < 0)
            refused++;
        else
            (*points)++;
    }
    if (rc < 0) {
        struct stat sb;
        off_t size = fstat(r.fd, &sb) ? -1 : sb.st_size;

        say(st, 1, "storage: %s/%s has a torn or corrupt record at byte "
            "%lld of %lld; the rest is cut off (points written in the last "
            "moments before a crash)", st->dir, name, (long long)r.next,
            (long long)size);
        if (truncate_at(st, name, r.next) < 0)
            say(st, 0, "storage: cannot cut %s/%s: %s", st->dir, name,
                strerror(errno));
    }
    if (refused)
        say(st, 1, "storage: %" PRIu64 " points of %s were not restored "
            "(series limit or memory)", refused, name);
    reader_close(&r);
}

/* ---- the writer thread ------------------------------------------------ */

/* Open (or create) log.<gen> for appending, with its magic. */
static int open_segment(struct storage *st)
{
    char name[40];
    struct stat sb;

    if (open_dir(st) < 0)
        return -1;
    gen_name(name, "log.", st->gen, "");
    st->fd = openat(st->dirfd, name,
                    O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (st->fd < 0)
        return -1;
    if (fstat(st->fd, &sb) < 0)
        goto fail;
    if (sb.st_size < STORAGE_MAGIC_LEN) {
        /* New, or its magic was torn: start it over. */
        if (ftruncate(st->fd, 0) < 0 ||
            write_full(st->fd, (const uint8_t *)STORAGE_LOG_MAGIC,
                       STORAGE_MAGIC_LEN) < 0 ||
            fsync(st->dirfd) < 0)
            goto fail;
        st->dirty = 1;
    }
    return 0;

fail:
    close(st->fd);
    st->fd = -1;
    return -1;
}

/* Write w[w_off..end) to the current segment.  -1 with errno; w_off says
 * how far it got, so a retry continues exactly there. */
static int write_upto(struct storage *st, size_t end, uint64_t *written)
{
    while (st->w_off < end) {
        ssize_t k;

        if (st->fd < 0 && open_segment(st) < 0)
            return -1;
        k = write(st->fd, st->w.p + st->w_off, end - st->w_off);
        if (k < 0 && errno == EINTR)
            continue;
        if (k < 0)
            return -1;
        st->w_off += (size_t)k;
        *written += (uint64_t)k;
        st->dirty = 1;
    }
    return 0;
}

static int sync_segment(struct storage *st, double *ms)
{
    double t0;

    if (!st->dirty || st->fd < 0)
        return 0;
    t0 = mono_now();
    if (fsync(st->fd) < 0)
        return -1;
    *ms = (mono_now() - t0) * 1e3;
    st->dirty = 0;
    return 0;
}

/* Write and fsync the writer's buffer, moving to the next segment at the
 * rotation point.  Returns 0 or -1 with errno. */
static int flush_batch(struct storage *st, uint64_t *written, double *ms)
{
    /* Open before there is anything to write, so an unwritable folder is
     * reported (and ingest refused) before any point is taken. */
    if (st->fd < 0 && st->w_rotate_at == NO_ROTATION &&
        open_segment(st) < 0)
        return -1;
    if (st->w_rotate_at != NO_ROTATION) {
        if (write_upto(st, st->w_rotate_at, written) < 0 ||
            sync_segment(st, ms) < 0)
            return -1;
        if (st->fd >= 0)
            close(st->fd);
        st->fd = -1;
        st->gen = st->w_rotate_gen;
        st->w_rotate_at = NO_ROTATION;
    }
    if (write_upto(st, st->w.len, written) < 0)
        return -1;
    return sync_segment(st, ms);
}

static void *writer_main(void *arg)
{
    struct storage *st = arg;
    int was_failing = 0;

    pthread_mutex_lock(&st->mu);
    for (;;) {
        uint64_t written = 0;
        double sync_ms = -1;
        int stopping, rc, e;

        if (!st->stop && !st->kick) {
            struct timespec dl;
            long ns = (long)st->opts.fsync_ms * 500000L;   /* half */

            clock_gettime(CLOCK_MONOTONIC, &dl);
            dl.tv_sec += ns / 1000000000L;
            dl.tv_nsec += ns % 1000000000L;
            if (dl.tv_nsec >= 1000000000L) {
                dl.tv_sec++;
                dl.tv_nsec -= 1000000000L;
            }
            pthread_cond_timedwait(&st->cv, &st->mu, &dl);
        }
        st->kick = 0;
        stopping = st->stop;
        if (st->w_off == st->w.len && st->w_rotate_at == NO_ROTATION) {
            struct buf t = st->w;

            st->w = st->pending;
            st->pending = t;
            st->pending.len = 0;
            st->w_off = 0;
            st->w_rotate_at = st->rotate_at;
            st->w_rotate_gen = st->rotate_gen;
            st->rotate_at = NO_ROTATION;
        }
        pthread_mutex_unlock(&st->mu);

        rc = flush_batch(st, &written, &sync_ms);
        e = errno;
        if (rc == 0)
            buf_shrink(&st->w);     /* ours until the next swap */

        pthread_mutex_lock(&st->mu);
        st->stats.bytes_written += written;
        if (sync_ms >= 0) {
            st->stats.fsyncs++;
            if (sync_ms > st->stats.fsync_ms_max)
                st->stats.fsync_ms_max = sync_ms;
        }
        if (st->w_rotate_at == NO_ROTATION && st->rotate_at == NO_ROTATION)
            st->rotating = 0;
        st->failing = rc < 0 ? (e ? e : EIO) : 0;
        if (rc < 0)
            st->stats.write_errors++;
        if (rc < 0 && !was_failing)
            say(st, 0, "storage: cannot write %s: %s; ingest is refused "
                "until it can (retrying every %d ms)", st->dir, strerror(e),
                st->opts.fsync_ms / 2);
        else if (rc == 0 && was_failing)
            say(st, 2, "storage: %s is writable again; ingest resumes",
                st->dir);
        was_failing = rc < 0;
        if (stopping && (rc < 0 || (!st->pending.len &&
                                    st->w_off == st->w.len &&
                                    st->rotate_at == NO_ROTATION)))
            break;
    }
    if (st->failing)
        say(st, 0, "storage: %zu bytes of points could not be written to "
            "%s at shutdown", st->pending.len + st->w.len - st->w_off,
            st->dir);
    pthread_mutex_unlock(&st->mu);
    return NULL;
}

/* ---- opening, loading ------------------------------------------------- */

struct storage *storage_open(const struct storage_opts *opts,
                             void (*log)(int level, const char *msg))
{
    struct storage *st = calloc(1, sizeof(*st));
    pthread_condattr_t ca;

    if (!st)
        return NULL;
    st->opts = *opts;
    st->log = log;
    snprintf(st->dir, sizeof(st->dir), "%s", opts->dir);
    st->opts.dir = st->dir;
    st->rotate_at = st->w_rotate_at = NO_ROTATION;
    st->dirfd = st->fd = -1;
    pthread_mutex_init(&st->mu, NULL);
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&st->cv, &ca);
    pthread_condattr_destroy(&ca);
    if (open_dir(st) < 0) {
        st->failing = errno;
        say(st, 0, "storage: cannot open the folder %s: %s; ingest is "
            "refused until it can be written", st->dir, strerror(errno));
    }
    return st;
}

/* The newest snapshot that loads, into a fresh store; its generation in
 * *gen (0 when none did, with an empty store). */
static struct store *load_newest_snapshot(struct storage *st,
                                          const struct gens *snaps,
                                          size_t history, size_t max_series,
                                          size_t max_bytes, uint64_t *gen)
{
    size_t i = snaps->n;

    *gen = 0;
    while (i--) {
        struct store *store = store_new(history, max_series, max_bytes);

        if (!store)
            return NULL;
        if (load_snapshot(st, snaps->v[i], store) == 0) {
            *gen = snaps->v[i];
            return store;
        }
        say(st, 1, "storage: snapshot %s/snap.%" PRIu64 " is corrupt or "
            "torn; falling back to the one before", st->dir, snaps->v[i]);
        store_free(store);
    }
    if (snaps->n)
        say(st, 0, "storage: no snapshot in %s could be read; only the "
            "log that remains is replayed", st->dir);
    return store_new(history, max_series, max_bytes);
}

struct store *storage_load(struct storage *st, size_t history,
                           size_t max_series, size_t max_bytes)
{
    struct gens snaps = {0}, logs = {0};
    struct store *store;
    uint64_t base, points = 0, top = 0;
    double t0 = mono_now();
    size_t i;

    if (st->dirfd >= 0 && scan_dir(st, &snaps, &logs) < 0)
        say(st, 0, "storage: cannot list %s: %s", st->dir, strerror(errno));
    store = load_newest_snapshot(st, &snaps, history, max_series, max_bytes,
                                 &base);
    if (!store)
        goto out;
    for (i = 0; i < logs.n; i++)
        if (logs.v[i] >= base)
            replay_log(st, logs.v[i], store, &points);

    if (snaps.n)
        top = snaps.v[snaps.n - 1];
    if (logs.n && logs.v[logs.n - 1] > top)
        top = logs.v[logs.n - 1];
    st->gen = top ? top : 1;
    st->next_gen = st->gen + 1;
    st->oldest_gen = 1;
    if (snaps.n && snaps.v[0] < st->oldest_gen)
        st->oldest_gen = snaps.v[0];
    if (logs.n && logs.v[0] < st->oldest_gen)
        st->oldest_gen = logs.v[0];
    st->last_snap_gen = base;
    st->last_snap_at = mono_now();
    say(st, 2, "storage: %s: restored %zu series, %" PRIu64 " points "
        "(snapshot %" PRIu64 " and %" PRIu64 " logged points) in %.0f ms",
        st->dir, store_count(store), store_points(store), base, points,
        (mono_now() - t0) * 1e3);

    if (pthread_create(&st->writer, NULL, writer_main, st) == 0)
        st->writer_started = 1;
    else
        say(st, 0, "storage: cannot start the writer thread");
out:
    free(snaps.v);
    free(logs.v);
    return store;
}

/* ---- appending -------------------------------------------------------- */

enum storage_refusal storage_append(struct storage *st, const char *name,
                                    size_t len, double ts, double value,
                                    char *err, size_t errlen)
{
    enum storage_refusal why = STORAGE_UNAVAILABLE;
    size_t before;

    pthread_mutex_lock(&st->mu);
    if (!st->writer_started) {
        snprintf(err, errlen, "storage (storage.dir %s) is not running; "
                 "points are refused", st->dir);
        goto refuse;
    }
    if (st->failing) {
        why = st->failing == ENOSPC || st->failing == EDQUOT
                  ? STORAGE_NO_SPACE : STORAGE_UNAVAILABLE;
        snprintf(err, errlen, "storage.dir %s cannot be written (%s); "
                 "points are refused until it can", st->dir,
                 strerror(st->failing));
        goto refuse;
    }
    if (st->pending.len + REC_POINT_MAX > st->opts.queue_max ||
        buf_reserve(&st->pending, REC_POINT_MAX) < 0) {
        snprintf(err, errlen, "storage is behind: %zu bytes wait for "
                 "the disk (storage.queue_max_mb); retry shortly",
                 st->pending.len);
        st->kick = 1;
        pthread_cond_signal(&st->cv);
        goto refuse;
    }
    before = st->pending.len;
    st->pending.len += rec_encode_point(st->pending.p + before, name, len,
                                        ts, value);
    st->log_bytes += st->pending.len - before;
    st->stats.records++;
    /* A quarter full: write now rather than at the next tick. */
    if (before < st->opts.queue_max / 4 &&
        st->pending.len >= st->opts.queue_max / 4) {
        st->kick = 1;
        pthread_cond_signal(&st->cv);
    }
    pthread_mutex_unlock(&st->mu);
    return STORAGE_OK;

refuse:
    st->stats.refused++;
    pthread_mutex_unlock(&st->mu);
    return why;
}

/* ---- snapshots -------------------------------------------------------- */

/* The child's output buffer: static, so the child never calls malloc
 * (which is not safe after fork() in a threaded process). */
static uint8_t snap_buf[1 << 18];
static size_t snap_len;

static int snap_flush(int fd)
{
    int rc = write_full(fd, snap_buf, snap_len);

    snap_len = 0;
    return rc;
}

/* Room for `need` more bytes in snap_buf, flushing it first if needed. */
static uint8_t *snap_room(int fd, size_t need)
{
    if (snap_len + need > sizeof(snap_buf) && snap_flush(fd) < 0)
        return NULL;
    return snap_buf + snap_len;
}

static int snap_series(int fd, const struct series *s)
{
    const struct window_ring *w = &s->ring;
    size_t n = s->name_len, i = 0;
    uint8_t *rec = snap_room(fd, REC_HEADER + 2 + n + 24), *p;

    if (!rec)
        return -1;
    p = rec + REC_HEADER;
    p[0] = REC_SERIES;
    p[1] = (uint8_t)n;
    memcpy(p + 2, s->name, n);
    fmt_put_u64(p + 2 + n, w->total);
    fmt_put_u64(p + 10 + n, s->late);
    fmt_put_u64(p + 18 + n, w->len);
    snap_len += rec_seal(rec, 2 + n + 24);

    while (i < w->len) {
        size_t k = w->len - i < REC_POINTS_PER ? w->len - i : REC_POINTS_PER;
        size_t j;

        rec = snap_room(fd, REC_HEADER + 5 + k * 16);
        if (!rec)
            return -1;
        p = rec + REC_HEADER;
        p[0] = REC_POINTS;
        fmt_put_u32(p + 1, (uint32_t)k);
        for (j = 0; j < k; j++, i++) {
            fmt_put_f64(p + 5 + 16 * j, window_ts_at(w, i));
            fmt_put_f64(p + 13 + 16 * j, window_value_at(w, i));
        }
        snap_len += rec_seal(rec, 5 + k * 16);
    }
    return 0;
}

/* In the forked child: write snap.<gen>.tmp, fsync, rename it into place,
 * then delete what the snapshot before it makes unnecessary.  Only calls
 * that are safe after fork() in a threaded process. */
static void __attribute__((noreturn))
snapshot_child(struct storage *st, const struct store *store, uint64_t gen,
               uint64_t prev)
{
    char tmp[48], name[48];
    size_t i, n = store_count(store);
    uint64_t g;
    uint8_t *rec;
    int fd;

    /* Do not hold the parent's sockets open while we write. */
    if (st->dirfd > 3)
        close_range(3, (unsigned)st->dirfd - 1, 0);
    close_range((unsigned)st->dirfd + 1, ~0U, 0);

    gen_name(tmp, "snap.", gen, ".tmp");
    gen_name(name, "snap.", gen, "");
    fd = openat(st->dirfd, tmp, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0)
        _exit(1);
    snap_len = 0;
    memcpy(snap_buf, STORAGE_SNAP_MAGIC, STORAGE_MAGIC_LEN);
    snap_len = STORAGE_MAGIC_LEN;
    for (i = 0; i < n; i++)
        if (snap_series(fd, store_at(store, i)) < 0)
            _exit(1);
    rec = snap_room(fd, REC_HEADER + 9);
    if (!rec)
        _exit(1);
    rec[REC_HEADER] = REC_END;
    fmt_put_u64(rec + REC_HEADER + 1, n);
    snap_len += rec_seal(rec, 9);
    if (snap_flush(fd) < 0 || fsync(fd) < 0 || close(fd) < 0 ||
        renameat(st->dirfd, tmp, st->dirfd, name) < 0 ||
        fsync(st->dirfd) < 0)
        _exit(1);

    /* Keep this snapshot and the one before it (with the log since), so
     * a corrupt newest snapshot still has a fallback. */
    for (g = st->oldest_gen; prev && g < prev; g++) {
        gen_name(name, "snap.", g, "");
        unlinkat(st->dirfd, name, 0);
        gen_name(name, "log.", g, "");
        unlinkat(st->dirfd, name, 0);
    }
    _exit(0);
}

static void start_snapshot(struct storage *st, const struct store *store)
{
    double t0, fork_ms;
    uint64_t gen;
    pid_t pid;

    pthread_mutex_lock(&st->mu);
    if (st->rotating || st->failing || st->dirfd < 0) {
        pthread_mutex_unlock(&st->mu);
        return;
    }
    pthread_mutex_unlock(&st->mu);

    gen = st->next_gen;
    t0 = mono_now();
    pid = fork();
    if (pid < 0) {
        say(st, 1, "storage: cannot fork a snapshot writer: %s",
            strerror(errno));
        st->last_snap_at = mono_now();  /* try again next period */
        return;
    }
    if (pid == 0)
        snapshot_child(st, store, gen, st->last_snap_gen);

    /* Everything appended so far is in the child's image of the store;
     * what comes next belongs to log.<gen>.  No append can come between
     * the fork and this: both run on the loop thread. */
    fork_ms = (mono_now() - t0) * 1e3;
    pthread_mutex_lock(&st->mu);
    if (fork_ms > st->stats.fork_ms_max)
        st->stats.fork_ms_max = fork_ms;
    st->rotate_at = st->pending.len;
    st->rotate_gen = gen;
    st->rotating = 1;
    st->log_bytes = 0;
    pthread_mutex_unlock(&st->mu);

    st->next_gen = gen + 1;
    st->child = pid;
    st->child_gen = gen;
    st->child_prev = st->last_snap_gen;
    st->child_started = mono_now();
    st->last_snap_at = st->child_started;
}

/* Collect a finished snapshot child; `wait` blocks for it. */
static void reap_snapshot(struct storage *st, int wait)
{
    int status;
    pid_t r;

    if (st->child <= 0)
        return;
    do
        r = waitpid(st->child, &status, wait ? 0 : WNOHANG);
    while (r < 0 && errno == EINTR);
    if (r == 0)
        return;
    pthread_mutex_lock(&st->mu);
    if (r == st->child && WIFEXITED(status) && !WEXITSTATUS(status)) {
        st->stats.snapshots++;
        st->stats.last_snapshot_ms = (mono_now() - st->child_started) * 1e3;
        if (st->child_prev && st->child_prev > st->oldest_gen)
            st->oldest_gen = st->child_prev;
        st->last_snap_gen = st->child_gen;
    } else {
        st->stats.snapshots_failed++;
        say(st, 1, "storage: snapshot %s/snap.%" PRIu64 " failed; the log "
            "keeps every point and the next snapshot will try again",
            st->dir, st->child_gen);
    }
    pthread_mutex_unlock(&st->mu);
    st->child = 0;
}

void storage_tick(struct storage *st, const struct store *store)
{
    size_t log_bytes;

    if (!st || !st->writer_started)
        return;
    reap_snapshot(st, 0);
    if (st->child > 0)
        return;
    pthread_mutex_lock(&st->mu);
    log_bytes = st->log_bytes;
    pthread_mutex_unlock(&st->mu);
    if (log_bytes >= st->opts.log_max ||
        (log_bytes && mono_now() - st->last_snap_at >= st->opts.snapshot_s))
        start_snapshot(st, store);
}

void storage_get_stats(struct storage *st, struct storage_stats *out)
{
    pthread_mutex_lock(&st->mu);
    *out = st->stats;
    out->pending_bytes = st->pending.len + st->w.len - st->w_off;
    out->failing = st->failing;
    pthread_mutex_unlock(&st->mu);
}

void storage_close(struct storage *st)
{
    if (!st)
        return;
    reap_snapshot(st, 1);
    if (st->writer_started) {
        pthread_mutex_lock(&st->mu);
        st->stop = 1;
        pthread_cond_signal(&st->cv);
        pthread_mutex_unlock(&st->mu);
        pthread_join(st->writer, NULL);
    }
    if (st->fd >= 0)
        close(st->fd);
    if (st->dirfd >= 0)
        close(st->dirfd);
    pthread_cond_destroy(&st->cv);
    pthread_mutex_destroy(&st->mu);
    free(st->pending.p);
    free(st->w.p);
    free(st);
}
