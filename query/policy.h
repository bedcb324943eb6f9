/* policy.h: licence policies, and what export needs to enforce them.
 *
 * A policy is a JSON file (docs/licences.md has the format):
 *
 *   {"name": "commercial release",
 *    "licences":   {"allow": ["mit", "apache-2.0"], "deny": ["openai-terms"]},
 *    "properties": {"allow": ["attribution"], "deny": ["non-commercial", "output-restriction"]},
 *    "unknown": "deny"}
 *
 * Every key is optional. A row violates the policy when one of the licences
 * in its lineage is denied, or is not in licences.allow (when given), or has
 * a denied property, or a property not in properties.allow (when given), or
 * when its lineage has an unknown licence or model and "unknown" is "deny"
 * (the default).
 *
 * For `aviary export --policy FILE [--drop-violations]`: load the policy with
 * av_policy_load, then av_policy_gate on the selected units; refuse when it
 * finds violations, or drop the units it marked. For the dataset card:
 * av_card_licence_get. */
#ifndef AV_POLICY_H
#define AV_POLICY_H

#include "query/licence.h"
#include "store/aviary.h"
#include "util/util.h"

typedef struct av_policy av_policy;

/* Parses a policy. Licence ids are checked against reg (NULL = built-in
 * entries only): an id the registry does not know is an error, so typos do
 * not silently allow everything. On error returns AV_EINVAL and sets *errmsg
 * (malloc'd) to "<name>:<line>: <reason>". */
int av_policy_parse(av_policy **out, const char *json, size_t len, const char *name, const av_licreg *reg,
                    char **errmsg);
/* Reads and parses the file at path. AV_EIO with *errmsg "cannot read '<path>': ..." */
int av_policy_load(av_policy **out, const char *path, const av_licreg *reg, char **errmsg);
void av_policy_free(av_policy *p);
/* The policy's "name", or the file name. */
const char *av_policy_name(const av_policy *p);

/* Checks one lineage: lic[0..n) are licence ids ("unknown" for an unknown
 * licence or model). Appends each reason to reasons, separated by "; ".
 * Returns the number of reasons (0 = allowed). */
int av_policy_check(const av_policy *p, const av_licreg *reg, const char *const *lic, size_t n, av_buf *reasons);

/* Export gating: checks every unit (rows as av_query returns them) at r's
 * version. Sets bad[i] to 1 for a violating unit and 0 otherwise (bad may be
 * NULL), and appends one line per violating unit to report (may be NULL):
 * "<content id>\t<reasons>\n". Returns the number of violating units, or a
 * negative AV_E* code. */
int av_policy_gate(const av_policy *p, av_reader *r, const uint64_t *units, size_t n, uint8_t *bad,
                   av_buf *report);
/* Compacts units[] in place, keeping those with bad[i] == 0; returns how
 * many are kept. */
size_t av_policy_drop(uint64_t *units, size_t n, const uint8_t *bad);

/* Refusal check for export: selects the units of kind `unit` matching where
 * (NULL = all) at r's version, as export does, and checks them all.
 * *out_units gets how many were selected; report gets one line per violating
 * unit (as av_policy_gate). Returns the number of violating units, or a
 * negative AV_E* code (AV_EINVAL with the query's message in av_errmsg()). */
int av_policy_check_selection(const av_policy *p, av_reader *r, const char *where, av_kind unit, av_buf *report,
                              uint64_t *out_units);

/* A per-unit checker, for dropping violating units as they are selected
 * (export's unit filter: av_policy_filter has its signature). */
typedef struct av_policy_checker av_policy_checker;
/* Binds p (which must outlive the checker) to reader r. */
int av_policy_checker_new(av_policy_checker **out, const av_policy *p, av_reader *r);
void av_policy_checker_free(av_policy_checker *c);
/* 1 if unit passes, 0 if it violates (reasons appended to report when not
 * NULL, as av_policy_gate's lines), negative on error. */
int av_policy_checker_unit(av_policy_checker *c, uint64_t unit, av_buf *report);
/* Units checked and units that violated so far. */
uint64_t av_policy_checker_checked(const av_policy_checker *c);
uint64_t av_policy_checker_violations(const av_policy_checker *c);
/* av_unit_filter-compatible: ctx is an av_policy_checker bound to r. */
int av_policy_filter(void *ctx, av_reader *r, uint64_t unit);

/* ---- the dataset card's licence fields -------------------------------- */

typedef struct av_card_licence {
    char *license;      /* the card's `license:` value: a Hub id ("mit", "llama3") or "other" */
    char *license_name; /* with "other": a slug ("openai-terms", "mit-and-llama3"); else NULL */
    char *license_link; /* with "other": a link to the terms (or the card's licence section); else NULL */
    char *section;      /* markdown: "## Licence" with the licence breakdown and obligations */
    char **licences;    /* the distinct licence ids of the selection, sorted ("unknown" included) */
    size_t nlicences;
    uint64_t unknown_rows; /* units whose lineage has an unknown licence or model */
} av_card_licence;

/* Computes the card fields for the units (as exported) at r's version. */
int av_card_licence_get(av_card_licence *out, av_reader *r, const uint64_t *units, size_t n);
void av_card_licence_free(av_card_licence *c);

#endif
