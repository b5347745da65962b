/*
 * test_access.c - unit tests for the ingest token and the source address
 * list.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>

#include "access.h"
#include "config.h"

static int allows(const struct access_list *l, const char *addr)
{
    struct sockaddr_in6 a6;
    struct sockaddr_in a4;

    memset(&a6, 0, sizeof(a6));
    memset(&a4, 0, sizeof(a4));
    if (strchr(addr, ':')) {
        a6.sin6_family = AF_INET6;
        assert_int_equal(inet_pton(AF_INET6, addr, &a6.sin6_addr), 1);
        return access_list_allows(l, (struct sockaddr *)&a6, sizeof(a6));
    }
    a4.sin_family = AF_INET;
    assert_int_equal(inet_pton(AF_INET, addr, &a4.sin_addr), 1);
    return access_list_allows(l, (struct sockaddr *)&a4, sizeof(a4));
}

static void test_list(void **state)
{
    struct access_list l;
    char err[200];

    assert_int_equal(access_list_parse("", &l, err, sizeof(err)), 0);
    assert_true(allows(&l, "203.0.113.9"));
    assert_int_equal(access_list_parse(" 127.0.0.1, 10.1.0.0/16 ::1\t"
                                       "fd00::/8,192.168.1.1/31", &l, err,
                                       sizeof(err)), 0);
    assert_int_equal(l.n, 5);
    assert_true(allows(&l, "127.0.0.1"));
    assert_false(allows(&l, "127.0.0.2"));
    assert_true(allows(&l, "10.1.255.3"));
    assert_false(allows(&l, "10.2.0.1"));
    assert_true(allows(&l, "192.168.1.0"));
    assert_false(allows(&l, "192.168.1.2"));
    assert_true(allows(&l, "::1"));
    assert_true(allows(&l, "fdab::1"));
    assert_false(allows(&l, "fe80::1"));
    /* IPv4-mapped IPv6 (a dual-stack socket) counts as IPv4. */
    assert_true(allows(&l, "::ffff:127.0.0.1"));
    assert_false(allows(&l, "::ffff:127.0.0.3"));
}

static void test_list_errors(void **state)
{
    static const char *const bad[] = {
        "localhost", "10.0.0.0/33", "::1/129", "1.2.3", "1.2.3.4/",
        "1.2.3.4/x", "1.2.3.4 nope",
    };
    struct access_list l;
    char err[200];
    size_t i;

    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        err[0] = '\0';
        assert_int_equal(access_list_parse(bad[i], &l, err, sizeof(err)),
                         -1);
        assert_non_null(strstr(err, "entry"));
    }
}

static void test_token(void **state)
{
    assert_true(access_token_equal("s3cret", 6, "s3cret", 6));
    assert_false(access_token_equal("s3cret", 6, "s3creT", 6));
    assert_false(access_token_equal("s3cret", 6, "s3cre", 5));
    assert_false(access_token_equal("s3cret", 6, "s3crets3cret", 12));
    assert_false(access_token_equal("", 0, "", 0));
    assert_true(access_bearer_ok("tok", "Bearer tok", 10));
    assert_true(access_bearer_ok("tok", "bearer  tok", 11));
    assert_false(access_bearer_ok("tok", "Basic tok", 9));
    assert_false(access_bearer_ok("tok", "Bearer tok2", 11));
    assert_false(access_bearer_ok("tok", "Bearer", 6));
}

static void test_config_check(void **state)
{
    struct config cfg;
    char err[300];

    config_defaults(&cfg);
    assert_int_equal(access_config_check(&cfg, err, sizeof(err)), 0);
    strcpy(cfg.ingest.token, "has space");
    assert_int_equal(access_config_check(&cfg, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "ingest.token"));
    config_defaults(&cfg);
    strcpy(cfg.ingest.allow_from, "10.0.0.0/99");
    assert_int_equal(access_config_check(&cfg, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "ingest.allow_from"));
    config_defaults(&cfg);
    cfg.statsd.port = cfg.graphite.port;
    assert_int_equal(access_config_check(&cfg, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "statsd.port"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_list),
        cmocka_unit_test(test_list_errors),
        cmocka_unit_test(test_token),
        cmocka_unit_test(test_config_check),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
