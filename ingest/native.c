/* native.c: `aviary add`: reads a dump (docs/native-format.md) into a store.
 *
 * Two modes, chosen after the header and commit lines:
 * - replay: the store is empty, or its commits 1..k are the dump's (a replay
 *   that was interrupted). Records are put in file order (so rows come out in
 *   the same order), and every version k+1..V is committed with the dump's
 *   time, message and command; retracts, restores and late provenance links
 *   wait in a list until their version's commit. When that makes more than
 *   one commit, a first pass does all of it in one writer that is then
 *   discarded, so a bad line anywhere commits nothing.
 * - merge: one new commit of the records not already there (by content id).
 *
 * Memory: a fixed id -> row cache, the model names, the commit lines, and the
 * pending events (retracts, restores and links of a later version than their
 * record's, ~50 bytes each); lines are read one at a time (any length). */
#include "ingest/native.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/util.h"

#define CACHE_BITS 16

/* PEND_LINK_LATE: a link to a source not yet in the store (ingest puts a
 * source record after the rows it links): source is an index into srcs. */
enum { PEND_RETRACT = 0, PEND_RESTORE = 1, PEND_LINK = 2, PEND_LINK_LATE = 3 };

typedef struct pend {
    uint32_t version;
    uint8_t type;
    uint64_t row, source, line;
    uint64_t lineno; /* the dump line it came from, for messages */
} pend;

typedef struct dump_commit {
    int64_t time;
    char *message, *command;
    uint64_t added[AV_KIND_MAX + 1], retracted, restored, linked;
    char **tags; /* the version's names (`aviary tag`) */
    size_t ntags;
} dump_commit;

typedef struct cache_slot {
    av_id cid;
    uint64_t row; /* 0 = empty */
} cache_slot;

typedef struct model_slot {
    char *name;
    uint64_t row;
} model_slot;

typedef struct add_ctx {
    av_store *s;
    const av_native_add_opts *o;
    const char *name;
    FILE *in;
    char *buf;
    size_t bufcap;
    uint64_t lineno;
    dump_commit *commits;
    uint32_t ncommits;
    int replay, dry;
    uint32_t k, cur, last_rec_version;
    av_writer *w;
    cache_slot *cache;
    model_slot *models;
    size_t models_cap, models_n;
    pend *pend;
    size_t npend, pcap;
    cache_slot *skipped;
    size_t skipped_n, skipped_cap;
    int prefixed; /* the message already names its line */
    av_id *srcs;  /* sources linked to before they were seen */
    size_t nsrcs;
    av_native_add_result *res;
    av_progress prog;
    uint64_t bytes;
} add_ctx;

/* ---- errors ----------------------------------------------------------- */

/* Prefixes the current message with name:line for bad input. */
static int line_error(add_ctx *a, int rc)
{
    if (a->prefixed) return rc;
    if (rc != AV_EINVAL && rc != AV_ENOTFOUND && rc != AV_EAMBIGUOUS) return rc;
    char msg[512];
    snprintf(msg, sizeof msg, "%s", av_errmsg());
    return av_error_set(AV_EINVAL, "%s:%llu: %s", a->name, (unsigned long long)a->lineno, msg);
}

/* ---- lookups ------------------------------------------------------------ */

static cache_slot *slot_of(add_ctx *a, const av_id *cid)
{
    uint64_t h;
    memcpy(&h, cid->b, 8);
    return &a->cache[(h * 0x9E3779B97F4A7C15ull) >> (64 - CACHE_BITS)];
}

static void remember(add_ctx *a, const av_id *cid, uint64_t row)
{
    cache_slot *s = slot_of(a, cid);
    s->cid = *cid;
    s->row = row;
}

/* Row of the record with that content id, in the store or put earlier. */
static int find_cid(add_ctx *a, const av_id *cid, const char *what, uint64_t *out)
{
    cache_slot *s = slot_of(a, cid);
    if (s->row && !memcmp(s->cid.b, cid->b, 16)) {
        *out = s->row;
        return 0;
    }
    int rc = av_writer_find(a->w, cid, out);
    if (rc == AV_ENOTFOUND) {
        char hex[33];
        av_id_hex(hex, cid);
        return av_error_set(AV_EINVAL, "%s '%s', which is neither in the store nor earlier in the file", what, hex);
    }
    if (rc < 0) return rc;
    remember(a, cid, *out);
    return 0;
}

static int model_row(add_ctx *a, const char *name, uint64_t *out)
{
    size_t h = 5381;
    for (const char *p = name; *p; p++) h = h * 33 + (unsigned char)*p;
    if (a->models_n * 2 >= a->models_cap) {
        size_t ncap = a->models_cap ? a->models_cap * 2 : 64;
        model_slot *n = av_xcalloc(ncap, sizeof *n);
        for (size_t i = 0; i < a->models_cap; i++) {
            if (!a->models[i].name) continue;
            size_t hh = 5381;
            for (const char *p = a->models[i].name; *p; p++) hh = hh * 33 + (unsigned char)*p;
            size_t j = hh & (ncap - 1);
            while (n[j].name) j = (j + 1) & (ncap - 1);
            n[j] = a->models[i];
        }
        free(a->models);
        a->models = n;
        a->models_cap = ncap;
    }
    size_t j = h & (a->models_cap - 1);
    while (a->models[j].name && strcmp(a->models[j].name, name)) j = (j + 1) & (a->models_cap - 1);
    if (!a->models[j].name) {
        uint64_t row;
        int rc = av_writer_model(a->w, name, &row);
        if (rc < 0) return rc;
        a->models[j].name = av_xstrdup(name);
        a->models[j].row = row;
        a->models_n++;
    }
    *out = a->models[j].row;
    return 0;
}

static void forget_all(add_ctx *a)
{
    memset(a->cache, 0, ((size_t)1 << CACHE_BITS) * sizeof *a->cache);
    for (size_t i = 0; i < a->models_cap; i++) free(a->models[i].name);
    if (a->models) memset(a->models, 0, a->models_cap * sizeof *a->models);
    a->models_n = 0;
    a->npend = 0;
    a->nsrcs = 0;
}

/* The content ids a merge left out (retracted in the dump): an open hash set. */
static int skipped_has(add_ctx *a, const av_id *cid)
{
    if (!a->skipped_cap) return 0;
    uint64_t h;
    memcpy(&h, cid->b, 8);
    for (size_t j = h & (a->skipped_cap - 1);; j = (j + 1) & (a->skipped_cap - 1)) {
        if (!a->skipped[j].row) return 0;
        if (!memcmp(a->skipped[j].cid.b, cid->b, 16)) return 1;
    }
}

static void skipped_add(add_ctx *a, const av_id *cid)
{
    if (a->skipped_n * 2 >= a->skipped_cap) {
        size_t ncap = a->skipped_cap ? a->skipped_cap * 2 : 64;
        cache_slot *n = av_xcalloc(ncap, sizeof *n);
        for (size_t i = 0; i < a->skipped_cap; i++) {
            if (!a->skipped[i].row) continue;
            uint64_t h;
            memcpy(&h, a->skipped[i].cid.b, 8);
            size_t j = h & (ncap - 1);
            while (n[j].row) j = (j + 1) & (ncap - 1);
            n[j] = a->skipped[i];
        }
        free(a->skipped);
        a->skipped = n;
        a->skipped_cap = ncap;
    }
    uint64_t h;
    memcpy(&h, cid->b, 8);
    size_t j = h & (a->skipped_cap - 1);
    while (a->skipped[j].row) j = (j + 1) & (a->skipped_cap - 1);
    a->skipped[j].cid = *cid;
    a->skipped[j].row = 1;
    a->skipped_n++;
}

/* ---- replay ------------------------------------------------------------- */

static void pend_add(add_ctx *a, uint32_t version, int type, uint64_t row, uint64_t source, uint64_t line)
{
    if (a->npend == a->pcap) {
        a->pcap = a->pcap ? a->pcap * 2 : 256;
        a->pend = av_xrealloc(a->pend, a->pcap * sizeof *a->pend);
    }
    pend *p = &a->pend[a->npend++];
    p->version = version;
    p->type = (uint8_t)type;
    p->row = row;
    p->source = source;
    p->line = line;
    p->lineno = a->lineno;
}

/* A provenance link of row: made now if its source is known, else kept for
 * the end of version (0 in a merge: the end of the input). */
static int link_now_or_later(add_ctx *a, int now, uint32_t version, uint64_t row, const av_id *src, uint64_t line)
{
    cache_slot *s = slot_of(a, src);
    uint64_t src_row;
    size_t i;
    if (s->row && !memcmp(s->cid.b, src->b, 16)) {
        if (now) return av_writer_link(a->w, row, s->row, line);
        pend_add(a, version, PEND_LINK, row, s->row, line);
        return 0;
    }
    for (i = 0; i < a->nsrcs; i++)
        if (!memcmp(a->srcs[i].b, src->b, 16)) break;
    if (i == a->nsrcs) {
        int rc = av_writer_find(a->w, src, &src_row);
        if (rc == 0) {
            remember(a, src, src_row);
            if (now) return av_writer_link(a->w, row, src_row, line);
            pend_add(a, version, PEND_LINK, row, src_row, line);
            return 0;
        }
        if (rc != AV_ENOTFOUND) return rc;
        if (a->nsrcs >= 4096) return av_error_set(AV_EINVAL, "too many provenance sources not yet in the file");
        a->srcs = av_xrealloc(a->srcs, (a->nsrcs + 1) * sizeof *a->srcs);
        a->srcs[a->nsrcs++] = *src;
    }
    pend_add(a, version, PEND_LINK_LATE, row, i, line);
    return 0;
}

static int pend_cmp(const void *x, const void *y)
{
    const pend *a = x, *b = y;
    if (a->version != b->version) return a->version < b->version ? -1 : 1;
    if (a->row != b->row) return a->row < b->row ? -1 : 1;
    return (a->type > b->type) - (a->type < b->type);
}

static int restore_row(add_ctx *a, uint64_t row)
{
    int rc = av_writer_restore(a->w, row);
    if (rc == 0) return av_error_set(AV_EINVAL, "a restore of a record that is not retracted");
    return rc < 0 ? rc : 0;
}

/* Applies the pending events of version c (0: a merge's, at the end). */
static int apply_pending(add_ctx *a, uint32_t c)
{
    int rc = 0;
    if (a->npend) qsort(a->pend, a->npend, sizeof *a->pend, pend_cmp);
    size_t i = 0;
    for (; i < a->npend && a->pend[i].version == c; i++) {
        pend *p = &a->pend[i];
        uint64_t src;
        /* the checking pass has one writer for all versions, and a store
           cannot hide a row in the commit that adds it: toggles wait */
        if (a->dry && (p->type == PEND_RETRACT || p->type == PEND_RESTORE)) continue;
        switch (p->type) {
        case PEND_RETRACT:
            rc = av_writer_retract(a->w, p->row);
            if (rc == 0) rc = av_error_set(AV_EINVAL, "a retract of a record that is already retracted");
            break;
        case PEND_RESTORE: rc = restore_row(a, p->row); break;
        case PEND_LINK_LATE:
            rc = find_cid(a, &a->srcs[p->source], "its provenance source is", &src);
            if (rc < 0) {
                char msg[512];
                snprintf(msg, sizeof msg, "%s", av_errmsg());
                a->prefixed = 1;
                return av_error_set(AV_EINVAL, "%s:%llu: %s", a->name, (unsigned long long)p->lineno, msg);
            }
            rc = av_writer_link(a->w, p->row, src, p->line);
            break;
        default: rc = av_writer_link(a->w, p->row, p->source, p->line); break;
        }
        if (rc < 0) {
            char msg[512];
            snprintf(msg, sizeof msg, "%s", av_errmsg());
            return c ? av_error_set(rc, "replaying version %u: %s", c, msg) : av_error_set(rc, "%s", msg);
        }
    }
    if (i) memmove(a->pend, a->pend + i, (a->npend - i) * sizeof *a->pend);
    a->npend -= i;
    return 0;
}

/* Applies what version c does besides adding records, then commits it (or,
 * in the checking pass, goes on in the same writer). */
static int finish_version(add_ctx *a, uint32_t c)
{
    int rc = apply_pending(a, c);
    if (rc < 0) return rc;
    if (a->dry) return 0;
    const dump_commit *dc = &a->commits[c - 1];
    av_commit_opts o = {.message = dc->message, .command = dc->command, .time = dc->time, .allow_empty = 1};
    uint32_t v = 0;
    rc = av_writer_commit(a->w, &o, &v);
    a->w = NULL;
    if (rc < 0) return rc;
    if (v != c) return av_error_set(AV_ECORRUPT, "replaying version %u made version %u", c, v);
    if (!a->res->first) a->res->first = v;
    a->res->last = v;
    if (c < a->ncommits && (rc = av_writer_open(&a->w, a->s)) < 0) return rc;
    return 0;
}

/* ---- one record line ---------------------------------------------------- */

static int put_record(add_ctx *a, av_native_line *l)
{
    av_record rec;
    av_record_init(&rec);
    uint64_t row = 0;
    int rc, hidden = l->nhist && !l->hist[l->nhist - 1].restore;

    if (a->replay) {
        if (!l->has_version) return av_error_set(AV_EINVAL, "a record needs 'version' when the dump has commits");
        if (!l->has_id) return av_error_set(AV_EINVAL, "a record needs 'id' when the dump has commits");
        if (l->version > a->ncommits)
            return av_error_set(AV_EINVAL, "record version %u is past the dump's last commit %u", l->version,
                                a->ncommits);
        if (l->version < a->last_rec_version)
            return av_error_set(AV_EINVAL, "records are not in version order (%u after %u)", l->version,
                                a->last_rec_version);
        a->last_rec_version = l->version;
        for (size_t i = 0; i < l->nhist; i++)
            if (l->hist[i].version > a->ncommits)
                return av_error_set(AV_EINVAL, "'history' version %u is past the dump's last commit", l->hist[i].version);
        for (size_t i = 0; i < l->nprov; i++)
            if (l->prov[i].version > a->ncommits)
                return av_error_set(AV_EINVAL, "'prov' version %u is past the dump's last commit", l->prov[i].version);
        if (l->version <= a->k) {
            /* made by a version the store already has */
            char hex[33];
            rc = av_writer_find(a->w, &l->id, &row);
            if (rc == AV_ENOTFOUND) {
                av_id_hex(hex, &l->id);
                return av_error_set(AV_EINVAL, "record '%s' of version %u is not in the store, whose history "
                                               "otherwise matches this dump", hex, l->version);
            }
            if (rc < 0) return rc;
            goto events;
        }
        while (a->cur < l->version)
            if ((rc = finish_version(a, a->cur++)) < 0) return rc;
    } else {
        /* retracted in the dump: the store keeps its own state if it has it,
           else the record is left out, and so is whatever refers to it */
        int dep = 0;
        for (int i = 0; i < l->nref; i++)
            if (l->ref_set[i] && skipped_has(a, &l->ref[i])) dep = 1;
        if ((hidden || dep) && l->has_id) {
            rc = av_writer_find(a->w, &l->id, &row);
            if (rc == 0) goto links;
            if (rc != AV_ENOTFOUND) return rc;
            skipped_add(a, &l->id);
            a->res->skipped++;
            return 0;
        }
    }

    rec.kind = l->kind;
    for (int i = 0; i < l->nref; i++)
        if (l->ref_set[i] && (rc = find_cid(a, &l->ref[i], "it refers to", &rec.ref[i])) < 0) return rc;
    if (l->model && (rc = model_row(a, l->model, &rec.model)) < 0) return rc;
    if (l->has_run && (rc = find_cid(a, &l->run, "its run is", &rec.run)) < 0) return rc;
    rec.name = l->name;
    rec.num = l->num;
    rec.nmsg = l->nmsg;
    rec.msg = l->msg;
    rec.nattr = l->nattr;
    rec.attr = l->attr;
    rc = av_writer_put(a->w, &rec);
    if (rc < 0) return rc;
    if (l->has_id && memcmp(rec.cid.b, l->id.b, 16)) {
        char want[33], got[33];
        av_id_hex(want, &l->id);
        av_id_hex(got, &rec.cid);
        return av_error_set(AV_EINVAL, "corrupted record: the line says id '%s' but its content hashes to '%s'",
                            want, got);
    }
    row = rec.row;
    if (rc == 1) a->res->added++;
    if (a->replay && rc == 0) {
        char hex[33];
        av_id_hex(hex, &l->id);
        return av_error_set(AV_EINVAL, "record '%s' appears twice", hex);
    }
    remember(a, &rec.cid, row);

links:
    if (!a->replay) {
        for (size_t i = 0; i < l->nprov; i++)
            if ((rc = link_now_or_later(a, 1, 0, row, &l->prov[i].source, l->prov[i].line)) < 0) return rc;
        return 0;
    }
events:
    remember(a, &l->id, row);
    for (size_t i = 0; i < l->nprov; i++) {
        const av_native_prov *p = &l->prov[i];
        if (p->version <= a->k) continue;
        if ((rc = link_now_or_later(a, p->version == l->version, p->version, row, &p->source, p->line)) < 0) return rc;
    }
    for (size_t i = 0; i < l->nhist; i++)
        if (l->hist[i].version > a->k)
            pend_add(a, l->hist[i].version, l->hist[i].restore ? PEND_RESTORE : PEND_RETRACT, row, 0, 0);
    return 0;
}

/* ---- lines -------------------------------------------------------------- */

/* Next line without its newline into a->buf; returns its length, -1 at EOF,
 * or -2 on a read error. */
static long read_line(add_ctx *a)
{
    errno = 0;
    ssize_t n = getline(&a->buf, &a->bufcap, a->in);
    if (n < 0) return ferror(a->in) ? -2 : -1;
    a->lineno++;
    a->bytes += (uint64_t)n;
    if (n && a->buf[n - 1] == '\n') n--;
    return (long)n;
}

static int records_pass(add_ctx *a, const char *first, size_t first_len, uint64_t first_lineno)
{
    int rc = 0;
    av_native_line l;
    if ((rc = av_writer_open(&a->w, a->s)) < 0) return rc;
    a->cur = a->k + 1;
    a->last_rec_version = 0;
    a->lineno = first_lineno - 1;
    for (;;) {
        const char *text;
        size_t len;
        if (first) {
            text = first;
            len = first_len;
            first = NULL;
            a->lineno++;
        } else {
            long n = read_line(a);
            if (n == -2) return av_error_set(AV_EIO, "cannot read '%s': %s", a->name, strerror(errno));
            if (n == -1) break;
            text = a->buf;
            len = (size_t)n;
        }
        rc = av_native_parse(&l, text, len);
        if (rc == 0 && l.type == AV_NATIVE_HEADER) rc = av_error_set(AV_EINVAL, "a second header");
        if (rc == 0 && l.type == AV_NATIVE_COMMIT)
            rc = av_error_set(AV_EINVAL, "a commit line after the records (commits come first)");
        if (rc == 0 && l.type == AV_NATIVE_RECORD) {
            a->res->records++;
            rc = put_record(a, &l);
        }
        av_native_line_free(&l);
        if (rc < 0) return line_error(a, rc);
        a->res->lines++;
        if ((a->res->lines & 1023) == 0) av_progress_update(&a->prog, a->bytes, a->res->records);
    }
    if (a->replay) {
        while (a->cur <= a->ncommits)
            if ((rc = finish_version(a, a->cur++)) < 0) {
                if (a->prefixed) return rc;
                char msg[512];
                snprintf(msg, sizeof msg, "%s", av_errmsg());
                return av_error_set(rc, "%s: %s", a->name, msg);
            }
        if (a->dry) {
            av_writer_abort(a->w);
            a->w = NULL;
        }
        return 0;
    }
    if ((rc = apply_pending(a, 0)) < 0) return line_error(a, rc);
    char msg[512];
    if (a->o->message) snprintf(msg, sizeof msg, "%s", a->o->message);
    else snprintf(msg, sizeof msg, "add %s", a->name);
    av_commit_opts o = {.message = msg, .command = a->o->command};
    uint32_t v = 0;
    rc = av_writer_commit(a->w, &o, &v);
    a->w = NULL;
    if (rc < 0) return rc;
    if (rc == 1) a->res->first = a->res->last = v;
    return 0;
}

static int commits_match(add_ctx *a, uint32_t head)
{
    av_reader *r = NULL;
    int same = 1;
    if (av_reader_open(&r, a->s, head) < 0) return 0;
    for (uint32_t v = 1; v <= head && same; v++) {
        av_commit c;
        memset(&c, 0, sizeof c);
        if (av_commit_get(r, v, &c) < 0) {
            same = 0;
            break;
        }
        const dump_commit *d = &a->commits[v - 1];
        same = c.time == d->time && !strcmp(c.message ? c.message : "", d->message) &&
               !strcmp(c.command ? c.command : "", d->command) && c.retracted == d->retracted &&
               c.restored == d->restored && c.linked == d->linked &&
               !memcmp(c.added + 1, d->added + 1, AV_KIND_MAX * sizeof c.added[0]);
        av_commit_free(&c);
    }
    av_reader_close(r);
    return same;
}

/* After a replay (the store's versions are the dump's): gives each version
 * the names its commit line carries. Names are not part of a commit, so this
 * runs also when nothing was new (an add interrupted before its names were
 * set finishes them). A name the store already gives another version is
 * kept as it is and reported, not moved. */
static int set_tags(add_ctx *a)
{
    for (uint32_t c = 1; c <= a->ncommits; c++)
        for (size_t t = 0; t < a->commits[c - 1].ntags; t++) {
            const char *name = a->commits[c - 1].tags[t];
            uint32_t had = 0;
            int rc = av_label_set(a->s, name, c, 0);
            if (rc == 0) {
                a->res->tags_set++;
                continue;
            }
            if (rc == AV_EEXISTS && av_label_get(a->s, name, &had) == 0) {
                if (had == c) continue;
                if (!a->res->tag_conflict[0])
                    snprintf(a->res->tag_conflict, sizeof a->res->tag_conflict,
                             "tag '%.64s' names version %u here but version %u in the dump; kept", name, had, c);
                continue;
            }
            if (rc == AV_EINVAL) {
                if (!a->res->tag_conflict[0])
                    snprintf(a->res->tag_conflict, sizeof a->res->tag_conflict,
                             "'%.64s' in the dump is not a valid version name; left out", name);
                continue;
            }
            return rc;
        }
    return 0;
}

int av_native_add(av_store *s, FILE *in, const av_native_add_opts *o, av_native_add_result *out)
{
    add_ctx a = {0};
    av_native_add_result res = {0};
    av_native_line l;
    char *first = NULL;
    size_t first_len = 0;
    uint64_t first_lineno = 0;
    FILE *tmp = NULL;
    int rc = 0, have_header = 0;
    uint32_t dump_version = 0;
    struct stat st;
    memset(&l, 0, sizeof l);

    a.s = s;
    a.o = o;
    a.name = !o->name || !strcmp(o->name, "-") ? "<stdin>" : o->name;
    a.in = in;
    a.res = &res;
    a.cache = av_xcalloc((size_t)1 << CACHE_BITS, sizeof *a.cache);
    int regular = fstat(fileno(in), &st) == 0 && S_ISREG(st.st_mode);
    av_progress_start(&a.prog, o->progress, "add", regular ? (uint64_t)st.st_size : 0);

    /* the header and the commit lines */
    off_t in_start = regular ? ftello(in) : 0, first_off = 0;
    for (;;) {
        uint64_t line_off = a.bytes;
        long n = read_line(&a);
        if (n == -2) {
            rc = av_error_set(AV_EIO, "cannot read '%s': %s", a.name, strerror(errno));
            goto done;
        }
        if (n == -1) break;
        if ((rc = av_native_parse(&l, a.buf, (size_t)n)) < 0) {
            if (!have_header) rc = av_error_set(AV_EINVAL, "not an aviary dump (the first line must be its header)");
            goto bad_line;
        }
        if (l.type == AV_NATIVE_BLANK) {
            av_native_line_free(&l);
            continue;
        }
        if (!have_header) {
            if (l.type != AV_NATIVE_HEADER) {
                rc = av_error_set(AV_EINVAL, "not an aviary dump (the first line must be its header)");
                goto bad_line;
            }
            if (l.format > 1) {
                rc = av_error_set(AV_EINVAL, "dump format %d is newer than this aviary reads (1)", l.format);
                goto bad_line;
            }
            have_header = 1;
            dump_version = l.version;
            av_native_line_free(&l);
            continue;
        }
        if (l.type == AV_NATIVE_HEADER) {
            rc = av_error_set(AV_EINVAL, "a second header");
            goto bad_line;
        }
        if (l.type != AV_NATIVE_COMMIT) {
            first = av_xstrndup(a.buf, (size_t)n);
            first_len = (size_t)n;
            first_lineno = a.lineno;
            first_off = in_start + (off_t)line_off;
            av_native_line_free(&l);
            break;
        }
        if (l.version != a.ncommits + 1) {
            rc = av_error_set(AV_EINVAL, "commit %u out of order (expected %u)", l.version, a.ncommits + 1);
            goto bad_line;
        }
        a.commits = av_xrealloc(a.commits, (a.ncommits + 1) * sizeof *a.commits);
        dump_commit *dc = &a.commits[a.ncommits++];
        dc->time = l.time;
        dc->message = av_xstrdup(l.message);
        dc->command = av_xstrdup(l.command);
        memcpy(dc->added, l.added, sizeof dc->added);
        dc->retracted = l.retracted;
        dc->restored = l.restored;
        dc->linked = l.linked;
        dc->ntags = l.ntags;
        dc->tags = l.ntags ? av_xcalloc(l.ntags, sizeof *dc->tags) : NULL;
        for (size_t t = 0; t < l.ntags; t++) dc->tags[t] = av_xstrdup(l.tags[t]);
        av_native_line_free(&l);
    }
    if (!have_header) {
        rc = av_error_set(AV_EINVAL, "%s: empty input, not an aviary dump", a.name);
        goto done;
    }
    if (dump_version != a.ncommits) {
        rc = av_error_set(AV_EINVAL, "%s: the header says version %u but the dump has %u commits", a.name,
                          dump_version, a.ncommits);
        goto done;
    }

    /* replay or merge */
    uint32_t head = 0;
    if ((rc = av_store_head(s, &head)) < 0) goto done;
    if (a.ncommits && head <= a.ncommits && commits_match(&a, head)) {
        a.replay = 1;
        a.k = head;
        res.replayed = 1;
        if (head == a.ncommits) goto done; /* nothing new */
    }
    if (!first) first_lineno = a.lineno + 1;

    if (a.replay && a.ncommits - a.k >= 2) {
        /* a checking pass first: it needs the records twice */
        off_t start = first ? first_off : ftello(in);
        if (regular && start >= 0 && fseeko(in, start, SEEK_SET) == 0) {
            free(first);
            first = NULL;
        } else {
            /* next to the store (room for the data is there), unlinked at once */
            char spool[4096];
            snprintf(spool, sizeof spool, "%s/.add-spool-XXXXXX", av_store_dir(s));
            int fd = mkstemp(spool);
            if (fd >= 0) {
                unlink(spool);
                if (!(tmp = fdopen(fd, "w+"))) close(fd);
            }
            if (!tmp) tmp = tmpfile();
            if (!tmp) {
                rc = av_error_set(AV_EIO, "cannot make a temporary file: %s", strerror(errno));
                goto done;
            }
            if (first) {
                fwrite(first, 1, first_len, tmp);
                fputc('\n', tmp);
            }
            char chunk[65536];
            size_t got;
            while ((got = fread(chunk, 1, sizeof chunk, in)) > 0)
                if (fwrite(chunk, 1, got, tmp) != got) break;
            if (ferror(in) || ferror(tmp) || fflush(tmp) != 0) {
                rc = av_error_set(AV_EIO, "cannot copy '%s' to a temporary file", a.name);
                goto done;
            }
            free(first);
            first = NULL;
            a.in = tmp;
            start = 0;
            fseeko(tmp, 0, SEEK_SET);
        }
        a.dry = 1;
        uint64_t saved_bytes = a.bytes;
        rc = records_pass(&a, NULL, 0, first_lineno);
        if (rc < 0) goto done;
        if (fseeko(a.in, start, SEEK_SET) != 0) {
            rc = av_error_set(AV_EIO, "cannot re-read '%s'", a.name);
            goto done;
        }
        forget_all(&a);
        a.dry = 0;
        a.bytes = saved_bytes;
        memset(&res, 0, sizeof res);
        res.replayed = 1;
    }
    rc = records_pass(&a, first, first_len, first_lineno);
    goto done;

bad_line:
    rc = line_error(&a, rc);
    av_native_line_free(&l);
done:
    if (rc >= 0 && a.replay) rc = set_tags(&a);
    av_progress_end(&a.prog);
    if (a.w) av_writer_abort(a.w);
    if (tmp) fclose(tmp);
    for (uint32_t i = 0; i < a.ncommits; i++) {
        free(a.commits[i].message);
        free(a.commits[i].command);
        for (size_t t = 0; t < a.commits[i].ntags; t++) free(a.commits[i].tags[t]);
        free(a.commits[i].tags);
    }
    free(a.commits);
    free(first);
    free(a.buf);
    free(a.cache);
    for (size_t i = 0; i < a.models_cap; i++) free(a.models[i].name);
    free(a.models);
    free(a.pend);
    free(a.skipped);
    free(a.srcs);
    if (out) *out = res;
    return rc < 0 ? rc : 0;
}
