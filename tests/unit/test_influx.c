/*
 * test_influx.c - unit tests for the InfluxDB line protocol parser.
 *
 * Expected names and values are literals worked out by hand from the
 * rules in influx.h.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "exact_input.h"
#include "influx.h"

#define NOW 1234567890.25
#define MAXP 16

struct got {
    size_t n;
    char name[MAXP][SERIES_NAME_MAX + 1];
    double value[MAXP], ts[MAXP];
    size_t stop_after;      /* 0: never stop */
};

static int collect(void *arg, const struct ingest_point *p)
{
    struct got *g = arg;

    assert_true(g->n < MAXP);
    assert_true(ingest_series_name_ok(p->name, p->name_len));
    memcpy(g->name[g->n], p->name, p->name_len);
    g->name[g->n][p->name_len] = '\0';
    g->value[g->n] = p->value;
    g->ts[g->n] = p->ts;
    g->n++;
    return g->stop_after && g->n == g->stop_after;
}

/* Parse s[0..n) at precision prec; the points land in g. */
static int parse_prec(const char *s, size_t n, const char *prec,
                      struct got *g, char *err)
{
    struct influx_precision p;
    char *buf = dup_exact(s, n);
    int rc;

    assert_int_equal(influx_precision_parse(prec, strlen(prec), &p), 0);
    memset(g, 0, sizeof(*g));
    err[0] = '\0';
    rc = influx_parse_line(buf, n, NOW, &p, collect, g, err, INGEST_ERR_MAX);
    free(buf);
    if (rc < 0) {
        assert_int_equal(rc, -1);
        assert_int_equal(g->n, 0);      /* a bad line gives nothing */
        assert_err_clean(err);
    } else {
        assert_int_equal((size_t)rc, g->n);
    }
    return rc;
}

#define P(lit, g, err) parse_prec(lit, sizeof(lit) - 1, "", g, err)
#define PP(lit, prec, g, err) parse_prec(lit, sizeof(lit) - 1, prec, g, err)

static void test_fields_and_sorted_tags(void **state)
{
    struct got g;
    char err[INGEST_ERR_MAX];

    assert_int_equal(P("cpu,region=west,host=a usage=0.5,idle=3i,n=7u,"
                       "ok=t,msg=\"x y, z=\\\"q\\\"\" 1700000000123456789",
                       &g, err), 3);
    assert_string_equal(g.name[0], "cpu.usage.host:a.region:west");
    assert_string_equal(g.name[1], "cpu.idle.host:a.region:west");
    assert_string_equal(g.name[2], "cpu.n.host:a.region:west");
    assert_true(g.value[0] == 0.5 && g.value[1] == 3 && g.value[2] == 7);
    assert_true(fabs(g.ts[0] - 1700000000.123456789) < 1e-6);
    /* The same tags in the other order name the same series. */
    assert_int_equal(P("cpu,host=a,region=west usage=1", &g, err), 1);
    assert_string_equal(g.name[0], "cpu.usage.host:a.region:west");
    assert_true(g.ts[0] == NOW);
}

static void test_only_strings_and_booleans(void **state)
{
    struct got g;
    char err[INGEST_ERR_MAX];

    assert_int_equal(P("m s=\"a\",b=false,c=TRUE,d=F", &g, err), 0);
}

static void test_precisions(void **state)
{
    struct got g;
    char err[INGEST_ERR_MAX];
    struct influx_precision p;

    assert_int_equal(PP("m v=1 1700000000", "s", &g, err), 1);
    assert_true(g.ts[0] == 1700000000.0);
    assert_int_equal(PP("m v=1 1700000000500", "ms", &g, err), 1);
    assert_true(g.ts[0] == 1700000000.5);
    assert_int_equal(PP("m v=1 1700000000250000", "u", &g, err), 1);
    assert_true(g.ts[0] == 1700000000.25);
    assert_int_equal(PP("m v=1 1700000000250000", "us", &g, err), 1);
    assert_int_equal(PP("m v=1 28333333", "m", &g, err), 1);
    assert_true(g.ts[0] == 28333333.0 * 60);
    assert_int_equal(PP("m v=1 472222", "h", &g, err), 1);
    assert_true(g.ts[0] == 472222.0 * 3600);
    assert_int_equal(PP("m v=1 1700000000000000000", "ns", &g, err), 1);
    assert_true(g.ts[0] == 1700000000.0);
    assert_int_equal(influx_precision_parse("x", 1, &p), -1);
    assert_int_equal(influx_precision_parse("sec", 3, &p), -1);
}

static void test_millisecond_rule(void **state)
{
    struct got g;
    char err[INGEST_ERR_MAX];

    /* Milliseconds sent as seconds: above 1e11 s, so divided by 1000. */
    assert_int_equal(PP("m v=1 1700000000500", "s", &g, err), 1);
    assert_true(g.ts[0] == 1700000000.5);
}

static void test_bad_timestamps(void **state)
{
    struct got g;
    char err[INGEST_ERR_MAX];

    assert_int_equal(P("m v=1 -5", &g, err), -1);
    assert_non_null(strstr(err, "timestamp"));
    assert_int_equal(P("m v=1 17x", &g, err), -1);
    assert_int_equal(P("m v=1 1.5", &g, err), -1);
    assert_int_equal(P("m v=1 1700 junk", &g, err), -1);
    assert_int_equal(P("m v=1 99999999999999999999", &g, err), -1);
    assert_int_equal(P("m v=1 -1", &g, err), -1);
}

static void test_bad_values(void **state)
{
    static const char *const bad[] = {
        "m v=nan", "m v=NaN", "m v=inf", "m v=-Infinity", "m v=0x10",
        "m v=1e400", "m v=9223372036854775808i", "m v=-1u", "m v=1.5i",
        "m v=18446744073709551616u", "m v=", "m v=abc", "m v=1,w=2x",
        "m v=\"open", "m v=1 2 3",
    };
    struct got g;
    char err[INGEST_ERR_MAX];
    size_t i;

    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_int_equal(parse_prec(bad[i], strlen(bad[i]), "", &g, err), -1);
    assert_int_equal(P("m v=-9223372036854775808i,u=18446744073709551615u",
                       &g, err), 2);
    assert_true(g.value[0] == -9223372036854775808.0);
    assert_true(g.value[1] == 18446744073709551615.0);
}

static void test_structure_errors(void **state)
{
    static const char *const bad[] = {
        "m", "m ", ",t=1 v=1", "m,t v=1", "m,t= v=1", "m,=x v=1",
        "m v", "m =1", "m, v=1",
    };
    struct got g;
    char err[INGEST_ERR_MAX];
    size_t i;

    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_int_equal(parse_prec(bad[i], strlen(bad[i]), "", &g, err), -1);
}

static void test_blanks_crlf_comments(void **state)
{
    struct got g;
    char err[INGEST_ERR_MAX];

    assert_int_equal(P("", &g, err), 0);
    assert_int_equal(P(" \t \r", &g, err), 0);
    assert_int_equal(P("# a comment v=1", &g, err), 0);
    assert_int_equal(P("  m \t v=2  \t 1700000000000000000 \r", &g, err), 1);
    assert_string_equal(g.name[0], "m.v");
    assert_true(g.value[0] == 2 && g.ts[0] == 1700000000.0);
}

static void test_escapes_and_odd_bytes(void **state)
{
    struct got g;
    char err[INGEST_ERR_MAX];

    assert_int_equal(P("my\\ meas\\,x,t\\=k=a\\ b\\,c f\\ 1=1", &g, err), 1);
    assert_string_equal(g.name[0], "my_meas_x.f_1.t_k:a_b_c");
    /* Quotes, braces, slashes and UTF-8 become '_', byte by byte. */
    assert_int_equal(P("m,path=/v{\"x\"},who=\xc3\xa9 v=1", &g, err), 1);
    assert_string_equal(g.name[0], "m.v.path:_v__x__.who:__");
    /* Invalid UTF-8 too. */
    assert_int_equal(P("m\xff\xfe v=1", &g, err), 1);
    assert_string_equal(g.name[0], "m__.v");
}

static void test_control_bytes_rejected(void **state)
{
    struct got g;
    char err[INGEST_ERR_MAX];

    assert_int_equal(parse_prec("m\0x v=1", 7, "", &g, err), -1);
    assert_non_null(strstr(err, "series name"));
    assert_int_equal(P("m,t=a\x01 v=1", &g, err), -1);
    assert_int_equal(P("m v\x7f=1", &g, err), -1);
    assert_int_equal(P("m\\\tx v=1", &g, err), -1);
}

static void test_name_length(void **state)
{
    char line[600], err[INGEST_ERR_MAX];
    struct got g;
    size_t n;

    /* measurement(250) + ".v" = 252 bytes: fits; 255 is the limit. */
    memset(line, 'a', 250);
    n = 250 + (size_t)sprintf(line + 250, " v=1");
    assert_int_equal(parse_prec(line, n, "", &g, err), 1);
    assert_int_equal(strlen(g.name[0]), 252);
    /* A tag pushes it over. */
    n = 250 + (size_t)sprintf(line + 250, ",k=vv v=1");
    assert_int_equal(parse_prec(line, n, "", &g, err), -1);
    assert_non_null(strstr(err, "series name"));
}

static void test_bad_last_field_costs_the_line(void **state)
{
    struct got g;
    char err[INGEST_ERR_MAX];

    assert_int_equal(P("m a=1,b=2,c=nan", &g, err), -1);
}

static void test_stop(void **state)
{
    struct influx_precision p = {1, 1e9};
    const char line[] = "m a=1,b=2,c=3";
    char err[INGEST_ERR_MAX];
    struct got g;

    memset(&g, 0, sizeof(g));
    g.stop_after = 2;
    assert_int_equal(influx_parse_line(line, sizeof(line) - 1, NOW, &p,
                                       collect, &g, err, sizeof(err)), 2);
}

static void test_limits(void **state)
{
    char line[8192], err[INGEST_ERR_MAX];
    struct got g;
    size_t n = (size_t)sprintf(line, "m"), i;

    for (i = 0; i <= INFLUX_MAX_TAGS; i++)
        n += (size_t)sprintf(line + n, ",t%zu=x", i);
    n += (size_t)sprintf(line + n, " v=1");
    assert_int_equal(parse_prec(line, n, "", &g, err), -1);
    assert_non_null(strstr(err, "tags"));

    n = (size_t)sprintf(line, "m ");
    for (i = 0; i <= INFLUX_MAX_FIELDS; i++)
        n += (size_t)sprintf(line + n, "%sf%zu=1", i ? "," : "", i);
    assert_int_equal(parse_prec(line, n, "", &g, err), -1);
    assert_non_null(strstr(err, "fields"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fields_and_sorted_tags),
        cmocka_unit_test(test_only_strings_and_booleans),
        cmocka_unit_test(test_precisions),
        cmocka_unit_test(test_millisecond_rule),
        cmocka_unit_test(test_bad_timestamps),
        cmocka_unit_test(test_bad_values),
        cmocka_unit_test(test_structure_errors),
        cmocka_unit_test(test_blanks_crlf_comments),
        cmocka_unit_test(test_escapes_and_odd_bytes),
        cmocka_unit_test(test_control_bytes_rejected),
        cmocka_unit_test(test_name_length),
        cmocka_unit_test(test_bad_last_field_costs_the_line),
        cmocka_unit_test(test_stop),
        cmocka_unit_test(test_limits),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
