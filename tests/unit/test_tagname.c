/*
 * test_tagname.c - unit tests for tagged series names: Graphite 1.1 tagged
 * paths, alone and through the Graphite line parser.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "exact_input.h"
#include "tagname.h"

/* The name graphite_tagged_name() gives s, or NULL (with err checked). */
static const char *tagged(const char *s, char *out)
{
    size_t n = strlen(s);
    char *buf = dup_exact(s, n), err[INGEST_ERR_MAX] = "";
    int rc = graphite_tagged_name(buf, n, out, err, sizeof(err));

    free(buf);
    if (rc < 0) {
        assert_int_equal(rc, -1);
        assert_err_clean(err);
        assert_non_null(strstr(err, "series name"));
        return NULL;
    }
    assert_int_equal((size_t)rc, strlen(out));
    assert_true(ingest_series_name_ok(out, (size_t)rc));
    return out;
}

static void test_tags_sorted_and_mapped(void **state)
{
    char out[SERIES_NAME_MAX + 1];

    assert_string_equal(tagged("cpu.load;host=a;dc=x", out),
                        "cpu.load.dc:x.host:a");
    assert_string_equal(tagged("cpu.load;dc=x;host=a", out),
                        "cpu.load.dc:x.host:a");
    assert_string_equal(tagged("m;os=Debian/GNU{12};k\"=v", out),
                        "m.k_:v.os:Debian_GNU_12_");
    /* Equal keys keep their order. */
    assert_string_equal(tagged("m;k=2;a=0;k=1", out), "m.a:0.k:2.k:1");
}

static void test_bad_tagged_paths(void **state)
{
    static const char *const bad[] = {
        "a;", "a;k", "a;=v", "a;k=", "a;k=v;", ";k=v", "a/b;k=v",
        "a;k=v\x01", "a;k\x7f=v",
    };
    char out[SERIES_NAME_MAX + 1], big[400];
    size_t i;

    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_null(tagged(bad[i], out));
    memset(big, 'a', 250);
    strcpy(big + 250, ";key=value");
    assert_null(tagged(big, out));
}

static void test_through_the_graphite_parser(void **state)
{
    const char line[] = "cpu;host=a;dc=x 1.5 1700000000";
    char *buf = dup_exact(line, sizeof(line) - 1), err[INGEST_ERR_MAX];
    struct ingest_point p;

    assert_int_equal(ingest_parse_graphite(buf, sizeof(line) - 1, 1.0, &p,
                                           err, sizeof(err)), 1);
    assert_ptr_equal(p.name, p.name_buf);
    assert_int_equal(p.name_len, strlen("cpu.dc:x.host:a"));
    assert_memory_equal(p.name, "cpu.dc:x.host:a", p.name_len);
    assert_true(p.value == 1.5 && p.ts == 1700000000.0);
    free(buf);
    assert_int_equal(ingest_parse_graphite("c;k 1", 5, 1.0, &p, err,
                                           sizeof(err)), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tags_sorted_and_mapped),
        cmocka_unit_test(test_bad_tagged_paths),
        cmocka_unit_test(test_through_the_graphite_parser),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
