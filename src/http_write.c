/*
 * http_write.c - POST /write, InfluxDB 1.x's write endpoint: line
 * protocol in the body, ?precision= for the timestamps' unit (db, rp, u
 * and p are accepted and ignored).  And the ingest token check that every
 * HTTP ingest path passes first.
 *
 * The answers follow InfluxDB's, so its clients read them: 204 with no
 * body when every line was taken; 400 with {"error": "partial write:
 * ..."} when some were not (the good lines are kept, as InfluxDB does);
 * 401 without the token; 415 for a compressed body.  Besides
 * "Authorization: Bearer TOKEN", /write takes the token the ways InfluxDB
 * clients send it: "Token TOKEN", or as the basic-auth password.
 */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "access.h"
#include "influx.h"
#include "ingest_stats.h"
#include "server.h"

/* What InfluxDB clients already send, for /write: "Token TOKEN" (the 2.x
 * scheme) or basic auth whose password is the token (1.x users'
 * username/password settings), the username being ignored. */
static int influx_auth_ok(const char *token, const char *auth, size_t n)
{
    char plain[CONFIG_STR_MAX * 2];
    const char *colon;
    int len, ok;

    if (n > 6 && !strncasecmp(auth, "Token ", 6))
        return access_token_equal(token, strlen(token), auth + 6, n - 6);
    if (n <= 6 || strncasecmp(auth, "Basic ", 6))
        return 0;
    len = lws_b64_decode_string_len(auth + 6, (int)(n - 6), plain,
                                    (int)sizeof(plain));
    colon = len > 0 ? memchr(plain, ':', (size_t)len) : NULL;
    ok = colon && access_token_equal(token, strlen(token), colon + 1,
                                     (size_t)(plain + len - colon - 1));
    explicit_bzero(plain, sizeof(plain));
    return ok;
}

int http_ingest_allowed(struct http_pss *pss, enum source src)
{
    const char *token = pss->app->cfg.ingest.token;
    char auth[CONFIG_STR_MAX * 3];
    int n, ok;

    if (!token[0])
        return 1;
    n = lws_hdr_copy(pss->wsi, auth, sizeof(auth),
                     WSI_TOKEN_HTTP_AUTHORIZATION);
    ok = n > 0 && (access_bearer_ok(token, auth, (size_t)n) ||
                   (src == SRC_INFLUX && influx_auth_ok(token, auth,
                                                        (size_t)n)));
    explicit_bzero(auth, sizeof(auth));
    if (ok)
        return 1;
    /* Never log what was presented: it may be a real token one typo away
     * from the right one. */
    pss->app->m.ingest_denied[src]++;
    pss->close_after = 1;
    http_answer_error(pss, 401, "this server needs the ingest token: send "
                      "Authorization: Bearer TOKEN (ingest.token)");
    return 0;
}

/* "Content-Encoding: identity" (any case, blanks around) is no encoding. */
static int encoding_is_identity(struct lws *wsi)
{
    char v[32], *p = v;
    size_t n;

    if (lws_hdr_copy(wsi, v, sizeof(v), WSI_TOKEN_HTTP_CONTENT_ENCODING) < 0)
        return 0;
    while (*p == ' ')
        p++;
    n = strlen(p);
    while (n && p[n - 1] == ' ')
        n--;
    return n == 8 && !strncasecmp(p, "identity", 8);
}

int http_write_start(struct http_pss *pss)
{
    char prec[8];
    int rc = server_query_arg(pss->wsi, "precision", prec, sizeof(prec));

    if (rc == 0)
        prec[0] = '\0';
    if (rc < 0 || influx_precision_parse(prec, strlen(prec),
                                         &pss->write_prec) < 0) {
        pss->close_after = 1;
        http_answer_error(pss, 400, "precision must be n, ns, u, us, ms, s, "
                          "m or h (nanoseconds when absent)");
        return -1;
    }
    if (lws_hdr_total_length(pss->wsi, WSI_TOKEN_HTTP_CONTENT_ENCODING) > 0 &&
        !encoding_is_identity(pss->wsi)) {
        pss->close_after = 1;
        http_answer_error(pss, 415, "compressed bodies are not taken; send "
                          "line protocol uncompressed (Content-Encoding "
                          "identity)");
        return -1;
    }
    return 0;
}

struct write_report {
    struct app *app;
    size_t accepted, rejected;
    size_t line_no;         /* the line being parsed */
    int storage_status;     /* 507 or 503 once the log refused a point */
    char first_err[INGEST_ERR_MAX + 32];
};

static void note_error(struct write_report *r, size_t line_no,
                       const char *err)
{
    r->rejected++;
    if (!r->first_err[0])
        snprintf(r->first_err, sizeof(r->first_err), "line %zu: %s",
                 line_no, err);
}

static int on_point(void *arg, const struct ingest_point *p)
{
    struct write_report *r = arg;
    char err[INGEST_ERR_MAX];

    int rc;

    /* Once the log refused, the rest of the body would be refused too. */
    if (r->storage_status) {
        r->rejected++;
        r->app->m.points_rejected[SRC_INFLUX]++;
        return 0;
    }
    rc = app_accept_point(r->app, SRC_INFLUX, p->name, p->name_len, p->ts,
                          p->value, err, sizeof(err));
    if (rc == APP_NO_SPACE || rc == APP_STORAGE_DOWN) {
        r->storage_status = rc == APP_NO_SPACE ? 507 : 503;
        r->first_err[0] = '\0';    /* the refusal is what to report */
    }
    if (rc < 0)
        note_error(r, r->line_no, err);     /* counted by app_accept_point */
    else
        r->accepted++;
    return 0;
}

void http_write_finish(struct http_pss *pss)
{
    struct write_report r = {pss->app, 0, 0, 0, 0, ""};
    const char *p = pss->body, *end = p + pss->body_len;
    double now = app_now(), t0 = ingest_clock();
    size_t line_no = 0;
    char msg[sizeof(r.first_err) + 96], peer[64];

    pss->app->m.bytes_in[SRC_INFLUX] += pss->body_len;
    while (p && p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t n = (size_t)((nl ? nl : end) - p);
        char err[INGEST_ERR_MAX];

        r.line_no = ++line_no;
        if (influx_parse_line(p, n, now, &pss->write_prec, on_point, &r, err,
                              sizeof(err)) < 0) {
            ingest_reject(pss->app, SRC_INFLUX, ingest_reason_of(err));
            note_error(&r, line_no, err);
        }
        p += n + (nl != NULL);
    }
    pss->app->m.ingest_seconds[SRC_INFLUX] += ingest_clock() - t0;

    if (!r.rejected) {
        http_answer(pss, 204, "application/json", "", 0);
        return;
    }
    snprintf(msg, sizeof(msg), "partial write: %zu points taken, %zu "
             "rejected; first: %s", r.accepted, r.rejected, r.first_err);
    lws_get_peer_simple(pss->wsi, peer, sizeof(peer));
    warn_ratelimited(RL_HTTP_BAD, "write %s: %s\n", peer, msg);
    /* A log that cannot be written is the server's trouble, not the
     * client's: 507 or 503 tell an InfluxDB client to send it again. */
    http_answer_error(pss, r.storage_status ? r.storage_status : 400, msg);
}
