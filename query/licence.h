/* licence.h: the licence registry. Every licence aviary knows (SPDX licences
 * such as mit or cc-by-nc-4.0, and model terms such as llama3 or
 * openai-terms) with the properties that matter when a dataset is published:
 * commercial use, attribution, share-alike, naming requirements for
 * derivatives, and restrictions on using outputs to train other models.
 * docs/licences.md lists the built-in entries with their sources.
 *
 * Users add their own entries (`aviary licence add`); they live in the
 * store's auxiliary space (namespace "licence", key = id, value = the entry as
 * JSON) and take precedence over built-in entries of the same id. */
#ifndef AV_LICENCE_H
#define AV_LICENCE_H

#include "store/aviary.h"
#include "util/util.h"

/* An answer to "may you ...?" / "must you ...?". */
enum av_lic_answer {
    AV_LIC_UNKNOWN = 0,
    AV_LIC_YES = 1,
    AV_LIC_NO = 2,
    AV_LIC_LIMITED = 3, /* yes, with conditions (e.g. a user-count threshold) */
};

/* Properties, as policy files name them ("non-commercial", ...). */
enum av_lic_prop {
    AV_LP_NONCOMMERCIAL = 1 << 0,       /* "non-commercial": commercial use not permitted */
    AV_LP_LIMITED_COMMERCIAL = 1 << 1,  /* "limited-commercial": permitted with conditions */
    AV_LP_ATTRIBUTION = 1 << 2,         /* "attribution": credit or a notice must be kept */
    AV_LP_SHARE_ALIKE = 1 << 3,         /* "share-alike": derivatives under the same terms */
    AV_LP_NAMING = 1 << 4,              /* "naming": derivatives must carry a name or a display line */
    AV_LP_OUTPUT_RESTRICTION = 1 << 5,  /* "output-restriction": limits on training models with outputs */
    AV_LP_USE_POLICY = 1 << 6,          /* "use-policy": an acceptable-use policy applies */
    AV_LP_UNKNOWN = 1 << 7,             /* "unknown": the licence is not known */
};
#define AV_LP_COUNT 8

typedef struct av_licence {
    const char *id;                 /* lowercase, e.g. "llama3.1" */
    const char *name;               /* "Llama 3.1 Community License Agreement" */
    const char *link;               /* the licence's own text */
    const char *hf;                 /* Hugging Face `license:` identifier; NULL when the Hub has none */
    int commercial;                 /* enum av_lic_answer */
    const char *commercial_note;    /* the condition when AV_LIC_LIMITED, or NULL */
    int attribution;                /* enum av_lic_answer */
    const char *notice;             /* attribution/notice text to reproduce verbatim, or NULL */
    int share_alike;                /* enum av_lic_answer */
    const char *naming;             /* naming/display requirement for derivatives, or NULL */
    const char *output_restriction; /* restriction on using outputs to train models, or NULL */
    const char *use_policy;         /* link to an acceptable-use policy, or NULL */
    const char *note;               /* anything else worth saying, or NULL */
    int builtin;                    /* 1 for aviary's own entries */
} av_licence;

/* The property bits of l. */
unsigned av_licence_props(const av_licence *l);
/* "non-commercial", ... for one bit; NULL for anything else. */
const char *av_licprop_name(unsigned prop);
/* The bit named s, or 0. */
unsigned av_licprop_parse(const char *s);
/* "yes", "no", "limited", "unknown". */
const char *av_lic_answer_name(int a);
/* AV_LIC_* for "yes"/"no"/"limited"/"unknown"; -1 otherwise. */
int av_lic_answer_parse(const char *s);

/* Normalises a licence name as datasets and users spell it ("MIT", "Apache
 * 2.0", "llama-3", "LLAMA3_1") to a registry id into out (lowercase, spaces
 * and underscores as '-', known aliases mapped). Always NUL-terminates. */
void av_licence_norm(char *out, size_t cap, const char *in);

/* The built-in entry with that (normalised) id, or NULL. */
const av_licence *av_licence_builtin(const char *id);
/* Number of built-in entries, and the i-th (sorted by id). */
size_t av_licence_builtin_count(void);
const av_licence *av_licence_builtin_at(size_t i);

/* ---- the registry: built-in entries plus a store's own ---------------- */

typedef struct av_licreg av_licreg;

/* Loads the built-in entries and, when r is not NULL, the store's own entries.
 * AV_ECORRUPT (with a message naming the entry) if a stored entry is not
 * valid; AV_ENOMEM. */
int av_licreg_load(av_licreg **out, av_reader *r);
void av_licreg_free(av_licreg *reg);
/* The entry for id (normalised first), or NULL if the registry has none.
 * Owned by the registry. */
const av_licence *av_licreg_get(const av_licreg *reg, const char *id);
/* Entries sorted by id. */
size_t av_licreg_count(const av_licreg *reg);
const av_licence *av_licreg_at(const av_licreg *reg, size_t i);

/* ---- user entries ------------------------------------------------------ */

/* The entry as one JSON object (keys: id, name, link, hf, commercial,
 * commercial_note, attribution, notice, share_alike, naming,
 * output_restriction, use_policy, note). Appends to out. */
void av_licence_json(const av_licence *l, av_buf *out);
/* Parses such an object. On success *out points at a malloc'd entry whose
 * strings live in the same block (free it with free()). AV_EINVAL with
 * *errmsg (malloc'd) saying what is wrong. */
int av_licence_parse(av_licence **out, const char *json, size_t len, char **errmsg);
/* Checks an entry a user is adding: id non-empty, lowercase [a-z0-9.+-],
 * name set, answers in range. AV_EINVAL with a message via av_error_set. */
int av_licence_validate(const av_licence *l);
/* Stores (or replaces) the user entry l through w (aux namespace "licence"). */
int av_licence_put(av_writer *w, const av_licence *l);

#endif
