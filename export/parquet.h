/* parquet.h: aviary's own Parquet writer (Debian has no Arrow): a schema
 * inferred from JSON rows (or built by hand), rows shredded into columns
 * (Dremel repetition/definition levels), data pages v1 with RLE/bit-packed
 * levels, PLAIN or dictionary (RLE_DICTIONARY) values, ZSTD-compressed pages,
 * row groups of a target size, and a Thrift compact FileMetaData footer that
 * carries the Hugging Face `huggingface` key-value metadata.
 *
 * Memory: one row group's compressed column chunks plus one uncompressed page
 * per column; rows stream through.
 *
 * Errors: negative AV_E* codes with a message in av_errmsg(). */
#ifndef AV_EXPORT_PARQUET_H
#define AV_EXPORT_PARQUET_H

#include <stddef.h>
#include <stdint.h>

#include "export/jsonv.h"
#include "util/util.h"

typedef enum pq_kind {
    PQ_UNKNOWN = 0, /* only nulls seen so far; written as a string column */
    PQ_BOOL,
    PQ_INT64,
    PQ_DOUBLE,
    PQ_STRING,
    PQ_STRUCT,
    PQ_LIST,
} pq_kind;

/* A schema node. Every field is optional (nullable) as in files written by
 * `datasets`; list elements are required unless a null element was seen. The
 * root is a PQ_STRUCT whose children are the columns, in first-seen order. */
typedef struct pq_node {
    pq_kind kind;
    int nullable;
    char *name;
    size_t nchild, cap;
    struct pq_node **child; /* struct fields; for a list, child[0] is the element */
    uint32_t hint;          /* inference: index of the field matched last */
} pq_node;

/* An empty root (a struct with no columns yet). */
pq_node *pq_schema_new(void);
void pq_schema_free(pq_node *n);
/* Adds a child named name of kind to a struct node (or sets a list's element
 * when parent is a list; name is then ignored). Returns the child. */
pq_node *pq_schema_add(pq_node *parent, const char *name, pq_kind kind);
/* Widens the schema so it holds row (a JSON object). AV_EINVAL when a value
 * cannot share a column with earlier ones (a string where numbers were, ...);
 * the message names the column path. */
int pq_schema_infer(pq_node *root, const jv *row);
/* 1 if row fits the schema as it is (pq_schema_infer would change
 * nothing that matters for writing), 0 otherwise. */
int pq_schema_fits(const pq_node *root, const jv *row);
/* Widens dst so it also holds every row src was inferred from (columns new
 * to dst go after its own). AV_EINVAL as pq_schema_infer. */
int pq_schema_merge(pq_node *dst, const pq_node *src);
/* Appends the `datasets` Features of the schema as JSON:
 * {"col": {"dtype": "string", "_type": "Value"}, "list": [{...}], ...}. */
void pq_schema_features_json(const pq_node *root, av_buf *out);
/* Appends the card's `dataset_info.features` YAML list, each line indented
 * by indent spaces. */
void pq_schema_features_yaml(const pq_node *root, av_buf *out, int indent);

typedef struct pq_opts {
    uint64_t row_group_bytes; /* target uncompressed bytes per row group (default 128 MiB) */
    size_t page_bytes;        /* target uncompressed bytes per page (default 8 MiB) */
    size_t dict_max_bytes;    /* a column chunk's dictionary stops growing here (default 1 MiB) */
    int zstd_level;           /* default 3 */
    const char *created_by;   /* default "aviary" */
    int threads;              /* compression threads: 0 = one when there is a second core, -1 = none */
} pq_opts;
#define PQ_OPTS_INIT {0, 0, 0, 0, NULL, 0}

typedef struct pq_writer pq_writer;

/* Creates path (truncating it) for rows of schema root; the schema must stay
 * alive and unchanged until the writer is closed. AV_EIO if the file cannot
 * be created. */
int pq_writer_open(pq_writer **out, const char *path, const pq_node *root, const pq_opts *opts);
/* Adds one row (a JSON object; missing members are null). AV_EINVAL if a
 * value does not fit the schema; AV_EIO on a write error. */
int pq_writer_add(pq_writer *w, const jv *row);
/* Rows added so far. */
uint64_t pq_writer_rows(const pq_writer *w);
/* Writes the last row group and the footer, closes the file, frees w.
 * *out_bytes (if not NULL) gets the file size. AV_EIO on a write error (the
 * file is then incomplete: the caller removes it). */
int pq_writer_close(pq_writer *w, uint64_t *out_bytes);
/* Closes and frees without finishing (after an error). */
void pq_writer_abort(pq_writer *w);

#endif
