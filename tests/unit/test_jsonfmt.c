/*
 * test_jsonfmt.c - numbers written with snprintf (jsonfmt_number_text)
 * are byte for byte what json-c writes for jsonfmt_number(), and read
 * back to the same double.
 */
#include <float.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <json.h>

#include "jsonfmt.h"
#include "xorshift.h"

/* What json-c writes for jsonfmt_number(d). */
static void via_json_c(double d, char *out, size_t len)
{
    struct json_object *o = jsonfmt_number(d);

    snprintf(out, len, "%s", json_object_to_json_string_ext(
                 o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
    json_object_put(o);
}

static void same_as_json_c(double d)
{
    char want[64], got[32];
    size_t n = jsonfmt_number_text(got, sizeof(got), d);

    via_json_c(d, want, sizeof(want));
    assert_int_equal(n, strlen(got));
    assert_string_equal(got, want);
    if (isfinite(d))
        assert_true(strtod(got, NULL) == d);
}

static void chosen_values(void **state)
{
    static const double v[] = {
        0.0, -0.0, 1, -1, 0.1, -0.1, 48.2, 2.1999999999999997, 1.0 / 3,
        100, 1e15, 1e16, 1e17, 9007199254740991.0, 9007199254740992.0,
        -9007199254740992.0, 9007199254740994.0, 1e300, -1e300, 1e-300,
        5e-324, DBL_MAX, -DBL_MAX, DBL_MIN, 123456789.123456789,
        0.30000000000000004, 1.7976931348623157e308,
    };
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(v) / sizeof(v[0]); i++)
        same_as_json_c(v[i]);
}

static void not_finite_is_null(void **state)
{
    char got[32];

    (void)state;
    jsonfmt_number_text(got, sizeof(got), NAN);
    assert_string_equal(got, "null");
    jsonfmt_number_text(got, sizeof(got), INFINITY);
    assert_string_equal(got, "null");
    jsonfmt_number_text(got, sizeof(got), -INFINITY);
    assert_string_equal(got, "null");
    same_as_json_c(NAN);
    same_as_json_c(-INFINITY);
}

static void random_values(void **state)
{
    int i;

    (void)state;
    for (i = 0; i < 50000; i++) {
        uint64_t bits = rnd();
        double d;

        memcpy(&d, &bits, sizeof(d));
        same_as_json_c(d);
        /* Averages of small whole numbers, the common case. */
        same_as_json_c((double)(rnd() % 100000) / (double)(1 + rnd() % 97));
        same_as_json_c((double)(int64_t)rnd() / 1024.0);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(chosen_values),
        cmocka_unit_test(not_finite_is_null),
        cmocka_unit_test(random_values),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
