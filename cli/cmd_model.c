/* cmd_model.c: `aviary model`: lists the store's models with their current
 * licence (the newest visible tag with a "licence" attribute), and sets a
 * model's licence by adding such a tag (one commit). Ingest tags each model
 * it creates from the built-in registry (ingest/models.h) or as "unknown". */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "ingest/models.h"
#include "query/licence.h"

static const char usage[] =
    "usage: aviary model [list] [--at <version>]\n"
    "       aviary model set <name> --licence <id>\n"
    "\n"
    "  list              each model with its current licence id ('unknown' when not known)\n"
    "  set <name>        record the licence of a model's outputs (creates the model if needed)\n";

/* The licence JSON value of the newest visible licence tag on model_row, into
 * out (unquoted); "" when none. */
static int model_licence(av_reader *r, uint64_t model_row, char *out, size_t cap)
{
    av_iter *it;
    out[0] = 0;
    int rc = av_iter_refs(&it, r, model_row);
    if (rc < 0) return rc;
    av_record rec;
    av_record_init(&rec);
    uint64_t row;
    while ((rc = av_iter_next(it, &row)) == 1) {
        if (av_get(r, row, AV_GET_TEXT, &rec) < 0 || rec.kind != AV_TAG) continue;
        const av_attr *a = av_record_attr(&rec, "licence");
        if (!a || !a->json.ptr || a->json.len < 2 || a->json.ptr[0] != '"') continue;
        size_t n = a->json.len - 2 < cap - 1 ? a->json.len - 2 : cap - 1;
        memcpy(out, a->json.ptr + 1, n); /* ascending rows: the last one wins */
        out[n] = 0;
    }
    av_record_free(&rec);
    av_iter_free(it);
    return rc < 0 ? rc : 0;
}

static int do_list(av_cli *ctx, const char *at)
{
    av_reader *r;
    if (cli_reader_open(ctx, at, &r)) return 1;
    av_iter *it;
    int rc = av_iter_kind(&it, r, AV_MODEL);
    if (rc < 0) {
        av_reader_close(r);
        return cli_store_error(rc);
    }
    av_record rec;
    av_record_init(&rec);
    uint64_t row;
    while ((rc = av_iter_next(it, &row)) == 1) {
        if ((rc = av_get(r, row, 0, &rec)) < 0) break;
        char lic[128];
        if ((rc = model_licence(r, row, lic, sizeof lic)) < 0) break;
        printf("%s\t%s\n", rec.name ? rec.name : "", lic[0] ? lic : "unknown");
    }
    av_record_free(&rec);
    av_iter_free(it);
    av_reader_close(r);
    return rc < 0 ? cli_store_error(rc) : 0;
}

static int do_set(av_cli *ctx, const char *name, const char *licence)
{
    char id[128];
    if (!strcmp(licence, "unknown")) {
        snprintf(id, sizeof id, "unknown");
    } else {
        av_licence_norm(id, sizeof id, licence);
        av_reader *r;
        if (cli_reader_open(ctx, NULL, &r)) return 1;
        av_licreg *reg = NULL;
        int known = av_licreg_load(&reg, r) == 0 && av_licreg_get(reg, id) != NULL;
        av_licreg_free(reg);
        av_reader_close(r);
        if (!known)
            return cli_error("unknown licence '%s' (see 'aviary licence' for the known ids, or add one there)",
                             licence);
    }
    av_writer *w;
    int rc = av_writer_open(&w, ctx->store);
    if (rc < 0) return cli_store_error(rc);
    uint64_t mrow;
    if ((rc = av_writer_model(w, name, &mrow)) < 0) {
        av_writer_abort(w);
        return cli_store_error(rc);
    }
    /* The version makes each setting its own record, so setting A, then B,
     * then A again leaves A as the newest. */
    av_buf lic = AV_BUF_INIT;
    av_buf_json_str(&lic, id, strlen(id));
    char ver[24];
    snprintf(ver, sizeof ver, "%u", av_writer_version(w));
    av_attr a[3] = {{"licence", {lic.ptr, lic.len, {{0}}, 0}},
                    {"set_by", {"\"aviary model set\"", 18, {{0}}, 0}},
                    {"version", {ver, strlen(ver), {{0}}, 0}}};
    av_record t;
    av_record_init(&t);
    t.kind = AV_TAG;
    t.ref[0] = mrow;
    t.nattr = 3;
    t.attr = a;
    rc = av_writer_put(w, &t);
    av_buf_free(&lic);
    if (rc < 0) {
        av_writer_abort(w);
        return cli_store_error(rc);
    }
    av_buf msg = AV_BUF_INIT;
    av_buf_printf(&msg, "model '%s': licence %s", name, id);
    rc = cli_commit(ctx, w, msg.ptr, NULL);
    av_buf_free(&msg);
    if (rc == 0) printf("%s\t%s\n", name, id);
    return rc;
}

int cmd_model(int argc, char **argv, av_cli *ctx)
{
    if (cli_wants_help(argc, argv, usage)) return 0;
    const char *at = NULL, *licence = NULL, *pos[3] = {0};
    int npos = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--at") || !strcmp(argv[i], "--licence") || !strcmp(argv[i], "--license")) {
            if (i + 1 >= argc) return cli_usage_error(usage, "'%s' needs a value", argv[i]);
            if (!strcmp(argv[i], "--at")) at = argv[++i];
            else licence = argv[++i];
        } else if (argv[i][0] == '-' && argv[i][1]) {
            return cli_usage_error(usage, "unknown option '%s'", argv[i]);
        } else if (npos < 3) {
            pos[npos++] = argv[i];
        } else {
            return cli_usage_error(usage, "too many arguments");
        }
    }
    if (npos == 0 || !strcmp(pos[0], "list")) {
        if (npos > 1) return cli_usage_error(usage, "'list' takes no arguments");
        if (licence) return cli_usage_error(usage, "--licence goes with 'set'");
        return do_list(ctx, at);
    }
    if (!strcmp(pos[0], "set")) {
        if (npos != 2) return cli_usage_error(usage, "'set' needs one model name");
        if (!licence) return cli_usage_error(usage, "'set' needs --licence <id>");
        if (at) return cli_usage_error(usage, "--at goes with 'list'");
        if (!*pos[1]) return cli_usage_error(usage, "the model name is empty");
        return do_set(ctx, pos[1], licence);
    }
    return cli_usage_error(usage, "unknown subcommand '%s'", pos[0]);
}
