/* export.h: `aviary export` as a library call: select units with a filter,
 * turn them into rows of a dataset format (source-shaped formats through
 * av_rows_source, derived ones through export/derive.c), and write them as
 * one file or as a Hugging Face dataset folder (data/<split>-0000i-of-0000N,
 * README.md card, provenance.json), in JSON Lines or Parquet.
 *
 * Output is deterministic for a store version and options, and written under
 * a temporary name then renamed, so a failed export never leaves a file or
 * folder that looks complete. Memory stays bounded: rows are spooled to a
 * temporary file between producing and writing. */
#ifndef AV_EXPORT_EXPORT_H
#define AV_EXPORT_EXPORT_H

#include <stdint.h>

#include "export/rows.h"
#include "store/aviary.h"

/* Options of the derived formats (preference, kto, stepwise). */
typedef struct av_derive_opts {
    const char *pairs;  /* "best-worst" (default), "best-random", "all-pairs" */
    const char *score;  /* "mean-aspects" (default), "overall", or an aspect name */
    double min_margin;  /* score(chosen) - score(rejected) must be >= this (default 0) */
    int keep_ties;      /* keep pairs with equal scores */
    double min_p;       /* >= 0: pairs from preference records with P >= min_p (or <= 1-min_p, swapped) */
    uint64_t seed;      /* for best-random */
} av_derive_opts;
#define AV_DERIVE_OPTS_INIT {NULL, NULL, 0, 0, -1, 42}

/* The formats export/derive.c builds from store records. */
int av_rows_derived_known(const char *format);
/* Builds rows of a derived format from the selected response units. Rows
 * are handed to fn in a deterministic order (by prompt row, then pair).
 * AV_EINVAL with a message for an unknown format or bad options. */
int av_rows_derived(av_reader *r, const char *format, const av_derive_opts *o, const uint64_t *units, size_t n,
                    av_row_fn fn, void *ctx);

/* A unit filter applied after the query (the hook `--policy` uses): returns
 * 1 to keep the unit, 0 to drop it, negative to stop with that error. */
typedef int (*av_unit_filter)(void *ctx, av_reader *r, uint64_t unit);

typedef struct av_export_opts {
    const char *format;      /* required */
    const char *where;       /* filter expression, or NULL for everything */
    const char *out;         /* a directory (dataset folder), a file (.jsonl, .json, .parquet) or "-" (stdout, JSONL) */
    const char *container;   /* "jsonl" or "parquet"; NULL = by the file's extension, parquet for folders */
    const char *split;       /* "train=0.98,test=0.02"; NULL = one split, train */
    uint64_t seed;           /* split assignment seed (default 42) */
    uint64_t shard_bytes;    /* a folder's data files hold at most this much JSON each (default 512 MiB) */
    uint64_t row_group_bytes;/* Parquet row group target (default 128 MiB) */
    int force;               /* replace a non-empty target */
    int progress;            /* a progress line on stderr */
    const char *command;     /* the command line, for provenance.json */
    av_derive_opts derive;
    av_unit_filter filter;   /* or NULL */
    void *filter_ctx;
} av_export_opts;

typedef struct av_export_stats {
    uint64_t units;  /* units selected */
    uint64_t rows;   /* rows written */
    uint64_t bytes;  /* bytes of data files written */
    uint32_t files;
} av_export_stats;

/* Checks the options that need no store (format, container, out, split);
 * AV_EINVAL with a message for a usage problem. */
int av_export_check(const av_export_opts *o);

/* Runs an export at r's version. On a usage problem (bad split, unknown
 * format, a non-empty target without force, ...) returns AV_EINVAL; a query
 * syntax error returns AV_EINVAL with the caret message in av_errmsg();
 * AV_EIO for file system failures (full disk, unwritable path), naming the
 * path. Nothing is left at out on failure. */
int av_export_run(av_reader *r, const av_export_opts *o, av_export_stats *out);

#endif
