/*
 * access.c - the ingest token check and the source address list.
 */
#include "access.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "config.h"

static int is_separator(char c)
{
    return c == ' ' || c == ',' || c == '\t';
}

/* One entry "address[/prefix]" held in tok (NUL-terminated, writable). */
static int parse_entry(char *tok, struct access_list *l)
{
    char *slash = strchr(tok, '/');
    unsigned long bits;
    char *end;
    int fam = strchr(tok, ':') ? AF_INET6 : AF_INET;
    unsigned max = fam == AF_INET6 ? 128 : 32;

    if (slash)
        *slash = '\0';
    if (inet_pton(fam, tok, l->e[l->n].addr) != 1)
        return -1;
    bits = max;
    if (slash) {
        bits = strtoul(slash + 1, &end, 10);
        if (end == slash + 1 || *end || bits > max)
            return -1;
    }
    l->e[l->n].family = fam;
    l->e[l->n].prefix = (unsigned)bits;
    l->n++;
    return 0;
}

int access_list_parse(const char *text, struct access_list *out, char *err,
                      size_t errlen)
{
    char tok[64];
    size_t i = 0, k, no = 0;

    memset(out, 0, sizeof(*out));
    while (text[i]) {
        while (is_separator(text[i]))
            i++;
        if (!text[i])
            break;
        for (k = 0; text[i] && !is_separator(text[i]); i++, k++)
            if (k < sizeof(tok) - 1)
                tok[k] = text[i];
        no++;
        if (k >= sizeof(tok) || out->n == ACCESS_MAX_ENTRIES) {
            snprintf(err, errlen, "entry %zu is too long, or there are more "
                     "than %d entries", no, ACCESS_MAX_ENTRIES);
            return -1;
        }
        tok[k] = '\0';
        if (parse_entry(tok, out) < 0) {
            snprintf(err, errlen, "entry %zu is not an IPv4 or IPv6 address "
                     "with an optional /prefix (e.g. 10.0.0.0/8 or ::1)", no);
            return -1;
        }
    }
    return 0;
}

static int prefix_equal(const uint8_t *a, const uint8_t *b, unsigned bits)
{
    unsigned whole = bits / 8, rest = bits % 8;

    if (memcmp(a, b, whole))
        return 0;
    if (!rest)
        return 1;
    return ((a[whole] ^ b[whole]) & (0xff00u >> rest) & 0xff) == 0;
}

int access_list_allows(const struct access_list *l, const struct sockaddr *sa,
                       socklen_t salen)
{
    static const uint8_t mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
                                       0xff, 0xff};
    const uint8_t *addr;
    int fam;
    size_t i;

    if (l->n == 0)
        return 1;
    if (sa->sa_family == AF_INET && salen >= sizeof(struct sockaddr_in)) {
        fam = AF_INET;
        addr = (const uint8_t *)&((const struct sockaddr_in *)sa)->sin_addr;
    } else if (sa->sa_family == AF_INET6 &&
               salen >= sizeof(struct sockaddr_in6)) {
        fam = AF_INET6;
        addr = ((const struct sockaddr_in6 *)sa)->sin6_addr.s6_addr;
        if (!memcmp(addr, mapped, sizeof(mapped))) {
            fam = AF_INET;
            addr += sizeof(mapped);
        }
    } else {
        return 0;
    }
    for (i = 0; i < l->n; i++)
        if (l->e[i].family == fam &&
            prefix_equal(l->e[i].addr, addr, l->e[i].prefix))
            return 1;
    return 0;
}

int access_token_equal(const char *expected, size_t elen, const char *got,
                       size_t glen)
{
    unsigned diff = elen != glen;
    size_t i;

    if (elen == 0)
        return 0;
    /* Every byte of what was presented is compared, against the expected
     * token repeated, so the loop's length never depends on the secret. */
    for (i = 0; i < glen; i++)
        diff |= (unsigned char)got[i] ^ (unsigned char)expected[i % elen];
    return diff == 0;
}

int access_bearer_ok(const char *token, const char *header, size_t hlen)
{
    static const char scheme[] = "Bearer ";
    size_t n = sizeof(scheme) - 1;

    if (hlen < n || strncasecmp(header, scheme, n))
        return 0;
    while (n < hlen && header[n] == ' ')
        n++;
    return access_token_equal(token, strlen(token), header + n, hlen - n);
}

int access_config_check(const struct config *cfg, char *err, size_t errlen)
{
    struct access_list l;
    char why[160];
    const char *t;

    for (t = cfg->ingest.token; *t; t++)
        if (*t <= 0x20 || *t >= 0x7f) {
            snprintf(err, errlen, "ingest.token must be printable ASCII "
                     "without spaces (it travels in an HTTP header)");
            return -1;
        }
    if (access_list_parse(cfg->ingest.allow_from, &l, why, sizeof(why)) < 0) {
        snprintf(err, errlen, "ingest.allow_from: %s", why);
        return -1;
    }
    if (cfg->statsd.port && cfg->statsd.port == cfg->graphite.port) {
        snprintf(err, errlen, "statsd.port and graphite.port are both %d, "
                 "and Graphite takes UDP on its port too; give StatsD "
                 "another port (8125 is usual) or 0 to turn it off",
                 cfg->statsd.port);
        return -1;
    }
    return 0;
}

struct access_list *access_list_new(const char *text, int *failed)
{
    struct access_list *l;
    char why[160];

    *failed = 0;
    if (!text[0])
        return NULL;
    l = malloc(sizeof(*l));
    if (!l || access_list_parse(text, l, why, sizeof(why)) < 0) {
        free(l);
        *failed = 1;
        return NULL;
    }
    return l;
}
