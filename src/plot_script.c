/*
 * plot_script.c - what a plot job says to gnuplot.
 *
 * No request text reaches gnuplot's command language: the only strings in
 * the script are the title and the series names, checked against a small
 * alphabet and written in single quotes (where gnuplot expands nothing),
 * and every number is either data sent in binary or formatted here.
 *
 * A line of more points than the plot has pixel columns is decimated first
 * (two points per column, its lowest and highest), so a 30,000-point plot
 * 800 pixels wide costs gnuplot 1,600 points and looks the same.
 */
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "plot_script.h"

#define SCRIPT_ROOM 16384

/* One colour per line, in order; the band and raw values share it. */
static const char *const palette[PLOT_MAX_LINES] = {
    "#1f77b4", "#d62728", "#2ca02c", "#9467bd",
    "#ff7f0e", "#17becf", "#8c564b", "#e377c2",
};

bool plot_text_allowed(const char *s, size_t cap, bool allow_title_marks)
{
    size_t i;

    for (i = 0; i < cap && s[i]; i++) {
        char c = s[i];

        if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
            (c >= '0' && c <= '9') || c == '.' || c == '_' || c == ':' ||
            c == '-')
            continue;
        if (allow_title_marks && (c == ' ' || c == ',' || c == '='))
            continue;
        return false;
    }
    return i < cap;
}

static size_t append(char *buf, size_t len, size_t cap, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static size_t append(char *buf, size_t len, size_t cap, const char *fmt, ...)
{
    va_list ap;
    int n;

    if (len >= cap)
        return len;
    va_start(ap, fmt);
    n = vsnprintf(buf + len, cap - len, fmt, ap);
    va_end(ap);
    if (n < 0)
        return len;
    return len + (size_t)n < cap ? len + (size_t)n : cap;
}

static size_t column_of(double x, double xmin, double span, size_t columns)
{
    double c = span > 0 ? (x - xmin) / span * (double)columns : 0;

    if (!(c >= 0))
        return 0;
    return c >= (double)columns ? columns - 1 : (size_t)c;
}

size_t plot_decimate(const double *x, const double *y, size_t n,
                     double xmin, double xmax, size_t columns, double *ox,
                     double *oy)
{
    size_t i, out = 0, col = SIZE_MAX, lo = 0, hi = 0;
    double span = xmax - xmin;

    if (n <= 2 * columns) {
        for (i = 0; i < n; i++)
            if (isfinite(x[i]) && isfinite(y[i])) {
                ox[out] = x[i];
                oy[out++] = y[i];
            }
        return out;
    }

    for (i = 0; i <= n; i++) {
        size_t c = 0;

        if (i < n) {
            if (!isfinite(x[i]) || !isfinite(y[i]))
                continue;
            c = column_of(x[i], xmin, span, columns);
            if (c == col) {
                if (y[i] < y[lo])
                    lo = i;
                if (y[i] > y[hi])
                    hi = i;
                continue;
            }
        }
        /* A new column (or the end): write the one just finished. */
        if (col != SIZE_MAX) {
            size_t first = lo < hi ? lo : hi, second = lo < hi ? hi : lo;

            ox[out] = x[first];
            oy[out++] = y[first];
            if (second != first) {
                ox[out] = x[second];
                oy[out++] = y[second];
            }
        }
        col = c;
        lo = hi = i;
    }
    return out;
}

/* The band reduced per column: the lowest lo and highest hi at the
 * column's first x.  Same capacity rule as plot_decimate(). */
static size_t decimate_band(const struct plot_line *l, double xmin,
                            double xmax, size_t columns, double *ox,
                            double *olo, double *ohi)
{
    size_t i, out = 0, col = SIZE_MAX;
    double span = xmax - xmin;

    for (i = 0; i < l->n; i++) {
        size_t c;

        if (!isfinite(l->x[i]) || !isfinite(l->lo[i]) ||
            !isfinite(l->hi[i]))
            continue;
        c = l->n <= 2 * columns ? i : column_of(l->x[i], xmin, span,
                                                columns);
        if (c != col) {
            ox[out] = l->x[i];
            olo[out] = l->lo[i];
            ohi[out++] = l->hi[i];
            col = c;
            continue;
        }
        olo[out - 1] = fmin(olo[out - 1], l->lo[i]);
        ohi[out - 1] = fmax(ohi[out - 1], l->hi[i]);
    }
    return out;
}

/* A tick format that suits the time the plot spans. */
static const char *time_format(double span)
{
    if (span <= 600)
        return "%H:%M:%S";
    if (span <= 86400)
        return "%H:%M";
    if (span <= 60 * 86400.0)
        return "%m-%d\\n%H:%M";
    return "%Y-%m-%d";
}

static size_t terminal(char *buf, size_t len, const struct plot_job *job)
{
    switch (job->format) {
    case PLOT_PNG:
        return append(buf, len, SCRIPT_ROOM,
                      "set terminal pngcairo size %d,%d noenhanced "
                      "background '#ffffff' font 'sans,10'\n",
                      job->width, job->height);
    case PLOT_PDF:
        /* pdfcairo sizes in inches; whole hundredths at 96 pixels an
         * inch keep printf's decimal point out of it. */
        return append(buf, len, SCRIPT_ROOM,
                      "set terminal pdfcairo size %d.%02din,%d.%02din "
                      "noenhanced font 'sans,10'\n",
                      job->width / 96, job->width * 100 / 96 % 100,
                      job->height / 96, job->height * 100 / 96 % 100);
    case PLOT_SVG:
        break;
    }
    return append(buf, len, SCRIPT_ROOM,
                  "set terminal svg size %d,%d dynamic noenhanced "
                  "background '#ffffff' font 'sans,11'\n",
                  job->width, job->height);
}

/* The data of one plot element, reduced, ready to go in binary. */
struct element {
    int line;
    enum { EL_BAND, EL_RAW, EL_AVG } kind;
    size_t n;
    double *a, *b, *c;      /* x, y (or lo), hi */
};

static void free_elements(struct element *el, int n)
{
    while (n-- > 0) {
        free(el[n].a);
        free(el[n].b);
        free(el[n].c);
    }
}

static int reduce(const struct plot_job *job, size_t columns, double xmin,
                  double xmax, struct element *el, int *nel)
{
    int i;

    *nel = 0;
    for (i = 0; i < job->nlines; i++) {
        const struct plot_line *l = &job->lines[i];
        size_t room = l->n < 2 * columns ? l->n : 2 * columns;
        int k;

        for (k = EL_BAND; k <= EL_AVG; k++) {
            struct element *e = &el[*nel];

            if ((k == EL_BAND && (!l->lo || !l->hi)) ||
                (k == EL_RAW && !l->raw) || l->n == 0)
                continue;
            e->line = i;
            e->kind = k;
            e->a = malloc((room + 1) * sizeof(double));
            e->b = malloc((room + 1) * sizeof(double));
            e->c = k == EL_BAND ? malloc((room + 1) * sizeof(double))
                                : NULL;
            (*nel)++;
            if (!e->a || !e->b || (k == EL_BAND && !e->c))
                return -1;
            if (k == EL_BAND)
                e->n = decimate_band(l, xmin, xmax, columns, e->a, e->b,
                                     e->c);
            else
                e->n = plot_decimate(l->x, k == EL_RAW ? l->raw : l->avg,
                                     l->n, xmin, xmax, columns, e->a, e->b);
            if (e->n == 0) {
                free(e->a);
                free(e->b);
                free(e->c);
                (*nel)--;
            }
        }
    }
    return 0;
}

static size_t plot_command(char *buf, size_t len, const struct plot_job *job,
                           const struct element *el, int nel)
{
    int i;

    len = append(buf, len, SCRIPT_ROOM, "plot ");
    for (i = 0; i < nel; i++) {
        const struct element *e = &el[i];
        const char *name = job->lines[e->line].name;
        const char *colour = palette[e->line];
        const char *sep = i + 1 < nel ? ", \\\n     " : "\n";

        if (e->kind == EL_BAND)
            len = append(buf, len, SCRIPT_ROOM,
                         "'-' binary record=%zu format='%%float64%%float64"
                         "%%float64' using 1:2:3 with filledcurves fs "
                         "transparent solid 0.18 noborder lc rgb '%s' "
                         "title '%s min-max'%s", e->n, colour, name, sep);
        else if (e->kind == EL_RAW)
            len = append(buf, len, SCRIPT_ROOM,
                         "'-' binary record=%zu format='%%float64%%float64' "
                         "using 1:2 with %s lw 0.8 dt 3 lc rgb '%s' "
                         "title '%s value'%s", e->n,
                         e->n == 1 ? "points pt 6" : "lines", colour, name,
                         sep);
        else
            len = append(buf, len, SCRIPT_ROOM,
                         "'-' binary record=%zu format='%%float64%%float64' "
                         "using 1:2 with %s lw 1.5 lc rgb '%s' "
                         "title '%s%saverage'%s", e->n,
                         e->n == 1 ? "linespoints pt 7" : "lines", colour,
                         job->nlines > 1 ? name : "",
                         job->nlines > 1 ? " " : "", sep);
    }
    return len;
}

static size_t put_data(char *buf, size_t len, const struct element *e)
{
    size_t i;

    for (i = 0; i < e->n; i++) {
        memcpy(buf + len, &e->a[i], sizeof(double));
        len += sizeof(double);
        memcpy(buf + len, &e->b[i], sizeof(double));
        len += sizeof(double);
        if (e->kind == EL_BAND) {
            memcpy(buf + len, &e->c[i], sizeof(double));
            len += sizeof(double);
        }
    }
    return len;
}

int plot_script_build(const struct plot_job *job, const char *marker,
                      char **out, size_t *outlen)
{
    struct element el[3 * PLOT_MAX_LINES];
    double xmin = INFINITY, xmax = -INFINITY;
    size_t columns = (size_t)(job->width > 0 ? job->width : 1);
    size_t len = 0, cap = 2 * SCRIPT_ROOM, data = 0;
    int nel = 0, i;
    char *buf;

    for (i = 0; i < job->nlines; i++) {
        const struct plot_line *l = &job->lines[i];
        size_t k;

        for (k = 0; k < l->n; k++)
            if (isfinite(l->x[k])) {
                xmin = fmin(xmin, l->x[k]);
                xmax = fmax(xmax, l->x[k]);
            }
    }
    memset(el, 0, sizeof(el));
    if (reduce(job, columns, xmin, xmax, el, &nel) < 0)
        goto fail;
    for (i = 0; i < nel; i++)
        data += el[i].n * (el[i].kind == EL_BAND ? 3 : 2) * sizeof(double);
    cap += data;
    buf = malloc(cap);
    if (!buf)
        goto fail;

    /* reset clears whatever the previous job set in this gnuplot. */
    len = append(buf, len, SCRIPT_ROOM, "reset\n");
    len = terminal(buf, len, job);
    len = append(buf, len, SCRIPT_ROOM,
                 "set output\nset print '-'\nset title '%s'\n", job->title);
    if (nel == 0) {
        len = append(buf, len, SCRIPT_ROOM,
                     "unset key\nunset tics\n"
                     "set label 1 'no data' at graph 0.5, graph 0.5 "
                     "center\nplot [0:1][0:1] NaN notitle\n");
    } else {
        len = append(buf, len, SCRIPT_ROOM,
                     "set xdata time\nset format x \"%s\"\n"
                     "set xlabel 'time (UTC)'\nset autoscale xfix\n"
                     "set grid\nset key top left\n",
                     time_format(xmax - xmin));
        /* One instant has no span: gnuplot would widen it by a percentage
         * of the epoch (months).  Integers keep the locale out of it. */
        if (xmax - xmin < 1 && fabs(xmin) < 1e15 && fabs(xmax) < 1e15)
            len = append(buf, len, SCRIPT_ROOM, "set xrange [%lld:%lld]\n",
                         (long long)floor(xmin) - 1,
                         (long long)ceil(xmax) + 1);
        len = plot_command(buf, len, job, el, nel);
    }
    if (len >= SCRIPT_ROOM - 1) {
        free(buf);
        goto fail;
    }
    for (i = 0; i < nel; i++)
        len = put_data(buf, len, &el[i]);
    free_elements(el, nel);

    /* unset output closes the image; the empty print puts a newline
     * between it and the marker, which binary images do not end with. */
    len = append(buf, len, cap, "\nunset output\nprint ''\nprint '%s'\n",
                 marker);
    *out = buf;
    *outlen = len;
    return 0;

fail:
    free_elements(el, nel);
    return -1;
}
