/*
 * test_decimal.c - the number parser (ingest_parse_decimal) against glibc's
 * strtod, bit for bit.
 *
 * ingest.c converts most numbers itself (Clinger's fast path: a mantissa
 * below 2^53 and a decimal exponent within +-22) and gives the rest to
 * strtod_l.  Whatever path a string takes, the double must be the one
 * strtod returns for it: the expected value here is always strtod's own,
 * computed independently on a NUL-terminated copy.  The strings are edge
 * cases (the borders of the fast path, halfway cases, zeros, subnormals,
 * the largest doubles) and many random ones, in every rounding mode.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fenv.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ingest.h"
#include "xorshift.h"

#define TOKEN_MAX 64            /* ingest.c's NUM_TOKEN_MAX */

static unsigned long checked, overflowed;

/* Parse s both ways; the token must be accepted with strtod's exact bits,
 * or refused when strtod overflows. */
static void check(const char *s)
{
    size_t n = strlen(s);
    char err[INGEST_ERR_MAX];
    char *end;
    double want, got = 0.0;
    int rc;

    assert_true(n >= 1 && n <= TOKEN_MAX);
    errno = 0;
    want = strtod(s, &end);
    assert_true(*end == '\0');
    rc = ingest_parse_decimal(s, n, "value", &got, err, sizeof err);
    if (isinf(want)) {
        if (rc != -1)
            fail_msg("%s: accepted as %a, strtod overflows", s, got);
        overflowed++;
        return;
    }
    if (rc != 0)
        fail_msg("%s: refused (%s), strtod gives %a", s, err, want);
    if (memcmp(&got, &want, sizeof got) != 0)
        fail_msg("%s: got %a, strtod gives %a", s, got, want);
    checked++;
}

static const char *const edge[] = {
    "0", "-0", "+0", "0.0", "-0.0", ".0", "0.", "-.0", "0e0", "-0e-999",
    "0e999", "000000000000000000000000000000000000000000000.000000000",
    "1", "-1", "+1", "1.", ".1", "-.1", "0.1", "0.2", "0.3", "1.1", "2.5",
    "123.45", "1700000000", "1700000000.5", "1700000000123",
    "-1", "-1.0", "-1e0", "-1.000000000000000000001",
    /* 2^53 and its neighbours, with and without scaling */
    "9007199254740991", "9007199254740992", "9007199254740993",
    "9007199254740994", "9007199254740995", "9007199254740991e22",
    "9007199254740991e-22", "9007199254740992e22", "9007199254740993e-22",
    "900719925474099.1", "9007199254740991.0", "9007199254740993.0",
    "90071992547409910", "90071992547409930",
    "18014398509481985", "18014398509481987",
    /* the exponent borders of the fast path */
    "1e22", "1e23", "1e-22", "1e-23", "9e22", "9e23", "123e20", "123e21",
    "1.5e22", "1.5e23", "4.35e-20", "3e-22", "3e-23",
    "8.98846567431158e307", "1.7976931348623157e308",
    "1.7976931348623158e308", "1.7976931348623159e308", "1e308", "1e309",
    "-1e309", "2e308", "4.9406564584124654e-324", "5e-324", "2e-324",
    "3e-324", "1e-400", "-1e-400", "2.2250738585072011e-308",
    "2.2250738585072014e-308", "2.225073858507201e-308",
    /* halfway and near-halfway cases */
    "9007199254740992.5", "9007199254740993.5", "0.50000000000000011102",
    "1.00000000000000011102230246251565404", "2.00000000000000044408",
    "7.2057594037927933e16", "1.9156918820264798e-56",
    "3.0000000000000004", "0.30000000000000004",
    "0.1000000000000000055511151231257827021181583404541015625",
    /* long mantissas, leading and trailing zeros */
    "00000000000000000000000000000000000001", "1.00000000000000000000000",
    "100000000000000000000000", "1000000000000000000000000",
    "10000000000000000000000000000000000000000000000000000000000000",
    "0.000000000000000000000000000000000000000000000000000000000001",
    "12345678901234567890", "1234567890123456789012345678901234567890",
    "0.12345678901234567890", "123456789012345678e-10",
    "1e+0", "1E-0", "1e0000000000000000000000000000000000000000000000022",
    "1e-0000000000000000000000000000000000000000000000022",
    "1e99999999999999999999", "1e-99999999999999999999",
    "0.00001e27", "100000e-27", "47.11e5", "-0.000001", "1e-7",
};

static void test_edge_cases(void **state)
{
    size_t i;

    (void)state;
    for (i = 0; i < sizeof edge / sizeof edge[0]; i++)
        check(edge[i]);
}

/* A random token of the accepted syntax: sign, up to 25 digits around an
 * optional point, an optional exponent. */
static void random_syntax(char *s)
{
    size_t k = 0, i, nint = rnd() % 21, nfrac = rnd() % 21;
    static const char *const signs[] = {"", "", "-", "+"};

    k += (size_t)sprintf(s + k, "%s", signs[rnd() % 4]);
    if (nint + nfrac == 0)
        nint = 1;
    for (i = 0; i < nint; i++)
        s[k++] = (char)('0' + (i == 0 && rnd() % 2 ? 1 + rnd() % 9 :
                               rnd() % 10));
    if (nfrac > 0 || rnd() % 4 == 0) {
        s[k++] = '.';
        for (i = 0; i < nfrac; i++)
            s[k++] = (char)('0' + rnd() % 10);
    }
    if (rnd() % 3 == 0)
        k += (size_t)sprintf(s + k, "%s%s%d", rnd() % 2 ? "e" : "E",
                             signs[rnd() % 4], (int)(rnd() % 61));
    s[k] = '\0';
}

/* A random finite double printed the way producers print numbers. */
static void random_printed(char *s)
{
    double d;
    uint64_t bits;

    do {
        bits = rnd();
        memcpy(&d, &bits, sizeof d);
    } while (!isfinite(d));
    switch (rnd() % 6) {
    case 0:
        snprintf(s, TOKEN_MAX + 1, "%.17g", d);
        break;
    case 1:
        snprintf(s, TOKEN_MAX + 1, "%.15g", d);
        break;
    case 2:
        snprintf(s, TOKEN_MAX + 1, "%.*e", (int)(rnd() % 20), d);
        break;
    case 3:             /* ordinary magnitudes, fixed point */
        d = ldexp(d, -ilogb(d) + (int)(rnd() % 60) - 20);
        if (!isfinite(d))
            d = 1.5;
        snprintf(s, TOKEN_MAX + 1, "%.*f", (int)(rnd() % 12), d);
        break;
    case 4:             /* metric-like: integer part, two decimals */
        snprintf(s, TOKEN_MAX + 1, "%lu.%02lu",
                 (unsigned long)(rnd() % 100000000),
                 (unsigned long)(rnd() % 100));
        break;
    default:            /* mantissas around 2^53, exponents around 22 */
        snprintf(s, TOKEN_MAX + 1, "%llue%d",
                 (unsigned long long)((1ULL << 53) - 50 + rnd() % 100),
                 (int)(rnd() % 51) - 25);
        break;
    }
}

static void random_batch(unsigned long count)
{
    char s[128];
    unsigned long i;

    for (i = 0; i < count; i++) {
        if (i % 2)
            random_syntax(s);
        else
            random_printed(s);
        if (strlen(s) <= TOKEN_MAX)
            check(s);
    }
}

static void test_random(void **state)
{
    (void)state;
    checked = overflowed = 0;
    random_batch(1000000);
    print_message("%lu numbers equal to strtod's, %lu overflows refused\n",
                  checked, overflowed);
    assert_true(checked > 900000);
}

/* strtod rounds in the current rounding mode; so must the fast path. */
static void test_rounding_modes(void **state)
{
    static const int modes[] = {FE_UPWARD, FE_DOWNWARD, FE_TOWARDZERO,
                                FE_TONEAREST};
    size_t m, i;

    (void)state;
    for (m = 0; m < sizeof modes / sizeof modes[0]; m++) {
        assert_int_equal(fesetround(modes[m]), 0);
        for (i = 0; i < sizeof edge / sizeof edge[0]; i++)
            check(edge[i]);
        random_batch(100000);
    }
    fesetround(FE_TONEAREST);
}

/* What is not the syntax stays refused, whatever strtod would make of
 * it. */
static void test_refused(void **state)
{
    static const char *const bad[] = {
        "", "-", "+", ".", "-.", "e5", ".e5", "1e", "1e+", "1e-", "1.2.3",
        "--1", "+-1", "1-", "nan", "inf", "-inf", "infinity", "0x10",
        "0x1p3", " 1", "1 ", "1,5", "1e5.5", "1_000", "\xd9\xa1",
    };
    char err[INGEST_ERR_MAX];
    double d;
    size_t i;

    (void)state;
    for (i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_int_equal(ingest_parse_decimal(bad[i], strlen(bad[i]),
                                              "value", &d, err, sizeof err),
                         -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_edge_cases),
        cmocka_unit_test(test_random),
        cmocka_unit_test(test_rounding_modes),
        cmocka_unit_test(test_refused),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
