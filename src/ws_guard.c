/*
 * ws_guard.c - who may open a WebSocket: the Origin allow-list and the
 * optional subscribe token, checked at the handshake, before any
 * subscription exists.
 *
 * A browser sends Origin with every WebSocket handshake, so the allow-list
 * stops other web pages from subscribing through a visitor's browser
 * (cross-site WebSocket hijacking).  Programs usually send no Origin; they
 * are let through the allow-list and are what the token is for.
 */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "server.h"

/* Equal in time that depends only on the length of `want` (the secret's
 * length is not the secret), so a peer cannot find the token byte by byte
 * by timing refusals. */
static int token_equal(const char *given, size_t glen, const char *want)
{
    size_t wlen = strlen(want), i;
    unsigned char diff = glen != wlen;

    for (i = 0; i < wlen; i++)
        diff |= (unsigned char)(want[i] ^ (i < glen ? given[i] : 0));
    return diff == 0;
}

/* Is `origin` one of the comma-separated entries of `list`?  Scheme and
 * host compare case-insensitively, as RFC 6454 serialises them. */
static int origin_listed(const char *list, const char *origin)
{
    size_t olen = strlen(origin);
    const char *p = list;

    while (*p) {
        const char *end = strchr(p, ',');
        size_t n;

        if (!end)
            end = p + strlen(p);
        while (p < end && *p == ' ')
            p++;
        n = (size_t)(end - p);
        while (n && p[n - 1] == ' ')
            n--;
        if (n == olen && !strncasecmp(p, origin, n))
            return 1;
        p = *end ? end + 1 : end;
    }
    return 0;
}

/* The token from ?token= or an "Authorization: Bearer" header.  Returns
 * its length, or -1 when none was sent (or it does not fit). */
static int given_token(struct lws *wsi, char *buf, size_t len)
{
    int n = server_query_arg(wsi, "token", buf, len);

    if (n > 0)
        return (int)strlen(buf);
    if (n < 0)
        return -1;
    n = lws_hdr_copy(wsi, buf, (int)len, WSI_TOKEN_HTTP_AUTHORIZATION);
    if (n > 7 && !strncasecmp(buf, "Bearer ", 7)) {
        memmove(buf, buf + 7, (size_t)n - 6);
        return n - 7;
    }
    return -1;
}

/* Answer the handshake with 403 and the reason, so a client sees why,
 * then have lws close the connection. */
static int refuse(struct lws *wsi, const char *why)
{
    lws_return_http_status(wsi, HTTP_STATUS_FORBIDDEN, why);
    return 1;
}

int ws_guard_refuse(struct lws *wsi, struct app *app)
{
    const struct config *cfg = &app->cfg;
    char origin[256], token[CONFIG_STR_MAX + 2];
    int n;

    if (cfg->stream.allowed_origins[0] &&
        lws_hdr_copy(wsi, origin, sizeof(origin), WSI_TOKEN_ORIGIN) > 0 &&
        !origin_listed(cfg->stream.allowed_origins, origin)) {
        app->m.ws_refused_origin++;
        warn_ratelimited(RL_WS_BAD, "WebSocket refused: Origin '%.100s' is "
                         "not in stream.allowed_origins\n", origin);
        return refuse(wsi, "this Origin may not subscribe "
                      "(stream.allowed_origins)");
    }
    if (cfg->stream.subscribe_token[0]) {
        n = given_token(wsi, token, sizeof(token));
        if (n < 0 || !token_equal(token, (size_t)n,
                                  cfg->stream.subscribe_token)) {
            /* Never log what was sent: it may be a near-miss secret. */
            app->m.ws_refused_token++;
            warn_ratelimited(RL_WS_BAD, "WebSocket refused: %s subscribe "
                             "token (stream.subscribe_token)\n",
                             n < 0 ? "no" : "a wrong");
            return refuse(wsi, "a subscribe token is required: ?token= or "
                          "Authorization: Bearer");
        }
    }
    return 0;
}
