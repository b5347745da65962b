/*
 * test_params.c - query parameter values: strict numbers and durations.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "params.h"

static void whole_numbers_in_range(void **state)
{
    char err[160];
    long v;

    (void)state;
    assert_int_equal(param_uint("window_size", "5", 1, 100, &v, err, 160), 0);
    assert_int_equal(v, 5);
    assert_int_equal(param_uint("window_size", "100", 1, 100, &v, err, 160),
                     0);
    assert_int_equal(v, 100);
}

static void bad_numbers_name_the_parameter(void **state)
{
    static const char *bad[] = {"", "0", "101", "-3", "+3", " 3", "3 ",
                                "1.5", "abc", "0x10", "99999999999999999999",
                                NULL};
    char err[160];
    long v;
    int i;

    (void)state;
    for (i = 0; bad[i]; i++) {
        assert_int_equal(param_uint("window_size", bad[i], 1, 100, &v, err,
                                    160), -1);
        assert_non_null(strstr(err, "window_size"));
        assert_non_null(strstr(err, "100"));
    }
}

static void durations(void **state)
{
    char err[160];
    double s;

    (void)state;
    assert_int_equal(param_duration("window", "500ms", 1e6, &s, err, 160), 0);
    assert_true(s == 0.5);
    assert_int_equal(param_duration("window", "30s", 1e6, &s, err, 160), 0);
    assert_true(s == 30);
    assert_int_equal(param_duration("window", "5m", 1e6, &s, err, 160), 0);
    assert_true(s == 300);
    assert_int_equal(param_duration("window", "1h", 1e6, &s, err, 160), 0);
    assert_true(s == 3600);
    assert_int_equal(param_duration("window", "1d", 1e6, &s, err, 160), 0);
    assert_true(s == 86400);
}

static void bad_durations(void **state)
{
    static const char *bad[] = {"", "s", "0s", "5", "5x", "-5s", "1.5s",
                                "5 s", "20d", NULL};
    char err[160];
    double s;
    int i;

    (void)state;
    for (i = 0; bad[i]; i++) {
        assert_int_equal(param_duration("window", bad[i], 1e6, &s, err, 160),
                         -1);
        assert_non_null(strstr(err, "window"));
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(whole_numbers_in_range),
        cmocka_unit_test(bad_numbers_name_the_parameter),
        cmocka_unit_test(durations),
        cmocka_unit_test(bad_durations),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
