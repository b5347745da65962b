/*
 * exact_input.h - helpers the parser tests share: inputs copied into heap
 * buffers of exactly their length (nothing readable after them, so
 * AddressSanitizer catches a read past the length a parser was given), and
 * the check every error sentence must pass.  Include after cmocka.h.
 */
#ifndef STREAMAVG_TEST_EXACT_INPUT_H
#define STREAMAVG_TEST_EXACT_INPUT_H

#include <stdlib.h>
#include <string.h>

#include "ingest.h"

/* An exact-length heap copy of s[0..n): nothing readable after it. */
static inline char *dup_exact(const char *s, size_t n)
{
    char *p = malloc(n ? n : 1);

    assert_non_null(p);
    memcpy(p, s, n);
    return p;
}

/* Error sentences end up in JSON replies and logs: printable ASCII only,
 * never empty. */
static inline void assert_err_clean(const char *err)
{
    size_t i, n = strlen(err);

    assert_true(n > 0);
    assert_true(n < INGEST_ERR_MAX);
    for (i = 0; i < n; i++)
        assert_true(err[i] >= 0x20 && err[i] <= 0x7e);
}

#endif
