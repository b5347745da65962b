/*
 * fuzz_storage.c - libFuzzer target for the durability record format.
 *
 *   clang -g -O1 -fsanitize=fuzzer,address,undefined -std=gnu11 \
 *       -D_GNU_SOURCE -Iinclude -o build/fuzz_storage \
 *       tests/fuzz/fuzz_storage.c src/storage_format.c -lz
 *   build/fuzz_storage -max_total_time=60
 *
 * The input is read as a log would be at start-up: record after record
 * until one is torn or corrupt.  Every record accepted must lie inside the
 * input, and a point decoded from it must re-encode to the same bytes
 * (so nothing but a well-formed, checksummed record is ever taken).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "storage_format.h"

static void check(int ok)
{
    if (!ok)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    size_t off = 0;

    while (off < size) {
        const uint8_t *payload;
        const char *name;
        size_t plen, nlen;
        double ts, v;
        long n = rec_check(data + off, size - off, &payload, &plen);

        if (n <= 0)
            break;
        check((size_t)n <= size - off && (size_t)n == REC_HEADER + plen);
        check(payload == data + off + REC_HEADER);
        if (rec_decode_point(payload, plen, &name, &nlen, &ts, &v) == 0) {
            uint8_t again[REC_POINT_MAX];

            check(nlen >= 1 && nlen <= 255);
            check(rec_encode_point(again, name, nlen, ts, v) == (size_t)n);
            check(!memcmp(again, data + off, (size_t)n));
        }
        off += (size_t)n;
    }
    return 0;
}
