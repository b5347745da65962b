/*
 * access.h - who may send points: the optional ingest token and the list
 * of source addresses the Graphite and StatsD listeners take.
 *
 * Pure functions, no I/O: the network files ask, these answer.
 */
#ifndef STREAMAVG_ACCESS_H
#define STREAMAVG_ACCESS_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#define ACCESS_MAX_ENTRIES 32

/* Addresses or networks, IPv4 and IPv6.  n == 0 means everyone. */
struct access_list {
    struct {
        int family;             /* AF_INET or AF_INET6 */
        uint8_t addr[16];       /* 4 bytes used for AF_INET */
        unsigned prefix;        /* bits that must match */
    } e[ACCESS_MAX_ENTRIES];
    size_t n;
};

/* Parse "127.0.0.1 ::1 10.0.0.0/8 fd00::/8": addresses or address/prefix,
 * separated by spaces or commas.  An empty text allows everyone.  Returns
 * 0, or -1 with a sentence in err naming the bad entry's position. */
int access_list_parse(const char *text, struct access_list *out, char *err,
                      size_t errlen);

/* 1 when the address may send.  An IPv4-mapped IPv6 address
 * (::ffff:a.b.c.d) is matched as the IPv4 address it holds. */
int access_list_allows(const struct access_list *l, const struct sockaddr *sa,
                       socklen_t salen);

/* 1 when the presented token equals the expected one.  The time taken
 * depends only on the presented token's length, never on where the two
 * differ, so a peer cannot guess the token a byte at a time. */
int access_token_equal(const char *expected, size_t elen, const char *got,
                       size_t glen);

/* 1 when an Authorization header value is "Bearer TOKEN" (scheme case
 * insensitive) with TOKEN equal to `token`. */
int access_bearer_ok(const char *token, const char *header, size_t hlen);

struct config;

/* The checks of the ingest.* and statsd.* keys at start-up: the token's
 * bytes, the address list, the StatsD port against Graphite's.  Returns 0
 * or -1 with a sentence in err naming the key. */
int access_config_check(const struct config *cfg, char *err, size_t errlen);

/* The parsed ingest.allow_from, or NULL when it is empty (everyone may
 * send) or memory ran out (*failed set).  Free with free(). */
struct access_list *access_list_new(const char *text, int *failed);

#endif
