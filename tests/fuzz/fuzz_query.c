/*
 * fuzz_query.c - libFuzzer target for what a request's query string
 * reaches after lws has split it: the number and duration readers, the
 * names of /stats figures, and the text check that guards gnuplot.
 * `make fuzz` builds and runs it.
 *
 * Besides the sanitizers' checks it aborts when a reader accepts what its
 * contract refuses: a number out of range, a duration that is not
 * positive, text with a byte outside the gnuplot alphabet.
 */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "params.h"
#include "plot_script.h"
#include "stats.h"

static void check(int ok)
{
    if (!ok)
        abort();
}

static int in_alphabet(char c, int marks)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
           (c >= '0' && c <= '9') || c == '.' || c == '_' || c == ':' ||
           c == '-' || (marks && (c == ' ' || c == ',' || c == '='));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = malloc(size + 1), err[200];
    double seconds;
    long v;
    size_t i;

    if (!text)
        return 0;
    memcpy(text, data, size);
    text[size] = '\0';

    if (param_uint("window_size", text, 1, 1000000, &v, err,
                   sizeof(err)) == 0)
        check(v >= 1 && v <= 1000000);
    if (param_duration("window", text, 86400.0 * 366, &seconds, err,
                       sizeof(err)) == 0)
        check(seconds > 0 && seconds <= 86400.0 * 366 && isfinite(seconds));

    for (i = 0; i < 2; i++)
        if (plot_text_allowed(text, size + 1, i))
            for (size_t k = 0; text[k]; k++)
                check(in_alphabet(text[k], (int)i));

    i = (size_t)stats_field_lookup(text, size);
    check(i == (size_t)-1 || i < STATS_FIELDS);
    free(text);
    return 0;
}
