/* card.c: README.md and provenance.json for a dataset folder (card.h).
 * The card's numbers come from what was written (rows and bytes per split)
 * and from one lineage pass over the units (query/lineage.h, cached per
 * model and source): which sources, generator and judge models the rows
 * come from and how many rows carry each licence. Output depends only on
 * the store version and the options, so it is byte-identical on rerun. */
#include "export/card.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "query/lineage.h"
#include "query/policy.h"
#include "util/util.h"

typedef struct tally {
    char **name;
    uint64_t *count;
    size_t n, cap;
} tally;

static void tally_add(tally *t, const char *name)
{
    for (size_t i = 0; i < t->n; i++)
        if (strcmp(t->name[i], name) == 0) {
            t->count[i]++;
            return;
        }
    if (t->n == t->cap) {
        t->cap = t->cap ? t->cap * 2 : 8;
        t->name = av_xrealloc(t->name, t->cap * sizeof *t->name);
        t->count = av_xrealloc(t->count, t->cap * sizeof *t->count);
    }
    t->name[t->n] = av_xstrdup(name);
    t->count[t->n++] = 1;
}

static void tally_free(tally *t)
{
    for (size_t i = 0; i < t->n; i++)
        free(t->name[i]);
    free(t->name);
    free(t->count);
}

/* Most rows first, then by name: a stable order. */
static void tally_sort(tally *t)
{
    for (size_t i = 1; i < t->n; i++)
        for (size_t j = i; j > 0; j--) {
            int swap = t->count[j] > t->count[j - 1] ||
                       (t->count[j] == t->count[j - 1] && strcmp(t->name[j], t->name[j - 1]) < 0);
            if (!swap)
                break;
            char *n = t->name[j];
            t->name[j] = t->name[j - 1];
            t->name[j - 1] = n;
            uint64_t c = t->count[j];
            t->count[j] = t->count[j - 1];
            t->count[j - 1] = c;
        }
}

static void tally_md(av_buf *b, const char *title, tally *t)
{
    tally_sort(t);
    av_buf_printf(b, "- %s: ", title);
    if (!t->n)
        av_buf_puts(b, "none");
    for (size_t i = 0; i < t->n; i++)
        av_buf_printf(b, "%s`%s` (%llu)", i ? ", " : "", t->name[i], (unsigned long long)t->count[i]);
    av_buf_putc(b, '\n');
}

/* 1 source, 2 generator or writer, 3 judge, 0 anything else. */
static int category(const char *role)
{
    if (strcmp(role, "source") == 0)
        return 1;
    if (strcmp(role, "writer") == 0 || strcmp(role, "generator") == 0)
        return 2;
    if (strcmp(role, "judge") == 0)
        return 3;
    return 0;
}

static const char *size_category(uint64_t n)
{
    if (n < 1000) return "n<1K";
    if (n < 10000) return "1K<n<10K";
    if (n < 100000) return "10K<n<100K";
    if (n < 1000000) return "100K<n<1M";
    if (n < 10000000) return "1M<n<10M";
    if (n < 100000000) return "10M<n<100M";
    if (n < 1000000000) return "100M<n<1B";
    return "n>1B";
}

static void yaml_str(av_buf *b, const char *s)
{
    av_buf_json_str(b, s, strlen(s)); /* a JSON string is a valid YAML scalar */
}

int ex_card_write(const char *dir, av_reader *r, const av_export_opts *o, const uint64_t *units, size_t n,
                  const pq_node *schema, const ex_card_split *splits, int nsplit)
{
    av_card_licence lic;
    int rc = av_card_licence_get(&lic, r, units, n);
    if (rc < 0)
        return rc;
    tally sources = {0}, writers = {0}, judges = {0}, licences = {0};
    av_lineage_cache *lc = NULL;
    av_lineage lin;
    av_lineage_init(&lin);
    if ((rc = av_lineage_cache_new(&lc, r)) < 0)
        goto done;
    for (size_t i = 0; i < n; i++) {
        if ((rc = av_lineage_get_cached(lc, units[i], &lin)) < 0)
            goto done;
        /* Each name once per unit and category (a model that generated the
         * prompt and wrote the response counts once). */
        for (size_t k = 0; k < lin.nitems; k++) {
            const av_lineage_item *it = &lin.items[k];
            int cat = category(it->role), seen = 0;
            for (size_t j = 0; j < k && !seen; j++)
                seen = category(lin.items[j].role) == cat && strcmp(lin.items[j].name, it->name) == 0;
            if (seen || !it->name[0] || !cat)
                continue;
            tally_add(cat == 1 ? &sources : cat == 2 ? &writers : &judges, it->name);
        }
        for (size_t k = 0; k < lin.nlicences; k++)
            tally_add(&licences, lin.licences[k]);
    }
    uint64_t total = 0, bytes = 0, json_bytes = 0;
    for (int k = 0; k < nsplit; k++) {
        total += splits[k].rows;
        bytes += splits[k].bytes;
        json_bytes += splits[k].json_bytes;
    }
    av_buf b = AV_BUF_INIT;
    av_buf_puts(&b, "---\nlicense: ");
    yaml_str(&b, lic.license);
    av_buf_putc(&b, '\n');
    if (lic.license_name) {
        av_buf_puts(&b, "license_name: ");
        yaml_str(&b, lic.license_name);
        av_buf_puts(&b, "\nlicense_link: ");
        yaml_str(&b, lic.license_link ? lic.license_link : "README.md#licence");
        av_buf_putc(&b, '\n');
    }
    av_buf_printf(&b, "task_categories:\n- text-generation\ntags:\n- synthetic\n- aviary\nsize_categories:\n- %s\n",
                  size_category(total));
    av_buf_puts(&b, "configs:\n- config_name: default\n  data_files:\n");
    for (int k = 0; k < nsplit; k++)
        av_buf_printf(&b, "  - split: %s\n    path: data/%s-*\n", splits[k].name, splits[k].name);
    av_buf_puts(&b, "dataset_info:\n");
    if (schema && schema->nchild) {
        av_buf_puts(&b, "  features:\n");
        pq_schema_features_yaml(schema, &b, 2);
    }
    av_buf_puts(&b, "  splits:\n");
    for (int k = 0; k < nsplit; k++)
        av_buf_printf(&b, "  - name: %s\n    num_bytes: %llu\n    num_examples: %llu\n", splits[k].name,
                      (unsigned long long)splits[k].json_bytes, (unsigned long long)splits[k].rows);
    av_buf_printf(&b, "  download_size: %llu\n  dataset_size: %llu\n---\n\n", (unsigned long long)bytes,
                  (unsigned long long)json_bytes);

    av_buf_printf(&b, "# %s dataset\n\n", o->format);
    av_buf_printf(&b, "%llu rows in the `%s` format, exported by aviary from a versioned store. ",
                  (unsigned long long)total, o->format);
    av_buf_puts(&b, "Each row's content id and sources are listed in `provenance.json`.\n\n");
    av_buf_puts(&b, "## Provenance\n\n");
    av_commit c;
    memset(&c, 0, sizeof c);
    uint32_t v = av_reader_version(r);
    if (av_commit_get(r, v, &c) == 0 && c.message && *c.message)
        av_buf_printf(&b, "- Store version: %u (\"%s\")\n", v, c.message);
    else
        av_buf_printf(&b, "- Store version: %u\n", v);
    av_commit_free(&c);
    if (o->where && *o->where)
        av_buf_printf(&b, "- Filter: `%s`\n", o->where);
    else
        av_buf_puts(&b, "- Filter: none (every visible response)\n");
    av_buf_printf(&b, "- Rows: %llu from %zu selected units", (unsigned long long)total, n);
    for (int k = 0; k < nsplit; k++)
        av_buf_printf(&b, "%s%s %llu", k ? ", " : "; splits: ", splits[k].name, (unsigned long long)splits[k].rows);
    av_buf_putc(&b, '\n');
    tally_md(&b, "Sources (selected units from each)", &sources);
    tally_md(&b, "Generator models", &writers);
    tally_md(&b, "Judge models", &judges);
    tally_md(&b, "Licences (selected units whose lineage carries each)", &licences);
    if (lic.unknown_rows)
        av_buf_printf(&b, "- Rows with an unknown licence in their lineage: %llu\n", (unsigned long long)lic.unknown_rows);
    av_buf_puts(&b, "\n<a id=\"licence\"></a>\n");
    if (lic.section && *lic.section)
        av_buf_printf(&b, "%s\n", lic.section);
    else
        av_buf_puts(&b, "## Licence\n\nSee the licence breakdown above.\n");

    av_buf path = AV_BUF_INIT;
    av_buf_printf(&path, "%s/README.md", dir);
    FILE *f = fopen(path.ptr, "wb");
    if (!f) {
        rc = av_error_set(AV_EIO, "cannot create '%s': %s", path.ptr, strerror(errno));
    } else {
        errno = 0;
        size_t w = fwrite(b.ptr, 1, b.len, f);
        int bad = w != b.len || fflush(f) != 0 || ferror(f);
        if (fclose(f) != 0)
            bad = 1;
        rc = bad ? av_error_set(AV_EIO, "cannot write '%s': %s", path.ptr, strerror(errno ? errno : EIO)) : 0;
    }
    av_buf_free(&path);
    av_buf_free(&b);
done:
    av_lineage_free(&lin);
    av_lineage_cache_free(lc);
    tally_free(&sources);
    tally_free(&writers);
    tally_free(&judges);
    tally_free(&licences);
    av_card_licence_free(&lic);
    return rc;
}

void ex_provenance_head(FILE *f, av_reader *r, const av_export_opts *o)
{
    av_buf b = AV_BUF_INIT;
    av_buf_printf(&b, "{\"aviary_provenance\": 1, \"store_version\": %u, \"format\": ", av_reader_version(r));
    av_buf_json_str(&b, o->format, strlen(o->format));
    av_buf_puts(&b, ", \"query\": ");
    av_buf_json_str(&b, o->where ? o->where : "", o->where ? strlen(o->where) : 0);
    av_buf_puts(&b, ", \"command\": ");
    av_buf_json_str(&b, o->command ? o->command : "", o->command ? strlen(o->command) : 0);
    av_buf_puts(&b, ", \"rows\": [\n");
    fwrite(b.ptr, 1, b.len, f);
    av_buf_free(&b);
}

int ex_units_from_format(av_reader *r, const uint64_t *units, size_t n, const char *format)
{
    av_prov links[8];
    av_record src;
    av_record_init(&src);
    uint64_t last_ok = 0;
    int all = n > 0;
    size_t flen = strlen(format);
    for (size_t i = 0; i < n && all; i++) {
        size_t nl = 0;
        if (av_prov_get(r, units[i], links, 8, &nl) < 0 || nl == 0) {
            all = 0;
            break;
        }
        if (links[0].source == last_ok)
            continue;
        const av_attr *a = NULL;
        if (av_get(r, links[0].source, AV_GET_TEXT | AV_GET_ANY, &src) == 0)
            a = av_record_attr(&src, "format");
        all = a && a->json.ptr && a->json.len == flen + 2 && memcmp(a->json.ptr + 1, format, flen) == 0;
        if (all)
            last_ok = links[0].source;
    }
    av_record_free(&src);
    return all;
}
