/* index.c: the store's indexes and the iterators over them.
 *
 * An index entry is a posting chunk: key = term + first row (u64 BE), value =
 * varint n, varint (last - first), then n-1 varint gaps. A writer batch
 * writes one chunk per term it touched, so reading a term walks its chunks in
 * key order. Chunks of one term normally follow each other (later batches
 * hold later rows); a provenance link added later to an old record can make
 * chunks overlap, and then the iterator reads the term whole and sorts it.
 *
 * Terms: 'k' kind (1 byte) | 'm'/'s'/AV_TERM_REF row (u64 BE: model, source,
 * ref target) | 'a' key NUL json NUL (tag attributes, values up to
 * AV_INDEX_VALUE_MAX bytes; a quoted UUID as 0x01 and its 16 bytes) | 'A'
 * key NUL (tag attribute presence).
 *
 * Iterators yield rows visible at their reader's version, ascending. Costs:
 * a chunk decode per ~batch of rows; seek is a B-tree lookup.
 */
#include "store/internal.h"

#include <stdlib.h>
#include <string.h>

void av_term_kind(av_buf *b, av_kind k)
{
    av_buf_putc(b, 'k');
    av_buf_putc(b, (char)k);
}

void av_term_row(av_buf *b, char type, uint64_t row)
{
    uint8_t k[8];
    av_be64(k, row);
    av_buf_putc(b, type);
    av_buf_put(b, k, 8);
}

void av_term_attr(av_buf *b, const char *key, const char *json, size_t n)
{
    uint8_t u[16];
    av_buf_putc(b, 'a');
    av_buf_puts(b, key);
    av_buf_putc(b, 0);
    if (av_uuid_pack(json, n, u)) { /* 0x01 never starts JSON */
        av_buf_putc(b, 1);
        av_buf_put(b, u, 16);
    } else {
        av_buf_put(b, json, n);
    }
    av_buf_putc(b, 0);
}

void av_term_attr_key(av_buf *b, const char *key)
{
    av_buf_putc(b, 'A');
    av_buf_puts(b, key);
    av_buf_putc(b, 0);
}

int av_attr_indexed(const char *json, size_t n)
{
    if (n == 0 || n > AV_INDEX_VALUE_MAX) return 0;
    if (json[0] == '"') return 1;
    return (n == 4 && (!memcmp(json, "true", 4) || !memcmp(json, "null", 4))) || (n == 5 && !memcmp(json, "false", 5));
}

/* 8 bytes that compare (as bytes) the way the doubles do. */
static void num_enc(uint8_t out[8], double v)
{
    uint64_t u;
    if (v == 0) v = 0; /* -0 sorts with 0 */
    memcpy(&u, &v, 8);
    u = (u >> 63) ? ~u : u | (1ull << 63);
    av_be64(out, u);
}

/* Numbers are indexed by bucket: the first 2 bytes of their ordered
 * encoding (sign, exponent and 4 bits of mantissa: 16 buckets per power of
 * two), so mostly-unique values (rewards, distances) make few index terms. */
#define NUM_BUCKET 2

void av_term_num(av_buf *b, const char *key, double v)
{
    uint8_t e[8];
    num_enc(e, v);
    av_buf_putc(b, 'n');
    av_buf_puts(b, key);
    av_buf_putc(b, 0);
    av_buf_put(b, e, NUM_BUCKET);
}

int av_json_number(const char *s, size_t n, double *out)
{
    if (n == 0 || n >= 64) return 0;
    size_t i = 0;
    if (s[i] == '-') i++;
    if (i >= n) return 0;
    if (s[i] == '0') i++;
    else if (s[i] >= '1' && s[i] <= '9') while (i < n && s[i] >= '0' && s[i] <= '9') i++;
    else return 0;
    if (i < n && s[i] == '.') {
        if (++i >= n || s[i] < '0' || s[i] > '9') return 0;
        while (i < n && s[i] >= '0' && s[i] <= '9') i++;
    }
    if (i < n && (s[i] == 'e' || s[i] == 'E')) {
        i++;
        if (i < n && (s[i] == '+' || s[i] == '-')) i++;
        if (i >= n || s[i] < '0' || s[i] > '9') return 0;
        while (i < n && s[i] >= '0' && s[i] <= '9') i++;
    }
    if (i != n) return 0;
    char tmp[64];
    memcpy(tmp, s, n);
    tmp[n] = 0;
    *out = strtod(tmp, NULL);
    return 1;
}

/* Gaps of one size in a row (a kind's rows every third row, a source's every
 * row) are written as runs: a posting of a key every Magpie tag has took
 * 50 KB for 50,000 rows and takes 0.6 KB. A run holds at most RUN_MAX gaps,
 * so a chunk's row count stays within RUN_MAX times its bytes. */
#define RUN_MIN 3
#define RUN_MAX (RUN_MIN + 255)

void av_chunk_encode(av_buf *b, const uint64_t *rows, size_t n)
{
    av_put_varint(b, n);
    av_put_varint(b, n ? rows[n - 1] - rows[0] : 0);
    for (size_t i = 1; i < n;) {
        uint64_t gap = rows[i] - rows[i - 1];
        size_t run = 1;
        while (i + run < n && run < RUN_MAX && rows[i + run] - rows[i + run - 1] == gap) run++;
        if (run >= RUN_MIN) {
            av_put_varint(b, gap << 1 | 1);
            av_buf_putc(b, (char)(uint8_t)(run - RUN_MIN));
            i += run;
        } else {
            av_put_varint(b, gap << 1);
            i++;
        }
    }
}

int av_chunk_decode(const void *val, size_t len, uint64_t first, uint64_t **rows, size_t *n, size_t *cap)
{
    const uint8_t *p = val, *end = p + len;
    uint64_t cnt, span, row = first;
    if (av_read_varint(&p, end, &cnt) < 0 || av_read_varint(&p, end, &span) < 0 || cnt == 0 ||
        cnt > (uint64_t)len * RUN_MAX || span < cnt - 1 || span > UINT64_MAX - first)
        return av_error_set(AV_ECORRUPT, "index chunk is corrupt");
    if (*n + cnt > *cap) *rows = av_xrealloc(*rows, (*cap = (*n + cnt) * 2) * sizeof **rows);
    uint64_t *out = *rows + *n, left = cnt - 1;
    *out++ = row;
    while (left) {
        uint64_t t, times = 1;
        if (av_read_varint(&p, end, &t) < 0 || t < 2) goto bad;
        if (t & 1) {
            if (p >= end) goto bad;
            times = RUN_MIN + *p++;
            if (times > left) goto bad;
        }
        uint64_t gap = t >> 1;
        if (gap > (first + span - row) / times) goto bad;
        for (uint64_t i = 0; i < times; i++) *out++ = row += gap;
        left -= times;
    }
    if (p != end || row != first + span) goto bad;
    *n += cnt;
    return 0;
bad:
    return av_error_set(AV_ECORRUPT, "index chunk is corrupt");
}

enum { IT_ALL, IT_POSTINGS };

struct av_iter {
    av_reader *r;
    int type;
    MDB_cursor *cur;
    av_buf term;
    uint64_t *rows; /* the current chunk, or the whole term when materialized */
    size_t n, cap, pos;
    int materialized, done;
    int single;        /* the term has one chunk, decoded at open */
    uint64_t next_all; /* IT_ALL: the next row to look at */
};

static int key_is_term(const av_iter *it, const MDB_val *k)
{
    return k->mv_size == it->term.len + 8 && !memcmp(k->mv_data, it->term.ptr, it->term.len);
}

/* Decodes the chunk at key/val, appending to it->rows when append is set. */
static int decode_chunk(av_iter *it, const MDB_val *k, const MDB_val *v, int append)
{
    if (!append) it->n = it->pos = 0;
    return av_chunk_decode(v->mv_data, v->mv_size, av_get_be64((const uint8_t *)k->mv_data + it->term.len), &it->rows,
                           &it->n, &it->cap);
}

/* Positions on the term's first chunk; materializes when chunks overlap. */
static int postings_open(av_iter *it)
{
    uint8_t zero[8] = {0};
    av_buf seek = AV_BUF_INIT;
    av_buf_put(&seek, it->term.ptr, it->term.len);
    av_buf_put(&seek, zero, 8);
    MDB_val k = {seek.len, seek.ptr}, v;
    av_store_touch(it->r->s);
    int rc = mdb_cursor_get(it->cur, &k, &v, MDB_SET_RANGE);
    av_buf_free(&seek);
    if (rc == MDB_NOTFOUND || (rc == 0 && !key_is_term(it, &k))) {
        it->done = 1;
        return 0;
    }
    if (rc) return av_mdb_error(rc, "reading an index");
    /* Check the chunks' ranges for overlap (headers only). */
    uint64_t prev_last = 0;
    int first = 1, overlap = 0, nchunks = 0;
    MDB_val k2 = k, v2 = v;
    do {
        nchunks++;
        const uint8_t *p = v2.mv_data, *end = p + v2.mv_size;
        uint64_t n, span, row = av_get_be64((const uint8_t *)k2.mv_data + it->term.len);
        if (av_read_varint(&p, end, &n) < 0 || av_read_varint(&p, end, &span) < 0)
            return av_error_set(AV_ECORRUPT, "index chunk is corrupt");
        if (!first && row <= prev_last) overlap = 1;
        prev_last = row + span;
        first = 0;
        rc = mdb_cursor_get(it->cur, &k2, &v2, MDB_NEXT);
    } while (!overlap && rc == 0 && key_is_term(it, &k2));
    if (!overlap && nchunks == 1) {
        /* one chunk (most reference terms): it is all there is; a read
         * transaction's values stay valid, so no second seek */
        it->single = 1;
        return decode_chunk(it, &k, &v, 0);
    }
    if (!overlap) {
        k2 = k;
        if ((rc = mdb_cursor_get(it->cur, &k2, &v2, MDB_SET_KEY))) return av_mdb_error(rc, "reading an index");
        return decode_chunk(it, &k2, &v2, 0);
    }
    /* Materialize: read every chunk, sort, drop repeats. */
    it->materialized = 1;
    it->n = it->pos = 0;
    k2 = k;
    rc = mdb_cursor_get(it->cur, &k2, &v2, MDB_SET_KEY);
    while (rc == 0 && key_is_term(it, &k2)) {
        if ((rc = decode_chunk(it, &k2, &v2, 1)) < 0) return rc;
        rc = mdb_cursor_get(it->cur, &k2, &v2, MDB_NEXT);
    }
    it->n = av_sort_unique_u64(it->rows, it->n);
    return 0;
}

static int next_chunk(av_iter *it)
{
    if (it->materialized || it->single) {
        it->done = 1;
        return 0;
    }
    MDB_val k, v;
    int rc = mdb_cursor_get(it->cur, &k, &v, MDB_NEXT);
    if (rc == MDB_NOTFOUND || (rc == 0 && !key_is_term(it, &k))) {
        it->done = 1;
        return 0;
    }
    if (rc) return av_mdb_error(rc, "reading an index");
    return decode_chunk(it, &k, &v, 0);
}

static int iter_new(av_iter **out, av_reader *r, int type, MDB_dbi dbi)
{
    av_iter *it = av_xcalloc(1, sizeof *it);
    it->r = r;
    it->type = type;
    int rc = mdb_cursor_open(r->txn, dbi, &it->cur);
    if (rc) {
        free(it);
        return av_mdb_error(rc, "opening a cursor");
    }
    *out = it;
    return 0;
}

int av_iter_all(av_iter **out, av_reader *r)
{
    int rc = iter_new(out, r, IT_ALL, r->s->dbi[DBI_REC]);
    if (rc == 0) (*out)->next_all = 1;
    return rc;
}

static int postings_iter(av_iter **out, av_reader *r, av_buf *term)
{
    int rc = iter_new(out, r, IT_POSTINGS, r->s->dbi[DBI_IDX]);
    if (rc < 0) {
        av_buf_free(term);
        return rc;
    }
    (*out)->term = *term;
    if ((rc = postings_open(*out)) < 0) {
        av_iter_free(*out);
        *out = NULL;
    }
    return rc;
}

int av_iter_kind(av_iter **out, av_reader *r, av_kind kind)
{
    av_buf t = AV_BUF_INIT;
    av_term_kind(&t, kind);
    return postings_iter(out, r, &t);
}

int av_iter_refs(av_iter **out, av_reader *r, uint64_t target)
{
    av_buf t = AV_BUF_INIT;
    av_term_row(&t, AV_TERM_REF, target);
    int rc = postings_iter(out, r, &t);
    if (rc < 0) return rc;
    /* and the sources the target's reference chunk holds (refs.c): most
     * references are there, and then the idx has no entry */
    av_iter *it = *out;
    const uint64_t *chunk;
    size_t nc;
    if ((rc = av_rch_sources(r->txn, r->s, &r->rch, target, &chunk, &nc)) < 0) {
        av_iter_free(it);
        *out = NULL;
        return rc;
    }
    if (!nc) return 0;
    /* the chunk's rows, after the idx's when it has any (read whole) */
    size_t n = 0, cap = nc + 16;
    uint64_t *rows = av_xmalloc(cap * sizeof *rows);
    if (!it->done) {
        uint64_t row;
        while ((rc = av_iter_next(it, &row)) == 1) {
            if (n == cap) rows = av_xrealloc(rows, (cap *= 2) * sizeof *rows);
            rows[n++] = row;
        }
        if (rc < 0) {
            free(rows);
            av_iter_free(it);
            *out = NULL;
            return rc;
        }
    }
    if (n + nc > cap) rows = av_xrealloc(rows, (cap = n + nc) * sizeof *rows);
    memcpy(rows + n, chunk, nc * sizeof *rows);
    free(it->rows);
    it->rows = rows;
    it->n = n ? av_sort_unique_u64(rows, n + nc) : nc;
    it->cap = cap;
    it->pos = 0;
    it->done = 0;
    it->materialized = 1;
    return 0;
}

int av_iter_model(av_iter **out, av_reader *r, uint64_t model_row)
{
    av_buf t = AV_BUF_INIT;
    av_term_row(&t, 'm', model_row);
    return postings_iter(out, r, &t);
}

int av_iter_source(av_iter **out, av_reader *r, uint64_t source_row)
{
    av_buf t = AV_BUF_INIT;
    av_term_row(&t, 's', source_row);
    return postings_iter(out, r, &t);
}

int av_iter_attr(av_iter **out, av_reader *r, const char *key, const char *json, size_t json_len)
{
    av_buf t = AV_BUF_INIT;
    av_term_attr(&t, key, json, json_len);
    return postings_iter(out, r, &t);
}

int av_iter_attr_key(av_iter **out, av_reader *r, const char *key)
{
    av_buf t = AV_BUF_INIT;
    av_term_attr_key(&t, key);
    return postings_iter(out, r, &t);
}

int av_iter_num(av_iter **out, av_reader *r, const char *key, double lo, int lo_incl, double hi, int hi_incl)
{
    (void)lo_incl;
    (void)hi_incl; /* buckets hold both ends either way: the caller checks values */
    int rc = iter_new(out, r, IT_POSTINGS, r->s->dbi[DBI_IDX]);
    if (rc < 0) return rc;
    av_iter *it = *out;
    it->materialized = 1;
    av_buf_putc(&it->term, 'n');
    av_buf_puts(&it->term, key);
    av_buf_putc(&it->term, 0);
    size_t plen = it->term.len;
    uint8_t elo[8], ehi[8];
    num_enc(elo, lo);
    num_enc(ehi, hi);
    av_buf_put(&it->term, elo, NUM_BUCKET); /* the term's length is what decode_chunk needs */
    if (lo > hi) goto done;
    MDB_val k = {it->term.len, it->term.ptr}, v;
    for (rc = mdb_cursor_get(it->cur, &k, &v, MDB_SET_RANGE); rc == 0; rc = mdb_cursor_get(it->cur, &k, &v, MDB_NEXT)) {
        const uint8_t *kp = k.mv_data;
        if (k.mv_size != plen + NUM_BUCKET + 8 || memcmp(kp, it->term.ptr, plen)) break;
        if (memcmp(kp + plen, ehi, NUM_BUCKET) > 0) break;
        if ((rc = decode_chunk(it, &k, &v, 1)) < 0) {
            av_iter_free(it);
            *out = NULL;
            return rc;
        }
    }
    if (rc && rc != MDB_NOTFOUND) {
        av_iter_free(it);
        *out = NULL;
        return av_mdb_error(rc, "reading an index");
    }
    it->n = av_sort_unique_u64(it->rows, it->n);
done:
    it->pos = 0;
    return 0;
}

static int visible_fast(av_iter *it, uint64_t row)
{
    return !av_is_hidden(it->r, row);
}

int av_iter_next(av_iter *it, uint64_t *out)
{
    if (it->type == IT_ALL) {
        while (!it->done) {
            uint8_t kb[8];
            av_be64(kb, it->next_all);
            MDB_val k = {8, kb}, v;
            int rc = mdb_cursor_get(it->cur, &k, &v, MDB_SET_RANGE);
            if (rc == MDB_NOTFOUND) break;
            if (rc) return av_mdb_error(rc, "reading records");
            uint64_t row = av_get_be64(k.mv_data);
            if (row >= it->r->row_end) break;
            it->next_all = row + 1;
            if (visible_fast(it, row)) {
                *out = row;
                return 1;
            }
        }
        it->done = 1;
        return 0;
    }
    for (;;) {
        if (it->done) return 0;
        if (it->pos >= it->n) {
            int rc = next_chunk(it);
            if (rc < 0) return rc;
            continue;
        }
        uint64_t row = it->rows[it->pos++];
        if (row >= it->r->row_end) {
            /* Rows ascend; everything after is invisible too. */
            it->done = 1;
            return 0;
        }
        if (visible_fast(it, row)) {
            *out = row;
            return 1;
        }
    }
}

int av_iter_seek(av_iter *it, uint64_t row)
{
    if (it->type == IT_ALL) {
        if (row > it->next_all) it->next_all = row;
        return 0;
    }
    if (it->done) return 0;
    if (it->pos < it->n && it->rows[it->n - 1] >= row) {
        /* Inside the current chunk: binary search. */
        size_t lo = it->pos, hi = it->n;
        while (lo < hi) {
            size_t mid = (lo + hi) / 2;
            if (it->rows[mid] < row) lo = mid + 1;
            else hi = mid;
        }
        it->pos = lo;
        return 0;
    }
    if (it->materialized || it->single) {
        it->pos = it->n;
        it->done = 1;
        return 0;
    }
    /* Find the chunk that may hold row: the last one starting at or before it. */
    av_buf seek = AV_BUF_INIT;
    uint8_t rb[8];
    av_be64(rb, row);
    av_buf_put(&seek, it->term.ptr, it->term.len);
    av_buf_put(&seek, rb, 8);
    MDB_val k = {seek.len, seek.ptr}, v;
    int rc = mdb_cursor_get(it->cur, &k, &v, MDB_SET_RANGE);
    int exact = rc == 0 && k.mv_size == seek.len && !memcmp(k.mv_data, seek.ptr, seek.len);
    av_buf_free(&seek);
    if (!exact) {
        rc = rc == MDB_NOTFOUND ? mdb_cursor_get(it->cur, &k, &v, MDB_LAST)
                                : mdb_cursor_get(it->cur, &k, &v, MDB_PREV);
        if (rc == 0 && key_is_term(it, &k)) {
            const uint8_t *p = v.mv_data, *end = p + v.mv_size;
            uint64_t n, span, first = av_get_be64((const uint8_t *)k.mv_data + it->term.len);
            if (av_read_varint(&p, end, &n) < 0 || av_read_varint(&p, end, &span) < 0)
                return av_error_set(AV_ECORRUPT, "index chunk is corrupt");
            if (first + span < row) rc = mdb_cursor_get(it->cur, &k, &v, MDB_NEXT);
        } else {
            rc = rc == 0 || rc == MDB_NOTFOUND ? mdb_cursor_get(it->cur, &k, &v, MDB_NEXT) : rc;
        }
    }
    if (rc == MDB_NOTFOUND || (rc == 0 && !key_is_term(it, &k))) {
        it->done = 1;
        it->n = it->pos = 0;
        return 0;
    }
    if (rc) return av_mdb_error(rc, "reading an index");
    if ((rc = decode_chunk(it, &k, &v, 0)) < 0) return rc;
    while (it->pos < it->n && it->rows[it->pos] < row) it->pos++;
    return 0;
}

void av_iter_free(av_iter *it)
{
    if (!it) return;
    if (it->cur) mdb_cursor_close(it->cur);
    av_buf_free(&it->term);
    free(it->rows);
    free(it);
}

/* Sums the row counts of the chunks whose key starts with prefix (whole
 * terms: key = term + first row, term given by term_len or, when 0, any
 * term with that prefix). */
static int count_prefix(av_reader *r, const av_buf *prefix, size_t term_len, uint64_t *out)
{
    *out = 0;
    MDB_cursor *c;
    int rc = mdb_cursor_open(r->txn, r->s->dbi[DBI_IDX], &c);
    if (rc) return av_mdb_error(rc, "reading an index");
    MDB_val k = {prefix->len, prefix->ptr}, v;
    for (rc = mdb_cursor_get(c, &k, &v, MDB_SET_RANGE); rc == 0; rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
        if (k.mv_size < prefix->len || memcmp(k.mv_data, prefix->ptr, prefix->len)) break;
        if (term_len && k.mv_size != term_len + 8) continue;
        const uint8_t *p = v.mv_data;
        uint64_t n;
        if (av_read_varint(&p, p + v.mv_size, &n) < 0) {
            mdb_cursor_close(c);
            return av_error_set(AV_ECORRUPT, "index chunk is corrupt");
        }
        *out += n;
    }
    mdb_cursor_close(c);
    return rc && rc != MDB_NOTFOUND ? av_mdb_error(rc, "reading an index") : 0;
}

int av_attr_counts(av_reader *r, const char *key, uint64_t *all, uint64_t *num, uint64_t *nul)
{
    av_buf t = AV_BUF_INIT;
    av_term_attr_key(&t, key);
    int rc = count_prefix(r, &t, t.len, all);
    if (rc >= 0) {
        av_buf_reset(&t);
        av_buf_putc(&t, 'n');
        av_buf_puts(&t, key);
        av_buf_putc(&t, 0);
        rc = count_prefix(r, &t, t.len + NUM_BUCKET, num);
    }
    if (rc >= 0) {
        av_buf_reset(&t);
        av_term_attr(&t, key, "null", 4);
        rc = count_prefix(r, &t, t.len, nul);
    }
    av_buf_free(&t);
    return rc;
}
