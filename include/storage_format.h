/*
 * storage_format.h - the bytes of the durability files, as pure functions
 * (no I/O), so they can be unit-tested and fuzzed alone.
 *
 * Both the log and the snapshot are an 8-byte magic followed by records:
 *
 *   u32 payload length | u32 CRC-32 of (length field, payload) | payload
 *
 * all little-endian, doubles as their IEEE-754 bits.  The payload's first
 * byte is its type.  The CRC covers the length too, so a torn or flipped
 * length is caught like a flipped payload byte.
 */
#ifndef STREAMAVG_STORAGE_FORMAT_H
#define STREAMAVG_STORAGE_FORMAT_H

#include <stddef.h>
#include <stdint.h>

#define STORAGE_MAGIC_LEN 8
#define STORAGE_LOG_MAGIC "SAVGLOG1"
#define STORAGE_SNAP_MAGIC "SAVGSNP1"

#define REC_HEADER 8
/* Largest payload a reader accepts; anything longer is corruption. */
#define REC_PAYLOAD_MAX (1u << 20)

enum rec_type {
    REC_POINT = 1,      /* log: u8 name_len, name, f64 ts, f64 value */
    REC_SERIES = 2,     /* snap: u8 name_len, name, u64 total, u64 late,
                         * u64 points (the REC_POINTS that follow) */
    REC_POINTS = 3,     /* snap: u32 n, then n x (f64 ts, f64 value) */
    REC_END = 4         /* snap: u64 series; a snapshot without it is torn */
};

/* A whole REC_POINT record is at most this long. */
#define REC_POINT_MAX (REC_HEADER + 2 + 255 + 16)
/* Points per REC_POINTS record written. */
#define REC_POINTS_PER 4096

void fmt_put_u32(uint8_t *p, uint32_t v);
void fmt_put_u64(uint8_t *p, uint64_t v);
void fmt_put_f64(uint8_t *p, double v);
uint32_t fmt_get_u32(const uint8_t *p);
uint64_t fmt_get_u64(const uint8_t *p);
double fmt_get_f64(const uint8_t *p);

/* Fill in the header of a record whose payload of plen bytes is already
 * at rec + REC_HEADER.  Returns the record's whole length. */
size_t rec_seal(uint8_t *rec, size_t plen);

/* Encode a REC_POINT into out (REC_POINT_MAX bytes).  name_len <= 255.
 * Returns the record's length. */
size_t rec_encode_point(uint8_t *out, const char *name, size_t name_len,
                        double ts, double value);

/* Check the record at buf[0..n).  Returns its whole length and sets
 * *payload and *plen; 0 when buf holds only part of it; -1 when it is
 * corrupt (bad length or checksum). */
long rec_check(const uint8_t *buf, size_t n, const uint8_t **payload,
               size_t *plen);

/* Decode a REC_POINT payload.  name points into the payload (not
 * terminated).  Returns 0, or -1 when it is malformed. */
int rec_decode_point(const uint8_t *payload, size_t plen, const char **name,
                     size_t *name_len, double *ts, double *value);

#endif
