/*
 * plot_script.h - the gnuplot input for one plot job: the script, then the
 * points as inline binary data.  Pure functions, no I/O, so the script and
 * the decimation can be tested without gnuplot.
 */
#ifndef STREAMAVG_PLOT_SCRIPT_H
#define STREAMAVG_PLOT_SCRIPT_H

#include <stdbool.h>
#include <stddef.h>

#include "plot.h"

/* 1 when s holds only [A-Za-z0-9._:=, -] and a NUL within cap bytes: the
 * only text that may reach gnuplot, always inside single quotes. */
bool plot_text_allowed(const char *s, size_t cap, bool allow_title_marks);

/* Reduce the points (x[i], y[i]) to at most two per pixel column of
 * `columns` columns spanning [xmin, xmax]: each column keeps its lowest
 * and highest y, in the order they came, so no spike is lost.  x must not
 * decrease.  Writes to ox/oy, which hold 2 * columns (or n, when n is not
 * more than that: then the points are copied).  Non-finite points are
 * skipped.  Returns the number written. */
size_t plot_decimate(const double *x, const double *y, size_t n,
                     double xmin, double xmax, size_t columns, double *ox,
                     double *oy);

/* Build the whole input: script, data, the lines that close the image and
 * print `marker` after an empty line.  Returns 0 with a malloc'd *out, or
 * -1 when memory ran out. */
int plot_script_build(const struct plot_job *job, const char *marker,
                      char **out, size_t *outlen);

#endif
