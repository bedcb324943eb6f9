/* cmd_licence.c: `aviary licence`: list the licence registry (built-in
 * entries and the store's own), show one entry, or add an entry to the store
 * (one commit). The registry itself is query/licence.h. */
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "query/licence.h"

static const char usage[] =
    "usage: aviary licence list [--format table|json]\n"
    "       aviary licence show <id> [--format text|json]\n"
    "       aviary licence add <id> --name <name> --commercial yes|no|limited\n"
    "                          [--attribution yes|no] [--share-alike yes|no] [--link <url>]\n"
    "                          [--hf <hub-id>] [--commercial-note <text>] [--notice <text>]\n"
    "                          [--naming <text>] [--output-restriction <text>]\n"
    "                          [--use-policy <url>] [--note <text>] [--force]\n"
    "\n"
    "The registry holds SPDX licences and model terms with the properties that\n"
    "matter for a dataset (docs/licences.md). Entries added to a store take\n"
    "precedence over built-in ones of the same id (that needs --force).\n"
    "\n"
    "    --commercial yes|no|limited   may the data be used commercially\n"
    "    --attribution yes|no          must credit or a notice be kept\n"
    "    --share-alike yes|no          must derivatives keep the same terms\n"
    "    --notice <text>               a notice to reproduce verbatim\n"
    "    --naming <text>               naming or display rule for derivatives\n"
    "    --output-restriction <text>   limits on training models with the data\n";

static void answer_cell(av_buf *b, int a) { av_buf_puts(b, av_lic_answer_name(a)); }

static int list(av_licreg *reg, int json)
{
    size_t n = av_licreg_count(reg);
    if (json) {
        av_buf b = AV_BUF_INIT;
        for (size_t i = 0; i < n; i++) {
            const av_licence *l = av_licreg_at(reg, i);
            av_licence_json(l, &b);
            b.len--; /* reopen the object to add where it comes from */
            av_buf_printf(&b, ",\"builtin\":%s}\n", l->builtin ? "true" : "false");
        }
        fwrite(b.ptr ? b.ptr : "", 1, b.len, stdout);
        av_buf_free(&b);
        return 0;
    }
    size_t w = 2;
    for (size_t i = 0; i < n; i++) {
        size_t k = strlen(av_licreg_at(reg, i)->id);
        if (k > w) w = k;
    }
    printf("%-*s  %-10s  %-11s  %-11s  %-6s  %-18s  %-7s  %s\n", (int)w, "id", "commercial", "attribution",
           "share-alike", "naming", "output-restriction", "from", "name");
    for (size_t i = 0; i < n; i++) {
        const av_licence *l = av_licreg_at(reg, i);
        av_buf c = AV_BUF_INIT, a = AV_BUF_INIT, s = AV_BUF_INIT;
        answer_cell(&c, l->commercial);
        answer_cell(&a, l->attribution);
        answer_cell(&s, l->share_alike);
        printf("%-*s  %-10s  %-11s  %-11s  %-6s  %-18s  %-7s  %s\n", (int)w, l->id, c.ptr, a.ptr, s.ptr,
               l->naming ? "yes" : "no", l->output_restriction ? "yes" : "no", l->builtin ? "builtin" : "store",
               l->name);
        av_buf_free(&c);
        av_buf_free(&a);
        av_buf_free(&s);
    }
    return 0;
}

static void line(const char *key, const char *val)
{
    if (val) printf("%-19s %s\n", key, val);
}

static int show(av_licreg *reg, const char *id, int json)
{
    const av_licence *l = av_licreg_get(reg, id);
    if (!l) return cli_error("no licence '%s' in the registry (see 'aviary licence list')", id);
    if (json) {
        av_buf b = AV_BUF_INIT;
        av_licence_json(l, &b);
        b.len--;
        av_buf_printf(&b, ",\"builtin\":%s,\"properties\":[", l->builtin ? "true" : "false");
        unsigned props = av_licence_props(l);
        int first = 1;
        for (unsigned bit = 1; bit < (1u << AV_LP_COUNT); bit <<= 1)
            if (props & bit) {
                av_buf_printf(&b, "%s\"%s\"", first ? "" : ",", av_licprop_name(bit));
                first = 0;
            }
        av_buf_puts(&b, "]}\n");
        fwrite(b.ptr, 1, b.len, stdout);
        av_buf_free(&b);
        return 0;
    }
    av_buf props = AV_BUF_INIT;
    unsigned p = av_licence_props(l);
    for (unsigned bit = 1; bit < (1u << AV_LP_COUNT); bit <<= 1)
        if (p & bit) av_buf_printf(&props, "%s%s", props.len ? ", " : "", av_licprop_name(bit));
    line("id:", l->id);
    line("name:", l->name);
    line("link:", l->link);
    line("hub id:", l->hf ? l->hf : "other");
    line("from:", l->builtin ? "built in" : "this store");
    line("commercial use:", av_lic_answer_name(l->commercial));
    line("  condition:", l->commercial_note);
    line("attribution:", av_lic_answer_name(l->attribution));
    line("  notice:", l->notice);
    line("share-alike:", av_lic_answer_name(l->share_alike));
    line("naming:", l->naming ? l->naming : "none");
    line("outputs:", l->output_restriction ? l->output_restriction : "no restriction on training with them");
    line("use policy:", l->use_policy);
    line("note:", l->note);
    line("properties:", props.len ? props.ptr : "none");
    av_buf_free(&props);
    return 0;
}

static int parse_answer(const char *opt, const char *val, int *out)
{
    int a = av_lic_answer_parse(val);
    if (a < 0 || (a == AV_LIC_LIMITED && strcmp(opt, "--commercial"))) return -1;
    *out = a;
    return 0;
}

static int add(av_cli *ctx, av_licreg *reg, int argc, char **argv)
{
    av_licence l = {0};
    int force = 0, have_commercial = 0;
    if (argc < 3 || argv[2][0] == '-') return cli_usage_error(usage, "'licence add' needs an id");
    l.id = argv[2];
    l.attribution = AV_LIC_UNKNOWN;
    l.share_alike = AV_LIC_UNKNOWN;
    static const char *const text_opts[] = {"--name", "--link", "--hf", "--commercial-note", "--notice",
                                            "--naming", "--output-restriction", "--use-policy", "--note"};
    const char **text_dst[] = {&l.name, &l.link, &l.hf, &l.commercial_note, &l.notice,
                               &l.naming, &l.output_restriction, &l.use_policy, &l.note};
    for (int i = 3; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--force")) {
            force = 1;
            continue;
        }
        if (i + 1 >= argc) return cli_usage_error(usage, "'%s' needs a value", a);
        const char *val = argv[++i];
        size_t k = 0;
        while (k < sizeof text_opts / sizeof text_opts[0] && strcmp(a, text_opts[k])) k++;
        if (k < sizeof text_opts / sizeof text_opts[0]) {
            *text_dst[k] = *val ? val : NULL;
        } else if (!strcmp(a, "--commercial") || !strcmp(a, "--attribution") || !strcmp(a, "--share-alike")) {
            int *dst = !strcmp(a, "--commercial") ? &l.commercial
                       : !strcmp(a, "--attribution") ? &l.attribution : &l.share_alike;
            if (parse_answer(a, val, dst) < 0)
                return cli_usage_error(usage, "%s must be %s, not '%s'", a,
                                       strcmp(a, "--commercial") ? "yes or no" : "yes, no or limited", val);
            have_commercial |= !strcmp(a, "--commercial");
        } else {
            return cli_usage_error(usage, "unknown option '%s'", a);
        }
    }
    if (!l.name) return cli_usage_error(usage, "'licence add' needs --name");
    if (!have_commercial) return cli_usage_error(usage, "'licence add' needs --commercial yes|no|limited");
    char norm[128];
    av_licence_norm(norm, sizeof norm, l.id);
    if (strcmp(norm, l.id))
        return cli_error("licence id '%s' must be written '%s' (lowercase, '-' for spaces)", l.id, norm);
    if (av_licence_validate(&l) < 0) return cli_error("%s", av_errmsg());
    const av_licence *old = av_licreg_get(reg, l.id);
    if (old && !force)
        return cli_error(old->builtin ? "licence '%s' is built in; use --force to override it in this store"
                                      : "licence '%s' already exists; use --force to replace it",
                         l.id);
    av_writer *w = NULL;
    int rc = av_writer_open(&w, ctx->store);
    if (rc < 0) return cli_store_error(rc);
    if ((rc = av_licence_put(w, &l)) < 0) {
        av_writer_abort(w);
        return cli_store_error(rc);
    }
    av_buf msg = AV_BUF_INIT;
    av_buf_printf(&msg, "licence %s %s", old ? "replace" : "add", l.id);
    av_commit_opts o = {.message = msg.ptr, .command = ctx->command, .allow_empty = 1};
    uint32_t v = 0;
    rc = av_writer_commit(w, &o, &v);
    av_buf_free(&msg);
    if (rc < 0) return cli_store_error(rc);
    fprintf(stderr, "%s licence '%s' (version %u)\n", old ? "replaced" : "added", l.id, v);
    return 0;
}

int cmd_licence(int argc, char **argv, av_cli *ctx)
{
    if (cli_wants_help(argc, argv, usage)) return 0;
    if (argc < 2) return cli_usage_error(usage, "'licence' needs a subcommand: list, show or add");
    const char *sub = argv[1];
    if (strcmp(sub, "list") && strcmp(sub, "show") && strcmp(sub, "add"))
        return cli_usage_error(usage, "'%s' is not a licence subcommand (list, show, add)", sub);
    int json = 0;
    const char *id = NULL;
    if (strcmp(sub, "add")) {
        for (int i = 2; i < argc; i++) {
            if (!strcmp(argv[i], "--format") || !strcmp(argv[i], "--json")) {
                const char *f = !strcmp(argv[i], "--json") ? "json" : (i + 1 < argc ? argv[++i] : NULL);
                if (!f) return cli_usage_error(usage, "'--format' needs a value");
                if (!strcmp(f, "json")) json = 1;
                else if (!strcmp(f, "table") || !strcmp(f, "text")) json = 0;
                else return cli_usage_error(usage, "--format must be table or json, not '%s'", f);
            } else if (argv[i][0] == '-' || id || !strcmp(sub, "list")) {
                return cli_usage_error(usage, "unexpected argument '%s'", argv[i]);
            } else {
                id = argv[i];
            }
        }
        if (!strcmp(sub, "show") && !id) return cli_usage_error(usage, "'licence show' needs an id");
    }
    av_reader *r = NULL;
    av_licreg *reg = NULL;
    if (cli_reader_open(ctx, NULL, &r)) return 1;
    int rc = av_licreg_load(&reg, r);
    av_reader_close(r);
    if (rc < 0) return cli_store_error(rc);
    if (!strcmp(sub, "list")) rc = list(reg, json);
    else if (!strcmp(sub, "show")) rc = show(reg, id, json);
    else rc = add(ctx, reg, argc, argv);
    av_licreg_free(reg);
    return rc;
}
