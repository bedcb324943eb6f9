/* ingest.h: the ingest module's public API. Formats (detect and map a parsed
 * row onto a plan of records, see plan.h) and the driver that streams a file
 * into a store writer. The CLI (cli/cmd_ingest.c) is a thin shell over
 * av_ingest_file(). */
#ifndef AV_INGEST_H
#define AV_INGEST_H

#include <stdio.h>

#include "ingest/json.h"
#include "ingest/plan.h"
#include "store/aviary.h"

typedef struct av_format av_format;

/* The format named name ("magpie", "ultrafeedback", ...), or NULL. */
const av_format *av_format_find(const char *name);
/* The format whose shape row (an object) has, or NULL. */
const av_format *av_format_detect(const jnode *row);
const char *av_format_name(const av_format *f);
/* All format names, comma-separated. */
const char *av_format_names(void);
/* Maps one row onto p (reset first) and builds its template. 0, or -1 with
 * the reason in p->err ("missing required field 'response'"). */
int av_format_map(const av_format *f, av_plan *p, const jnode *row);

typedef struct av_ingest_opts {
    const char *path;    /* a file, or "-" for stdin */
    const char *format;  /* NULL or "auto" to detect */
    const char *source;  /* the source's name */
    const char *licence; /* the source's licence id, or NULL */
    const char *url;     /* or NULL */
    const char *judge;   /* the model that made ratings and preferences the format names no judge for, or NULL */
    const char *rejects; /* with skip_bad: where bad rows go verbatim, or NULL */
    FILE *rejects_fp;    /* an open rejects file (used instead of rejects) */
    int skip_bad;
    int progress;        /* draw a progress line on stderr */
    int threads;         /* 0 = parse on a second thread when it helps */
} av_ingest_opts;

typedef struct av_ingest_stats {
    uint64_t rows, rows_new, rows_present, rows_bad;
    uint64_t records_new, links_new;
    uint64_t bytes;
    char format[32];
} av_ingest_stats;

/* Ingests one file through writer w (no commit). Returns 0; AV_EINVAL when
 * the file has bad rows and skip_bad is off (nothing should be committed),
 * or an unknown shape, with the message ("file:line: reason") in av_errmsg();
 * other negative codes from the store. */
int av_ingest_file(av_writer *w, const av_ingest_opts *o, av_ingest_stats *out);

/* Test hook: how many provenance links wait in memory before the rest go to
 * a temporary file (default 1M, 16 MiB). */
void av_ingest_tune_links(size_t n);

#endif
