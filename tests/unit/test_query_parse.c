/* test_query_parse.c: the filter language's parser: precedence, not, in,
 * literals (numbers, strings with escapes and unicode, true/false/null),
 * field names, static type checks, and the error messages (caret position,
 * nearest fields). Pure: no store. */
#include <stdlib.h>
#include <string.h>

#include "query/qint.h"
#include "query/query.h"
#include "tap.h"

/* An s-expression of the tree, to check its shape. */
static void sx(av_buf *b, const qnode *n)
{
    static const char *const ops[] = {"=", "!=", "<", "<=", ">", ">="};
    switch (n->k) {
    case QN_AND:
    case QN_OR:
        av_buf_printf(b, "(%s ", n->k == QN_AND ? "and" : "or");
        sx(b, n->a);
        av_buf_putc(b, ' ');
        sx(b, n->b);
        av_buf_putc(b, ')');
        return;
    case QN_NOT:
        av_buf_puts(b, "(not ");
        sx(b, n->a);
        av_buf_putc(b, ')');
        return;
    case QN_EXISTS: av_buf_printf(b, "(exists %s)", n->field.name); return;
    case QN_CMP: av_buf_printf(b, "(%s %s", ops[n->op], n->field.name); break;
    case QN_IN: av_buf_printf(b, "(in %s", n->field.name); break;
    case QN_CONTAINS: av_buf_printf(b, "(contains %s", n->field.name); break;
    case QN_MATCHES: av_buf_printf(b, "(matches %s", n->field.name); break;
    }
    for (size_t i = 0; i < n->nlit; i++) {
        av_buf_putc(b, ' ');
        q_val_json(b, &n->lits[i].v);
    }
    av_buf_putc(b, ')');
}

static char *tree(const char *expr)
{
    qnode *n;
    char *err = NULL;
    if (q_parse(&n, expr, &err) < 0) {
        fprintf(stderr, "unexpected error for %s:\n%s\n", expr, err);
        free(err);
        return av_xstrdup("ERROR");
    }
    av_buf b = AV_BUF_INIT;
    if (n) sx(&b, n);
    else av_buf_puts(&b, "ALL");
    q_node_free(n);
    return av_buf_detach(&b);
}

static char *error_of(const char *expr)
{
    av_query *q = NULL;
    char *err = NULL;
    int rc = av_query_compile(&q, expr, AV_RESPONSE, &err);
    if (rc == 0) {
        av_query_free(q);
        return av_xstrdup("OK");
    }
    CHECK_EQ_INT(rc, AV_EINVAL);
    CHECK(q == NULL);
    return err ? err : av_xstrdup("(null)");
}

#define TREE(expr, want) do { char *t_ = tree(expr); CHECK_EQ_STR(t_, want); free(t_); } while (0)
#define ERR(expr, want) do { char *e_ = error_of(expr); CHECK_EQ_STR(e_, want); free(e_); } while (0)
#define ERR_HAS(expr, part) do { char *e_ = error_of(expr); if (!strstr(e_, part)) { tap_failed_checks++; \
  fprintf(stderr, "%s:%d: error for %s is\n%s\nwithout \"%s\"\n", __FILE__, __LINE__, expr, e_, part); } free(e_); } while (0)

static void test_query_parse__precedence(void)
{
    TREE("tag.a = 1 or tag.b = 2 and tag.c = 3", "(or (= tag.a 1) (and (= tag.b 2) (= tag.c 3)))");
    TREE("(tag.a = 1 or tag.b = 2) and tag.c = 3", "(and (or (= tag.a 1) (= tag.b 2)) (= tag.c 3))");
    TREE("not tag.a = 1 and tag.b = 2", "(and (not (= tag.a 1)) (= tag.b 2))");
    TREE("not (tag.a = 1 and tag.b = 2)", "(not (and (= tag.a 1) (= tag.b 2)))");
    TREE("tag.a = 1 and tag.b = 2 and tag.c = 3", "(and (and (= tag.a 1) (= tag.b 2)) (= tag.c 3))");
    TREE("not not exists tag.a", "(not (not (exists tag.a)))");
    TREE("tag.a=1 OR tag.b=2 AND NOT tag.c=3", "(or (= tag.a 1) (and (= tag.b 2) (not (= tag.c 3))))");
    TREE("", "ALL");
    TREE("   ", "ALL");
}

static void test_query_parse__operators(void)
{
    TREE("version != 2", "(!= version 2)");
    TREE("version <> 2", "(!= version 2)");
    TREE("version == 2", "(= version 2)");
    TREE("len(response)<=10", "(<= len(response) 10)");
    TREE("len(instruction) >= 1e3", "(>= len(instruction) 1000)");
    TREE("preference.p < .5", "(< preference.p 0.5)");
    TREE("tag.x > -2.5", "(> tag.x -2.5)");
    TREE("tag.x in (\"a\", 'b', 3, true, null)", "(in tag.x \"a\" \"b\" 3 true null)");
    TREE("tag.x not in (1, 2)", "(not (in tag.x 1 2))");
    TREE("response not contains \"x\"", "(not (contains response \"x\"))");
    TREE("instruction matches \"^a+$\"", "(matches instruction \"^a+$\")");
    TREE("kind in (\"prompt\", \"response\")", "(in kind \"prompt\" \"response\")");
}

static void test_query_parse__fields(void)
{
    TREE("rating.helpfulness[gpt-4] >= 4", "(>= rating.helpfulness[gpt-4] 4)");
    TREE("rating.helpfulness[ \"meta-llama/Llama-3 8B\" ] >= 4", "(>= rating.helpfulness[meta-llama/Llama-3 8B] 4)");
    TREE("rating.overall > 7", "(> rating.overall 7)");
    TREE("tag.\"odd key\" = 1", "(= tag.odd key 1)");
    TREE("tag.fine-grained_score > 4", "(> tag.fine-grained_score 4)");
    TREE("turns = 1 and source = \"s\" and licence = \"mit\" and model = \"m\" and id = \"0123abcd\"",
         "(and (and (and (and (= turns 1) (= source \"s\")) (= licence \"mit\")) (= model \"m\")) (= id \"0123abcd\"))");
    qfield f;
    char *err;
    CHECK_EQ_INT(q_field_parse(&f, "len(response)", &err), 0);
    CHECK_EQ_INT(f.f, QF_LEN_RESPONSE);
    CHECK_EQ_INT(f.type, QT_NUM);
    q_field_release(&f);
    CHECK_EQ_INT(q_field_parse(&f, "tag.task_category", &err), 0);
    CHECK_EQ_STR(f.key, "task_category");
    CHECK_EQ_INT(f.type, QT_ANY);
    q_field_release(&f);
    CHECK_EQ_INT(q_field_parse(&f, "tag.x y", &err), AV_EINVAL);
    CHECK(err && strstr(err, "unexpected text after the field name"));
    free(err);
}

static void test_query_parse__strings_and_unicode(void)
{
    TREE("tag.x = \"a\\\"b\\\\c\\n\"", "(= tag.x \"a\\\"b\\\\c\\n\")");
    TREE("tag.x = \"\\u00e9\"", "(= tag.x \"\xc3\xa9\")");
    TREE("tag.x = \"\\ud83d\\ude00\"", "(= tag.x \"\xf0\x9f\x98\x80\")");
    TREE("tag.x = \"日本語\"", "(= tag.x \"日本語\")");
    TREE("tag.x = 'single \"quoted\"'", "(= tag.x \"single \\\"quoted\\\"\")");
    ERR_HAS("tag.x = \"\\ud83d\"", "lone surrogate");
    ERR_HAS("tag.x = \"\\u0000\"", "cannot hold \\u0000");
    ERR_HAS("tag.x = \"\\q\"", "bad escape '\\q'");
    ERR_HAS("tag.x = \"\xff\"", "invalid UTF-8");
    /* found by fuzzing: an empty string in a message; a literal lost when the next token fails */
    TREE("tag.x = \"\"", "(= tag.x \"\")");
    ERR_HAS("kind = \"\"", "unknown kind \"\"");
    ERR_HAS("tag.x in (\"a\",\"b\"\xae)", "unexpected");
}

static void test_query_parse__caret(void)
{
    ERR("tag.x = ", "expected a value (a \"string\", a number, true, false or null), found the end at column 9\n"
                    "  tag.x = \n"
                    "          ^");
    ERR("tag.x = \"abc", "unterminated string (no closing \") at column 9\n  tag.x = \"abc\n          ^");
    ERR("(tag.x = 1", "expected ')' to close the '(' at column 1, found the end at column 11\n  (tag.x = 1\n            ^");
    ERR("tag.x = 1 tag.y = 2",
        "unexpected 'tag.y' after a complete condition; join conditions with 'and' or 'or' at column 11\n"
        "  tag.x = 1 tag.y = 2\n"
        "            ^");
    /* the caret counts code points, not bytes */
    ERR("tag.x = \"é\" and", "expected a field, 'not', 'exists' or '(', found the end at column 16\n"
                             "  tag.x = \"é\" and\n"
                             "                 ^");
    ERR_HAS("tag.x = Math", "found 'Math'; strings need quotes");
    ERR_HAS("tag.x Math", "expected an operator (= != < <= > >= in contains matches) after tag.x, found 'Math'");
    ERR_HAS("tag.x in \"a\"", "expected '(' after 'in'");
    ERR_HAS("tag.x in (\"a\" \"b\")", "expected ',' or ')'");
    ERR_HAS("tag.x = 1)", "unexpected ')' with no '('");
    ERR_HAS("tag.x ! 1", "unexpected '!'");
    ERR_HAS("tag.x = 12abc", "bad number");
    ERR_HAS("\"Math\" = tag.x", "put the field first");
}

static void test_query_parse__unknown_fields(void)
{
    ERR("licnse = \"mit\"", "unknown field 'licnse'; nearest known: licence at column 1\n  licnse = \"mit\"\n  ^");
    ERR_HAS("task_category = \"Math\"", "unknown field 'task_category'; nearest known: tag.task_category");
    ERR_HAS("tags.task_category = \"Math\"", "nearest known: tag.task_category");
    ERR_HAS("ratings.helpfulness > 3", "nearest known: rating.helpfulness");
    ERR_HAS("preference.q > 0.5", "nearest known: preference.p");
    ERR_HAS("respons contains \"x\"", "nearest known: response");
    ERR_HAS("tag = 1", "tag needs a key: tag.<key>");
    ERR_HAS("len(model) > 1", "len() takes instruction or response");
    ERR_HAS("tag.x[gpt-4] = 1", "only rating.<aspect> takes a [judge]");
    ERR_HAS("rating.helpfulness[gpt-4 > 1", "unclosed '['");
    ERR_HAS("zzzzzzzzzzzz = 1", "nearest known: tag.zzzzzzzzzzzz (a tag key is written tag.<key>)");
    ERR_HAS("qqqqq.zzzzzzzz = 1", "known fields: kind, id, model");
}

static void test_query_parse__types(void)
{
    ERR_HAS("len(response) = \"long\"", "len(response) is a number and cannot be compared with a string");
    ERR_HAS("model = 3", "model is a string and cannot be compared with a number; quote the value");
    ERR_HAS("version in (1, \"2\")", "version is a number and cannot be compared with a string");
    ERR_HAS("rating.helpfulness contains \"4\"", "rating.helpfulness is a number; 'contains' needs text");
    ERR_HAS("kind = \"answer\"", "unknown kind \"answer\"; kinds are prompt, response");
    ERR_HAS("id = \"xyz\"", "an id is 8 to 32 hex digits");
    ERR_HAS("tag.x < null", "cannot order null");
    ERR_HAS("tag.x > true", "cannot order true and false");
    ERR_HAS("instruction matches \"([\"", "bad regular expression");
    ERR("tag.x = null", "OK");
    ERR("tag.x = \"Math\" or tag.x = 3", "OK"); /* a tag's type is known only at run time */
}

static void test_query_parse__depth_and_size(void)
{
    av_buf b = AV_BUF_INIT;
    for (int i = 0; i < 150; i++) av_buf_putc(&b, '(');
    av_buf_puts(&b, "tag.a = 1");
    for (int i = 0; i < 150; i++) av_buf_putc(&b, ')');
    ERR(b.ptr, "OK");
    av_buf_reset(&b);
    for (int i = 0; i < 5000; i++) av_buf_putc(&b, '(');
    ERR_HAS(b.ptr, "nested too deeply");
    av_buf_reset(&b);
    for (int i = 0; i < 5000; i++) av_buf_puts(&b, "not ");
    av_buf_puts(&b, "tag.a = 1");
    ERR_HAS(b.ptr, "nested too deeply");
    av_buf_reset(&b);
    for (int i = 0; i < 1000; i++) av_buf_printf(&b, "%stag.k = %d", i ? " or " : "", i);
    ERR(b.ptr, "OK");
    av_buf_printf(&b, " or tag.k = 0");
    ERR_HAS(b.ptr, "too many conditions (more than 1000)");
    av_buf_free(&b);
}

int main(void)
{
    RUN(test_query_parse__precedence);
    RUN(test_query_parse__operators);
    RUN(test_query_parse__fields);
    RUN(test_query_parse__strings_and_unicode);
    RUN(test_query_parse__caret);
    RUN(test_query_parse__unknown_fields);
    RUN(test_query_parse__types);
    RUN(test_query_parse__depth_and_size);
    return tap_done();
}
