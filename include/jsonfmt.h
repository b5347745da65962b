/*
 * jsonfmt.h - numbers for JSON answers, written the shortest way that
 * reads back to the same double, independent of the locale.
 */
#ifndef STREAMAVG_JSONFMT_H
#define STREAMAVG_JSONFMT_H

#include <stddef.h>

struct json_object;

/* Write the shortest %.15g..%.17g form of a finite d that strtod reads
 * back exactly.  Returns the length.  buf must hold 32 bytes. */
size_t jsonfmt_double(char *buf, size_t len, double d);

/* A json-c number that serialises as jsonfmt_double() writes it, or JSON
 * null when d is not finite (no answer ever carries NaN or Infinity). */
struct json_object *jsonfmt_number(double d);

/* Write d exactly as jsonfmt_number(d) serialises: null when it is not
 * finite, a whole number below 2^53 without a fraction (as json-c writes
 * an int64), else jsonfmt_double().  For answers written with snprintf,
 * without a json-c tree.  Returns the length; buf must hold 32 bytes. */
size_t jsonfmt_number_text(char *buf, size_t len, double d);

/* Serialise obj compactly into a malloc'd buffer with `pre` spare bytes in
 * front (for LWS_PRE).  *len gets the JSON's length, without `pre`.
 * Returns NULL when memory ran out. */
char *jsonfmt_dump(struct json_object *obj, size_t pre, size_t *len);

#endif
