/* sha256.h: SHA-256 (FIPS 180-4): source file hashes (ingest), prompt_id (export). Uses the CPU's SHA
 * extensions when present (about 2 GB/s), portable C otherwise. */
#ifndef AV_UTIL_SHA256_H
#define AV_UTIL_SHA256_H

#include <stddef.h>
#include <stdint.h>

typedef struct av_sha256 {
    uint32_t h[8];
    uint64_t total;
    uint8_t buf[64];
    size_t blen;
} av_sha256;

void av_sha256_init(av_sha256 *c);
void av_sha256_update(av_sha256 *c, const void *data, size_t n);
/* 64 lowercase hex digits and a NUL. */
void av_sha256_final_hex(av_sha256 *c, char out[65]);
/* One call for a whole buffer. */
void av_sha256_hex(char out[65], const void *data, size_t n);

#endif
