/*
 * test_statsd.c - unit tests for the StatsD line parser.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "exact_input.h"
#include "ingest_stats.h"
#include "statsd.h"

static int parse(const char *s, struct statsd_metric *m, char *err)
{
    size_t n = strlen(s);
    char *buf = dup_exact(s, n);
    int rc;

    memset(m, 0, sizeof(*m));
    err[0] = '\0';
    rc = statsd_parse_line(buf, n, m, err, INGEST_ERR_MAX);
    if (rc == 1) {
        assert_true(m->name >= buf && m->name + m->name_len <= buf + n);
        m->name = s + (m->name - buf);
    }
    if (rc == -1)
        assert_err_clean(err);
    free(buf);
    return rc;
}

static void expect(const char *line, const char *name, enum statsd_type t,
                   double v)
{
    struct statsd_metric m;
    char err[INGEST_ERR_MAX];

    assert_int_equal(parse(line, &m, err), 1);
    assert_int_equal(m.name_len, strlen(name));
    assert_memory_equal(m.name, name, m.name_len);
    assert_int_equal(m.type, t);
    assert_true(m.value == v);
}

static void test_gauges(void **state)
{
    expect("temp:21.5|g", "temp", STATSD_GAUGE, 21.5);
    expect("temp:+3|g", "temp", STATSD_GAUGE_DELTA, 3);
    expect("temp:-2.5|g", "temp", STATSD_GAUGE_DELTA, -2.5);
    /* The sample rate means nothing to a gauge. */
    expect("temp:7|g|@0.5", "temp", STATSD_GAUGE, 7);
}

static void test_counters(void **state)
{
    expect("hits:1|c", "hits", STATSD_COUNTER, 1);
    expect("hits:3|c|@0.25", "hits", STATSD_COUNTER, 12);
    expect("hits:-2|c", "hits", STATSD_COUNTER, -2);
    expect("hits:1|c|#env:prod,a:b", "hits", STATSD_COUNTER, 1);
    expect("hits:1|c|@0.5|#env:prod", "hits", STATSD_COUNTER, 2);
    expect("  a.b-c_d:1|c \r", "a.b-c_d", STATSD_COUNTER, 1);
}

static void reject(const char *line, enum reject_reason why)
{
    struct statsd_metric m;
    char err[INGEST_ERR_MAX];

    assert_int_equal(parse(line, &m, err), -1);
    assert_int_equal(ingest_reason_of(err), why);
}

static void test_rejections(void **state)
{
    reject("t:1|ms", REJ_TYPE);
    reject("t:1|h", REJ_TYPE);
    reject("t:1|s", REJ_TYPE);
    reject("t:1|d", REJ_TYPE);
    reject("t:1|", REJ_TYPE);
    reject("t:1|cc", REJ_TYPE);
    reject("t:nan|g", REJ_VALUE);
    reject("t:inf|c", REJ_VALUE);
    reject("t:0x10|c", REJ_VALUE);
    reject("t:1e999|g", REJ_VALUE);
    reject("t:|c", REJ_VALUE);
    reject("t:1|c|@0", REJ_VALUE);
    reject("t:1|c|@1.5", REJ_VALUE);
    reject("t:1|c|@x", REJ_VALUE);
    reject("t:1e308|c|@1e-10", REJ_VALUE);
    reject("t:1|c|x", REJ_SYNTAX);
    reject("t:1|c|", REJ_SYNTAX);
    reject("t 1", REJ_SYNTAX);
    reject("t:1", REJ_SYNTAX);
    reject(":1|c", REJ_NAME);
    reject("a b:1|c", REJ_NAME);
    reject("a\"b:1|c", REJ_NAME);
    reject("{a}:1|c", REJ_NAME);
    reject("a\x01:1|c", REJ_NAME);
    reject("\xff\xfe:1|c", REJ_NAME);
    /* Graphite sent to StatsD. */
    reject("cpu.load 0.5 1700000000", REJ_SYNTAX);
}

static void test_blank_and_nul(void **state)
{
    struct statsd_metric m;
    char err[INGEST_ERR_MAX];

    assert_int_equal(parse("", &m, err), 0);
    assert_int_equal(parse(" \t\r", &m, err), 0);
    assert_int_equal(statsd_parse_line("a\0b:1|c", 7, &m, err,
                                       sizeof(err)), -1);
    assert_int_equal(statsd_parse_line("ab:1|c\0", 7, &m, err,
                                       sizeof(err)), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_gauges),
        cmocka_unit_test(test_counters),
        cmocka_unit_test(test_rejections),
        cmocka_unit_test(test_blank_and_nul),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
