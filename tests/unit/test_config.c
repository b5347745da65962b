/*
 * test_config.c - the config file, -o overrides and their error messages.
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

#include "config.h"

static char path[64];

static void write_conf(const char *text)
{
    int fd;

    snprintf(path, sizeof(path), "/tmp/streamavg-conf-XXXXXX");
    fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);
}

static int load(struct config *cfg, const char *text, char *err)
{
    int rc;

    config_defaults(cfg);
    write_conf(text);
    rc = config_load_file(cfg, path, err, 512);
    unlink(path);
    return rc;
}

static void defaults_are_the_documented_ones(void **state)
{
    struct config cfg;
    char err[512];

    (void)state;
    config_defaults(&cfg);
    assert_int_equal(cfg.http.port, 8080);
    assert_string_equal(cfg.http.bind, "127.0.0.1");
    assert_int_equal(cfg.graphite.port, 2003);
    assert_int_equal(cfg.generator.enabled, 1);
    assert_int_equal(cfg.generator.interval_ms, 1000);
    assert_int_equal(config_check(&cfg, err, sizeof(err)), 0);
}

static void file_with_comments_sets_keys(void **state)
{
    struct config cfg;
    char err[512];

    (void)state;
    assert_int_equal(load(&cfg, "/* c */ {\n // line\n \"http\": "
                          "{\"port\": 9000}, \"generator\": {\"enabled\": "
                          "false, \"interval_ms\": 250}}", err), 0);
    assert_int_equal(cfg.http.port, 9000);
    assert_int_equal(cfg.generator.enabled, 0);
    assert_int_equal(cfg.generator.interval_ms, 250);
    assert_int_equal(cfg.graphite.port, 2003);
}

static void shipped_config_loads(void **state)
{
    struct config cfg;
    char err[512];

    (void)state;
    config_defaults(&cfg);
    assert_int_equal(config_load_file(&cfg, "conf/streamavg.conf", err,
                                      sizeof(err)), 0);
    assert_int_equal(cfg.http.port, 8080);
    assert_int_equal(config_check(&cfg, err, sizeof(err)), 0);
}

static void unknown_key_is_named(void **state)
{
    struct config cfg;
    char err[512];

    (void)state;
    assert_int_equal(load(&cfg, "{\"http\": {\"prot\": 1}}", err), -1);
    assert_non_null(strstr(err, "http.prot"));
    assert_int_equal(load(&cfg, "{\"nosuch\": 1}", err), -1);
    assert_non_null(strstr(err, "nosuch"));
}

static void wrong_type_and_range_are_named(void **state)
{
    struct config cfg;
    char err[512];

    (void)state;
    assert_int_equal(load(&cfg, "{\"http\": {\"port\": \"x\"}}", err), -1);
    assert_non_null(strstr(err, "http.port"));
    assert_non_null(strstr(err, "integer"));
    assert_int_equal(load(&cfg, "{\"http\": {\"port\": 70000}}", err), -1);
    assert_non_null(strstr(err, "65535"));
    assert_int_equal(load(&cfg, "{\"http\": 5}", err), -1);
    assert_non_null(strstr(err, "http"));
    assert_int_equal(load(&cfg, "{\"generator\": {\"enabled\": 1}}", err),
                     -1);
    assert_non_null(strstr(err, "true or false"));
    assert_int_equal(load(&cfg, "{\"http\": {\"port\": 1,}", err), -1);
}

static void overrides_are_strict(void **state)
{
    struct config cfg;
    char err[512];

    (void)state;
    config_defaults(&cfg);
    assert_int_equal(config_set(&cfg, "http.port=9001", err, 512), 0);
    assert_int_equal(cfg.http.port, 9001);
    assert_int_equal(config_set(&cfg, "graphite.port=0", err, 512), 0);
    assert_int_equal(cfg.graphite.port, 0);
    assert_int_equal(config_set(&cfg, "generator.enabled=false", err, 512),
                     0);
    assert_int_equal(cfg.generator.enabled, 0);
    assert_int_equal(config_set(&cfg, "http.port=9x", err, 512), -1);
    assert_non_null(strstr(err, "http.port"));
    assert_int_equal(config_set(&cfg, "no.key=1", err, 512), -1);
    assert_non_null(strstr(err, "no.key"));
    assert_int_equal(config_set(&cfg, "http.port", err, 512), -1);
    assert_int_equal(config_set(&cfg, "generator.enabled=yes", err, 512),
                     -1);
}

static void cross_checks(void **state)
{
    struct config cfg;
    char err[512];

    (void)state;
    config_defaults(&cfg);
    cfg.generator.min = 10;
    cfg.generator.max = 5;
    assert_int_equal(config_check(&cfg, err, sizeof(err)), -1);
    config_defaults(&cfg);
    cfg.graphite.port = cfg.http.port;
    assert_int_equal(config_check(&cfg, err, sizeof(err)), -1);
    config_defaults(&cfg);
    snprintf(cfg.generator.series, sizeof(cfg.generator.series), "a b");
    assert_int_equal(config_check(&cfg, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "generator.series"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(defaults_are_the_documented_ones),
        cmocka_unit_test(file_with_comments_sets_keys),
        cmocka_unit_test(shipped_config_loads),
        cmocka_unit_test(unknown_key_is_named),
        cmocka_unit_test(wrong_type_and_range_are_named),
        cmocka_unit_test(overrides_are_strict),
        cmocka_unit_test(cross_checks),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
