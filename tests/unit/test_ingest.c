/*
 * test_ingest.c - unit tests for the ingest parsers and the line splitter.
 *
 * Expected values are literals worked out by hand.  Inputs are copied into
 * heap buffers of exactly their length (no NUL after them), so that
 * AddressSanitizer catches any read past the length the parser was given.
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

#include <json.h>

#include "exact_input.h"
#include "ingest.h"

#define NOW 1234567890.25

/* ---- Graphite helpers ------------------------------------------------- */

static int graphite(const char *s, size_t n, struct ingest_point *p,
                    char *err)
{
    char *buf = dup_exact(s, n);
    int rc;

    memset(p, 0, sizeof *p);
    err[0] = '\0';
    rc = ingest_parse_graphite(buf, n, NOW, p, err, INGEST_ERR_MAX);
    if (rc == 1) {
        /* The name must point into the input, not be copied. */
        assert_true(p->name >= buf && p->name + p->name_len <= buf + n);
        /* Turn it into a stable pointer into s before buf goes. */
        p->name = s + (p->name - buf);
    }
    if (rc == -1)
        assert_err_clean(err);
    free(buf);
    return rc;
}

#define G(lit, p, err) graphite(lit, sizeof(lit) - 1, p, err)

static void expect_point(const struct ingest_point *p, const char *name,
                         double value, double ts)
{
    assert_int_equal(p->name_len, strlen(name));
    assert_memory_equal(p->name, name, p->name_len);
    assert_true(p->value == value);
    assert_true(p->ts == ts);
}

static void expect_graphite(const char *s, size_t n, const char *name,
                            double value, double ts)
{
    struct ingest_point p;
    char err[INGEST_ERR_MAX];
    int rc = graphite(s, n, &p, err);

    if (rc != 1)
        fail_msg("rejected (%s)", err);
    expect_point(&p, name, value, ts);
}

#define GOK(lit, name, value, ts) \
    expect_graphite(lit, sizeof(lit) - 1, name, value, ts)

/* Rejected, and the sentence contains `word` (describing the problem). */
static void expect_graphite_bad(const char *s, size_t n, const char *word)
{
    struct ingest_point p;
    char err[INGEST_ERR_MAX];
    int rc = graphite(s, n, &p, err);

    if (rc != -1)
        fail_msg("accepted a bad line (rc %d, value %g)", rc, p.value);
    if (word && !strstr(err, word))
        fail_msg("error '%s' lacks '%s'", err, word);
}

#define GBAD(lit, word) expect_graphite_bad(lit, sizeof(lit) - 1, word)

/* ---- series names ----------------------------------------------------- */

static void test_name_ok(void **state)
{
    char name[SERIES_NAME_MAX + 1];

    assert_true(ingest_series_name_ok("a", 1));
    assert_true(ingest_series_name_ok("cpu.load-1:x_Y9", 15));
    assert_false(ingest_series_name_ok("", 0));
    memset(name, 'n', sizeof name);
    assert_true(ingest_series_name_ok(name, SERIES_NAME_MAX));
    assert_false(ingest_series_name_ok(name, SERIES_NAME_MAX + 1));
    /* Only the given length counts: the bad byte after it is not read. */
    assert_true(ingest_series_name_ok("ab cd", 2));
}

static void test_name_bad_bytes(void **state)
{
    static const char bad[] = {
        ' ', '\t', '"', '\'', '{', '}', '[', ']', '\\', '/', '*', ',', '=',
        0x00, 0x01, 0x1b, 0x7f, (char)0x80, (char)0xc3, (char)0xff,
    };
    size_t i;

    for (i = 0; i < sizeof bad; i++) {
        char name[3] = { 'a', bad[i], 'b' };

        assert_false(ingest_series_name_ok(name, 3));
    }
}

/* ---- Graphite --------------------------------------------------------- */

static void test_graphite_basic(void **state)
{
    GOK("cpu.load 1.5 1700000000", "cpu.load", 1.5, 1700000000.0);
    GOK("a 42", "a", 42.0, NOW);
    GOK("a -4.5e2 10", "a", -450.0, 10.0);
    GOK("a +3 0", "a", 3.0, 0.0);
    GOK("a .5", "a", 0.5, NOW);
    GOK("a 5.", "a", 5.0, NOW);
    GOK("a 1E3", "a", 1000.0, NOW);
    GOK("a 2.5e-1", "a", 0.25, NOW);
    GOK("a -0", "a", 0.0, NOW);
    GOK("a 17.25 1700000000.5", "a", 17.25, 1700000000.5);
    /* Underflow is not an error: the nearest double is 0. */
    GOK("a 1e-400", "a", 0.0, NOW);
}

static void test_graphite_blanks(void **state)
{
    struct ingest_point p;
    char err[INGEST_ERR_MAX];

    GOK(" \t cpu  \t 2.25\t\t 1700000000.5 \t", "cpu", 2.25, 1700000000.5);
    GOK("a\t1\t2", "a", 1.0, 2.0);
    GOK("a 1 10\r", "a", 1.0, 10.0);
    GOK("a 1\r", "a", 1.0, NOW);
    GOK("a 1 \t\r", "a", 1.0, NOW);
    GOK("\ta 1", "a", 1.0, NOW);

    assert_int_equal(G("", &p, err), 0);
    assert_int_equal(G("   ", &p, err), 0);
    assert_int_equal(G("\t \t", &p, err), 0);
    assert_int_equal(G("\r", &p, err), 0);
    assert_int_equal(G(" \t\r", &p, err), 0);
    /* Only one trailing CR is a line ending; a second is garbage. */
    GBAD("a 1\r\r", "value");
    /* A CR in the middle is not a separator. */
    GBAD("a\r1", NULL);
}

static void test_graphite_timestamps(void **state)
{
    GOK("a 1", "a", 1.0, NOW);
    GOK("a 1 -1", "a", 1.0, NOW);
    GOK("a 1 -1.0", "a", 1.0, NOW);
    GOK("a 1 -1e0", "a", 1.0, NOW);
    GOK("a 1 0", "a", 1.0, 0.0);
    /* 1700000000123 ms = 1700000000.123 s. */
    GOK("a 1 1700000000123", "a", 1.0, 1700000000.123);
    GOK("a 1 1700000000123.0", "a", 1.0, 1700000000.123);
    /* The threshold itself is still seconds; one more is milliseconds. */
    GOK("a 1 100000000000", "a", 1.0, 100000000000.0);
    GOK("a 1 100000000001", "a", 1.0, 100000000.001);
    GOK("a 1 1e12", "a", 1.0, 1e9);

    GBAD("a 1 -2", "negative");
    GBAD("a 1 -0.5", "negative");
    GBAD("a 1 -1.5", "negative");
    GBAD("a 1 -1700000000", "negative");
    GBAD("a 1 1700000000x", "timestamp");
    GBAD("a 1 17e8abc", "timestamp");
    GOK("a 1 1700000000.", "a", 1.0, 1700000000.0);
    GBAD("a 1 nan", "timestamp");
    GBAD("a 1 inf", "timestamp");
    GBAD("a 1 1e400", "timestamp");
    GBAD("a 1 0x10", "timestamp");
}

static void test_graphite_values_rejected(void **state)
{
    static const char *const bad[] = {
        "nan", "NaN", "NAN", "-nan", "inf", "-Inf", "+INF", "infinity",
        "Infinity", "-INFINITY", "0x10", "0X1p3", "-0x1.8p1", "1e309",
        "-1e309", "1e99999999999", "12abc", "1.2.3", "1e", "1e+", "e5",
        "+", "-", ".", "+.", "--1", "+-1", "1,5", "1_000", "1e5.5", "0b1",
        "\xd9\xa1", "1\xc2\xa0",
    };
    size_t i;

    for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char line[64];
        int n = snprintf(line, sizeof line, "a %s 10", bad[i]);

        expect_graphite_bad(line, (size_t)n, "value");
    }
}

static void test_graphite_overflow_message(void **state)
{
    GBAD("a 1e309", "too large");
    GBAD("a nan", "no nan, inf or hex");
}

static void test_graphite_token_length(void **state)
{
    char line[80];

    /* 64 bytes: "0" x 63 then "1", which is 1. */
    memcpy(line, "a ", 2);
    memset(line + 2, '0', 63);
    line[65] = '1';
    expect_graphite(line, 66, "a", 1.0, NOW);
    /* 65 bytes is one too many, whatever it says. */
    memset(line + 2, '0', 64);
    line[66] = '1';
    expect_graphite_bad(line, 67, "longer than 64");
    /* Same for a timestamp. */
    memcpy(line, "a 1 ", 4);
    memset(line + 4, '0', 64);
    line[68] = '1';
    expect_graphite_bad(line, 69, "timestamp");
}

static void test_graphite_fields(void **state)
{
    GBAD("a", "no value");
    GBAD("  a  \r", "no value");
    GBAD("a 1 2 3", "more than 3");
    GBAD("a 1 2 x", "more than 3");
    GBAD("a 1 2 3 4 5 6", "more than 3");
}

static void test_graphite_names(void **state)
{
    struct ingest_point p;
    char err[INGEST_ERR_MAX];

    GBAD("a\"b 1", "position 2");
    GBAD("'a' 1", "position 1");
    GBAD("{a} 1", "0x7b");
    GBAD("a} 1", "position 2");
    GBAD("a\x01 1", "0x01");
    GBAD("a\x7f 1", "0x7f");
    GBAD("a\x1b[31m 1", "0x1b");
    GBAD("a/b 1", "A-Za-z0-9._:-");
    GBAD("ab\0c 1", "0x00 at position 3");
    GBAD("\0 1", "0x00");
    GBAD("caf\xc3\xa9 1", "0xc3 at position 4");
    GBAD("a\xff 1", "0xff");
    GBAD("a\x80 1", "0x80");

    /* The sentence never carries the input's bytes. */
    assert_int_equal(G("x<script> 1", &p, err), -1);
    assert_null(strstr(err, "<script>"));
    assert_int_equal(G("a 1 1700000000<script>", &p, err), -1);
    assert_null(strstr(err, "script"));
    assert_int_equal(G("a 12abc", &p, err), -1);
    assert_null(strstr(err, "12abc"));
}

static void test_graphite_long_name(void **state)
{
    struct ingest_point p;
    char err[INGEST_ERR_MAX];
    char line[300];

    memset(line, 'n', 255);
    memcpy(line + 255, " 7", 2);
    assert_int_equal(graphite(line, 257, &p, err), 1);
    assert_int_equal(p.name_len, 255);
    assert_true(p.value == 7.0);

    memset(line, 'n', 256);
    memcpy(line + 256, " 7", 2);
    expect_graphite_bad(line, 258, "256 bytes");
}

static void test_graphite_length_respected(void **state)
{
    /* Bytes after len must not be read: "a 12345" seen as "a 1". */
    expect_graphite("a 12345", 3, "a", 1.0, NOW);
    expect_graphite("a 1 17xyz", 6, "a", 1.0, 17.0);
    expect_graphite_bad("ab cd", 2, "no value");
}

/* ---- JSON lines ------------------------------------------------------- */

static int json_line(const char *s, size_t n, struct ingest_point *p,
                     char *err)
{
    char *buf = dup_exact(s, n);
    int rc;

    memset(p, 0, sizeof *p);
    err[0] = '\0';
    rc = ingest_parse_json_line(buf, n, NOW, p, err, INGEST_ERR_MAX);
    if (rc == 1) {
        assert_ptr_equal(p->name, p->name_buf);
        assert_int_equal(p->name_buf[p->name_len], '\0');
    }
    if (rc == -1)
        assert_err_clean(err);
    free(buf);
    return rc;
}

static void expect_json(const char *s, size_t n, const char *name,
                        double value, double ts)
{
    struct ingest_point p;
    char err[INGEST_ERR_MAX];

    if (json_line(s, n, &p, err) != 1)
        fail_msg("rejected (%s)", err);
    expect_point(&p, name, value, ts);
}

static void expect_json_bad(const char *s, size_t n, const char *word)
{
    struct ingest_point p;
    char err[INGEST_ERR_MAX];
    int rc = json_line(s, n, &p, err);

    if (rc != -1)
        fail_msg("accepted a bad JSON line (rc %d)", rc);
    if (word && !strstr(err, word))
        fail_msg("error '%s' lacks '%s'", err, word);
}

#define JOK(lit, name, value, ts) \
    expect_json(lit, sizeof(lit) - 1, name, value, ts)
#define JBAD(lit, word) expect_json_bad(lit, sizeof(lit) - 1, word)

static void test_json_line_basic(void **state)
{
    struct ingest_point p;
    char err[INGEST_ERR_MAX];

    JOK("{\"series\":\"cpu.load\",\"value\":1.5,\"timestamp\":1700000000}",
        "cpu.load", 1.5, 1700000000.0);
    JOK("{\"series\":\"x\",\"value\":42}", "x", 42.0, NOW);
    JOK("{\"value\":-7}", "default", -7.0, NOW);
    JOK("{\"value\":2.5e3,\"timestamp\":null}", "default", 2500.0, NOW);
    JOK("{\"value\":1,\"timestamp\":1700000000123}", "default", 1.0,
        1700000000.123);
    JOK("{\"value\":1,\"timestamp\":1700000000.5}", "default", 1.0,
        1700000000.5);
    JOK("  {\"value\" : 1 }  ", "default", 1.0, NOW);
    /* A CR before the '\n' is JSON whitespace. */
    JOK("{\"value\":1}\r", "default", 1.0, NOW);
    /* Unknown keys are ignored, whatever they hold. */
    JOK("{\"value\":3,\"host\":\"h\",\"tags\":{\"x\":[1,2,{\"y\":null}]}}",
        "default", 3.0, NOW);
    /* Integers beyond 2^53 are rounded to the nearest double. */
    JOK("{\"value\":9007199254740993}", "default", 9007199254740992.0, NOW);
    JOK("{\"value\":-9223372036854775807}", "default",
        -9223372036854775807.0, NOW);

    assert_int_equal(json_line("", 0, &p, err), 0);
    assert_int_equal(json_line(" \t\r", 3, &p, err), 0);
}

static void test_json_line_escaped_name(void **state)
{
    struct ingest_point p;
    char err[INGEST_ERR_MAX];
    static const char line[] = "{\"series\":\"a\\u002eb\",\"value\":1}";

    assert_int_equal(json_line(line, sizeof line - 1, &p, err), 1);
    assert_int_equal(p.name_len, 3);
    assert_string_equal(p.name_buf, "a.b");
}

static void test_json_line_values_rejected(void **state)
{
    JBAD("{\"value\":\"1.5\"}", "number");
    JBAD("{\"value\":true}", "number");
    JBAD("{\"value\":null}", "number");
    JBAD("{\"value\":[1]}", "number");
    JBAD("{\"value\":{}}", "number");
    JBAD("{\"series\":\"a\"}", "missing");
    JBAD("{}", "missing");
    JBAD("{\"value\":NaN}", "finite");
    JBAD("{\"value\":Infinity}", "finite");
    JBAD("{\"value\":-Infinity}", "finite");
    JBAD("{\"value\":1e999}", "finite");
    JBAD("{\"value\":-1e999}", "finite");
    JBAD("{\"value\":100000000000000000000}", "64-bit");
    JBAD("{\"value\":-100000000000000000000}", "64-bit");
    JBAD("{\"value\":nan}", NULL);
    JBAD("{\"value\":0x10}", NULL);
    JBAD("{\"value\":+1}", NULL);
    JBAD("{\"value\":.5}", NULL);
    JBAD("{\"value\":01}", NULL);
}

static void test_json_line_timestamps(void **state)
{
    JBAD("{\"value\":1,\"timestamp\":-1}", "negative");
    JBAD("{\"value\":1,\"timestamp\":-0.5}", "negative");
    JBAD("{\"value\":1,\"timestamp\":\"1700000000\"}", "number");
    JBAD("{\"value\":1,\"timestamp\":NaN}", "finite");
    JBAD("{\"value\":1,\"timestamp\":1e999}", "finite");
    JBAD("{\"value\":1,\"timestamp\":true}", "number");
}

static void test_json_line_names(void **state)
{
    char line[400];
    int n;

    JBAD("{\"series\":\"a b\",\"value\":1}", "0x20 at position 2");
    JBAD("{\"series\":\"a\\\"b\",\"value\":1}", "0x22");
    JBAD("{\"series\":\"{x}\",\"value\":1}", "0x7b");
    JBAD("{\"series\":\"a\\u0000b\",\"value\":1}", "0x00 at position 2");
    JBAD("{\"series\":\"a\\u0001\",\"value\":1}", "0x01");
    JBAD("{\"series\":\"a\tb\",\"value\":1}", "0x09");
    JBAD("{\"series\":\"caf\\u00e9\",\"value\":1}", "0xc3 at position 4");
    JBAD("{\"series\":\"caf\xc3\xa9\",\"value\":1}", "0xc3");
    JBAD("{\"series\":\"\",\"value\":1}", "empty");
    JBAD("{\"series\":null,\"value\":1}", "string");
    JBAD("{\"series\":7,\"value\":1}", "string");
    /* Invalid UTF-8 anywhere is invalid JSON. */
    JBAD("{\"series\":\"a\xff\",\"value\":1}", "valid JSON");
    JBAD("{\"value\":1,\"x\":\"\xc3\"}", "valid JSON");
    /* A raw NUL ends json-c's string; rejected either way. */
    JBAD("{\"series\":\"a\0b\",\"value\":1}", NULL);

    n = snprintf(line, sizeof line, "{\"series\":\"%0255d\",\"value\":1}",
                 0);
    {
        struct ingest_point p;
        char err[INGEST_ERR_MAX];

        assert_int_equal(json_line(line, (size_t)n, &p, err), 1);
        assert_int_equal(p.name_len, 255);
    }
    n = snprintf(line, sizeof line, "{\"series\":\"%0256d\",\"value\":1}",
                 0);
    expect_json_bad(line, (size_t)n, "256 bytes");
}

static void test_json_line_syntax(void **state)
{
    JBAD("{\"value\":1 /* c */}", "valid JSON");
    JBAD("{\"value\":1} // c", "valid JSON");
    JBAD("/* c */ {\"value\":1}", "valid JSON");
    JBAD("{\"value\":1,}", "valid JSON");
    JBAD("{\"value\":1}x", "valid JSON");
    JBAD("{\"value\":1}{\"value\":2}", "valid JSON");
    JBAD("{\"value\":1}\n{\"value\":2}", "valid JSON");
    JBAD("{\"value\":1}\0", "after the JSON value");
    JBAD("{\"value\":1}\0garbage", "after the JSON value");
    JBAD("{\"value\":1", "incomplete");
    JBAD("{\"value\":", "incomplete");
    JBAD("[{\"value\":1}]", "array");
    JBAD("42", "int");
    JBAD("\"x\"", "string");
    JBAD("null", "null");
    JBAD("{\"value\":1,\"x\":[[[[[[[[[[1]]]]]]]]]]}", "nested");
    /* Seven levels in all is the limit. */
    JOK("{\"value\":1,\"x\":[[[[[[1]]]]]]}", "default", 1.0, NOW);
    JBAD("{\"value\":1,\"x\":[[[[[[[1]]]]]]]}", "nested");
}

static void test_point_from_json(void **state)
{
    struct ingest_point p;
    char err[INGEST_ERR_MAX];
    struct json_object *o = json_object_new_object();

    json_object_object_add(o, "series", json_object_new_string("s"));
    json_object_object_add(o, "value", json_object_new_int(5));
    assert_int_equal(ingest_point_from_json(o, NOW, &p, err, sizeof err), 1);
    json_object_put(o);         /* the point outlives the object */
    expect_point(&p, "s", 5.0, NOW);

    assert_int_equal(ingest_point_from_json(NULL, NOW, &p, err, sizeof err),
                     -1);
    assert_err_clean(err);
    o = json_object_new_array();
    assert_int_equal(ingest_point_from_json(o, NOW, &p, err, sizeof err),
                     -1);
    assert_err_clean(err);
    json_object_put(o);
}

/* ---- JSON bodies ------------------------------------------------------ */

struct got_item {
    size_t item_no;
    int ok;
    char name[SERIES_NAME_MAX + 1];
    double value, ts;
    char err[INGEST_ERR_MAX];
};

struct body_log {
    struct got_item items[16];
    size_t n;
    size_t stop_at;             /* item number to stop at, or 0 */
};

static int body_cb(void *arg, size_t item_no, const struct ingest_point *p,
                   const char *err)
{
    struct body_log *log = arg;
    struct got_item *g;

    assert_true(log->n < 16);
    g = &log->items[log->n++];
    memset(g, 0, sizeof *g);
    g->item_no = item_no;
    if (p) {
        assert_null(err);
        assert_true(ingest_series_name_ok(p->name, p->name_len));
        g->ok = 1;
        memcpy(g->name, p->name, p->name_len);
        g->value = p->value;
        g->ts = p->ts;
    } else {
        assert_non_null(err);
        assert_err_clean(err);
        snprintf(g->err, sizeof g->err, "%s", err);
    }
    return log->stop_at == item_no;
}

static long body(const char *s, size_t n, struct body_log *log, char *err)
{
    char *buf = dup_exact(s, n);
    long rc;
    size_t stop_at = log->stop_at;

    memset(log, 0, sizeof *log);
    log->stop_at = stop_at;
    err[0] = '\0';
    rc = ingest_parse_json_body(buf, n, NOW, body_cb, log, err,
                                INGEST_ERR_MAX);
    if (rc < 0) {
        assert_int_equal(rc, -1);
        assert_int_equal(log->n, 0);    /* nothing delivered */
        assert_err_clean(err);
    } else {
        assert_int_equal((size_t)rc, log->n);
    }
    free(buf);
    return rc;
}

#define BODY(lit, log, err) body(lit, sizeof(lit) - 1, log, err)

static void expect_item(const struct got_item *g, size_t item_no,
                        const char *name, double value, double ts)
{
    assert_int_equal(g->item_no, item_no);
    assert_true(g->ok);
    assert_string_equal(g->name, name);
    assert_true(g->value == value);
    assert_true(g->ts == ts);
}

static void test_json_body_array(void **state)
{
    struct body_log log = { .stop_at = 0 };
    char err[INGEST_ERR_MAX];

    assert_int_equal(BODY("[{\"series\":\"a\",\"value\":1},"
                          " {\"series\":\"b\",\"value\":\"2\"},\n"
                          " {\"series\":\"c\",\"value\":3.5,"
                          "\"timestamp\":1700000000123}]", &log, err), 3);
    expect_item(&log.items[0], 1, "a", 1.0, NOW);
    assert_int_equal(log.items[1].item_no, 2);
    assert_false(log.items[1].ok);
    assert_non_null(strstr(log.items[1].err, "number"));
    expect_item(&log.items[2], 3, "c", 3.5, 1700000000.123);

    /* Items that are not objects are rejected one by one too. */
    assert_int_equal(BODY("[{\"value\":1},5,null,\"x\",[],{\"value\":2}]",
                          &log, err), 6);
    expect_item(&log.items[0], 1, "default", 1.0, NOW);
    assert_false(log.items[1].ok);
    assert_false(log.items[2].ok);
    assert_false(log.items[3].ok);
    assert_false(log.items[4].ok);
    expect_item(&log.items[5], 6, "default", 2.0, NOW);
}

static void test_json_body_object(void **state)
{
    struct body_log log = { .stop_at = 0 };
    char err[INGEST_ERR_MAX];

    assert_int_equal(BODY("{\"series\":\"m\",\"value\":10,"
                          "\"timestamp\":5}\r\n", &log, err), 1);
    expect_item(&log.items[0], 1, "m", 10.0, 5.0);

    /* One object that is not a point: one rejected item. */
    assert_int_equal(BODY("{\"value\":\"x\"}", &log, err), 1);
    assert_false(log.items[0].ok);

    assert_int_equal(BODY("[]", &log, err), 0);
    assert_int_equal(BODY(" [ ] ", &log, err), 0);
}

static void test_json_body_rejected(void **state)
{
    struct body_log log = { .stop_at = 0 };
    char err[INGEST_ERR_MAX];

    assert_int_equal(body("", 0, &log, err), -1);
    assert_non_null(strstr(err, "empty"));
    assert_int_equal(BODY(" \r\n\t", &log, err), -1);
    assert_non_null(strstr(err, "empty"));
    assert_int_equal(BODY("[{\"value\":1}, /* c */ {\"value\":2}]", &log,
                          err), -1);
    assert_int_equal(BODY("[{\"value\":1}] // c", &log, err), -1);
    assert_int_equal(BODY("[{\"value\":1},]", &log, err), -1);
    assert_int_equal(BODY("[{\"value\":1}] x", &log, err), -1);
    assert_int_equal(BODY("[{\"value\":1}]\0", &log, err), -1);
    assert_int_equal(BODY("[{\"value\":1}][]", &log, err), -1);
    assert_int_equal(BODY("[{\"value\":1}", &log, err), -1);
    assert_non_null(strstr(err, "incomplete"));
    assert_int_equal(BODY("42", &log, err), -1);
    assert_int_equal(BODY("\"x\"", &log, err), -1);
    assert_int_equal(BODY("null", &log, err), -1);
    assert_int_equal(BODY("[{\"value\":1},{\"value\":2,\"x\":"
                          "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]"
                          "]]]]]]]]]]]]]]]}]", &log, err), -1);
    assert_non_null(strstr(err, "nested"));
    assert_int_equal(BODY("[{\"value\":1},{\"value\":\"\xff\"}]", &log,
                          err), -1);
}

static void test_json_body_deep(void **state)
{
    struct body_log log = { .stop_at = 0 };
    char err[INGEST_ERR_MAX];
    size_t depth = 100000, i;
    char *s = malloc(2 * depth);

    /* Far deeper than any stack would allow if recursion were unbounded. */
    assert_non_null(s);
    for (i = 0; i < depth; i++) {
        s[i] = '[';
        s[2 * depth - 1 - i] = ']';
    }
    assert_int_equal(body(s, 2 * depth, &log, err), -1);
    free(s);
}

static void test_json_body_stop(void **state)
{
    struct body_log log = { .stop_at = 2 };
    char err[INGEST_ERR_MAX];

    assert_int_equal(BODY("[{\"value\":1},{\"value\":2},{\"value\":3}]",
                          &log, err), 2);
    expect_item(&log.items[0], 1, "default", 1.0, NOW);
    expect_item(&log.items[1], 2, "default", 2.0, NOW);
}

/* ---- line splitter ---------------------------------------------------- */

struct got_line {
    size_t line_no;
    int too_long;
    size_t len;
    char text[64];
};

struct line_log {
    struct got_line lines[32];
    size_t n;
    size_t stop_at;             /* line number to stop at, or 0 */
    int stop_rc;
};

static int line_cb(void *arg, size_t line_no, const char *line, size_t len,
                   int too_long)
{
    struct line_log *log = arg;
    struct got_line *g;

    assert_true(log->n < 32);
    g = &log->lines[log->n++];
    memset(g, 0, sizeof *g);
    g->line_no = line_no;
    g->too_long = too_long;
    g->len = len;
    if (too_long) {
        assert_null(line);
        assert_int_equal(len, 0);
    } else {
        assert_true(len < sizeof g->text);
        if (len)
            memcpy(g->text, line, len);
    }
    return log->stop_at == line_no ? log->stop_rc : 0;
}

/* Feed s[0..n) in chunks of the given sizes (cycled), then finish.  Each
 * chunk is an exact-length heap copy.  Checks that the buffer never moves
 * or overfills. */
static void split(size_t max_line, const char *s, size_t n,
                  const size_t *chunks, size_t nchunks, struct line_log *log)
{
    struct line_splitter sp;
    size_t off = 0, k = 0;
    char *buf0;

    memset(log, 0, sizeof *log);
    assert_int_equal(line_splitter_init(&sp, max_line), 0);
    buf0 = sp.buf;
    while (off < n) {
        size_t c = chunks[k++ % nchunks];
        char *piece;

        if (c > n - off)
            c = n - off;
        piece = dup_exact(s + off, c);
        assert_int_equal(line_splitter_feed(&sp, piece, c, line_cb, log), 0);
        free(piece);
        assert_ptr_equal(sp.buf, buf0);
        assert_true(sp.len <= max_line);
        off += c;
    }
    assert_int_equal(line_splitter_finish(&sp, line_cb, log), 0);
    /* A second finish has nothing left to say. */
    assert_int_equal(line_splitter_finish(&sp, line_cb, log), 0);
    line_splitter_free(&sp);
}

static void expect_line(const struct got_line *g, size_t line_no,
                        const char *text)
{
    assert_int_equal(g->line_no, line_no);
    assert_false(g->too_long);
    assert_int_equal(g->len, strlen(text));
    assert_memory_equal(g->text, text, g->len);
}

static void expect_too_long(const struct got_line *g, size_t line_no)
{
    assert_int_equal(g->line_no, line_no);
    assert_true(g->too_long);
}

static void test_split_across_reads(void **state)
{
    static const char s[] = "cpu 1\nmem 2\n\nlast 3";
    static const size_t whole[] = { sizeof s - 1 };
    static const size_t ones[] = { 1 };
    static const size_t odd[] = { 4, 1, 7, 2 };
    const size_t *plans[] = { whole, ones, odd };
    const size_t plan_len[] = { 1, 1, 4 };
    struct line_log log;
    size_t i;

    for (i = 0; i < 3; i++) {
        split(16, s, sizeof s - 1, plans[i], plan_len[i], &log);
        assert_int_equal(log.n, 4);
        expect_line(&log.lines[0], 1, "cpu 1");
        expect_line(&log.lines[1], 2, "mem 2");
        expect_line(&log.lines[2], 3, "");
        expect_line(&log.lines[3], 4, "last 3");
    }
}

static void test_split_exact_max(void **state)
{
    static const char s[] = "12345678\n123456789\nabc\n1234567\r\n12345678";
    static const size_t ones[] = { 1 };
    static const size_t whole[] = { sizeof s - 1 };
    struct line_log log;
    int pass;

    for (pass = 0; pass < 2; pass++) {
        split(8, s, sizeof s - 1, pass ? ones : whole, 1, &log);
        assert_int_equal(log.n, 5);
        expect_line(&log.lines[0], 1, "12345678");
        expect_too_long(&log.lines[1], 2);
        expect_line(&log.lines[2], 3, "abc");
        /* The CR is part of the line and counts towards max_line. */
        expect_line(&log.lines[3], 4, "1234567\r");
        expect_line(&log.lines[4], 5, "12345678");
    }
}

static void test_split_far_over(void **state)
{
    size_t big = 100000, n;
    char *s = malloc(big + 64);
    static const size_t ones[] = { 1 };
    static const size_t whole[] = { SIZE_MAX };
    static const size_t mixed[] = { 4096, 3, 65536, 17 };
    struct line_log log;
    int pass;

    assert_non_null(s);
    memcpy(s, "a 1\n", 4);
    memset(s + 4, 'x', big);
    n = 4 + big;
    memcpy(s + n, "\nb 2\nc 3\n", 9);
    n += 9;
    for (pass = 0; pass < 3; pass++) {
        split(16, s, n, pass == 0 ? whole : pass == 1 ? ones : mixed,
              pass == 2 ? 4 : 1, &log);
        assert_int_equal(log.n, 4);
        expect_line(&log.lines[0], 1, "a 1");
        expect_too_long(&log.lines[1], 2);      /* reported once */
        expect_line(&log.lines[2], 3, "b 2");
        expect_line(&log.lines[3], 4, "c 3");
    }
    free(s);
}

static void test_split_finish_over_long(void **state)
{
    static const char s[] = "ok\nxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx";
    static const size_t ones[] = { 1 };
    static const size_t whole[] = { sizeof s - 1 };
    struct line_log log;
    int pass;

    for (pass = 0; pass < 2; pass++) {
        split(8, s, sizeof s - 1, pass ? ones : whole, 1, &log);
        assert_int_equal(log.n, 2);
        expect_line(&log.lines[0], 1, "ok");
        expect_too_long(&log.lines[1], 2);
    }
}

/* Every chunking of a hostile stream gives the calls of one big feed. */
static void test_split_all_chunkings(void **state)
{
    static const char s[] =
        "a 1\r\n\r\n\tb\t2  \r\nzzzzzzzzzzzzzzzzzzzzzz\n\nq\0r 3\n"
        "yyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyy\nend";
    static const size_t whole[] = { sizeof s - 1 };
    struct line_log ref, log;
    size_t c, i;
    unsigned seed = 12345;

    split(12, s, sizeof s - 1, whole, 1, &ref);
    assert_int_equal(ref.n, 8);
    expect_line(&ref.lines[0], 1, "a 1\r");
    expect_line(&ref.lines[1], 2, "\r");
    expect_line(&ref.lines[2], 3, "\tb\t2  \r");
    expect_too_long(&ref.lines[3], 4);
    expect_line(&ref.lines[4], 5, "");
    assert_int_equal(ref.lines[5].len, 5);
    assert_memory_equal(ref.lines[5].text, "q\0r 3", 5);
    expect_too_long(&ref.lines[6], 7);
    expect_line(&ref.lines[7], 8, "end");

    for (c = 1; c <= sizeof s; c++) {
        split(12, s, sizeof s - 1, &c, 1, &log);
        assert_int_equal(log.n, ref.n);
        assert_memory_equal(log.lines, ref.lines, sizeof ref.lines[0] *
                            ref.n);
    }
    for (i = 0; i < 200; i++) {
        size_t plan[8];
        size_t k;

        for (k = 0; k < 8; k++) {
            seed = seed * 1103515245u + 12345u;
            plan[k] = 1 + (seed >> 16) % 20;
        }
        split(12, s, sizeof s - 1, plan, 8, &log);
        assert_int_equal(log.n, ref.n);
        assert_memory_equal(log.lines, ref.lines, sizeof ref.lines[0] *
                            ref.n);
    }
}

static void test_split_stop(void **state)
{
    struct line_splitter sp;
    struct line_log log;
    static const char s[] = "a\nb\nc\n";

    memset(&log, 0, sizeof log);
    log.stop_at = 2;
    log.stop_rc = 7;
    assert_int_equal(line_splitter_init(&sp, 8), 0);
    assert_int_equal(line_splitter_feed(&sp, s, sizeof s - 1, line_cb, &log),
                     7);
    assert_int_equal(log.n, 2);
    expect_line(&log.lines[1], 2, "b");
    line_splitter_free(&sp);

    assert_int_equal(line_splitter_init(&sp, 0), -1);
}

/* The splitter and the Graphite parser together, as a stream uses them. */
struct graphite_log {
    struct ingest_point pts[8];
    char names[8][16];
    size_t n, rejected, too_long;
};

static int graphite_cb(void *arg, size_t line_no, const char *line,
                       size_t len, int too_long)
{
    struct graphite_log *log = arg;
    struct ingest_point p;
    char err[INGEST_ERR_MAX];
    int rc;

    if (too_long) {
        log->too_long++;
        return 0;
    }
    rc = ingest_parse_graphite(line, len, NOW, &p, err, sizeof err);
    if (rc == 1) {
        assert_true(log->n < 8 && p.name_len < 16);
        memcpy(log->names[log->n], p.name, p.name_len);
        log->pts[log->n++] = p;
    } else if (rc < 0) {
        assert_err_clean(err);
        log->rejected++;
    }
    return 0;
}

static void test_split_graphite(void **state)
{
    static const char s[] =
        "a 1\r\n\tb\t2  \r\n\r\n  \nbad line here x\nc 3 1700000000123\r\n"
        "dddddddddddddddddddddddddddddddddddddddddddd 4\ne -5.5";
    struct line_splitter sp;
    struct graphite_log log;
    size_t i;

    memset(&log, 0, sizeof log);
    assert_int_equal(line_splitter_init(&sp, 32), 0);
    for (i = 0; i < sizeof s - 1; i++)
        assert_int_equal(line_splitter_feed(&sp, s + i, 1, graphite_cb,
                                            &log), 0);
    assert_int_equal(log.n, 3);
    assert_int_equal(line_splitter_finish(&sp, graphite_cb, &log), 0);
    line_splitter_free(&sp);

    assert_int_equal(log.n, 4);
    assert_int_equal(log.rejected, 1);
    assert_int_equal(log.too_long, 1);
    assert_string_equal(log.names[0], "a");
    assert_true(log.pts[0].value == 1.0 && log.pts[0].ts == NOW);
    assert_string_equal(log.names[1], "b");
    assert_true(log.pts[1].value == 2.0);
    assert_string_equal(log.names[2], "c");
    assert_true(log.pts[2].value == 3.0);
    assert_true(log.pts[2].ts == 1700000000.123);
    assert_string_equal(log.names[3], "e");
    assert_true(log.pts[3].value == -5.5);
}

/* JSON lines through the splitter: CRLF endings are fine. */
static int json_cb(void *arg, size_t line_no, const char *line, size_t len,
                   int too_long)
{
    double *sum = arg;
    struct ingest_point p;
    char err[INGEST_ERR_MAX];

    assert_false(too_long);
    if (ingest_parse_json_line(line, len, NOW, &p, err, sizeof err) == 1)
        *sum += p.value;
    return 0;
}

static void test_split_json_crlf(void **state)
{
    static const char s[] = "{\"value\":1}\r\n{\"value\":2.5}\r\n\r\n"
                            "{\"value\":4}";
    struct line_splitter sp;
    double sum = 0;

    assert_int_equal(line_splitter_init(&sp, 64), 0);
    assert_int_equal(line_splitter_feed(&sp, s, sizeof s - 1, json_cb, &sum),
                     0);
    assert_int_equal(line_splitter_finish(&sp, json_cb, &sum), 0);
    line_splitter_free(&sp);
    assert_true(sum == 7.5);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_name_ok),
        cmocka_unit_test(test_name_bad_bytes),
        cmocka_unit_test(test_graphite_basic),
        cmocka_unit_test(test_graphite_blanks),
        cmocka_unit_test(test_graphite_timestamps),
        cmocka_unit_test(test_graphite_values_rejected),
        cmocka_unit_test(test_graphite_overflow_message),
        cmocka_unit_test(test_graphite_token_length),
        cmocka_unit_test(test_graphite_fields),
        cmocka_unit_test(test_graphite_names),
        cmocka_unit_test(test_graphite_long_name),
        cmocka_unit_test(test_graphite_length_respected),
        cmocka_unit_test(test_json_line_basic),
        cmocka_unit_test(test_json_line_escaped_name),
        cmocka_unit_test(test_json_line_values_rejected),
        cmocka_unit_test(test_json_line_timestamps),
        cmocka_unit_test(test_json_line_names),
        cmocka_unit_test(test_json_line_syntax),
        cmocka_unit_test(test_point_from_json),
        cmocka_unit_test(test_json_body_array),
        cmocka_unit_test(test_json_body_object),
        cmocka_unit_test(test_json_body_rejected),
        cmocka_unit_test(test_json_body_deep),
        cmocka_unit_test(test_json_body_stop),
        cmocka_unit_test(test_split_across_reads),
        cmocka_unit_test(test_split_exact_max),
        cmocka_unit_test(test_split_far_over),
        cmocka_unit_test(test_split_finish_over_long),
        cmocka_unit_test(test_split_all_chunkings),
        cmocka_unit_test(test_split_stop),
        cmocka_unit_test(test_split_graphite),
        cmocka_unit_test(test_split_json_crlf),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
