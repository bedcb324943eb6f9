/* audit.h: licence lineage of records, and the audit of a selection.
 *
 * A record's lineage is the set of sources and models it inherits terms
 * from: the sources it (and every record it refers to) was ingested from; the
 * model that wrote it and every record it derives from (the prompt's
 * generator, the response's model, the original of a revision); the judges of
 * its ratings and preferences and the taggers of its tags (and of its
 * prompt's tags); and the model of the run that made any of these. A source's
 * licence is its "licence" attribute; a model's licence is the latest visible
 * tag with a "licence" attribute on its model record. A lineage with a model
 * or source whose licence is not known, a licence the registry does not know,
 * or no origin at all, is unknown ("unknown" joins its licence set).
 *
 * The audit groups a selection by licence combination, by licence, by source
 * and by model, lists the rows with unknown lineage, writes the obligations
 * the selection carries as markdown for a dataset card, and, with a policy,
 * lists every violating row with its reasons. */
#ifndef AV_AUDIT_H
#define AV_AUDIT_H

#include "query/licence.h"
#include "query/policy.h"
#include "store/aviary.h"
#include "util/util.h"

/* ---- lineage of one record ------------------------------------------- */

/* One source or model in a record's lineage, in the role it played (the
 * same shape as query/lineage.h's items). */
typedef struct av_audit_origin {
    uint64_t row;        /* the AV_SOURCE or AV_MODEL record */
    av_kind kind;        /* AV_SOURCE or AV_MODEL */
    const char *name;    /* its name ("" if none); owned by the auditor */
    const char *role;    /* "source", "writer", "generator", "judge", "tagger" or "model" (of a run) */
    const char *licence; /* its licence id, "unknown" when it has none; owned by the auditor */
} av_audit_origin;

/* A record's lineage with the audit's verdict on it. */
typedef struct av_audit_lineage {
    av_audit_origin *origin; /* in the order found, one per (row, role) */
    size_t norigin, cap_origin;
    const char **lic;        /* distinct licence ids, sorted bytewise; owned by the auditor */
    size_t nlic, cap_lic;
    int unknown;             /* 1 if a licence is unknown or not in the registry, or there is no origin */
    av_buf why;              /* why it is unknown: reasons separated by "; " */
} av_audit_lineage;
#define AV_AUDIT_LINEAGE_INIT {NULL, 0, 0, NULL, 0, 0, 0, AV_BUF_INIT}
void av_audit_lineage_free(av_audit_lineage *l);

/* Computes lineages at one reader's version, caching what models and
 * sources carry. Not thread-safe. */
typedef struct av_auditor av_auditor;
/* reg may be NULL (built-in entries only). */
int av_auditor_new(av_auditor **out, av_reader *r, const av_licreg *reg);
void av_auditor_free(av_auditor *a);
/* The lineage of row into out (reused; call av_audit_lineage_free at the
 * end). AV_ENOTFOUND if row is not visible. */
int av_auditor_lineage(av_auditor *a, uint64_t row, av_audit_lineage *out);
/* A model's licence id ("unknown" if none), and the tag record that set it
 * (*tag_row = 0 when none; tag_row may be NULL). Owned by the auditor. */
const char *av_auditor_model_licence(av_auditor *a, uint64_t model_row, uint64_t *tag_row);
/* A source's licence id ("unknown" if it has none). Owned by the auditor. */
const char *av_auditor_source_licence(av_auditor *a, uint64_t source_row);
/* The name of a model or source record ("" if unreadable). Owned by the auditor. */
const char *av_auditor_name(av_auditor *a, uint64_t row);

/* ---- the audit of a selection ---------------------------------------- */

typedef struct av_audit av_audit;

/* Audits units[0..n) at r's version. policy may be NULL. */
int av_audit_run(av_audit **out, av_reader *r, const av_licreg *reg, const uint64_t *units, size_t n,
                 const av_policy *policy);
void av_audit_free(av_audit *a);

uint64_t av_audit_rows(const av_audit *a);
uint64_t av_audit_unknown_rows(const av_audit *a);
uint64_t av_audit_violating_rows(const av_audit *a);
/* Distinct licence ids of the selection, sorted. Owned by the audit. */
size_t av_audit_licences(const av_audit *a, const char *const **out);
/* Rows carrying the licence combination written as "a + b" (ids sorted), 0 if none. */
uint64_t av_audit_combination_rows(const av_audit *a, const char *combination);

/* Outputs; each appends to out. */
void av_audit_table(const av_audit *a, av_buf *out);
void av_audit_json(const av_audit *a, av_buf *out);
/* The "## Licence" markdown section for a dataset card: the licence
 * breakdown, attribution notices and naming requirements. */
void av_audit_obligations(const av_audit *a, av_buf *out);
/* One line per violating row: "<content id>\t<reasons>\n". */
void av_audit_violations(const av_audit *a, av_buf *out);

#endif
