/* policy.c: licence policies (parse a JSON policy, check a lineage's licence
 * set against it), export gating over a selection, and the licence fields of
 * a dataset card. Parsing reports "<file>:<line>: <reason>"; the line of a
 * semantic error is found by locating the offending key or value in the
 * text. Checking a row is a few string comparisons per licence. */
#include "query/policy.h"

#include "query/audit.h"
#include "query/query.h"

#include <assert.h>
#include <cjson/cJSON.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

struct av_policy {
    char *name;
    char **allow, **deny; /* licence ids */
    size_t nallow, ndeny;
    int has_allow;
    unsigned prop_allow, prop_deny;
    int has_prop_allow;
    int unknown_allowed;
};

/* 1-based line of the first occurrence of "needle" (quoted) at or after from. */
static int line_of(const char *text, size_t len, const char *needle, size_t from, size_t *at)
{
    av_buf q = AV_BUF_INIT;
    av_buf_json_str(&q, needle, strlen(needle));
    size_t pos = len;
    if (q.len <= len)
        for (size_t i = from; i + q.len <= len; i++)
            if (!memcmp(text + i, q.ptr, q.len)) {
                pos = i;
                break;
            }
    av_buf_free(&q);
    if (pos == len) pos = from < len ? from : len;
    if (at) *at = pos;
    int line = 1;
    for (size_t i = 0; i < pos; i++)
        if (text[i] == '\n') line++;
    return line;
}

typedef struct perr {
    const char *name, *text;
    size_t len;
    char **errmsg;
} perr;

static int fail_at(perr *e, int line, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int fail_at(perr *e, int line, const char *fmt, ...)
{
    av_buf b = AV_BUF_INIT;
    va_list ap;
    av_buf_printf(&b, "%s:%d: ", e->name, line);
    va_start(ap, fmt);
    av_buf_vprintf(&b, fmt, ap);
    va_end(ap);
    if (e->errmsg) *e->errmsg = av_buf_detach(&b);
    else av_buf_free(&b);
    return AV_EINVAL;
}

/* Reads an array of strings at obj[key] into ids (licences) or bits (properties). */
static int read_list(perr *e, const cJSON *parent, const char *pkey, const char *key, int props,
                     const av_licreg *reg, char ***ids, size_t *nids, unsigned *bits, int *present)
{
    const cJSON *arr = cJSON_GetObjectItemCaseSensitive(parent, key);
    size_t kpos = 0;
    line_of(e->text, e->len, pkey, 0, &kpos);
    int kline = line_of(e->text, e->len, key, kpos, &kpos);
    if (!arr) return 0;
    if (!cJSON_IsArray(arr)) return fail_at(e, kline, "'%s.%s' must be an array of strings", pkey, key);
    if (present) *present = 1;
    for (const cJSON *it = arr->child; it; it = it->next) {
        if (!cJSON_IsString(it)) return fail_at(e, kline, "'%s.%s' must be an array of strings", pkey, key);
        int line = line_of(e->text, e->len, it->valuestring, kpos, NULL);
        if (props) {
            unsigned b = av_licprop_parse(it->valuestring);
            if (!b)
                return fail_at(e, line,
                               "'%s' is not a licence property (known: non-commercial, limited-commercial, "
                               "attribution, share-alike, naming, output-restriction, use-policy, unknown)",
                               it->valuestring);
            *bits |= b;
        } else {
            char norm[128];
            av_licence_norm(norm, sizeof norm, it->valuestring);
            if (strcmp(norm, "unknown") && !av_licreg_get(reg, norm))
                return fail_at(e, line, "'%s' is not a known licence (see 'aviary licence list')", it->valuestring);
            *ids = av_xrealloc(*ids, (*nids + 1) * sizeof **ids);
            (*ids)[(*nids)++] = av_xstrdup(norm);
        }
    }
    return 0;
}

static int check_keys(perr *e, const cJSON *obj, const char *where, const char *const *keys, size_t nkeys)
{
    for (const cJSON *it = obj->child; it; it = it->next) {
        size_t k = 0;
        while (k < nkeys && strcmp(it->string, keys[k])) k++;
        if (k == nkeys) {
            int line = line_of(e->text, e->len, it->string, 0, NULL);
            return fail_at(e, line, "unknown key '%s'%s%s", it->string, where ? " in " : "", where ? where : "");
        }
    }
    return 0;
}

int av_policy_parse(av_policy **out, const char *json, size_t len, const char *name, const av_licreg *reg,
                    char **errmsg)
{
    static const char *const top_keys[] = {"name", "description", "licences", "licenses", "properties", "unknown"};
    static const char *const list_keys[] = {"allow", "deny"};
    perr e = {name ? name : "policy", json, len, errmsg};
    const char *end = NULL;
    av_policy *p = NULL;
    int rc = 0;
    *out = NULL;
    if (errmsg) *errmsg = NULL;
    cJSON *root = cJSON_ParseWithLengthOpts(json, len, &end, 0);
    if (!root) {
        size_t off = end && end >= json ? (size_t)(end - json) : 0;
        int line = 1;
        for (size_t i = 0; i < off && i < len; i++)
            if (json[i] == '\n') line++;
        return fail_at(&e, line, "not valid JSON");
    }
    if (!cJSON_IsObject(root)) {
        rc = fail_at(&e, 1, "a policy must be a JSON object");
        goto done;
    }
    if ((rc = check_keys(&e, root, NULL, top_keys, 6)) < 0) goto done;
    p = av_xcalloc(1, sizeof *p);
    const cJSON *nm = cJSON_GetObjectItemCaseSensitive(root, "name");
    if (nm && !cJSON_IsString(nm)) {
        rc = fail_at(&e, line_of(json, len, "name", 0, NULL), "'name' must be a string");
        goto done;
    }
    p->name = av_xstrdup(nm ? nm->valuestring : e.name);
    const char *lkey = cJSON_GetObjectItemCaseSensitive(root, "licences") ? "licences" : "licenses";
    const cJSON *lic = cJSON_GetObjectItemCaseSensitive(root, lkey);
    if (lic) {
        if (!cJSON_IsObject(lic)) {
            rc = fail_at(&e, line_of(json, len, lkey, 0, NULL), "'%s' must be an object with allow and deny", lkey);
            goto done;
        }
        if ((rc = check_keys(&e, lic, lkey, list_keys, 2)) < 0) goto done;
        if ((rc = read_list(&e, lic, lkey, "allow", 0, reg, &p->allow, &p->nallow, NULL, &p->has_allow)) < 0 ||
            (rc = read_list(&e, lic, lkey, "deny", 0, reg, &p->deny, &p->ndeny, NULL, NULL)) < 0)
            goto done;
    }
    const cJSON *props = cJSON_GetObjectItemCaseSensitive(root, "properties");
    if (props) {
        if (!cJSON_IsObject(props)) {
            rc = fail_at(&e, line_of(json, len, "properties", 0, NULL),
                         "'properties' must be an object with allow and deny");
            goto done;
        }
        if ((rc = check_keys(&e, props, "properties", list_keys, 2)) < 0) goto done;
        if ((rc = read_list(&e, props, "properties", "allow", 1, reg, NULL, NULL, &p->prop_allow,
                            &p->has_prop_allow)) < 0 ||
            (rc = read_list(&e, props, "properties", "deny", 1, reg, NULL, NULL, &p->prop_deny, NULL)) < 0)
            goto done;
    }
    const cJSON *unk = cJSON_GetObjectItemCaseSensitive(root, "unknown");
    if (unk) {
        if (!cJSON_IsString(unk) || (strcmp(unk->valuestring, "allow") && strcmp(unk->valuestring, "deny"))) {
            rc = fail_at(&e, line_of(json, len, "unknown", 0, NULL), "'unknown' must be \"allow\" or \"deny\"");
            goto done;
        }
        p->unknown_allowed = !strcmp(unk->valuestring, "allow");
    }
done:
    cJSON_Delete(root);
    if (rc < 0) av_policy_free(p);
    else *out = p;
    return rc;
}

int av_policy_load(av_policy **out, const char *path, const av_licreg *reg, char **errmsg)
{
    size_t len = 0;
    *out = NULL;
    if (errmsg) *errmsg = NULL;
    char *text = av_read_file(path, &len);
    if (!text) {
        av_buf b = AV_BUF_INIT;
        av_buf_printf(&b, "cannot read '%s': %s", path, strerror(errno));
        if (errmsg) *errmsg = av_buf_detach(&b);
        else av_buf_free(&b);
        return AV_EIO;
    }
    int rc = av_policy_parse(out, text, len, path, reg, errmsg);
    free(text);
    return rc;
}

void av_policy_free(av_policy *p)
{
    if (!p) return;
    for (size_t i = 0; i < p->nallow; i++) free(p->allow[i]);
    for (size_t i = 0; i < p->ndeny; i++) free(p->deny[i]);
    free(p->allow);
    free(p->deny);
    free(p->name);
    free(p);
}

const char *av_policy_name(const av_policy *p) { return p->name; }

/* What a licence with the property does, for violation reasons. */
static const char *prop_phrase(unsigned bit)
{
    switch (bit) {
    case AV_LP_NONCOMMERCIAL: return "forbids commercial use";
    case AV_LP_LIMITED_COMMERCIAL: return "limits commercial use";
    case AV_LP_ATTRIBUTION: return "requires attribution";
    case AV_LP_SHARE_ALIKE: return "requires share-alike";
    case AV_LP_NAMING: return "sets a naming rule for derivatives";
    case AV_LP_OUTPUT_RESTRICTION: return "restricts training models with its outputs";
    case AV_LP_USE_POLICY: return "has an acceptable-use policy";
    default: return "has unknown terms";
    }
}

static int in_list(char *const *ids, size_t n, const char *id)
{
    for (size_t i = 0; i < n; i++)
        if (!strcmp(ids[i], id)) return 1;
    return 0;
}

static void reason(av_buf *b, int *count, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void reason(av_buf *b, int *count, const char *fmt, ...)
{
    va_list ap;
    if (b) {
        if (b->len) av_buf_puts(b, "; ");
        va_start(ap, fmt);
        av_buf_vprintf(b, fmt, ap);
        va_end(ap);
    }
    (*count)++;
}

int av_policy_check(const av_policy *p, const av_licreg *reg, const char *const *lic, size_t n, av_buf *reasons)
{
    int count = 0;
    for (size_t i = 0; i < n; i++) {
        const char *id = lic[i];
        if (!strcmp(id, "unknown")) {
            if (!p->unknown_allowed) reason(reasons, &count, "lineage has an unknown licence or model");
            continue;
        }
        if (in_list(p->deny, p->ndeny, id)) {
            reason(reasons, &count, "licence '%s' is denied", id);
            continue;
        }
        if (p->has_allow && !in_list(p->allow, p->nallow, id)) {
            reason(reasons, &count, "licence '%s' is not allowed", id);
            continue;
        }
        const av_licence *l = av_licreg_get(reg, id);
        if (!l) {
            if (!p->unknown_allowed) reason(reasons, &count, "licence '%s' is not in the registry", id);
            continue;
        }
        unsigned props = av_licence_props(l);
        for (unsigned bit = 1; bit < (1u << AV_LP_COUNT); bit <<= 1) {
            if (!(props & bit)) continue;
            if (p->prop_deny & bit)
                reason(reasons, &count, "licence '%s' %s (property '%s' is denied)", id, prop_phrase(bit),
                       av_licprop_name(bit));
            else if (p->has_prop_allow && !(p->prop_allow & bit))
                reason(reasons, &count, "licence '%s' %s (property '%s' is not allowed)", id, prop_phrase(bit),
                       av_licprop_name(bit));
        }
    }
    return count;
}

int av_policy_gate(const av_policy *p, av_reader *r, const uint64_t *units, size_t n, uint8_t *bad,
                   av_buf *report)
{
    av_licreg *reg = NULL;
    av_auditor *a = NULL;
    av_audit_lineage lin = AV_AUDIT_LINEAGE_INIT;
    av_buf why = AV_BUF_INIT;
    av_record rec;
    int rc = av_licreg_load(&reg, r);
    int nbad = 0;
    av_record_init(&rec);
    if (rc < 0) goto done;
    if ((rc = av_auditor_new(&a, r, reg)) < 0) goto done;
    for (size_t i = 0; i < n; i++) {
        if ((rc = av_auditor_lineage(a, units[i], &lin)) < 0) goto done;
        av_buf_reset(&why);
        int k = av_policy_check(p, reg, lin.lic, lin.nlic, &why);
        if (bad) bad[i] = k > 0;
        if (!k) continue;
        nbad++;
        if (report) {
            char hex[33];
            if ((rc = av_get(r, units[i], 0, &rec)) < 0) goto done;
            av_id_hex(hex, &rec.cid);
            av_buf_printf(report, "%s\t%s", hex, why.ptr);
            if (lin.unknown && lin.why.len) av_buf_printf(report, " (%s)", lin.why.ptr);
            av_buf_putc(report, '\n');
        }
    }
    rc = nbad;
done:
    av_record_free(&rec);
    av_buf_free(&why);
    av_audit_lineage_free(&lin);
    av_auditor_free(a);
    av_licreg_free(reg);
    return rc;
}

size_t av_policy_drop(uint64_t *units, size_t n, const uint8_t *bad)
{
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        if (!bad[i]) units[k++] = units[i];
    return k;
}

int av_policy_check_selection(const av_policy *p, av_reader *r, const char *where, av_kind unit, av_buf *report,
                              uint64_t *out_units)
{
    av_query *q = NULL;
    char *err = NULL;
    uint64_t *units = NULL;
    size_t n = 0;
    *out_units = 0;
    int rc = av_query_compile(&q, where, unit, &err);
    if (rc < 0) {
        rc = av_error_set(AV_EINVAL, "%s", err ? err : av_errmsg());
        free(err);
        return rc;
    }
    rc = av_query_rows(q, r, &units, &n);
    av_query_free(q);
    if (rc < 0) return rc;
    *out_units = n;
    rc = av_policy_gate(p, r, units, n, NULL, report);
    free(units);
    return rc;
}

struct av_policy_checker {
    const av_policy *p;
    av_reader *r;
    av_licreg *reg;
    av_auditor *a;
    av_audit_lineage lin;
    av_buf why;
    av_record rec;
    uint64_t checked, violations;
};

int av_policy_checker_new(av_policy_checker **out, const av_policy *p, av_reader *r)
{
    av_policy_checker *c = av_xcalloc(1, sizeof *c);
    int rc;
    *out = NULL;
    c->p = p;
    c->r = r;
    av_record_init(&c->rec);
    if ((rc = av_licreg_load(&c->reg, r)) < 0 || (rc = av_auditor_new(&c->a, r, c->reg)) < 0) {
        av_policy_checker_free(c);
        return rc;
    }
    *out = c;
    return 0;
}

void av_policy_checker_free(av_policy_checker *c)
{
    if (!c) return;
    av_auditor_free(c->a);
    av_licreg_free(c->reg);
    av_audit_lineage_free(&c->lin);
    av_buf_free(&c->why);
    av_record_free(&c->rec);
    free(c);
}

int av_policy_checker_unit(av_policy_checker *c, uint64_t unit, av_buf *report)
{
    int rc = av_auditor_lineage(c->a, unit, &c->lin);
    if (rc < 0) return rc;
    c->checked++;
    av_buf_reset(&c->why);
    if (!av_policy_check(c->p, c->reg, c->lin.lic, c->lin.nlic, &c->why)) return 1;
    c->violations++;
    if (report) {
        char hex[33];
        if ((rc = av_get(c->r, unit, 0, &c->rec)) < 0) return rc;
        av_id_hex(hex, &c->rec.cid);
        av_buf_printf(report, "%s\t%s", hex, c->why.ptr);
        if (c->lin.unknown && c->lin.why.len) av_buf_printf(report, " (%s)", c->lin.why.ptr);
        av_buf_putc(report, '\n');
    }
    return 0;
}

uint64_t av_policy_checker_checked(const av_policy_checker *c) { return c->checked; }
uint64_t av_policy_checker_violations(const av_policy_checker *c) { return c->violations; }

int av_policy_filter(void *ctx, av_reader *r, uint64_t unit)
{
    av_policy_checker *c = ctx;
    assert(r == c->r);
    (void)r;
    return av_policy_checker_unit(c, unit, NULL);
}

/* ---- dataset card ------------------------------------------------------ */

int av_card_licence_get(av_card_licence *out, av_reader *r, const uint64_t *units, size_t n)
{
    av_licreg *reg = NULL;
    av_audit *au = NULL;
    memset(out, 0, sizeof *out);
    int rc = av_licreg_load(&reg, r);
    if (rc < 0) return rc;
    if ((rc = av_audit_run(&au, r, reg, units, n, NULL)) < 0) goto done;
    const char *const *ids = NULL;
    size_t nids = av_audit_licences(au, &ids);
    out->licences = av_xcalloc(nids ? nids : 1, sizeof *out->licences);
    for (size_t i = 0; i < nids; i++) out->licences[i] = av_xstrdup(ids[i]);
    out->nlicences = nids;
    out->unknown_rows = av_audit_unknown_rows(au);
    const av_licence *one = nids == 1 ? av_licreg_get(reg, ids[0]) : NULL;
    if (nids == 0 || (nids == 1 && !strcmp(ids[0], "unknown"))) {
        out->license = av_xstrdup("unknown");
    } else if (one && one->hf) {
        out->license = av_xstrdup(one->hf);
    } else if (one) {
        out->license = av_xstrdup("other");
        out->license_name = av_xstrdup(one->id);
        out->license_link = av_xstrdup(one->link ? one->link : "README.md#licence");
    } else {
        av_buf b = AV_BUF_INIT;
        for (size_t i = 0; i < nids; i++) av_buf_printf(&b, "%s%s", i ? "-and-" : "", ids[i]);
        out->license = av_xstrdup("other");
        out->license_name = av_buf_detach(&b);
        out->license_link = av_xstrdup("README.md#licence");
    }
    av_buf sec = AV_BUF_INIT;
    av_audit_obligations(au, &sec);
    out->section = av_buf_detach(&sec);
    rc = 0;
done:
    av_audit_free(au);
    av_licreg_free(reg);
    return rc;
}

void av_card_licence_free(av_card_licence *c)
{
    if (!c) return;
    free(c->license);
    free(c->license_name);
    free(c->license_link);
    free(c->section);
    for (size_t i = 0; i < c->nlicences; i++) free(c->licences[i]);
    free(c->licences);
    memset(c, 0, sizeof *c);
}
