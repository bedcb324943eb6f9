/* rows.h: the seam between format mappers and containers. A row producer
 * turns selected store records into dataset rows, each handed over as one
 * compact JSON object (keys in the format's order); containers (JSON Lines,
 * Parquet) and the dataset card consume them. */
#ifndef AV_EXPORT_ROWS_H
#define AV_EXPORT_ROWS_H

#include "store/aviary.h"

/* Receives one row. json is not NUL-terminated and is valid only during the
 * call; unit is the record the row was built from (for provenance.json).
 * A non-zero return stops the producer, which returns that value. */
typedef int (*av_row_fn)(void *ctx, const char *json, size_t len, uint64_t unit);

/* Source-shaped formats (the ones `aviary ingest` reads: magpie,
 * ultrafeedback, binarized, sharegpt, alpaca, ...): rebuilds rows as they were
 * ingested, from the selected unit rows (responses or prompts, as a query
 * returned them), grouping as the format needs (UltraFeedback: one row per
 * prompt). Implemented next to the ingest mappers (ingest/), which know how
 * each format was stored. AV_EINVAL with a message for an unknown format. */
int av_rows_source(av_reader *r, const char *format, const uint64_t *units, size_t n,
                   av_row_fn fn, void *ctx);
/* 1 if `format` is one av_rows_source knows. */
int av_rows_source_known(const char *format);

#endif
