/*
 * jsonfmt.c - number formatting for JSON answers.
 *
 * json-c writes doubles with "%.17g", which turns 0.1 into
 * 0.10000000000000001; the shortest exact form is what users and other
 * tools expect.  The process never calls setlocale(), so printf and strtod
 * use the C locale's '.' whatever the environment says.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json.h>

#include "jsonfmt.h"

size_t jsonfmt_double(char *buf, size_t len, double d)
{
    int prec, n = 0;

    for (prec = 15; prec <= 17; prec++) {
        n = snprintf(buf, len, "%.*g", prec, d);
        if (strtod(buf, NULL) == d)
            break;
    }
    return n < 0 ? 0 : (size_t)n;
}

size_t jsonfmt_number_text(char *buf, size_t len, double d)
{
    int n;

    if (!isfinite(d))
        n = snprintf(buf, len, "null");
    else if (d == floor(d) && fabs(d) < 9007199254740992.0)
        n = snprintf(buf, len, "%lld", (long long)d);
    else
        return jsonfmt_double(buf, len, d);
    return n < 0 ? 0 : (size_t)n;
}

struct json_object *jsonfmt_number(double d)
{
    char buf[32];

    if (!isfinite(d))
        return NULL;    /* json-c writes NULL as null */
    if (d == floor(d) && fabs(d) < 9007199254740992.0)
        return json_object_new_int64((int64_t)d);
    jsonfmt_double(buf, sizeof(buf), d);
    return json_object_new_double_s(d, buf);
}

char *jsonfmt_dump(struct json_object *obj, size_t pre, size_t *len)
{
    size_t n;
    const char *s = json_object_to_json_string_length(
        obj, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE, &n);
    char *buf;

    if (!s)
        return NULL;
    buf = malloc(pre + n + 1);
    if (!buf)
        return NULL;
    memcpy(buf + pre, s, n + 1);
    *len = n;
    return buf;
}
