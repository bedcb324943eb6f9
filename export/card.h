/* card.h: the dataset folder's metadata: README.md (the Hugging Face card:
 * YAML front matter with license, configs, dataset_info, tags,
 * size_categories; then a prose provenance section) and the head of
 * provenance.json. Internal to export/. */
#ifndef AV_EXPORT_CARD_H
#define AV_EXPORT_CARD_H

#include <stdio.h>

#include "export/export.h"
#include "export/parquet.h"

typedef struct ex_card_split {
    const char *name;
    uint64_t rows;
    uint64_t bytes;      /* bytes of its data files */
    uint64_t json_bytes; /* bytes of its rows as JSON Lines */
} ex_card_split;

/* Writes dir/README.md. schema (NULL when the rows have no single schema)
 * gives dataset_info.features. Licence fields come from the units' lineage
 * (query/policy.h). AV_EIO naming the file on a write error. */
int ex_card_write(const char *dir, av_reader *r, const av_export_opts *o, const uint64_t *units, size_t n,
                  const pq_node *schema, const ex_card_split *splits, int nsplit);

/* Writes provenance.json's opening: store version, format, query, command,
 * then `"rows": [` (the caller writes the rows and closes it). */
void ex_provenance_head(FILE *f, av_reader *r, const av_export_opts *o);

/* 1 if every unit was ingested from a source of that format (the source's
 * "format" attribute), so a source-shaped writer can rebuild its rows. */
int ex_units_from_format(av_reader *r, const uint64_t *units, size_t n, const char *format);

#endif
