/* audit.c: record lineages (which sources and models a record inherits terms
 * from) and the audit of a selection: counts by licence combination, licence,
 * source and model; rows with unknown lineage; obligations as markdown for a
 * dataset card; policy violations.
 *
 * Costs: a lineage reads the record, the records it refers to (transitively),
 * their provenance links and the records attached to them (ratings,
 * preferences, tags) without texts; model and source licences are cached per
 * auditor, so an audit of N rows is O(N * chain size) metadata reads and
 * decompresses nothing. The aggregates are hash maps keyed by row or string. */
#include "query/audit.h"

#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>

/* ---- small containers ------------------------------------------------- */

/* Open-addressing map from a 64-bit key (never 0) to an index. */
typedef struct u64map {
    uint64_t *key;
    size_t *val;
    size_t cap, n;
} u64map;

static uint64_t mix64(uint64_t x)
{
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdULL;
    x ^= x >> 33;
    return x;
}

static size_t *u64map_slot(u64map *m, uint64_t key, int insert)
{
    if (insert && (m->n + 1) * 2 > m->cap) {
        size_t ncap = m->cap ? m->cap * 2 : 64;
        uint64_t *nk = av_xcalloc(ncap, sizeof *nk);
        size_t *nv = av_xcalloc(ncap, sizeof *nv);
        for (size_t i = 0; i < m->cap; i++) {
            if (!m->key[i]) continue;
            size_t j = mix64(m->key[i]) & (ncap - 1);
            while (nk[j]) j = (j + 1) & (ncap - 1);
            nk[j] = m->key[i];
            nv[j] = m->val[i];
        }
        free(m->key);
        free(m->val);
        m->key = nk;
        m->val = nv;
        m->cap = ncap;
    }
    if (!m->cap) return NULL;
    size_t j = mix64(key) & (m->cap - 1);
    while (m->key[j] && m->key[j] != key) j = (j + 1) & (m->cap - 1);
    if (m->key[j] == key) return &m->val[j];
    if (!insert) return NULL;
    m->key[j] = key;
    m->n++;
    return &m->val[j];
}

static void u64map_free(u64map *m)
{
    free(m->key);
    free(m->val);
    memset(m, 0, sizeof *m);
}

static uint64_t hash_str(const char *s)
{
    uint64_t h = 1469598103934665603ULL;
    for (; *s; s++) h = (h ^ (unsigned char)*s) * 1099511628211ULL;
    return h ? h : 1;
}

/* ---- the auditor ------------------------------------------------------ */

typedef struct cached {
    char *name;
    const char *licence; /* interned */
    uint64_t tag_row;    /* models: the tag that set the licence */
    av_kind kind;
} cached;

struct av_auditor {
    av_reader *r;
    const av_licreg *reg;
    u64map map; /* row -> index into ent */
    cached *ent;
    size_t nent, capent;
    char **intern; /* licence ids, each allocated once */
    size_t nintern, capintern;
    av_record rec, att;
    uint64_t *queue; /* chain traversal */
    size_t nqueue, capqueue;
    av_prov *prov;
    size_t capprov;
};

static const char *intern(av_auditor *a, const char *s)
{
    for (size_t i = 0; i < a->nintern; i++)
        if (!strcmp(a->intern[i], s)) return a->intern[i];
    if (a->nintern == a->capintern) {
        a->capintern = a->capintern ? 2 * a->capintern : 16;
        a->intern = av_xrealloc(a->intern, a->capintern * sizeof *a->intern);
    }
    return a->intern[a->nintern++] = av_xstrdup(s);
}

int av_auditor_new(av_auditor **out, av_reader *r, const av_licreg *reg)
{
    av_auditor *a = av_xcalloc(1, sizeof *a);
    a->r = r;
    a->reg = reg;
    av_record_init(&a->rec);
    av_record_init(&a->att);
    a->capprov = 16;
    a->prov = av_xcalloc(a->capprov, sizeof *a->prov);
    intern(a, "unknown");
    *out = a;
    return 0;
}

void av_auditor_free(av_auditor *a)
{
    if (!a) return;
    for (size_t i = 0; i < a->nent; i++) free(a->ent[i].name);
    for (size_t i = 0; i < a->nintern; i++) free(a->intern[i]);
    free(a->ent);
    free(a->intern);
    free(a->queue);
    free(a->prov);
    u64map_free(&a->map);
    av_record_free(&a->rec);
    av_record_free(&a->att);
    free(a);
}

/* The JSON string value of attribute key as a malloc'd C string, or NULL when
 * the attribute is missing or not a string. */
static char *attr_string(av_reader *r, av_record *rec, const char *key)
{
    const av_attr *at = av_record_attr(rec, key);
    if (!at) return NULL;
    av_val v = at->json;
    if (!v.ptr && v.len && av_load(r, rec, &v) < 0) return NULL;
    if (!v.ptr) return NULL;
    cJSON *j = cJSON_ParseWithLength(v.ptr, v.len);
    char *s = cJSON_IsString(j) ? av_xstrdup(j->valuestring) : NULL;
    cJSON_Delete(j);
    return s;
}

/* Normalised licence id, interned; "unknown" for NULL or empty. */
static const char *licence_id(av_auditor *a, const char *raw)
{
    char norm[128];
    if (!raw || !*raw) return a->intern[0];
    av_licence_norm(norm, sizeof norm, raw);
    return intern(a, *norm ? norm : "unknown");
}

static cached *lookup(av_auditor *a, uint64_t row)
{
    size_t *slot = u64map_slot(&a->map, row, 0);
    if (slot) return &a->ent[*slot];
    av_record rec;
    av_record_init(&rec);
    cached c = {NULL, a->intern[0], 0, AV_KIND_NONE};
    if (av_get(a->r, row, AV_GET_ANY, &rec) == 0) {
        c.kind = rec.kind;
        c.name = av_xstrdup(rec.name ? rec.name : "");
        if (rec.kind == AV_SOURCE) {
            char *lic = attr_string(a->r, &rec, "licence");
            if (!lic) lic = attr_string(a->r, &rec, "license");
            c.licence = licence_id(a, lic);
            free(lic);
        } else if (rec.kind == AV_MODEL) {
            /* The latest visible tag with a "licence" attribute. */
            av_iter *it = NULL;
            uint64_t t;
            char *best = NULL;
            if (av_iter_refs(&it, a->r, row) == 0) {
                av_record tag;
                av_record_init(&tag);
                while (av_iter_next(it, &t) == 1) {
                    if (av_get(a->r, t, 0, &tag) < 0 || tag.kind != AV_TAG || tag.ref[0] != row) continue;
                    char *lic = attr_string(a->r, &tag, "licence");
                    if (!lic) continue;
                    if (t >= c.tag_row) {
                        free(best);
                        best = lic;
                        c.tag_row = t;
                    } else {
                        free(lic);
                    }
                }
                av_record_free(&tag);
                av_iter_free(it);
            }
            c.licence = licence_id(a, best);
            free(best);
        }
    } else {
        c.name = av_xstrdup("");
    }
    av_record_free(&rec);
    if (a->nent == a->capent) {
        a->capent = a->capent ? 2 * a->capent : 64;
        a->ent = av_xrealloc(a->ent, a->capent * sizeof *a->ent);
    }
    a->ent[a->nent] = c;
    *u64map_slot(&a->map, row, 1) = a->nent;
    return &a->ent[a->nent++];
}

const char *av_auditor_model_licence(av_auditor *a, uint64_t model_row, uint64_t *tag_row)
{
    cached *c = lookup(a, model_row);
    if (tag_row) *tag_row = c->tag_row;
    return c->licence;
}

const char *av_auditor_source_licence(av_auditor *a, uint64_t source_row) { return lookup(a, source_row)->licence; }

const char *av_auditor_name(av_auditor *a, uint64_t row) { return lookup(a, row)->name; }

void av_audit_lineage_free(av_audit_lineage *l)
{
    if (!l) return;
    free(l->origin);
    free(l->lic);
    av_buf_free(&l->why);
    memset(l, 0, sizeof *l);
}

static void why_add(av_audit_lineage *l, const char *fmt, const char *a1, const char *a2)
{
    av_buf b = AV_BUF_INIT;
    av_buf_printf(&b, fmt, a1, a2);
    if (!l->why.len || !strstr(l->why.ptr, b.ptr)) {
        if (l->why.len) av_buf_puts(&l->why, "; ");
        av_buf_put(&l->why, b.ptr, b.len);
    }
    av_buf_free(&b);
}

static void add_lic(av_audit_lineage *l, const char *id)
{
    size_t i = 0;
    while (i < l->nlic && strcmp(l->lic[i], id) < 0) i++;
    if (i < l->nlic && !strcmp(l->lic[i], id)) return;
    if (l->nlic == l->cap_lic) {
        l->cap_lic = l->cap_lic ? 2 * l->cap_lic : 8;
        l->lic = av_xrealloc(l->lic, l->cap_lic * sizeof *l->lic);
    }
    memmove(l->lic + i + 1, l->lic + i, (l->nlic - i) * sizeof *l->lic);
    l->lic[i] = id;
    l->nlic++;
}

static void add_origin(av_auditor *a, av_audit_lineage *l, uint64_t row, const char *role)
{
    if (!row) return;
    for (size_t i = 0; i < l->norigin; i++)
        if (l->origin[i].row == row && !strcmp(l->origin[i].role, role)) return;
    cached *c = lookup(a, row);
    if (l->norigin == l->cap_origin) {
        l->cap_origin = l->cap_origin ? 2 * l->cap_origin : 8;
        l->origin = av_xrealloc(l->origin, l->cap_origin * sizeof *l->origin);
    }
    av_audit_origin *o = &l->origin[l->norigin++];
    o->row = row;
    o->kind = c->kind;
    o->name = c->name;
    o->role = role;
    o->licence = c->licence;
}

static const char *model_role(av_kind k)
{
    switch (k) {
    case AV_PROMPT: return "generator";
    case AV_RESPONSE: return "writer";
    case AV_RATING:
    case AV_PREFERENCE: return "judge";
    case AV_TAG: return "tagger";
    default: return "model";
    }
}

/* Adds the sources, model and run model of rec (row). */
static int add_record_origins(av_auditor *a, av_audit_lineage *l, uint64_t row, av_record *rec)
{
    size_t n = 0;
    int rc = av_prov_get(a->r, row, a->prov, a->capprov, &n);
    if (rc < 0) return rc;
    if (n > a->capprov) {
        a->capprov = n;
        a->prov = av_xrealloc(a->prov, a->capprov * sizeof *a->prov);
        if ((rc = av_prov_get(a->r, row, a->prov, a->capprov, &n)) < 0) return rc;
    }
    for (size_t i = 0; i < n && i < a->capprov; i++) add_origin(a, l, a->prov[i].source, "source");
    if (rec->model) add_origin(a, l, rec->model, model_role(rec->kind));
    if (rec->run && !rec->model) {
        av_record run;
        av_record_init(&run);
        if (av_get(a->r, rec->run, AV_GET_ANY, &run) == 0) {
            char *m = attr_string(a->r, &run, "model");
            uint64_t mrow = 0;
            if (m && av_find_model(a->r, m, &mrow) == 0) add_origin(a, l, mrow, "model");
            else if (m) {
                why_add(l, "model '%s' of its run has no model record%s", m, "");
                l->unknown = 1;
                add_lic(l, a->intern[0]);
            }
            free(m);
        }
        av_record_free(&run);
    }
    return 0;
}

static void queue_push(av_auditor *a, uint64_t row)
{
    if (!row) return;
    for (size_t i = 0; i < a->nqueue; i++)
        if (a->queue[i] == row) return;
    if (a->nqueue == a->capqueue) {
        a->capqueue = a->capqueue ? 2 * a->capqueue : 16;
        a->queue = av_xrealloc(a->queue, a->capqueue * sizeof *a->queue);
    }
    a->queue[a->nqueue++] = row;
}

/* Gathers the origins of row's chain into l (see audit.h). */
static int gather(av_auditor *a, uint64_t row, av_audit_lineage *l)
{
    int rc;
    a->nqueue = 0;
    queue_push(a, row);
    for (size_t qi = 0; qi < a->nqueue; qi++) {
        uint64_t x = a->queue[qi];
        if ((rc = av_get(a->r, x, qi ? AV_GET_ANY : 0, &a->rec)) < 0) return rc;
        if (a->rec.kind == AV_SOURCE || a->rec.kind == AV_MODEL || a->rec.kind == AV_RUN) {
            if (a->rec.kind != AV_RUN) add_origin(a, l, x, a->rec.kind == AV_SOURCE ? "source" : "model");
            continue;
        }
        uint64_t refs[3] = {a->rec.ref[0], a->rec.ref[1], a->rec.ref[2]};
        if ((rc = add_record_origins(a, l, x, &a->rec)) < 0) return rc;
        /* Attached records: on the record itself its ratings, preferences
         * and tags; on what it refers to, the tags only. */
        av_iter *it = NULL;
        uint64_t t;
        if ((rc = av_iter_refs(&it, a->r, x)) < 0) return rc;
        while ((rc = av_iter_next(it, &t)) == 1) {
            if ((rc = av_get(a->r, t, 0, &a->att)) < 0) break;
            av_kind k = a->att.kind;
            if (!(k == AV_TAG || (qi == 0 && (k == AV_RATING || k == AV_PREFERENCE)))) continue;
            if ((rc = add_record_origins(a, l, t, &a->att)) < 0) break;
        }
        av_iter_free(it);
        if (rc < 0) return rc;
        for (int i = 0; i < 3; i++) queue_push(a, refs[i]);
    }
    return 0;
}

int av_auditor_lineage(av_auditor *a, uint64_t row, av_audit_lineage *l)
{
    l->norigin = 0;
    l->nlic = 0;
    l->unknown = 0;
    av_buf_reset(&l->why);
    int rc = gather(a, row, l);
    if (rc < 0) return rc;
    for (size_t i = 0; i < l->norigin; i++) {
        const av_audit_origin *o = &l->origin[i];
        const char *what = o->kind == AV_SOURCE ? "source" : "model";
        add_lic(l, o->licence);
        if (!strcmp(o->licence, "unknown")) {
            l->unknown = 1;
            av_buf b = AV_BUF_INIT;
            av_buf_printf(&b, "%s '%s' has no licence", what, o->name);
            why_add(l, "%s%s", b.ptr, "");
            av_buf_free(&b);
        } else if (!av_licreg_get(a->reg, o->licence)) {
            l->unknown = 1;
            av_buf b = AV_BUF_INIT;
            av_buf_printf(&b, "licence '%s' of %s '%s' is not in the registry", o->licence, what, o->name);
            why_add(l, "%s%s", b.ptr, "");
            av_buf_free(&b);
        }
    }
    if (!l->norigin && !l->unknown) {
        l->unknown = 1;
        add_lic(l, a->intern[0]);
        why_add(l, "no source or model in its lineage%s%s", "", "");
    }
    return 0;
}

/* ---- the audit -------------------------------------------------------- */

#define ROLE_COUNT 6
static const char *const role_names[ROLE_COUNT] = {"source", "generator", "writer", "judge", "tagger", "model"};

static unsigned role_bit(const char *role)
{
    for (unsigned i = 0; i < ROLE_COUNT; i++)
        if (!strcmp(role, role_names[i])) return 1u << i;
    return 0;
}

typedef struct group {
    char *key;           /* combination text, licence id */
    uint64_t row;        /* source or model row */
    const char *name;    /* source or model name (auditor-owned) */
    const char *licence; /* auditor-owned */
    char *url;
    unsigned roles;
    uint64_t rows;
    size_t stamp;        /* last unit counted + 1 */
    char **via;          /* licences: names of origins that brought it (up to VIA_MAX) */
    size_t nvia, morevia;
} group;
#define VIA_MAX 6

typedef struct groups {
    group *g;
    size_t n, cap;
    u64map map;
} groups;

static group *groups_get(groups *gs, uint64_t key, int *created)
{
    size_t *slot = u64map_slot(&gs->map, key, 1);
    if (created) *created = 0;
    if (*slot && *slot <= gs->n) return &gs->g[*slot - 1];
    if (gs->n == gs->cap) {
        gs->cap = gs->cap ? 2 * gs->cap : 16;
        gs->g = av_xrealloc(gs->g, gs->cap * sizeof *gs->g);
    }
    memset(&gs->g[gs->n], 0, sizeof gs->g[0]);
    *slot = ++gs->n;
    if (created) *created = 1;
    return &gs->g[gs->n - 1];
}

/* String-keyed groups hash the string; collisions fall back to a probe on the key. */
static group *groups_str(groups *gs, const char *s)
{
    uint64_t h = hash_str(s);
    for (;;) {
        int created;
        group *g = groups_get(gs, h, &created);
        if (created) {
            g->key = av_xstrdup(s);
            return g;
        }
        if (!strcmp(g->key, s)) return g;
        h = mix64(h) | 1;
    }
}

static void groups_free(groups *gs)
{
    for (size_t i = 0; i < gs->n; i++) {
        free(gs->g[i].key);
        free(gs->g[i].url);
        for (size_t k = 0; k < gs->g[i].nvia; k++) free(gs->g[i].via[k]);
        free(gs->g[i].via);
    }
    free(gs->g);
    u64map_free(&gs->map);
}

typedef struct listed {
    uint64_t row;
    char hex[33];
    char *why;
} listed;

#define LIST_MAX 10000

struct av_audit {
    av_reader *r;
    av_auditor *a; /* owns the names and licence ids the groups point at */
    const av_licreg *reg;
    const av_policy *policy;
    uint32_t version;
    uint64_t rows, unknown_rows, violating_rows;
    groups combos, lics, sources, models;
    listed *unknown, *violation;
    size_t nunknown, nviolation;
    const char **licids; /* sorted, for av_audit_licences */
    size_t nlicids;
};

static void list_add(listed **arr, size_t *n, uint64_t row, const av_id *cid, const char *why)
{
    if (*n >= LIST_MAX) return;
    if (*n == 0) *arr = av_xrealloc(*arr, 16 * sizeof **arr);
    else if (*n >= 16 && (*n & (*n - 1)) == 0) *arr = av_xrealloc(*arr, 2 * *n * sizeof **arr);
    listed *e = &(*arr)[(*n)++];
    e->row = row;
    av_id_hex(e->hex, cid);
    e->why = av_xstrdup(why ? why : "");
}

static int cmp_group_rows(const void *x, const void *y)
{
    const group *a = x, *b = y;
    if (a->rows != b->rows) return a->rows < b->rows ? 1 : -1;
    const char *ka = a->key ? a->key : a->name, *kb = b->key ? b->key : b->name;
    int c = strcmp(ka ? ka : "", kb ? kb : "");
    if (c) return c;
    return a->row < b->row ? -1 : a->row > b->row;
}

static int cmp_str(const void *x, const void *y) { return strcmp(*(const char *const *)x, *(const char *const *)y); }

int av_audit_run(av_audit **out, av_reader *r, const av_licreg *reg, const uint64_t *units, size_t n,
                 const av_policy *policy)
{
    av_audit *au = av_xcalloc(1, sizeof *au);
    av_auditor *a = NULL;
    av_audit_lineage lin = AV_AUDIT_LINEAGE_INIT;
    av_buf key = AV_BUF_INIT, why = AV_BUF_INIT;
    av_record rec;
    int rc;
    av_record_init(&rec);
    au->r = r;
    au->reg = reg;
    au->policy = policy;
    au->version = av_reader_version(r);
    *out = NULL;
    if ((rc = av_auditor_new(&a, r, reg)) < 0) goto done;
    for (size_t i = 0; i < n; i++) {
        size_t stamp = i + 1;
        if ((rc = av_auditor_lineage(a, units[i], &lin)) < 0) goto done;
        if ((rc = av_get(r, units[i], 0, &rec)) < 0) goto done;
        au->rows++;
        av_buf_reset(&key);
        for (size_t k = 0; k < lin.nlic; k++) av_buf_printf(&key, "%s%s", k ? " + " : "", lin.lic[k]);
        groups_str(&au->combos, key.len ? key.ptr : "unknown")->rows++;
        for (size_t k = 0; k < lin.nlic; k++) groups_str(&au->lics, lin.lic[k])->rows++;
        for (size_t k = 0; k < lin.norigin; k++) {
            const av_audit_origin *o = &lin.origin[k];
            group *lg = groups_str(&au->lics, o->licence);
            int seen = 0;
            for (size_t v = 0; v < lg->nvia && !seen; v++) seen = !strcmp(lg->via[v], o->name);
            if (!seen) {
                if (lg->nvia < VIA_MAX) {
                    lg->via = av_xrealloc(lg->via, (lg->nvia + 1) * sizeof *lg->via);
                    lg->via[lg->nvia++] = av_xstrdup(o->name);
                } else {
                    lg->morevia++;
                }
            }
            groups *gs = o->kind == AV_SOURCE ? &au->sources : &au->models;
            int created;
            group *g = groups_get(gs, o->row, &created);
            if (created) {
                g->row = o->row;
                g->name = o->name;
                g->licence = o->licence;
                if (o->kind == AV_SOURCE) {
                    av_record src;
                    av_record_init(&src);
                    if (av_get(r, o->row, AV_GET_ANY, &src) == 0) g->url = attr_string(r, &src, "url");
                    av_record_free(&src);
                }
            }
            g->roles |= role_bit(o->role);
            if (g->stamp != stamp) {
                g->stamp = stamp;
                g->rows++;
            }
        }
        if (lin.unknown) {
            au->unknown_rows++;
            list_add(&au->unknown, &au->nunknown, units[i], &rec.cid, lin.why.ptr);
        }
        if (policy) {
            av_buf_reset(&why);
            if (av_policy_check(policy, reg, lin.lic, lin.nlic, &why) > 0) {
                if (lin.unknown && lin.why.len) av_buf_printf(&why, " (%s)", lin.why.ptr);
                au->violating_rows++;
                list_add(&au->violation, &au->nviolation, units[i], &rec.cid, why.ptr);
            }
        }
    }
    if (au->combos.n) qsort(au->combos.g, au->combos.n, sizeof(group), cmp_group_rows);
    if (au->lics.n) qsort(au->lics.g, au->lics.n, sizeof(group), cmp_group_rows);
    if (au->sources.n) qsort(au->sources.g, au->sources.n, sizeof(group), cmp_group_rows);
    if (au->models.n) qsort(au->models.g, au->models.n, sizeof(group), cmp_group_rows);
    /* The maps now point at old positions; only lookups by string remain
     * (av_audit_combination_rows), which scan instead. */
    u64map_free(&au->combos.map);
    u64map_free(&au->lics.map);
    u64map_free(&au->sources.map);
    u64map_free(&au->models.map);
    au->licids = av_xcalloc(au->lics.n + 1, sizeof *au->licids);
    for (size_t i = 0; i < au->lics.n; i++) au->licids[au->nlicids++] = au->lics.g[i].key;
    if (au->nlicids) qsort(au->licids, au->nlicids, sizeof *au->licids, cmp_str);
    rc = 0;
done:
    av_record_free(&rec);
    av_buf_free(&key);
    av_buf_free(&why);
    av_audit_lineage_free(&lin);
    au->a = a;
    if (rc < 0) av_audit_free(au);
    else *out = au;
    return rc;
}

void av_audit_free(av_audit *au)
{
    if (!au) return;
    groups_free(&au->combos);
    groups_free(&au->lics);
    groups_free(&au->sources);
    groups_free(&au->models);
    for (size_t i = 0; i < au->nunknown; i++) free(au->unknown[i].why);
    for (size_t i = 0; i < au->nviolation; i++) free(au->violation[i].why);
    free(au->unknown);
    free(au->violation);
    free(au->licids);
    av_auditor_free(au->a);
    free(au);
}

uint64_t av_audit_rows(const av_audit *a) { return a->rows; }
uint64_t av_audit_unknown_rows(const av_audit *a) { return a->unknown_rows; }
uint64_t av_audit_violating_rows(const av_audit *a) { return a->violating_rows; }

size_t av_audit_licences(const av_audit *a, const char *const **out)
{
    *out = a->licids;
    return a->nlicids;
}

uint64_t av_audit_combination_rows(const av_audit *a, const char *combination)
{
    for (size_t i = 0; i < a->combos.n; i++)
        if (!strcmp(a->combos.g[i].key, combination)) return a->combos.g[i].rows;
    return 0;
}

/* ---- a plain-text table ------------------------------------------------ */

typedef struct table {
    size_t ncol, n;
    const char **cell; /* n rows of ncol cells */
    char **owned;
    size_t nowned;
    unsigned right;    /* bit i: right-align column i */
} table;

static const char *tdup(table *t, const char *s)
{
    t->owned = av_xrealloc(t->owned, (t->nowned + 1) * sizeof *t->owned);
    return t->owned[t->nowned++] = av_xstrdup(s);
}

static const char *tnum(table *t, uint64_t v)
{
    char b[32];
    snprintf(b, sizeof b, "%llu", (unsigned long long)v);
    return tdup(t, b);
}

static void trow(table *t, const char **cells)
{
    t->cell = av_xrealloc(t->cell, (t->n + 1) * t->ncol * sizeof *t->cell);
    for (size_t i = 0; i < t->ncol; i++) t->cell[t->n * t->ncol + i] = cells[i] ? cells[i] : "";
    t->n++;
}

static void tprint(table *t, av_buf *out)
{
    size_t w[16] = {0};
    for (size_t r = 0; r < t->n; r++)
        for (size_t c = 0; c < t->ncol; c++) {
            size_t len = av_utf8_len(t->cell[r * t->ncol + c], strlen(t->cell[r * t->ncol + c]));
            if (len > w[c]) w[c] = len;
        }
    for (size_t r = 0; r < t->n; r++) {
        av_buf line = AV_BUF_INIT;
        for (size_t c = 0; c < t->ncol; c++) {
            const char *s = t->cell[r * t->ncol + c];
            size_t pad = w[c] - av_utf8_len(s, strlen(s));
            if (c) av_buf_puts(&line, "  ");
            if (t->right & (1u << c))
                for (size_t k = 0; k < pad; k++) av_buf_putc(&line, ' ');
            av_buf_puts(&line, s);
            if (!(t->right & (1u << c)) && c + 1 < t->ncol)
                for (size_t k = 0; k < pad; k++) av_buf_putc(&line, ' ');
        }
        while (line.len && line.ptr[line.len - 1] == ' ') line.ptr[--line.len] = 0;
        av_buf_puts(out, "  ");
        av_buf_put(out, line.ptr, line.len);
        av_buf_putc(out, '\n');
        av_buf_free(&line);
    }
    for (size_t i = 0; i < t->nowned; i++) free(t->owned[i]);
    free(t->owned);
    free(t->cell);
    memset(t, 0, sizeof *t);
}

static void roles_text(av_buf *b, unsigned roles)
{
    int first = 1;
    for (unsigned i = 0; i < ROLE_COUNT; i++)
        if (roles & (1u << i)) {
            av_buf_printf(b, "%s%s", first ? "" : ",", role_names[i]);
            first = 0;
        }
}

static const char *rows_word(uint64_t n) { return n == 1 ? "row" : "rows"; }

static const char *yn(int present) { return present ? "yes" : "no"; }

void av_audit_table(const av_audit *a, av_buf *out)
{
    table t = {0};
    av_buf_printf(out, "%llu %s at version %u\n", (unsigned long long)a->rows, rows_word(a->rows), a->version);

    av_buf_puts(out, "\nby licence combination\n");
    t.ncol = 2;
    t.right = 2;
    trow(&t, (const char *[]){"licences", "rows"});
    for (size_t i = 0; i < a->combos.n; i++) trow(&t, (const char *[]){a->combos.g[i].key, tnum(&t, a->combos.g[i].rows)});
    tprint(&t, out);

    av_buf_puts(out, "\nby licence\n");
    t.ncol = 8;
    t.right = 2;
    trow(&t, (const char *[]){"licence", "rows", "commercial", "attribution", "share-alike", "naming",
                              "output-restriction", "name"});
    for (size_t i = 0; i < a->lics.n; i++) {
        const group *g = &a->lics.g[i];
        const av_licence *l = av_licreg_get(a->reg, g->key);
        if (!l) {
            trow(&t, (const char *[]){g->key, tnum(&t, g->rows), "?", "?", "?", "?", "?",
                                      strcmp(g->key, "unknown") ? "(not in the registry)" : "(unknown)"});
            continue;
        }
        trow(&t, (const char *[]){g->key, tnum(&t, g->rows), av_lic_answer_name(l->commercial),
                                  av_lic_answer_name(l->attribution), av_lic_answer_name(l->share_alike),
                                  yn(l->naming != NULL), yn(l->output_restriction != NULL), l->name});
    }
    tprint(&t, out);

    av_buf_puts(out, "\nby source\n");
    if (!a->sources.n) av_buf_puts(out, "  (none)\n");
    t.ncol = 3;
    t.right = 4;
    if (a->sources.n) trow(&t, (const char *[]){"source", "licence", "rows"});
    for (size_t i = 0; i < a->sources.n; i++) {
        const group *g = &a->sources.g[i];
        trow(&t, (const char *[]){g->name, g->licence, tnum(&t, g->rows)});
    }
    tprint(&t, out);

    av_buf_puts(out, "\nby model\n");
    if (!a->models.n) av_buf_puts(out, "  (none)\n");
    t.ncol = 4;
    t.right = 8;
    if (a->models.n) trow(&t, (const char *[]){"model", "licence", "roles", "rows"});
    for (size_t i = 0; i < a->models.n; i++) {
        const group *g = &a->models.g[i];
        av_buf roles = AV_BUF_INIT;
        roles_text(&roles, g->roles);
        trow(&t, (const char *[]){g->name, g->licence, tdup(&t, roles.ptr ? roles.ptr : ""), tnum(&t, g->rows)});
        av_buf_free(&roles);
    }
    tprint(&t, out);

    av_buf_printf(out, "\nunknown lineage: %llu %s\n", (unsigned long long)a->unknown_rows, rows_word(a->unknown_rows));
    for (size_t i = 0; i < a->nunknown && i < 20; i++)
        av_buf_printf(out, "  %s  %s\n", a->unknown[i].hex, a->unknown[i].why);
    if (a->unknown_rows > 20)
        av_buf_printf(out, "  ... and %llu more (--format json lists them)\n",
                      (unsigned long long)(a->unknown_rows - 20));

    if (a->policy) {
        av_buf_printf(out, "\npolicy '%s': %llu violating %s\n", av_policy_name(a->policy),
                      (unsigned long long)a->violating_rows, rows_word(a->violating_rows));
        for (size_t i = 0; i < a->nviolation; i++)
            av_buf_printf(out, "  %s  %s\n", a->violation[i].hex, a->violation[i].why);
        if (a->violating_rows > a->nviolation)
            av_buf_printf(out, "  ... and %llu more\n", (unsigned long long)(a->violating_rows - a->nviolation));
    }

    av_buf_puts(out, "\nobligations (for the dataset card)\n\n");
    av_audit_obligations(a, out);
}

/* ---- JSON ------------------------------------------------------------- */

static void jstr(av_buf *b, const char *s)
{
    if (s) av_buf_json_str(b, s, strlen(s));
    else av_buf_puts(b, "null");
}

static void json_list(av_buf *out, const listed *e, size_t n, uint64_t total, const char *what)
{
    av_buf_printf(out, "{\"rows\":%llu,\"%s\":[", (unsigned long long)total, what);
    for (size_t i = 0; i < n; i++) {
        av_buf_printf(out, "%s{\"id\":\"%s\",\"reasons\":", i ? "," : "", e[i].hex);
        jstr(out, e[i].why);
        av_buf_putc(out, '}');
    }
    av_buf_printf(out, "],\"listed\":%zu}", n);
}

void av_audit_json(const av_audit *a, av_buf *out)
{
    av_buf_printf(out, "{\"version\":%u,\"rows\":%llu,\"combinations\":[", a->version, (unsigned long long)a->rows);
    for (size_t i = 0; i < a->combos.n; i++) {
        const group *g = &a->combos.g[i];
        av_buf_puts(out, i ? ",{\"licences\":[" : "{\"licences\":[");
        const char *s = g->key;
        int first = 1;
        while (*s) {
            const char *e = strstr(s, " + ");
            size_t len = e ? (size_t)(e - s) : strlen(s);
            if (!first) av_buf_putc(out, ',');
            av_buf_json_str(out, s, len);
            first = 0;
            s += len;
            if (e) s += 3;
        }
        av_buf_printf(out, "],\"rows\":%llu}", (unsigned long long)g->rows);
    }
    av_buf_puts(out, "],\"licences\":[");
    for (size_t i = 0; i < a->lics.n; i++) {
        const group *g = &a->lics.g[i];
        const av_licence *l = av_licreg_get(a->reg, g->key);
        av_buf_puts(out, i ? ",{\"id\":" : "{\"id\":");
        jstr(out, g->key);
        av_buf_printf(out, ",\"rows\":%llu,\"known\":%s", (unsigned long long)g->rows, l ? "true" : "false");
        if (l) {
            av_buf_puts(out, ",\"name\":");
            jstr(out, l->name);
            av_buf_puts(out, ",\"link\":");
            jstr(out, l->link);
            av_buf_printf(out, ",\"commercial\":\"%s\",\"attribution\":\"%s\",\"share_alike\":\"%s\"",
                          av_lic_answer_name(l->commercial), av_lic_answer_name(l->attribution),
                          av_lic_answer_name(l->share_alike));
            av_buf_puts(out, ",\"naming\":");
            jstr(out, l->naming);
            av_buf_puts(out, ",\"output_restriction\":");
            jstr(out, l->output_restriction);
            av_buf_puts(out, ",\"properties\":[");
            unsigned props = av_licence_props(l);
            int first = 1;
            for (unsigned bit = 1; bit < (1u << AV_LP_COUNT); bit <<= 1)
                if (props & bit) {
                    av_buf_printf(out, "%s\"%s\"", first ? "" : ",", av_licprop_name(bit));
                    first = 0;
                }
            av_buf_putc(out, ']');
        }
        av_buf_puts(out, ",\"via\":[");
        for (size_t k = 0; k < g->nvia; k++) {
            if (k) av_buf_putc(out, ',');
            jstr(out, g->via[k]);
        }
        av_buf_puts(out, "]}");
    }
    av_buf_puts(out, "],\"sources\":[");
    for (size_t i = 0; i < a->sources.n; i++) {
        const group *g = &a->sources.g[i];
        av_buf_puts(out, i ? ",{\"name\":" : "{\"name\":");
        jstr(out, g->name);
        av_buf_puts(out, ",\"licence\":");
        jstr(out, g->licence);
        av_buf_puts(out, ",\"url\":");
        jstr(out, g->url);
        av_buf_printf(out, ",\"rows\":%llu}", (unsigned long long)g->rows);
    }
    av_buf_puts(out, "],\"models\":[");
    for (size_t i = 0; i < a->models.n; i++) {
        const group *g = &a->models.g[i];
        av_buf_puts(out, i ? ",{\"name\":" : "{\"name\":");
        jstr(out, g->name);
        av_buf_puts(out, ",\"licence\":");
        jstr(out, g->licence);
        av_buf_puts(out, ",\"roles\":[");
        int first = 1;
        for (unsigned k = 0; k < ROLE_COUNT; k++)
            if (g->roles & (1u << k)) {
                av_buf_printf(out, "%s\"%s\"", first ? "" : ",", role_names[k]);
                first = 0;
            }
        av_buf_printf(out, "],\"rows\":%llu}", (unsigned long long)g->rows);
    }
    av_buf_puts(out, "],\"unknown\":");
    json_list(out, a->unknown, a->nunknown, a->unknown_rows, "items");
    av_buf_puts(out, ",\"obligations\":");
    av_buf md = AV_BUF_INIT;
    av_audit_obligations(a, &md);
    jstr(out, md.ptr ? md.ptr : "");
    av_buf_free(&md);
    if (a->policy) {
        av_buf_puts(out, ",\"policy\":{\"name\":");
        jstr(out, av_policy_name(a->policy));
        av_buf_puts(out, ",\"violations\":");
        json_list(out, a->violation, a->nviolation, a->violating_rows, "items");
        av_buf_putc(out, '}');
    }
    av_buf_puts(out, "}\n");
}

void av_audit_violations(const av_audit *a, av_buf *out)
{
    for (size_t i = 0; i < a->nviolation; i++) av_buf_printf(out, "%s\t%s\n", a->violation[i].hex, a->violation[i].why);
}

/* ---- obligations for a dataset card ------------------------------------ */

static void via_text(av_buf *b, const group *g)
{
    for (size_t k = 0; k < g->nvia; k++) av_buf_printf(b, "%s%s", k ? ", " : "", g->via[k]);
    if (g->morevia) av_buf_printf(b, " and %zu more", g->morevia);
}

void av_audit_obligations(const av_audit *a, av_buf *out)
{
    av_buf_puts(out, "## Licence\n\n");
    av_buf_printf(out,
                  "Each row carries the terms of the sources it came from and of every model that wrote, judged or "
                  "tagged it. This breakdown was derived by aviary from the lineage of the %llu rows (store version "
                  "%u); it is a summary, not legal advice: the licences' own texts govern.\n\n",
                  (unsigned long long)a->rows, a->version);
    av_buf_puts(out, "| licence | rows | commercial use | attribution | share-alike | naming rule | "
                     "restriction on training with outputs |\n|---|---:|---|---|---|---|---|\n");
    for (size_t i = 0; i < a->lics.n; i++) {
        const group *g = &a->lics.g[i];
        const av_licence *l = av_licreg_get(a->reg, g->key);
        if (!l) {
            av_buf_printf(out, "| `%s` (%s) | %llu | ? | ? | ? | ? | ? |\n", g->key,
                          strcmp(g->key, "unknown") ? "not in the registry" : "unknown",
                          (unsigned long long)g->rows);
            continue;
        }
        av_buf_printf(out, "| [%s](%s) (`%s`) | %llu | %s | %s | %s | %s | %s |\n", l->name, l->link ? l->link : "",
                      l->id, (unsigned long long)g->rows, av_lic_answer_name(l->commercial),
                      av_lic_answer_name(l->attribution), av_lic_answer_name(l->share_alike), yn(l->naming != NULL),
                      yn(l->output_restriction != NULL));
    }
    if (a->unknown_rows)
        av_buf_printf(out,
                      "\n%llu %s a source or model of unknown licence in their lineage; check them before "
                      "publishing.\n",
                      (unsigned long long)a->unknown_rows, a->unknown_rows == 1 ? "row has" : "rows have");

    av_buf_puts(out, "\n### Obligations\n\n");
    int any = 0;
    for (size_t i = 0; i < a->lics.n; i++) {
        const group *g = &a->lics.g[i];
        const av_licence *l = av_licreg_get(a->reg, g->key);
        if (!l) continue;
        any = 1;
        av_buf_printf(out, "- **%s** (`%s`), %llu %s, via ", l->name, l->id, (unsigned long long)g->rows,
                      rows_word(g->rows));
        via_text(out, g);
        av_buf_puts(out, ":");
        int parts = 0;
        if (l->commercial == AV_LIC_NO) av_buf_printf(out, "%s no commercial use", parts++ ? ";" : "");
        if (l->commercial == AV_LIC_LIMITED)
            av_buf_printf(out, "%s commercial use is limited: %s", parts++ ? ";" : "",
                          l->commercial_note ? l->commercial_note : "see the licence");
        if (l->notice) av_buf_printf(out, "%s keep the notice quoted below", parts++ ? ";" : "");
        if (l->share_alike == AV_LIC_YES) av_buf_printf(out, "%s share alike", parts++ ? ";" : "");
        if (l->naming) av_buf_printf(out, "%s %s", parts++ ? ";" : "", l->naming);
        if (l->output_restriction) av_buf_printf(out, "%s %s", parts++ ? ";" : "", l->output_restriction);
        if (l->use_policy) av_buf_printf(out, "%s follow the use policy at %s", parts++ ? ";" : "", l->use_policy);
        if (l->note) av_buf_printf(out, "%s %s", parts++ ? ";" : "", l->note);
        if (!parts) av_buf_puts(out, " no conditions");
        av_buf_puts(out, ".\n");
    }
    if (!any) av_buf_puts(out, "None known.\n");

    int nattr = 0;
    for (size_t i = 0; i < a->sources.n; i++) {
        const group *g = &a->sources.g[i];
        const av_licence *l = av_licreg_get(a->reg, g->licence);
        if (!nattr++) av_buf_puts(out, "\n### Attribution\n\nSources:\n\n");
        av_buf_printf(out, "- %s", g->name);
        if (g->url) av_buf_printf(out, " (%s)", g->url);
        av_buf_printf(out, ", %s\n", l ? l->name : g->licence);
    }
    int nnotice = 0;
    for (size_t i = 0; i < a->lics.n; i++) {
        const av_licence *l = av_licreg_get(a->reg, a->lics.g[i].key);
        if (!l || !l->notice) continue;
        if (!nnotice++) av_buf_puts(out, nattr ? "\nNotices to keep with the data:\n\n" : "\n### Attribution\n\nNotices to keep with the data:\n\n");
        av_buf_printf(out, "> %s\n>\n", l->notice);
    }
    if (nnotice) out->len -= 2, out->ptr[out->len] = 0;

    int nname = 0;
    for (size_t i = 0; i < a->lics.n; i++) {
        const av_licence *l = av_licreg_get(a->reg, a->lics.g[i].key);
        if (!l || !l->naming) continue;
        if (!nname++) av_buf_puts(out, "\n### Naming requirements for models trained on this data\n\n");
        av_buf_printf(out, "- %s: %s.\n", l->name, l->naming);
    }
}
