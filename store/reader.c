/* reader.c: read snapshots of one version.
 *
 * A reader holds one LMDB read transaction, so it sees exactly the commits
 * that were complete when it started, however long it lives. Visibility at
 * version V: the row is below the row_end of V's commit (rows of later or
 * unfinished commits are above it) and has an even number of retract/restore
 * toggles at or before V (the hidden set, loaded at open: its cost is
 * proportional to the number of toggles, not of records).
 */
#include "store/internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static void txn_end_read(av_store *s, MDB_txn *txn)
{
    mdb_txn_abort(txn);
    s->nreaders--;
}

int av_rec_raw(av_store *s, MDB_txn *txn, uint64_t row, MDB_val *out)
{
    uint8_t k[8];
    av_be64(k, row);
    MDB_val key = {8, k};
    av_store_touch(s);
    int rc = mdb_get(txn, s->dbi[DBI_REC], &key, out);
    if (rc == MDB_NOTFOUND) return av_error_set(AV_ENOTFOUND, "no record at row %llu", (unsigned long long)row);
    return rc ? av_mdb_error(rc, "reading a record") : 0;
}

/* ---- commits ---- */

void av_commit_encode(av_buf *b, const av_commit *c)
{
    uint8_t t[8];
    av_be32(t, c->version);
    av_buf_put(b, t, 4);
    av_be64(t, (uint64_t)c->time);
    av_buf_put(b, t, 8);
    av_put_varint(b, c->row_lo);
    av_put_varint(b, c->row_hi);
    for (int i = 0; i <= AV_KIND_MAX; i++) av_put_varint(b, c->added[i]);
    av_put_varint(b, c->retracted);
    av_put_varint(b, c->restored);
    av_put_varint(b, c->linked);
    const char *m = c->message ? c->message : "", *cmd = c->command ? c->command : "";
    av_put_varint(b, strlen(m));
    av_buf_puts(b, m);
    av_put_varint(b, strlen(cmd));
    av_buf_puts(b, cmd);
}

int av_commit_decode(av_commit *out, const void *data, size_t len)
{
    memset(out, 0, sizeof *out);
    const uint8_t *p = data, *end = p + len;
    if (len < 12) goto bad;
    out->version = av_get_be32(p);
    out->time = (int64_t)av_get_be64(p + 4);
    p += 12;
    if (av_read_varint(&p, end, &out->row_lo) < 0 || av_read_varint(&p, end, &out->row_hi) < 0) goto bad;
    for (int i = 0; i <= AV_KIND_MAX; i++)
        if (av_read_varint(&p, end, &out->added[i]) < 0) goto bad;
    if (av_read_varint(&p, end, &out->retracted) < 0 || av_read_varint(&p, end, &out->restored) < 0 ||
        av_read_varint(&p, end, &out->linked) < 0)
        goto bad;
    uint64_t ml, cl;
    if (av_read_varint(&p, end, &ml) < 0 || ml > (uint64_t)(end - p)) goto bad;
    const uint8_t *m = p;
    p += ml;
    if (av_read_varint(&p, end, &cl) < 0 || cl > (uint64_t)(end - p)) goto bad;
    char *mem = av_xmalloc(ml + cl + 2);
    memcpy(mem, m, ml);
    mem[ml] = 0;
    memcpy(mem + ml + 1, p, cl);
    mem[ml + 1 + cl] = 0;
    out->message = mem;
    out->command = mem + ml + 1;
    out->priv_ = mem;
    return 0;
bad:
    return av_error_set(AV_ECORRUPT, "a commit record is corrupt");
}

static int commit_raw(av_store *s, MDB_txn *txn, uint32_t v, MDB_val *out)
{
    uint8_t k[4];
    av_be32(k, v);
    MDB_val key = {4, k};
    int rc = mdb_get(txn, s->dbi[DBI_COMMIT], &key, out);
    if (rc == MDB_NOTFOUND) return av_error_set(AV_ENOTFOUND, "no version %u", v);
    return rc ? av_mdb_error(rc, "reading a commit") : 0;
}

int av_commit_row_hi(av_store *s, MDB_txn *txn, uint32_t version, uint64_t *out)
{
    if (version == 0) {
        *out = 1;
        return 0;
    }
    MDB_val v;
    int rc = commit_raw(s, txn, version, &v);
    if (rc < 0) return rc;
    av_commit c;
    if ((rc = av_commit_decode(&c, v.mv_data, v.mv_size)) < 0) return rc;
    *out = c.row_hi;
    av_commit_free(&c);
    return 0;
}

int av_commit_get(av_reader *r, uint32_t v, av_commit *out)
{
    memset(out, 0, sizeof *out);
    if (v == 0 || v > r->version) return av_error_set(AV_ENOTFOUND, "no version %u", v);
    MDB_val val;
    int rc = commit_raw(r->s, r->txn, v, &val);
    if (rc < 0) return rc;
    return av_commit_decode(out, val.mv_data, val.mv_size);
}

void av_commit_free(av_commit *c)
{
    if (!c) return;
    free(c->priv_);
    c->priv_ = NULL;
    c->message = c->command = NULL;
}

/* ---- readers ---- */

int av_is_hidden(const av_reader *r, uint64_t row)
{
    size_t lo = 0, hi = r->nhidden;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (r->hidden[mid] < row) lo = mid + 1;
        else if (r->hidden[mid] > row) hi = mid;
        else return 1;
    }
    return 0;
}

int av_reader_load_view(av_reader *r, uint32_t version, uint32_t head, uint64_t writer_row_end)
{
    int rc;
    r->version = version;
    r->col_ptr = NULL;
    av_pchcache_forget(r->pch);
    av_rchcache_forget(r->rch);
    if (writer_row_end) r->row_end = writer_row_end;
    else if ((rc = av_commit_row_hi(r->s, r->txn, version, &r->row_end)) < 0) return rc;
    (void)head;
    free(r->hidden);
    r->hidden = NULL;
    r->nhidden = 0;
    MDB_cursor *c;
    if ((rc = mdb_cursor_open(r->txn, r->s->dbi[DBI_TGL], &c))) return av_mdb_error(rc, "reading retractions");
    MDB_val k, v;
    size_t cap = 0;
    uint64_t cur = 0;
    unsigned count = 0;
    for (rc = mdb_cursor_get(c, &k, &v, MDB_FIRST);; rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
        uint64_t row = rc == 0 ? av_get_be64(k.mv_data) : 0;
        if (rc != 0 || row != cur) {
            if (cur && (count & 1)) {
                if (r->nhidden == cap) {
                    cap = cap ? cap * 2 : 64;
                    r->hidden = av_xrealloc(r->hidden, cap * sizeof *r->hidden);
                }
                r->hidden[r->nhidden++] = cur;
            }
            if (rc != 0) break;
            cur = row;
            count = 0;
        }
        if (av_get_be32((const uint8_t *)k.mv_data + 8) <= version) count++;
    }
    mdb_cursor_close(c);
    if (rc != MDB_NOTFOUND) return av_mdb_error(rc, "reading retractions");
    return 0;
}

int av_reader_open(av_reader **out, av_store *s, uint32_t version)
{
    *out = NULL;
    av_reader *r = av_xcalloc(1, sizeof *r);
    r->s = s;
    av_record_init(&r->scratch);
    int rc = av_txn_begin_read(s, &r->txn);
    if (rc < 0) {
        free(r);
        return rc;
    }
    uint32_t head;
    if ((rc = av_meta_head(s, r->txn, &head)) < 0) goto fail;
    if (version == 0) version = head;
    if (version > head) {
        rc = av_error_set(AV_ENOTFOUND, "no version %u (the newest is %u)", version, head);
        goto fail;
    }
    if ((rc = av_reader_load_view(r, version, head, 0)) < 0) goto fail;
    r->cache = av_blockcache_new();
    *out = r;
    return 0;
fail:
    txn_end_read(s, r->txn);
    free(r->hidden);
    free(r);
    return rc;
}

void av_reader_close(av_reader *r)
{
    if (!r || r->writer_owned) return;
    txn_end_read(r->s, r->txn);
    av_blockcache_free(r->cache);
    av_pchcache_free(r->pch);
    av_rchcache_free(r->rch);
    av_symtab_free(&r->syms);
    av_record_free(&r->scratch);
    free(r->hidden);
    free(r);
}

uint32_t av_reader_version(const av_reader *r) { return r->version; }
av_store *av_reader_store(const av_reader *r) { return r->s; }
uint64_t av_reader_row_end(const av_reader *r) { return r->row_end; }

int av_visible(av_reader *r, uint64_t row)
{
    return av_row_info(r, row, 0, NULL, NULL) == 1;
}

/* A long value's bytes from its place, and their hash unless told not to. */
static int load_val(av_reader *r, av_record *rec, av_val *val, int hash)
{
    if (val->ptr) return 0;
    const char *text;
    int rc = av_text_at(r->s, r->txn, r->cache, val->loc, val->len, &text);
    if (rc < 0) return rc;
    val->ptr = av_record_keep(rec, text, val->len);
    if (hash) av_hash(&val->hash, val->ptr, val->len);
    return 0;
}

int av_load(av_reader *r, av_record *rec, av_val *val) { return load_val(r, rec, val, 1); }

int av_get(av_reader *r, uint64_t row, unsigned flags, av_record *out)
{
    if (!(flags & AV_GET_ANY) && (row == 0 || row >= r->row_end || av_is_hidden(r, row)))
        return av_error_set(AV_ENOTFOUND, "record at row %llu is not visible at version %u", (unsigned long long)row,
                            r->version);
    MDB_val v;
    int rc = av_rec_raw(r->s, r->txn, row, &v);
    if (rc < 0) return rc;
    if ((rc = av_record_decode(out, row, v.mv_data, v.mv_size, r->s, r->txn, &r->syms, !(flags & AV_GET_NOHASH))) < 0)
        return rc;
    if (flags & AV_GET_TEXT) {
        int hash = !(flags & AV_GET_NOHASH);
        for (uint32_t i = 0; i < out->nmsg; i++)
            if ((rc = load_val(r, out, &out->msg[i].text, hash)) < 0) return rc;
        for (uint32_t i = 0; i < out->nattr; i++)
            if ((rc = load_val(r, out, &out->attr[i].json, hash)) < 0) return rc;
    }
    return 0;
}

int av_peek(av_reader *r, uint64_t row, unsigned flags, av_kind *kind, uint64_t ref[3], uint64_t *model)
{
    if (!(flags & AV_GET_ANY) && (row == 0 || row >= r->row_end || av_is_hidden(r, row)))
        return av_error_set(AV_ENOTFOUND, "record at row %llu is not visible at version %u", (unsigned long long)row,
                            r->version);
    MDB_val v;
    int rc = av_rec_raw(r->s, r->txn, row, &v);
    if (rc < 0) return rc;
    const uint8_t *p = v.mv_data, *end = p + v.mv_size;
    uint64_t x, got[5] = {0};
    if (v.mv_size < 19 || p[0] < 1 || p[0] > AV_KIND_MAX) goto bad;
    *kind = (av_kind)p[0];
    p += 17;
    if (av_read_varint(&p, end, &x) < 0 || p >= end) goto bad;
    uint8_t bits = *p++;
    for (int i = 0; i < 4; i++)
        if ((bits & (1 << i)) && av_read_varint(&p, end, &got[i]) < 0) goto bad;
    if (ref) memcpy(ref, got, 3 * sizeof *ref);
    if (model) *model = got[3];
    return 0;
bad:
    return av_error_set(AV_ECORRUPT, "record %llu is corrupt", (unsigned long long)row);
}

int av_text_get(av_reader *r, const av_id *hash, char **out, size_t *out_len)
{
    return av_text_fetch(r->s, r->txn, r->cache, hash, out, out_len);
}

int av_find(av_reader *r, const av_id *cid, uint64_t *out)
{
    uint64_t row = 0;
    int rc = av_cid_get(r->txn, r->s, cid, &row);
    if (rc == MDB_NOTFOUND || (rc == 0 && row >= r->row_end)) {
        char hex[33];
        av_id_hex(hex, cid);
        return av_error_set(AV_ENOTFOUND, "no record %s", hex);
    }
    if (rc < 0) return rc;
    *out = row;
    return 0;
}

int av_find_hex(av_reader *r, const char *hex, uint64_t *out)
{
    size_t n = hex ? strlen(hex) : 0;
    if (n < 8 || n > 32 || strspn(hex, "0123456789abcdefABCDEF") != n)
        return av_error_set(AV_EINVAL, "'%s' is not a record id (8 to 32 hex digits)", hex ? hex : "");
    uint8_t lo[16] = {0};
    for (size_t i = 0; i < n; i++) {
        char c = hex[i];
        int d = c <= '9' ? c - '0' : (c | 32) - 'a' + 10;
        lo[i / 2] |= (uint8_t)(i % 2 ? d : d << 4);
    }
    MDB_cursor *c;
    int rc = mdb_cursor_open(r->txn, r->s->dbi[DBI_CID], &c);
    if (rc) return av_mdb_error(rc, "looking up an id");
    /* keys are the ids' first 8 bytes (or all 16, shortkey.c): walk those
     * that match the prefix that far, and check the rest in the record */
    MDB_val k = {AV_SHORT_KEY, lo}, v;
    size_t key_digits = 2 * AV_SHORT_KEY < n ? 2 * AV_SHORT_KEY : n;
    uint64_t found[6];
    size_t nfound = 0;
    char hexes[6][33];
    for (rc = mdb_cursor_get(c, &k, &v, MDB_SET_RANGE); rc == 0; rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
        char h[33];
        av_id kid = {{0}};
        memcpy(kid.b, k.mv_data, k.mv_size < 16 ? k.mv_size : 16);
        av_id_hex(h, &kid);
        if (strncasecmp(h, hex, key_digits)) break;
        uint64_t row;
        MDB_val rv;
        if (av_cid_row(v.mv_data, v.mv_size, &row) < 0 || av_rec_raw(r->s, r->txn, row, &rv) < 0 || rv.mv_size < 17) {
            mdb_cursor_close(c);
            return av_error_set(AV_ECORRUPT, "the content id entry of row %llu is corrupt", (unsigned long long)row);
        }
        av_id_hex(h, (const av_id *)((const uint8_t *)rv.mv_data + 1));
        if (strncasecmp(h, hex, n)) continue;
        if (row >= r->row_end || av_is_hidden(r, row)) continue;
        if (nfound < 6) {
            memcpy(hexes[nfound], h, 33);
            found[nfound] = row;
        }
        nfound++;
    }
    mdb_cursor_close(c);
    if (nfound == 0) return av_error_set(AV_ENOTFOUND, "no record with id '%s'", hex);
    if (nfound > 1) {
        av_buf b = AV_BUF_INIT;
        av_buf_printf(&b, "id prefix '%s' is ambiguous; it matches", hex);
        for (size_t i = 0; i < nfound && i < 5; i++) av_buf_printf(&b, " %s", hexes[i]);
        if (nfound > 5) av_buf_puts(&b, " ...");
        av_error_set(AV_EAMBIGUOUS, "%s", b.ptr);
        av_buf_free(&b);
        return AV_EAMBIGUOUS;
    }
    *out = found[0];
    return 0;
}

int av_find_model(av_reader *r, const char *name, uint64_t *out)
{
    av_record m;
    av_record_init(&m);
    m.kind = AV_MODEL;
    m.name = name;
    av_id cid;
    av_record_cid(&cid, &m, NULL, NULL);
    int rc = av_find(r, &cid, out);
    if (rc == 0 && !av_is_hidden(r, *out)) return 0;
    /* A source of that name? */
    av_iter *it;
    if ((rc = av_iter_kind(&it, r, AV_SOURCE)) < 0) return rc;
    uint64_t row;
    av_record rec;
    av_record_init(&rec);
    while ((rc = av_iter_next(it, &row)) > 0) {
        if (av_get(r, row, 0, &rec) == 0 && rec.name && !strcmp(rec.name, name)) {
            *out = row;
            break;
        }
    }
    av_record_free(&rec);
    av_iter_free(it);
    if (rc > 0) return 0;
    return rc < 0 ? rc : av_error_set(AV_ENOTFOUND, "no model or source named '%s'", name);
}

/* Calls fn for each entry of table dbi whose key starts with prefix, in key
 * order; stops when fn returns non-zero and returns that. A cursor error
 * (anything but reaching the end) is reported as what went wrong `what`. */
typedef int (*prefix_fn)(void *ctx, const MDB_val *k, const MDB_val *v);

static int prefix_each(av_reader *r, int dbi, const void *prefix, size_t plen, const char *what, prefix_fn fn,
                       void *ctx)
{
    MDB_cursor *c;
    int rc = mdb_cursor_open(r->txn, r->s->dbi[dbi], &c);
    if (rc) return av_mdb_error(rc, what);
    MDB_val k = {plen, (void *)prefix}, v;
    int ret = 0;
    av_store_touch(r->s);
    for (rc = mdb_cursor_get(c, &k, &v, MDB_SET_RANGE); rc == 0 && !ret; rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
        if (k.mv_size < plen || memcmp(k.mv_data, prefix, plen)) break;
        ret = fn(ctx, &k, &v);
    }
    mdb_cursor_close(c);
    if (!ret && rc && rc != MDB_NOTFOUND) return av_mdb_error(rc, what);
    return ret;
}

typedef struct {
    av_reader *r;
    void *out;
    size_t cap, *n;
} collect_ctx;

static int prov_one(void *ctx, const MDB_val *k, const MDB_val *v)
{
    collect_ctx *c = ctx;
    const uint8_t *p = k->mv_data;
    if (k->mv_size != 24 || v->mv_size != 4) return av_error_set(AV_ECORRUPT, "a provenance entry is corrupt");
    uint32_t ver = av_get_be32(v->mv_data);
    if (ver > c->r->version) return 0;
    if (*c->n < c->cap) ((av_prov *)c->out)[*c->n] = (av_prov){av_get_be64(p + 8), av_get_be64(p + 16), ver};
    (*c->n)++;
    return 0;
}

static int cmp_prov(const void *x, const void *y)
{
    const av_prov *a = x, *b = y;
    if (a->source != b->source) return a->source < b->source ? -1 : 1;
    return (a->line > b->line) - (a->line < b->line);
}

int av_prov_get(av_reader *r, uint64_t row, av_prov *out, size_t cap, size_t *n)
{
    *n = 0;
    /* the links row's own version made (a chunk), then any later ones, all
     * gathered (a few, mostly) so that the first cap are those of the
     * lowest (source, line), as one table would give them */
    const av_prov_link *l;
    size_t nl;
    uint32_t ver;
    int rc = av_pch_links(r->txn, r->s, &r->pch, row, &l, &nl, &ver);
    if (rc < 0) return rc;
    av_prov local[16], *all = local;
    size_t cap_all = sizeof local / sizeof local[0], got = 0;
    for (;;) {
        got = 0;
        if (ver <= r->version)
            for (size_t i = 0; i < nl; i++, got++)
                if (got < cap_all) all[got] = (av_prov){l[i].source, l[i].line, ver};
        uint8_t kb[8];
        av_be64(kb, row);
        collect_ctx c = {r, all, cap_all, &got};
        if ((rc = prefix_each(r, DBI_PROV, kb, 8, "reading provenance", prov_one, &c)) < 0) break;
        if (got <= cap_all) break;
        /* more than fit: again, with room for all (the chunk's links are
         * still in the cache: prefix_each reads only the prov table) */
        if (all != local) free(all);
        cap_all = got;
        all = av_xmalloc(cap_all * sizeof *all);
    }
    if (rc >= 0) {
        qsort(all, got, sizeof *all, cmp_prov);
        memcpy(out, all, (got < cap ? got : cap) * sizeof *out);
        *n = got;
    }
    if (all != local) free(all);
    return rc < 0 ? rc : 0;
}

static int toggle_one(void *ctx, const MDB_val *k, const MDB_val *v)
{
    (void)v;
    collect_ctx *c = ctx;
    if (k->mv_size != 12) return av_error_set(AV_ECORRUPT, "a retraction entry is corrupt");
    uint32_t ver = av_get_be32((const uint8_t *)k->mv_data + 8);
    if (ver > c->r->version) return 1; /* later ones are later still */
    if (*c->n < c->cap) ((uint32_t *)c->out)[*c->n] = ver;
    (*c->n)++;
    return 0;
}

int av_toggles_get(av_reader *r, uint64_t row, uint32_t *out, size_t cap, size_t *n)
{
    *n = 0;
    uint8_t kb[8];
    av_be64(kb, row);
    collect_ctx c = {r, out, cap, n};
    int rc = prefix_each(r, DBI_TGL, kb, 8, "reading retractions", toggle_one, &c);
    return rc < 0 ? rc : 0;
}

typedef struct {
    uint32_t v;
    int (*fn)(void *ctx, const av_event *e);
    void *ctx;
} event_ctx;

static int event_one(void *ctx, const MDB_val *k, const MDB_val *val)
{
    (void)k;
    event_ctx *c = ctx;
    const uint8_t *p = val->mv_data;
    if (val->mv_size != 25) return av_error_set(AV_ECORRUPT, "an event of version %u is corrupt", c->v);
    av_event e = {(av_event_type)p[0], av_get_be64(p + 1), av_get_be64(p + 9), av_get_be64(p + 17)};
    return c->fn(c->ctx, &e);
}

int av_events_each(av_reader *r, uint32_t v, int (*fn)(void *ctx, const av_event *e), void *ctx)
{
    if (v > r->version) return av_error_set(AV_ENOTFOUND, "no version %u at this reader", v);
    uint8_t kb[4];
    av_be32(kb, v);
    event_ctx c = {v, fn, ctx};
    return prefix_each(r, DBI_EVT, kb, 4, "reading a version's events", event_one, &c);
}

/* ---- aux ---- */

static void aux_key(av_buf *b, const char *ns, const void *key, size_t klen)
{
    av_buf_puts(b, ns);
    av_buf_putc(b, 0);
    av_buf_put(b, key, klen);
}

int av_aux_get(av_reader *r, const char *ns, const void *key, size_t klen, void **out, size_t *out_len)
{
    av_buf b = AV_BUF_INIT;
    aux_key(&b, ns, key, klen);
    MDB_val k = {b.len, b.ptr}, v;
    int rc = mdb_get(r->txn, r->s->dbi[DBI_AUX], &k, &v);
    av_buf_free(&b);
    if (rc == MDB_NOTFOUND) return av_error_set(AV_ENOTFOUND, "no %s entry", ns);
    if (rc) return av_mdb_error(rc, "reading auxiliary data");
    *out = av_xmalloc(v.mv_size + 1);
    memcpy(*out, v.mv_data, v.mv_size);
    ((char *)*out)[v.mv_size] = 0;
    *out_len = v.mv_size;
    return 0;
}

typedef struct {
    size_t plen;
    int (*fn)(void *ctx, const void *key, size_t klen, const void *val, size_t vlen);
    void *ctx;
} aux_ctx;

static int aux_one(void *ctx, const MDB_val *k, const MDB_val *v)
{
    aux_ctx *c = ctx;
    return c->fn(c->ctx, (const char *)k->mv_data + c->plen, k->mv_size - c->plen, v->mv_data, v->mv_size);
}

int av_aux_each(av_reader *r, const char *ns,
                int (*fn)(void *ctx, const void *key, size_t klen, const void *val, size_t vlen), void *ctx)
{
    av_buf b = AV_BUF_INIT;
    aux_key(&b, ns, "", 0);
    aux_ctx c = {b.len, fn, ctx};
    int ret = prefix_each(r, DBI_AUX, b.ptr, b.len, "reading auxiliary data", aux_one, &c);
    av_buf_free(&b);
    return ret;
}

uint64_t av_text_block_end(av_reader *r)
{
    uint64_t v = 0;
    av_meta_u64(r->s, r->txn, "next_block", &v);
    return v ? v : 1;
}

int av_text_scan(av_reader *r, int cls, uint64_t lo, uint64_t hi, av_text_fn fn, void *ctx)
{
    return av_text_scan_blocks(r->s, r->txn, r->cache, cls, lo, hi, fn, ctx);
}

int av_texts_apart(av_reader *r)
{
    uint64_t x = 0;
    av_meta_u64(r->s, r->txn, "xclass", &x);
    return x == 0;
}
