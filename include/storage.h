/*
 * storage.h - durability: an append-only log of every accepted point plus
 * periodic snapshots of the retained history, in one folder.
 *
 * The loop thread appends encoded records to a bounded in-memory buffer; a
 * writer thread write()s and fsync()s that buffer every fsync_ms / 2, so
 * the loop never waits for the disk.  A snapshot is written by a forked
 * child from a copy-on-write image of the store, so it costs the loop one
 * fork(); when it is safely renamed into place, the log segments it covers
 * become unnecessary.  The two newest snapshots are kept, so a corrupt one
 * falls back to its predecessor plus the log since.
 *
 * Files (gen is a decimal generation number):
 *   log.<gen>   records appended since snapshot <gen> began
 *   snap.<gen>  the whole store as it was when log.<gen> began
 *
 * Knows the store but nothing of the network.  All functions except the
 * writer thread's own run on the loop thread (or before/after the loop).
 */
#ifndef STREAMAVG_STORAGE_H
#define STREAMAVG_STORAGE_H

#include <stddef.h>
#include <stdint.h>

#include "store.h"

struct storage_opts {
    const char *dir;
    int fsync_ms;           /* the most a crash may lose, in ms */
    int snapshot_s;         /* snapshot at least this often (if changed) */
    size_t log_max;         /* ...or when the log passes this many bytes */
    size_t queue_max;       /* bytes waiting for the writer, at most */
};

/* Why storage_append refused a point. */
enum storage_refusal {
    STORAGE_OK = 0,
    STORAGE_NO_SPACE,       /* the disk is full: HTTP 507 */
    STORAGE_UNAVAILABLE     /* cannot write, or the writer is behind: 503 */
};

struct storage_stats {
    uint64_t records;           /* points appended to the log */
    uint64_t refused;           /* appends refused */
    uint64_t bytes_written;
    uint64_t fsyncs;
    uint64_t write_errors;
    uint64_t snapshots;
    uint64_t snapshots_failed;
    uint64_t pending_bytes;     /* waiting for the writer now */
    double fsync_ms_max;        /* the slowest fsync so far */
    double last_snapshot_ms;    /* how long the last snapshot took */
    double fork_ms_max;         /* the loop's longest wait in fork() */
    int failing;                /* errno of the failing write, or 0 */
};

struct storage;

/* Prepare the folder (created when missing).  Never fails for an
 * unwritable folder: the writer reports it and retries, and appends are
 * refused meanwhile.  log receives each message (level 0 error, 1 warning,
 * 2 notice), from the loop or the writer thread.  Returns NULL only when
 * memory ran out. */
struct storage *storage_open(const struct storage_opts *opts,
                             void (*log)(int level, const char *msg));

/* Rebuild the store from the newest good snapshot and the log after it,
 * then start the writer.  A torn or corrupt log tail is cut off with a
 * warning; a corrupt snapshot falls back to the one before.  Returns a new
 * store (owned by the caller), or NULL when memory ran out. */
struct store *storage_load(struct storage *st, size_t history,
                           size_t max_series, size_t max_bytes);

/* Queue one accepted point for the log.  Returns STORAGE_OK, or a refusal
 * with a sentence in err; the caller should then not keep the point. */
enum storage_refusal storage_append(struct storage *st, const char *name,
                                    size_t len, double ts, double value,
                                    char *err, size_t errlen);

/* Called about once a second on the loop: reaps a finished snapshot child
 * and starts the next snapshot when one is due. */
void storage_tick(struct storage *st, const struct store *store);

void storage_get_stats(struct storage *st, struct storage_stats *out);

/* Write and fsync everything queued, stop the writer, wait for a running
 * snapshot, free.  NULL is fine. */
void storage_close(struct storage *st);

#endif
