/*
 * storage_format.c - encoding and checking the durability records.
 *
 * CRC-32 comes from zlib: it is on every Debian system already, its
 * crc32() is table-driven and fast enough for hundreds of MB/s, and a
 * checksum we wrote ourselves would be one more thing to get wrong.
 */
#include <string.h>

#include <zlib.h>

#include "storage_format.h"

void fmt_put_u32(uint8_t *p, uint32_t v)
{
    int i;

    for (i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

void fmt_put_u64(uint8_t *p, uint64_t v)
{
    int i;

    for (i = 0; i < 8; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

void fmt_put_f64(uint8_t *p, double v)
{
    uint64_t bits;

    memcpy(&bits, &v, sizeof(bits));
    fmt_put_u64(p, bits);
}

uint32_t fmt_get_u32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
           (uint32_t)p[3] << 24;
}

uint64_t fmt_get_u64(const uint8_t *p)
{
    return (uint64_t)fmt_get_u32(p) | (uint64_t)fmt_get_u32(p + 4) << 32;
}

double fmt_get_f64(const uint8_t *p)
{
    uint64_t bits = fmt_get_u64(p);
    double v;

    memcpy(&v, &bits, sizeof(v));
    return v;
}

static uint32_t rec_crc(const uint8_t *rec, size_t plen)
{
    uLong c = crc32(0L, Z_NULL, 0);

    c = crc32(c, rec, 4);
    return (uint32_t)crc32(c, rec + REC_HEADER, (uInt)plen);
}

size_t rec_seal(uint8_t *rec, size_t plen)
{
    fmt_put_u32(rec, (uint32_t)plen);
    fmt_put_u32(rec + 4, rec_crc(rec, plen));
    return REC_HEADER + plen;
}

size_t rec_encode_point(uint8_t *out, const char *name, size_t name_len,
                        double ts, double value)
{
    uint8_t *p = out + REC_HEADER;

    p[0] = REC_POINT;
    p[1] = (uint8_t)name_len;
    memcpy(p + 2, name, name_len);
    fmt_put_f64(p + 2 + name_len, ts);
    fmt_put_f64(p + 10 + name_len, value);
    return rec_seal(out, 18 + name_len);
}

long rec_check(const uint8_t *buf, size_t n, const uint8_t **payload,
               size_t *plen)
{
    uint32_t len;

    if (n < REC_HEADER)
        return 0;
    len = fmt_get_u32(buf);
    if (len == 0 || len > REC_PAYLOAD_MAX)
        return -1;
    if (n - REC_HEADER < len)
        return 0;
    if (fmt_get_u32(buf + 4) != rec_crc(buf, len))
        return -1;
    *payload = buf + REC_HEADER;
    *plen = len;
    return (long)(REC_HEADER + len);
}

int rec_decode_point(const uint8_t *payload, size_t plen, const char **name,
                     size_t *name_len, double *ts, double *value)
{
    size_t n;

    if (plen < 2 || payload[0] != REC_POINT)
        return -1;
    n = payload[1];
    if (n == 0 || plen != 18 + n)
        return -1;
    *name = (const char *)payload + 2;
    *name_len = n;
    *ts = fmt_get_f64(payload + 2 + n);
    *value = fmt_get_f64(payload + 10 + n);
    return 0;
}
