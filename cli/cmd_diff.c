/* cmd_diff.c: `aviary diff <from> [<to>]`: what changed between two versions,
 * by kind: records visible at <to> but not at <from> (added, or restored when
 * they already existed at <from>), and records visible at <from> but not at
 * <to> (retracted). --list names each record. Costs one pass over the
 * visible rows of each version (a bitmap of rows each), one reader at a
 * time, and a metadata read per changed record. Version 0 is the empty
 * store before the first commit, so `diff 0 V` lists everything up to V. */
#include "cli/cli.h"

#include <stdlib.h>
#include <string.h>

static const char usage[] = "usage: aviary diff [--format text|json] [--list] <from> [<to>]\n";

/* From <from> to <to>: added (new since <from>), retracted (hidden, though it
 * exists at <to>), restored (hidden at <from>, visible again), removed (only
 * when <to> is older: not yet added at <to>). */
enum { CH_ADDED, CH_RETRACTED, CH_RESTORED, CH_REMOVED, CH_N };
static const char *const ch_name[CH_N] = {"added", "retracted", "restored", "removed"};

static int bitmap(av_store *s, uint32_t v, uint8_t **out, uint64_t *nrows)
{
    av_reader *r = NULL;
    av_iter *it = NULL;
    if (v == 0) { /* the empty store before the first commit: nothing visible */
        *nrows = 0;
        *out = av_xcalloc(1, 1);
        return 0;
    }
    int rc = av_reader_open(&r, s, v);
    if (rc < 0) return rc;
    *nrows = av_reader_row_end(r);
    *out = av_xcalloc(*nrows / 8 + 1, 1);
    if ((rc = av_iter_all(&it, r)) >= 0) {
        uint64_t row;
        while ((rc = av_iter_next(it, &row)) == 1)
            if (row < *nrows) (*out)[row >> 3] |= (uint8_t)(1u << (row & 7));
    }
    av_iter_free(it);
    av_reader_close(r);
    return rc < 0 ? rc : 0;
}

static int bit(const uint8_t *b, uint64_t n, uint64_t row)
{
    return row < n && ((b[row >> 3] >> (row & 7)) & 1);
}

int cmd_diff(int argc, char **argv, av_cli *ctx)
{
    if (cli_wants_help(argc, argv, usage)) return 0;
    const char *spec[2] = {NULL, "HEAD"};
    int nspec = 0, json = 0, list = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *val = NULL;
        if (!strcmp(a, "--list") || !strcmp(a, "-l")) {
            list = 1;
            continue;
        }
        if (!strcmp(a, "--format")) {
            if (i + 1 >= argc) return cli_usage_error(usage, "--format needs a value");
            val = argv[++i];
        } else if (!strncmp(a, "--format=", 9)) {
            val = a + 9;
        } else if (a[0] == '-' && a[1]) {
            return cli_usage_error(usage, "unknown option '%s'", a);
        } else {
            if (nspec == 2) return cli_usage_error(usage, "too many versions");
            spec[nspec++] = a;
            continue;
        }
        if (!strcmp(val, "json")) json = 1;
        else if (!strcmp(val, "text")) json = 0;
        else return cli_usage_error(usage, "unknown format '%s' (text or json)", val);
    }
    if (!nspec) return cli_usage_error(usage, "which versions? give <from> and <to>");
    uint32_t v[2];
    int rc;
    for (int k = 0; k < 2; k++)
        if ((rc = av_version_resolve(ctx->store, spec[k], &v[k])) < 0) return cli_store_error(rc);
    uint32_t head = 0;
    if ((rc = av_store_head(ctx->store, &head)) < 0) return cli_store_error(rc);
    if (!head) return cli_error("the store has no versions yet");

    uint8_t *bm[2] = {NULL, NULL};
    uint64_t n[2] = {0, 0}, count[CH_N][AV_KIND_MAX + 1];
    memset(count, 0, sizeof count);
    av_reader *r = NULL;
    av_record rec;
    av_record_init(&rec);
    av_buf b = AV_BUF_INIT;
    if ((rc = bitmap(ctx->store, v[0], &bm[0], &n[0])) < 0 || (rc = bitmap(ctx->store, v[1], &bm[1], &n[1])) < 0)
        goto done;
    /* metadata of changed rows from the later version, which has them all */
    if ((rc = av_reader_open(&r, ctx->store, v[0] > v[1] ? v[0] : v[1])) < 0) goto done;
    uint64_t nrows = n[0] > n[1] ? n[0] : n[1];
    if (json) av_buf_printf(&b, "{\"from\":%u,\"to\":%u", v[0], v[1]);
    else printf("version %u -> %u\n", v[0], v[1]);
    int nlisted = 0;
    for (uint64_t row = 1; row < nrows; row++) {
        int a = bit(bm[0], n[0], row), z = bit(bm[1], n[1], row);
        if (a == z) continue;
        if ((rc = av_get(r, row, AV_GET_ANY, &rec)) < 0) goto done;
        int ch = a ? (rec.version > v[1] ? CH_REMOVED : CH_RETRACTED) : (rec.version > v[0] ? CH_ADDED : CH_RESTORED);
        count[ch][rec.kind]++;
        if (!list) continue;
        char hex[33];
        av_id_hex(hex, &rec.cid);
        if (json) {
            av_buf_printf(&b, "%s{\"change\":\"%s\",\"kind\":\"%s\",\"id\":\"%s\"}", nlisted++ ? "," : ",\"records\":[",
                          ch_name[ch], av_kind_name(rec.kind), hex);
        } else {
            printf("%c %-10s %s\n", a ? '-' : '+', av_kind_name(rec.kind), hex);
            nlisted++;
        }
    }
    if (json && list) av_buf_puts(&b, nlisted ? "]" : ",\"records\":[]");
    int any = 0;
    for (int ch = 0; ch < CH_N; ch++) {
        int first = 1;
        if (ch == CH_REMOVED && v[1] >= v[0]) continue;
        if (json) av_buf_printf(&b, ",\"%s\":{", ch_name[ch]);
        for (int k = 1; k <= AV_KIND_MAX; k++) {
            if (!count[ch][k]) continue;
            any = 1;
            if (json) {
                av_buf_printf(&b, "%s\"%s\":%llu", first ? "" : ",", av_kind_name((av_kind)k),
                              (unsigned long long)count[ch][k]);
            } else {
                if (first) printf("%s\n", ch_name[ch]);
                printf("  %-10s %llu\n", av_kind_name((av_kind)k), (unsigned long long)count[ch][k]);
            }
            first = 0;
        }
        if (json) av_buf_putc(&b, '}');
    }
    if (json) {
        av_buf_puts(&b, "}\n");
        fwrite(b.ptr, 1, b.len, stdout);
    } else if (!any) {
        printf("no changes\n");
    }
    rc = 0;
done:
    av_buf_free(&b);
    av_record_free(&rec);
    av_reader_close(r);
    free(bm[0]);
    free(bm[1]);
    return rc < 0 ? cli_store_error(rc) : 0;
}
