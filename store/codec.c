/* codec.c: the error channel, ids, varints, and the record codec.
 *
 * A record on disk (rec table) is:
 *   u8 kind | cid (16) | varint version | u8 presence bits
 *   | varint ref0? ref1? ref2? model? run? | name? (varint len, bytes) | num? (8 bytes LE)
 *   | varint nmsg, each: role, value
 *   | varint (nattr << 1 | k), [k: varint key set symbol], each attribute:
 *     [!k: varint key symbol], value
 * A key set (store format 5) is a symbol whose bytes are 0xff and the keys'
 * symbol ids as varints: a record with two or more attributes names its
 * keys with one symbol (a Magpie row's tag: 1 byte where its 25 keys took
 * 25), unless their ids take more than KEYSET_MAX bytes.
 * role: u8 code (1 system, 2 user, 3 assistant, 4 rationale, 5 critique) or
 * 0 followed by varint len + bytes. value: varint (len << 2 | mode); mode 0:
 * the bytes follow (len <= AV_INLINE_MAX), 1: the text's place follows,
 * varint (block << 1 | class) and varint offset (see av_loc_make), 2: a
 * varint symbol id follows (an interned repeated short value), 3: 16 bytes
 * follow, the digits of a quoted lowercase UUID (len 38, av_uuid_pack;
 * store format 4: a Magpie row's uuid takes 17 bytes where it took 39).
 * Decoding copies into the record's own memory, so the result outlives the
 * LMDB transaction. Costs: linear in the record's size; no decompression.
 */
#include "store/internal.h"

#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#define XXH_STATIC_LINKING_ONLY
#include <xxhash.h>

/* ---- errors ---- */

static _Thread_local char errbuf[1024];

const char *av_errmsg(void) { return errbuf; }

int av_error_set(int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(errbuf, sizeof errbuf, fmt, ap);
    va_end(ap);
    return code;
}

const char *av_strerror(int code)
{
    switch (code) {
    case AV_OK: return "ok";
    case AV_ENOTFOUND: return "not found";
    case AV_EEXISTS: return "already exists";
    case AV_EAMBIGUOUS: return "ambiguous id prefix";
    case AV_EINVAL: return "invalid argument";
    case AV_ECORRUPT: return "store data is corrupt";
    case AV_EVERSION: return "unsupported store format";
    case AV_EIO: return "input/output error";
    case AV_ENOMEM: return "out of memory";
    case AV_EBUSY: return "another writer holds the store";
    default: return "error";
    }
}

int av_mdb_error(int rc, const char *what)
{
    if (rc == MDB_NOTFOUND) return av_error_set(AV_ENOTFOUND, "%s: not found", what);
    if (rc == MDB_CORRUPTED || rc == MDB_PAGE_NOTFOUND || rc == MDB_INVALID)
        return av_error_set(AV_ECORRUPT, "%s: store is corrupt (%s)", what, mdb_strerror(rc));
    if (rc == MDB_VERSION_MISMATCH)
        return av_error_set(AV_EVERSION, "%s: LMDB version mismatch (%s)", what, mdb_strerror(rc));
    if (rc > 0) return av_error_set(AV_EIO, "%s: %s", what, strerror(rc));
    return av_error_set(AV_ERROR, "%s: %s", what, mdb_strerror(rc));
}

/* ---- ids ---- */

void av_id_hex(char out[33], const av_id *id)
{
    static const char hex[] = "0123456789abcdef";
    for (int i = 0; i < 16; i++) {
        out[2 * i] = hex[id->b[i] >> 4];
        out[2 * i + 1] = hex[id->b[i] & 15];
    }
    out[32] = 0;
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

int av_id_parse(av_id *out, const char *hex)
{
    if (!hex || strlen(hex) != 32) return av_error_set(AV_EINVAL, "'%s' is not a 32-digit hex id", hex ? hex : "");
    for (int i = 0; i < 16; i++) {
        int hi = hexval(hex[2 * i]), lo = hexval(hex[2 * i + 1]);
        if (hi < 0 || lo < 0) return av_error_set(AV_EINVAL, "'%s' is not a 32-digit hex id", hex);
        out->b[i] = (uint8_t)(hi << 4 | lo);
    }
    return 0;
}

static void canon_to_id(av_id *out, XXH128_hash_t h)
{
    XXH128_canonical_t c;
    XXH128_canonicalFromHash(&c, h);
    memcpy(out->b, c.digest, 16);
}

void av_hash(av_id *out, const void *data, size_t len)
{
    canon_to_id(out, XXH3_128bits(data, len));
}

/* ---- kinds ---- */

static const char *const kind_names[] = {NULL, "prompt", "response", "rating", "preference",
                                         "tag", "source", "model", "run"};

const char *av_kind_name(av_kind kind)
{
    return kind > 0 && kind <= AV_KIND_MAX ? kind_names[kind] : NULL;
}

av_kind av_kind_parse(const char *s)
{
    for (int k = 1; k <= AV_KIND_MAX; k++)
        if (s && !strcmp(s, kind_names[k])) return (av_kind)k;
    return AV_KIND_NONE;
}

/* ---- symbols ---- */

const char *av_sym_get(av_store *s, MDB_txn *txn, av_symtab *t, uint32_t id, size_t *len)
{
    if (id < t->cap && t->str[id]) {
        *len = t->len[id];
        return t->str[id];
    }
    uint8_t k[5] = {'i'};
    av_be32(k + 1, id);
    MDB_val key = {5, k}, v;
    if (mdb_get(txn, s->dbi[DBI_SYM], &key, &v)) return NULL;
    if (id >= t->cap) {
        size_t cap = t->cap ? t->cap : 256;
        while (cap <= id) cap *= 2;
        t->str = av_xrealloc(t->str, cap * sizeof *t->str);
        t->len = av_xrealloc(t->len, cap * sizeof *t->len);
        memset(t->str + t->cap, 0, (cap - t->cap) * sizeof *t->str);
        t->cap = cap;
    }
    t->str[id] = av_xstrndup(v.mv_data, v.mv_size);
    t->len[id] = (uint32_t)v.mv_size;
    *len = v.mv_size;
    return t->str[id];
}

void av_symtab_free(av_symtab *t)
{
    for (size_t i = 0; i < t->cap; i++) free(t->str[i]);
    free(t->str);
    free(t->len);
    memset(t, 0, sizeof *t);
}

/* ---- varints ---- */

void av_put_varint(av_buf *b, uint64_t v)
{
    uint8_t tmp[10];
    int n = 0;
    while (v >= 0x80) {
        tmp[n++] = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    tmp[n++] = (uint8_t)v;
    av_buf_put(b, tmp, (size_t)n);
}

int av_read_varint(const uint8_t **p, const uint8_t *end, uint64_t *out)
{
    uint64_t v = 0;
    for (int shift = 0; shift < 64; shift += 7) {
        if (*p >= end) return -1;
        uint8_t c = *(*p)++;
        v |= (uint64_t)(c & 0x7f) << shift;
        if (!(c & 0x80)) {
            *out = v;
            return 0;
        }
    }
    return -1;
}

size_t av_txt_pack(uint8_t out[AV_TXT_MAX], uint64_t loc, uint32_t len)
{
    uint64_t v[3] = {av_loc_block(loc) << 1 | (uint64_t)av_loc_class(loc), av_loc_off(loc), len};
    size_t n = 0;
    for (int i = 0; i < 3; i++) {
        uint64_t x = v[i];
        while (x >= 0x80) {
            out[n++] = (uint8_t)(x | 0x80);
            x >>= 7;
        }
        out[n++] = (uint8_t)x;
    }
    return n;
}

size_t av_cid_pack(uint8_t out[10], uint64_t row)
{
    size_t n = 0;
    while (row >= 0x80) {
        out[n++] = (uint8_t)(row | 0x80);
        row >>= 7;
    }
    out[n++] = (uint8_t)row;
    return n;
}

int av_cid_row(const void *p, size_t n, uint64_t *row)
{
    const uint8_t *q = p, *end = q + n;
    if (av_read_varint(&q, end, row) || q != end || *row == 0)
        return av_error_set(AV_ECORRUPT, "content id index entry is corrupt");
    return 0;
}

int av_txt_unpack(const void *p, size_t n, uint64_t *loc, uint32_t *len)
{
    const uint8_t *q = p, *end = q + n;
    uint64_t bc, off, l;
    if (av_read_varint(&q, end, &bc) || av_read_varint(&q, end, &off) || av_read_varint(&q, end, &l) || q != end ||
        (bc >> 1) == 0 || (bc >> 1) >= (1ull << 30) || off > UINT32_MAX || l > UINT32_MAX)
        return av_error_set(AV_ECORRUPT, "text index entry is corrupt");
    *loc = av_loc_make(bc >> 1, (int)(bc & 1), (uint32_t)off);
    *len = (uint32_t)l;
    return 0;
}

/* ---- records ---- */

static const char *const role_codes[] = {NULL, "system", "user", "assistant", "rationale", "critique"};
#define NROLES 6

struct recmem {
    char *buf;
    size_t cap, used;
    int full; /* a mem_take did not fit: decode again with more room */
    char **extra;
    size_t nextra, capextra;
};

void av_record_init(av_record *rec)
{
    memset(rec, 0, sizeof *rec);
    rec->num = NAN;
}

static void recmem_reset(struct recmem *m)
{
    for (size_t i = 0; i < m->nextra; i++) free(m->extra[i]);
    m->nextra = 0;
    m->used = 0;
}

void av_record_free(av_record *rec)
{
    struct recmem *m = rec->priv_;
    if (m) {
        recmem_reset(m);
        free(m->extra);
        free(m->buf);
        free(m);
    }
    av_record_init(rec);
}

const av_attr *av_record_attr(const av_record *rec, const char *key)
{
    for (uint32_t i = 0; i < rec->nattr; i++)
        if (!strcmp(rec->attr[i].key, key)) return &rec->attr[i];
    return NULL;
}

const av_msg *av_record_msg(const av_record *rec, const char *role)
{
    for (uint32_t i = 0; i < rec->nmsg; i++)
        if (!strcmp(rec->msg[i].role, role)) return &rec->msg[i];
    return NULL;
}

const char *av_record_keep(av_record *rec, const char *s, size_t n)
{
    struct recmem *m = rec->priv_;
    if (!m) m = rec->priv_ = av_xcalloc(1, sizeof *m);
    if (m->nextra == m->capextra) {
        m->capextra = m->capextra ? m->capextra * 2 : 8;
        m->extra = av_xrealloc(m->extra, m->capextra * sizeof *m->extra);
    }
    char *p = av_xstrndup(s, n);
    m->extra[m->nextra++] = p;
    return p;
}

/* ---- UUID-shaped values ---- */

static int hexdig(char c)
{
    return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

int av_uuid_pack(const char *s, size_t n, uint8_t out[16])
{
    /* "8-4-4-4-12" lowercase hex digits, quoted: datasets' own row ids */
    if (n != AV_UUID_JSON || s[0] != '"' || s[37] != '"') return 0;
    int k = 0;
    for (int i = 1; i < 37; i++) {
        if (i == 9 || i == 14 || i == 19 || i == 24) {
            if (s[i] != '-') return 0;
            continue;
        }
        int hi = hexdig(s[i]), lo = hexdig(s[++i]);
        if (hi < 0 || lo < 0) return 0;
        out[k++] = (uint8_t)(hi << 4 | lo);
    }
    return 1;
}

void av_uuid_unpack(char out[AV_UUID_JSON], const uint8_t in[16])
{
    static const char hex[] = "0123456789abcdef";
    int k = 0;
    out[0] = '"';
    for (int i = 1; i < 37; i++) {
        if (i == 9 || i == 14 || i == 19 || i == 24) {
            out[i] = '-';
            continue;
        }
        out[i++] = hex[in[k] >> 4];
        out[i] = hex[in[k++] & 15];
    }
    out[37] = '"';
}

static void put_val(av_buf *b, const av_val *v, uint32_t sym)
{
    uint8_t u[16];
    if (v->len > AV_INLINE_MAX) {
        av_put_varint(b, (uint64_t)v->len << 2 | 1);
        av_put_varint(b, v->loc >> 32);
        av_put_varint(b, (uint32_t)v->loc);
    } else if (sym) {
        av_put_varint(b, (uint64_t)v->len << 2 | 2);
        av_put_varint(b, sym);
    } else if (v->len == AV_UUID_JSON && av_uuid_pack(v->ptr, v->len, u)) {
        av_put_varint(b, (uint64_t)v->len << 2 | 3);
        av_buf_put(b, u, 16);
    } else {
        av_put_varint(b, (uint64_t)v->len << 2);
        av_buf_put(b, v->ptr, v->len);
    }
}

static void put_str(av_buf *b, const char *s)
{
    size_t n = strlen(s);
    av_put_varint(b, n);
    av_buf_put(b, s, n);
}

/* A key set symbol: KEYSET_MARK (never in UTF-8, so never a key's or a
 * value's first byte), then the keys' symbol ids as varints, in order. */
#define KEYSET_MARK 0xff
#define KEYSET_MAX 256

enum { P_REF0 = 1, P_REF1 = 2, P_REF2 = 4, P_MODEL = 8, P_RUN = 16, P_NAME = 32, P_NUM = 64 };

void av_record_encode(av_buf *b, const av_record *rec, av_sym_fn sym, void *ctx)
{
    av_buf_putc(b, (char)rec->kind);
    av_buf_put(b, rec->cid.b, 16);
    av_put_varint(b, rec->version);
    uint8_t bits = (rec->ref[0] ? P_REF0 : 0) | (rec->ref[1] ? P_REF1 : 0) | (rec->ref[2] ? P_REF2 : 0) |
                   (rec->model ? P_MODEL : 0) | (rec->run ? P_RUN : 0) | (rec->name ? P_NAME : 0) |
                   (!isnan(rec->num) ? P_NUM : 0);
    av_buf_putc(b, (char)bits);
    for (int i = 0; i < 3; i++)
        if (rec->ref[i]) av_put_varint(b, rec->ref[i]);
    if (rec->model) av_put_varint(b, rec->model);
    if (rec->run) av_put_varint(b, rec->run);
    if (rec->name) put_str(b, rec->name);
    if (!isnan(rec->num)) {
        uint64_t u;
        memcpy(&u, &rec->num, 8);
        uint8_t le[8];
        for (int i = 0; i < 8; i++) le[i] = (uint8_t)(u >> (8 * i));
        av_buf_put(b, le, 8);
    }
    av_put_varint(b, rec->nmsg);
    for (uint32_t i = 0; i < rec->nmsg; i++) {
        int code = 0;
        for (int k = 1; k < NROLES; k++)
            if (!strcmp(rec->msg[i].role, role_codes[k])) code = k;
        av_buf_putc(b, (char)code);
        if (!code) put_str(b, rec->msg[i].role);
        put_val(b, &rec->msg[i].text, 0);
    }
    /* the keys of two or more attributes are one symbol, their key set
     * (a Magpie row's tag: one byte where its 25 keys took 25) */
    uint32_t keyset = 0;
    uint8_t ks[KEYSET_MAX];
    size_t ksl = 0;
    if (rec->nattr >= 2) {
        ks[ksl++] = KEYSET_MARK;
        for (uint32_t i = 0; i < rec->nattr && ksl + 5 <= KEYSET_MAX; i++) {
            uint32_t id = sym(ctx, rec->attr[i].key, strlen(rec->attr[i].key), 1);
            if (!id) break;
            while (id >= 0x80) {
                ks[ksl++] = (uint8_t)(id | 0x80);
                id >>= 7;
            }
            ks[ksl++] = (uint8_t)id;
            if (i + 1 == rec->nattr) keyset = sym(ctx, (const char *)ks, ksl, 1);
        }
    }
    av_put_varint(b, (uint64_t)rec->nattr << 1 | (keyset != 0));
    if (keyset) av_put_varint(b, keyset);
    for (uint32_t i = 0; i < rec->nattr; i++) {
        const av_attr *a = &rec->attr[i];
        if (!keyset) av_put_varint(b, sym(ctx, a->key, strlen(a->key), 1));
        put_val(b, &a->json, a->json.len <= AV_INLINE_MAX ? sym(ctx, a->json.ptr, a->json.len, 0) : 0);
    }
}

/* Decoding: two passes over the bytes would be clean but slow; instead the
 * record's buffer is sized generously (arrays + 2x the encoded size) and
 * strings are copied with a NUL after each. */
typedef struct {
    const uint8_t *p, *end;
    struct recmem *m;
    av_store *s;
    MDB_txn *txn;
    av_symtab *syms;
    int hash;
} dec;

static void *mem_take(struct recmem *m, size_t n)
{
    n = (n + 7) & ~(size_t)7;
    if (m->used + n > m->cap) {
        m->full = 1;
        return NULL;
    }
    void *p = m->buf + m->used;
    m->used += n;
    return p;
}

static const char *dec_bytes(dec *d, size_t n)
{
    if ((size_t)(d->end - d->p) < n) return NULL;
    char *s = mem_take(d->m, n + 1);
    if (!s) return NULL;
    memcpy(s, d->p, n);
    s[n] = 0;
    d->p += n;
    return s;
}

static const char *dec_str(dec *d)
{
    uint64_t n;
    if (av_read_varint(&d->p, d->end, &n) < 0 || n > (uint64_t)(d->end - d->p)) return NULL;
    return dec_bytes(d, (size_t)n);
}

/* Symbol id's bytes, copied into the record's memory. */
static const char *sym_copy(dec *d, uint32_t id, size_t *len)
{
    const char *s = av_sym_get(d->s, d->txn, d->syms, id, len);
    if (!s) return NULL;
    char *c = mem_take(d->m, *len + 1);
    if (!c) return NULL;
    memcpy(c, s, *len);
    c[*len] = 0;
    return c;
}

static const char *dec_sym(dec *d, size_t *len)
{
    uint64_t id;
    if (av_read_varint(&d->p, d->end, &id) < 0 || id == 0 || id > UINT32_MAX) return NULL;
    return sym_copy(d, (uint32_t)id, len);
}

static int dec_val(dec *d, av_val *v)
{
    uint64_t x;
    if (av_read_varint(&d->p, d->end, &x) < 0) return -1;
    v->len = (size_t)(x >> 2);
    v->loc = 0;
    if ((x & 3) == 2) {
        size_t n;
        if (!(v->ptr = dec_sym(d, &n)) || n != v->len) return -1;
        if (d->hash) av_hash(&v->hash, v->ptr, v->len);
        else memset(&v->hash, 0, sizeof v->hash);
        return 0;
    }
    if ((x & 3) == 1) {
        uint64_t bc, off;
        if (av_read_varint(&d->p, d->end, &bc) < 0 || av_read_varint(&d->p, d->end, &off) < 0) return -1;
        if (bc < 2 || bc >= (1ull << 31) || off > UINT32_MAX || v->len <= AV_INLINE_MAX) return -1;
        v->loc = bc << 32 | off;
        memset(&v->hash, 0, sizeof v->hash);
        v->ptr = NULL;
        return 0;
    }
    if ((x & 3) == 3) {
        char *c;
        if (v->len != AV_UUID_JSON || d->end - d->p < 16 || !(c = mem_take(d->m, AV_UUID_JSON + 1))) return -1;
        av_uuid_unpack(c, d->p);
        c[AV_UUID_JSON] = 0;
        d->p += 16;
        v->ptr = c;
        if (d->hash) av_hash(&v->hash, v->ptr, v->len);
        else memset(&v->hash, 0, sizeof v->hash);
        return 0;
    }
    if (v->len > AV_INLINE_MAX) return -1;
    v->ptr = dec_bytes(d, v->len);
    if (!v->ptr) return -1;
    if (d->hash) av_hash(&v->hash, v->ptr, v->len);
    else memset(&v->hash, 0, sizeof v->hash);
    return 0;
}

/* One decoding attempt into rec's buffer as it is: 0, or -1 (the bytes are
 * bad, or the buffer was too small: m->full says which). */
static int decode_once(av_record *rec, struct recmem *m, uint64_t row, const void *data, size_t len, av_store *s,
                       MDB_txn *txn, av_symtab *syms, int hash)
{
    recmem_reset(m);
    m->full = 0;
    memset(rec, 0, sizeof *rec);
    rec->priv_ = m;
    rec->num = NAN;
    rec->row = row;
    dec d = {data, (const uint8_t *)data + len, m, s, txn, syms, hash};
    uint64_t v, nmsg = 0, nattr = 0;
    if (len < 18) goto bad;
    rec->kind = (av_kind)*d.p++;
    if (rec->kind < 1 || rec->kind > AV_KIND_MAX) goto bad;
    memcpy(rec->cid.b, d.p, 16);
    d.p += 16;
    if (av_read_varint(&d.p, d.end, &v) < 0) goto bad;
    rec->version = (uint32_t)v;
    if (d.p >= d.end) goto bad;
    uint8_t bits = *d.p++;
    for (int i = 0; i < 3; i++)
        if ((bits & (1 << i)) && av_read_varint(&d.p, d.end, &rec->ref[i]) < 0) goto bad;
    if ((bits & P_MODEL) && av_read_varint(&d.p, d.end, &rec->model) < 0) goto bad;
    if ((bits & P_RUN) && av_read_varint(&d.p, d.end, &rec->run) < 0) goto bad;
    if (bits & P_NAME) {
        if (!(rec->name = dec_str(&d))) goto bad;
    }
    if (bits & P_NUM) {
        if (d.end - d.p < 8) goto bad;
        uint64_t u = 0;
        for (int i = 0; i < 8; i++) u |= (uint64_t)d.p[i] << (8 * i);
        memcpy(&rec->num, &u, 8);
        d.p += 8;
    }
    if (av_read_varint(&d.p, d.end, &nmsg) < 0 || nmsg > len) goto bad;
    rec->nmsg = (uint32_t)nmsg;
    rec->msg = mem_take(m, nmsg * sizeof(av_msg));
    if (nmsg && !rec->msg) goto bad;
    for (uint64_t i = 0; i < nmsg; i++) {
        if (d.p >= d.end) goto bad;
        uint8_t code = *d.p++;
        if (code >= NROLES) goto bad;
        rec->msg[i].role = code ? role_codes[code] : dec_str(&d);
        if (!rec->msg[i].role || dec_val(&d, &rec->msg[i].text) < 0) goto bad;
    }
    if (av_read_varint(&d.p, d.end, &nattr) < 0 || (nattr >> 1) > len) goto bad;
    int has_keyset = nattr & 1;
    nattr >>= 1;
    rec->nattr = (uint32_t)nattr;
    rec->attr = mem_take(m, nattr * sizeof(av_attr));
    if (nattr && !rec->attr) goto bad;
    const uint8_t *kp = NULL, *kend = NULL;
    if (has_keyset) {
        uint64_t id;
        size_t kl;
        if (nattr < 2 || av_read_varint(&d.p, d.end, &id) < 0 || id == 0 || id > UINT32_MAX) goto bad;
        const char *k = av_sym_get(s, txn, syms, (uint32_t)id, &kl);
        if (!k || kl < 2 || (uint8_t)k[0] != KEYSET_MARK) goto bad;
        kp = (const uint8_t *)k + 1;
        kend = (const uint8_t *)k + kl;
    }
    for (uint64_t i = 0; i < nattr; i++) {
        size_t kl;
        if (has_keyset) {
            uint64_t id;
            if (av_read_varint(&kp, kend, &id) < 0 || id == 0 || id > UINT32_MAX ||
                !(rec->attr[i].key = sym_copy(&d, (uint32_t)id, &kl)))
                goto bad;
        } else if (!(rec->attr[i].key = dec_sym(&d, &kl))) {
            goto bad;
        }
        if (dec_val(&d, &rec->attr[i].json) < 0) goto bad;
    }
    if (has_keyset && kp != kend) goto bad;
    if (d.p != d.end) goto bad;
    return 0;
bad:
    rec->nmsg = rec->nattr = 0;
    rec->msg = NULL;
    rec->attr = NULL;
    return -1;
}

int av_record_decode(av_record *rec, uint64_t row, const void *data, size_t len, av_store *s, MDB_txn *txn,
                     av_symtab *syms, int hash)
{
    struct recmem *m = rec->priv_;
    if (!m) m = av_xcalloc(1, sizeof *m);
    /* Most records fit in a few times their encoded size; one whose
     * symbols expand a lot (long interned keys) is decoded again with a
     * buffer twice as large, until it fits. */
    size_t want = 4 * len + 512;
    for (;;) {
        if (m->cap < want) {
            free(m->buf);
            m->cap = want;
            m->buf = av_xmalloc(m->cap);
        }
        if (decode_once(rec, m, row, data, len, s, txn, syms, hash) == 0) return 0;
        if (!m->full || want > (size_t)1 << 34) break;
        want = m->cap * 2;
    }
    rec->priv_ = m;
    return av_error_set(AV_ECORRUPT, "record %llu is corrupt", (unsigned long long)row);
}

#define CANON_STACK 2048

/* The canonical bytes are laid out in a buffer and hashed at once: the same
 * hash as feeding them to XXH3's streaming state piece by piece (which cost
 * ~20 ns an 8-byte piece, ~80 pieces for a Magpie row's tag). */
typedef struct {
    uint8_t *p;
    size_t n, cap;
} canon;

static void c_put(canon *c, const void *b, size_t n)
{
    if (c->n + n > c->cap) {
        size_t cap = (c->n + n) * 2;
        uint8_t *q = av_xmalloc(cap);
        memcpy(q, c->p, c->n);
        if (c->cap > CANON_STACK) free(c->p);
        c->p = q;
        c->cap = cap;
    }
    memcpy(c->p + c->n, b, n);
    c->n += n;
}

static void c_u64(canon *c, uint64_t v)
{
    uint8_t b[8];
    av_be64(b, v);
    c_put(c, b, 8);
}

static void c_str(canon *c, const char *s)
{
    size_t n = s ? strlen(s) : 0;
    c_u64(c, s ? n : UINT64_MAX);
    if (n) c_put(c, s, n);
}

void av_record_cid(av_id *out, const av_record *rec, const av_id ref_cids[3], const av_id *model_cid)
{
    uint8_t stack[CANON_STACK];
    canon c = {stack, 0, sizeof stack};
    c_put(&c, "aviary-record-1", 15);
    c_u64(&c, (uint64_t)rec->kind);
    static const av_id zero;
    for (int i = 0; i < 3; i++) c_put(&c, (rec->ref[i] ? &ref_cids[i] : &zero)->b, 16);
    c_put(&c, (rec->model ? model_cid : &zero)->b, 16);
    c_str(&c, rec->name);
    if (isnan(rec->num)) {
        c_u64(&c, 0);
    } else {
        uint64_t u;
        double d = rec->num == 0 ? 0.0 : rec->num; /* -0 and 0 are one value */
        memcpy(&u, &d, 8);
        c_u64(&c, 1);
        c_u64(&c, u);
    }
    c_u64(&c, rec->nmsg);
    for (uint32_t i = 0; i < rec->nmsg; i++) {
        c_str(&c, rec->msg[i].role);
        c_put(&c, rec->msg[i].text.hash.b, 16);
    }
    c_u64(&c, rec->nattr);
    for (uint32_t i = 0; i < rec->nattr; i++) {
        c_str(&c, rec->attr[i].key);
        c_put(&c, rec->attr[i].json.hash.b, 16);
    }
    canon_to_id(out, XXH3_128bits(c.p, c.n));
    if (c.cap > CANON_STACK) free(c.p);
}
