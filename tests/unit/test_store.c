/*
 * test_store.c - series by name, late points, the memory budget.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "store.h"

static void lookup_and_limit(void **state)
{
    struct store *st = store_new(10, 3, 1 << 20);
    char err[200], name[16];
    int i;

    (void)state;
    assert_non_null(st);
    for (i = 0; i < 3; i++) {
        snprintf(name, sizeof(name), "s%d", i);
        assert_non_null(store_intern(st, name, strlen(name), err, 200));
    }
    assert_ptr_equal(store_find(st, "s1", 2), store_at(st, 1));
    assert_null(store_find(st, "s", 1));
    assert_null(store_intern(st, "s3", 2, err, sizeof(err)));
    assert_non_null(strstr(err, "series.max_series"));
    store_free(st);
}

static void late_points_are_raised(void **state)
{
    struct store *st = store_new(10, 3, 1 << 20);
    char err[200];
    struct series *s = store_intern(st, "a", 1, err, sizeof(err));

    (void)state;
    assert_int_equal(store_append(st, s, 100, 1, err, 200), 0);
    assert_int_equal(store_append(st, s, 50, 2, err, 200), 0);
    assert_true(window_ts_at(&s->ring, 1) == 100);
    assert_int_equal(s->late, 1);
    store_free(st);
}

/* A budget too small for a growing ring refuses its points, while a full
 * ring keeps taking them (evicting), and the byte count stays true. */
static void memory_budget(void **state)
{
    struct store *st = store_new(1000, 10, 30000);
    char err[200];
    struct series *full, *grow;
    int i, refused = 0;

    (void)state;
    full = store_intern(st, "full", 4, err, sizeof(err));
    assert_non_null(full);
    for (i = 0; i < 1200; i++)
        assert_int_equal(store_append(st, full, i, i, err, 200), 0);
    assert_int_equal(full->ring.len, 1000);

    grow = store_intern(st, "grow", 4, err, sizeof(err));
    if (grow)
        for (i = 0; i < 1000; i++)
            refused += store_append(st, grow, i, i, err, 200) < 0;
    assert_true(!grow || refused > 0);
    assert_non_null(strstr(err, "series.max_memory_mb"));
    for (i = 0; i < 10; i++)
        assert_int_equal(store_append(st, full, 300 + i, i, err, 200), 0);

    {
        size_t n = 0;

        for (i = 0; i < (int)store_count(st); i++)
            n += sizeof(struct series) +
                 window_bytes(&store_at(st, (size_t)i)->ring);
        assert_int_equal(store_bytes(st), n);
        assert_true(n <= 30000);
    }
    store_free(st);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(lookup_and_limit),
        cmocka_unit_test(late_points_are_raised),
        cmocka_unit_test(memory_budget),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
