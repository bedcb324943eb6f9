/* sha256.h: SHA-256 (FIPS 180-4) for the export formats that carry one
 * (H4 binarized `prompt_id` = sha256 hex of the prompt). */
#ifndef AV_EXPORT_SHA256_H
#define AV_EXPORT_SHA256_H

#include <stddef.h>

/* 64 lowercase hex digits and a NUL. */
void ex_sha256_hex(char out[65], const void *data, size_t len);

#endif
