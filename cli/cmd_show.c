/* cmd_show.c: `aviary show <id>`: one record with its texts and attributes,
 * the records attached to it (tags, ratings, preferences, responses,
 * revisions: av_iter_refs), the prompt of a response, and where it came
 * from (source name, file and line; or the run that made it). Text for
 * people, or --json (one object). */
#include "cli/cli.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static const char usage[] = "usage: aviary show [--json] [--at <version>] <id>\n";

typedef struct show_ctx {
    av_reader *r;
    av_record aux; /* for looking up models, sources, runs and refs */
    int json;
    av_buf b;
} show_ctx;

static void hex_of(show_ctx *s, uint64_t row, char out[33])
{
    if (av_get(s->r, row, AV_GET_ANY, &s->aux) < 0) {
        snprintf(out, 33, "?");
        return;
    }
    av_id_hex(out, &s->aux.cid);
}

/* The model's name in a malloc'd string, or NULL. */
static char *model_of(show_ctx *s, uint64_t row)
{
    if (!row || av_get(s->r, row, AV_GET_ANY, &s->aux) < 0 || !s->aux.name) return NULL;
    return av_xstrdup(s->aux.name);
}

static void json_str(av_buf *b, const char *s)
{
    av_buf_json_str(b, s ? s : "", s ? strlen(s) : 0);
}

static void json_attrs(av_buf *b, const av_record *rec)
{
    av_buf_putc(b, '{');
    for (uint32_t i = 0; i < rec->nattr; i++) {
        if (i) av_buf_putc(b, ',');
        json_str(b, rec->attr[i].key);
        av_buf_putc(b, ':');
        if (rec->attr[i].json.ptr && rec->attr[i].json.len) av_buf_put(b, rec->attr[i].json.ptr, rec->attr[i].json.len);
        else av_buf_puts(b, "null");
    }
    av_buf_putc(b, '}');
}

static void json_msgs(av_buf *b, const av_record *rec)
{
    av_buf_putc(b, '[');
    for (uint32_t i = 0; i < rec->nmsg; i++) {
        av_buf_puts(b, i ? ",{\"role\":" : "{\"role\":");
        json_str(b, rec->msg[i].role);
        av_buf_puts(b, ",\"text\":");
        av_buf_json_str(b, rec->msg[i].text.ptr ? rec->msg[i].text.ptr : "", rec->msg[i].text.ptr ? rec->msg[i].text.len : 0);
        av_buf_putc(b, '}');
    }
    av_buf_putc(b, ']');
}

static void text_attrs(const av_record *rec, const char *indent)
{
    for (uint32_t i = 0; i < rec->nattr; i++)
        printf("%s%s = %.*s\n", indent, rec->attr[i].key, (int)rec->attr[i].json.len,
               rec->attr[i].json.ptr ? rec->attr[i].json.ptr : "");
}

enum { G_TAGS, G_RATINGS, G_PREFERENCES, G_RESPONSES, G_REVISIONS, G_OTHER, G_N };
static const char *const group_name[G_N] = {"tags", "ratings", "preferences", "responses", "revisions", "referred_by"};

static int group_of(const av_record *rec, uint64_t target)
{
    switch (rec->kind) {
    case AV_TAG: return G_TAGS;
    case AV_RATING: return G_RATINGS;
    case AV_PREFERENCE: return G_PREFERENCES;
    case AV_RESPONSE: return rec->ref[0] == target ? G_RESPONSES : G_REVISIONS;
    default: return G_OTHER;
    }
}

/* One record that refers to the shown one, as a line (text) or an object;
 * first: the first of its group (which prints the group's heading). */
static int show_ref(show_ctx *s, uint64_t row, int group, int first)
{
    av_record rec;
    av_record_init(&rec);
    int rc = av_get(s->r, row, AV_GET_TEXT, &rec);
    if (rc < 0) goto done;
    char hex[33];
    av_id_hex(hex, &rec.cid);
    char *model = model_of(s, rec.model);
    if (s->json) {
        av_buf *b = &s->b;
        if (first) av_buf_printf(b, ",\"%s\":[", group_name[group]);
        else av_buf_putc(b, ',');
        av_buf_printf(b, "{\"id\":\"%s\",\"kind\":\"%s\"", hex, av_kind_name(rec.kind));
        if (model) av_buf_puts(b, ",\"model\":"), json_str(b, model);
        if (rec.name) av_buf_puts(b, ",\"name\":"), json_str(b, rec.name);
        if (!isnan(rec.num)) av_buf_puts(b, ",\"num\":"), av_buf_json_num(b, rec.num);
        if (rec.kind == AV_PREFERENCE) {
            char ha[33], hb[33];
            hex_of(s, rec.ref[1], ha);
            hex_of(s, rec.ref[2], hb);
            av_buf_printf(b, ",\"a\":\"%s\",\"b\":\"%s\"", ha, hb);
        }
        if (rec.nattr) av_buf_puts(b, ",\"attrs\":"), json_attrs(b, &rec);
        if (rec.nmsg) av_buf_puts(b, ",\"msgs\":"), json_msgs(b, &rec);
        av_buf_putc(b, '}');
    } else {
        if (first) printf("\n%s\n", group_name[group]);
        if (rec.kind == AV_TAG) {
            printf("  %.12s%s%s\n", hex, model ? " by " : "", model ? model : "");
            text_attrs(&rec, "    ");
        } else if (rec.kind == AV_RATING) {
            printf("  %.12s %s ", hex, rec.name ? rec.name : "");
            if (isnan(rec.num)) printf("n/a");
            else printf("%g", rec.num);
            printf("%s%s\n", model ? " by " : "", model ? model : "");
        } else if (rec.kind == AV_PREFERENCE) {
            char ha[33], hb[33];
            hex_of(s, rec.ref[1], ha);
            hex_of(s, rec.ref[2], hb);
            printf("  %.12s P(%.12s better than %.12s) = %g (%s)%s%s\n", hex, ha, hb, rec.num,
                   rec.name ? rec.name : "?", model ? " by " : "", model ? model : "");
        } else {
            printf("  %.12s %s%s%s\n", hex, av_kind_name(rec.kind), model ? " by " : "", model ? model : "");
        }
    }
    free(model);
done:
    av_record_free(&rec);
    return rc;
}

static int show_prov(show_ctx *s, const av_record *rec)
{
    av_prov p[64];
    size_t n = 0;
    int rc = av_prov_get(s->r, rec->row, p, 64, &n);
    if (rc < 0) return rc;
    if (n > 64) n = 64;
    if (s->json) av_buf_puts(&s->b, ",\"provenance\":[");
    else if (n || rec->run) printf("\nprovenance\n");
    for (size_t i = 0; i < n; i++) {
        const char *name = "?", *file = NULL;
        size_t file_len = 0;
        if (av_get(s->r, p[i].source, AV_GET_ANY | AV_GET_TEXT, &s->aux) == 0) {
            name = s->aux.name ? s->aux.name : "?";
            const av_attr *f = av_record_attr(&s->aux, "file");
            if (f && f->json.ptr) file = f->json.ptr, file_len = f->json.len;
        }
        if (s->json) {
            av_buf_puts(&s->b, i ? ",{\"source\":" : "{\"source\":");
            json_str(&s->b, name);
            if (file) av_buf_puts(&s->b, ",\"file\":"), av_buf_put(&s->b, file, file_len);
            av_buf_printf(&s->b, ",\"line\":%llu,\"version\":%u}", (unsigned long long)p[i].line, p[i].version);
        } else {
            printf("  source %s", name);
            /* a plain JSON string is shown without its quotes */
            if (file && file_len >= 2 && file[0] == '"' && file[file_len - 1] == '"' && !memchr(file, '\\', file_len))
                file++, file_len -= 2;
            if (file) printf(" (file %.*s)", (int)file_len, file);
            printf(" line %llu, version %u\n", (unsigned long long)p[i].line, p[i].version);
        }
    }
    if (s->json) av_buf_putc(&s->b, ']');
    if (rec->run && av_get(s->r, rec->run, AV_GET_ANY | AV_GET_TEXT, &s->aux) == 0) {
        char hex[33];
        av_id_hex(hex, &s->aux.cid);
        if (s->json) {
            av_buf_printf(&s->b, ",\"run\":{\"id\":\"%s\",\"name\":", hex);
            json_str(&s->b, s->aux.name);
            av_buf_puts(&s->b, ",\"attrs\":");
            json_attrs(&s->b, &s->aux);
            av_buf_putc(&s->b, '}');
        } else {
            printf("  run %.12s %s\n", hex, s->aux.name ? s->aux.name : "");
            text_attrs(&s->aux, "    ");
        }
    }
    return 0;
}

static int show_prompt_of(show_ctx *s, uint64_t prompt)
{
    av_record p;
    av_record_init(&p);
    int rc = av_get(s->r, prompt, AV_GET_ANY | AV_GET_TEXT, &p);
    if (rc < 0) goto done;
    char hex[33];
    av_id_hex(hex, &p.cid);
    if (s->json) {
        av_buf_printf(&s->b, ",\"prompt\":{\"id\":\"%s\",\"msgs\":", hex);
        json_msgs(&s->b, &p);
        av_buf_putc(&s->b, '}');
    } else {
        printf("\nprompt %s\n", hex);
        for (uint32_t i = 0; i < p.nmsg; i++)
            printf("[%s]\n%.*s\n", p.msg[i].role ? p.msg[i].role : "", (int)p.msg[i].text.len,
                   p.msg[i].text.ptr ? p.msg[i].text.ptr : "");
    }
done:
    av_record_free(&p);
    return rc;
}

/* The error for an id with no visible record; a full id of a record that
 * was retracted says when, and how to see it. */
static int not_visible(show_ctx *s, const char *id)
{
    av_id cid;
    uint64_t row;
    uint32_t at = av_reader_version(s->r), t[64];
    size_t nt = 0;
    if (strlen(id) == 32 && av_id_parse(&cid, id) == 0 && av_find(s->r, &cid, &row) == 0 &&
        av_get(s->r, row, AV_GET_ANY, &s->aux) == 0) {
        if (av_toggles_get(s->r, row, t, 64, &nt) == 0 && nt && nt <= 64 && t[nt - 1] <= at && t[nt - 1] > 1)
            return cli_error("record '%s' was retracted in version %u (see it with --at %u)", id, t[nt - 1],
                             t[nt - 1] - 1);
    }
    return cli_error("no record '%s' at version %u", id, at);
}

int cmd_show(int argc, char **argv, av_cli *ctx)
{
    if (cli_wants_help(argc, argv, usage)) return 0;
    const char *at = NULL, *id = NULL;
    show_ctx s = {0};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--json")) s.json = 1;
        else if (!strcmp(a, "--at")) {
            if (i + 1 >= argc) return cli_usage_error(usage, "--at needs a version");
            at = argv[++i];
        } else if (!strncmp(a, "--at=", 5)) at = a + 5;
        else if (a[0] == '-' && a[1]) return cli_usage_error(usage, "unknown option '%s'", a);
        else if (id) return cli_usage_error(usage, "one id at a time");
        else id = a;
    }
    if (!id) return cli_usage_error(usage, "which record? give its id");
    if (cli_reader_open(ctx, at, &s.r)) return 1;
    av_record rec;
    av_record_init(&rec);
    av_record_init(&s.aux);
    av_iter *it = NULL;
    uint64_t row = 0, *refs = NULL;
    uint8_t *groups = NULL;
    size_t nrefs = 0, refs_cap = 0;
    int rc = av_find_hex(s.r, id, &row);
    if (rc == AV_ENOTFOUND) {
        rc = not_visible(&s, id);
        goto out;
    }
    if (rc < 0 || (rc = av_get(s.r, row, AV_GET_TEXT, &rec)) < 0) goto fail;

    char hex[33];
    av_id_hex(hex, &rec.cid);
    char *model = model_of(&s, rec.model);
    if (s.json) {
        av_buf_printf(&s.b, "{\"id\":\"%s\",\"kind\":\"%s\",\"version\":%u", hex, av_kind_name(rec.kind), rec.version);
        int last = -1;
        for (int i = 0; i < 3; i++)
            if (rec.ref[i]) last = i;
        if (last >= 0) {
            av_buf_puts(&s.b, ",\"refs\":[");
            for (int i = 0; i <= last; i++) {
                char h[33];
                if (i) av_buf_putc(&s.b, ',');
                if (!rec.ref[i]) {
                    av_buf_puts(&s.b, "null");
                    continue;
                }
                hex_of(&s, rec.ref[i], h);
                av_buf_printf(&s.b, "\"%s\"", h);
            }
            av_buf_putc(&s.b, ']');
        }
        if (model) av_buf_puts(&s.b, ",\"model\":"), json_str(&s.b, model);
        if (rec.name) av_buf_puts(&s.b, ",\"name\":"), json_str(&s.b, rec.name);
        if (!isnan(rec.num)) av_buf_puts(&s.b, ",\"num\":"), av_buf_json_num(&s.b, rec.num);
        av_buf_puts(&s.b, ",\"msgs\":");
        json_msgs(&s.b, &rec);
        av_buf_puts(&s.b, ",\"attrs\":");
        json_attrs(&s.b, &rec);
    } else {
        printf("%s %s\nversion  %u\n", av_kind_name(rec.kind), hex, rec.version);
        if (model) printf("model    %s\n", model);
        if (rec.name) printf("name     %s\n", rec.name);
        if (!isnan(rec.num)) printf("num      %g\n", rec.num);
        else if (rec.kind == AV_RATING) printf("num      n/a\n");
        for (int i = 0; i < 3; i++)
            if (rec.ref[i]) {
                char h[33];
                hex_of(&s, rec.ref[i], h);
                printf("ref      %s %s\n", s.aux.kind ? av_kind_name(s.aux.kind) : "?", h);
            }
        if (rec.nattr) printf("attrs\n");
        text_attrs(&rec, "  ");
        for (uint32_t i = 0; i < rec.nmsg; i++)
            printf("\n[%s]\n%.*s\n", rec.msg[i].role ? rec.msg[i].role : "", (int)rec.msg[i].text.len,
                   rec.msg[i].text.ptr ? rec.msg[i].text.ptr : "");
    }
    free(model);

    if (rec.kind == AV_RESPONSE && rec.ref[0] && (rc = show_prompt_of(&s, rec.ref[0])) < 0) goto fail;
    /* the records that refer to this one, grouped: tags, ratings, ... */
    if ((rc = av_iter_refs(&it, s.r, row)) < 0) goto fail;
    uint64_t ref;
    while ((rc = av_iter_next(it, &ref)) == 1) {
        if ((rc = av_get(s.r, ref, 0, &s.aux)) < 0) goto fail;
        if (nrefs == refs_cap) {
            refs_cap = refs_cap ? refs_cap * 2 : 64;
            refs = av_xrealloc(refs, refs_cap * sizeof *refs);
            groups = av_xrealloc(groups, refs_cap * sizeof *groups);
        }
        refs[nrefs] = ref;
        groups[nrefs++] = (uint8_t)group_of(&s.aux, row);
    }
    if (rc < 0) goto fail;
    for (int g = 0; g < G_N; g++) {
        int first = 1;
        for (size_t i = 0; i < nrefs; i++) {
            if (groups[i] != g) continue;
            if ((rc = show_ref(&s, refs[i], g, first)) < 0) goto fail;
            first = 0;
        }
        if (s.json && !first) av_buf_putc(&s.b, ']');
    }
    if ((rc = show_prov(&s, &rec)) < 0) goto fail;
    if (s.json) {
        av_buf_puts(&s.b, "}\n");
        fwrite(s.b.ptr, 1, s.b.len, stdout);
    }
    rc = 0;
    goto out;
fail:
    rc = cli_store_error(rc);
out:
    free(refs);
    free(groups);
    av_iter_free(it);
    av_record_free(&rec);
    av_record_free(&s.aux);
    av_reader_close(s.r);
    av_buf_free(&s.b);
    return rc;
}
