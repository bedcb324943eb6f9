/* llm.c: request bodies and reply parsing of llm.h. Bodies are written by
 * hand into an av_buf (one pass, fixed key order); replies are parsed with
 * cJSON and only the first GEN_LP_MAX_POS positions of log-probabilities are
 * kept, which is all a judge reads. */
#include "generate/llm.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

const char *gen_api_path(gen_api api)
{
    switch (api) {
    case GEN_API_CHAT: return "/v1/chat/completions";
    case GEN_API_COMPLETIONS: return "/v1/completions";
    case GEN_API_OLLAMA: return "/api/generate";
    }
    return "/";
}

static void put_key(av_buf *b, const char *k)
{
    av_buf_putc(b, ',');
    av_buf_json_str(b, k, strlen(k));
    av_buf_putc(b, ':');
}

static void put_sampling(av_buf *b, const gen_params *p, const char *max_key)
{
    if (p->max_tokens > 0) {
        put_key(b, max_key);
        av_buf_printf(b, "%d", p->max_tokens);
    }
    if (!isnan(p->temperature)) {
        put_key(b, "temperature");
        av_buf_json_num(b, p->temperature);
    }
    if (!isnan(p->top_p)) {
        put_key(b, "top_p");
        av_buf_json_num(b, p->top_p);
    }
    if (p->has_seed) {
        put_key(b, "seed");
        av_buf_printf(b, "%lld", (long long)p->seed);
    }
    if (p->nstop) {
        put_key(b, "stop");
        av_buf_putc(b, '[');
        for (size_t i = 0; i < p->nstop; i++) {
            if (i) av_buf_putc(b, ',');
            av_buf_json_str(b, p->stop[i], strlen(p->stop[i]));
        }
        av_buf_putc(b, ']');
    }
}

void gen_body_chat(av_buf *out, const char *model, const gen_turn *turns, size_t nturns, const gen_params *p)
{
    av_buf_puts(out, "{\"model\":");
    av_buf_json_str(out, model, strlen(model));
    put_key(out, "messages");
    av_buf_putc(out, '[');
    for (size_t i = 0; i < nturns; i++) {
        if (i) av_buf_putc(out, ',');
        av_buf_puts(out, "{\"role\":");
        av_buf_json_str(out, turns[i].role, strlen(turns[i].role));
        av_buf_puts(out, ",\"content\":");
        av_buf_json_str(out, turns[i].text, turns[i].len);
        av_buf_putc(out, '}');
    }
    av_buf_putc(out, ']');
    put_sampling(out, p, "max_tokens");
    if (p->logprobs > 0) {
        put_key(out, "logprobs");
        av_buf_puts(out, "true");
        put_key(out, "top_logprobs");
        av_buf_printf(out, "%d", p->logprobs);
    }
    av_buf_putc(out, '}');
}

void gen_body_raw(av_buf *out, gen_api *api, gen_server server, const char *model, const char *prompt, size_t len,
                  const gen_params *p)
{
    av_buf_puts(out, "{\"model\":");
    av_buf_json_str(out, model, strlen(model));
    put_key(out, "prompt");
    av_buf_json_str(out, prompt, len);
    if (server == GEN_SERVER_OLLAMA) {
        *api = GEN_API_OLLAMA;
        put_key(out, "raw");
        av_buf_puts(out, "true");
        put_key(out, "stream");
        av_buf_puts(out, "false");
        put_key(out, "options");
        av_buf tmp = AV_BUF_INIT;
        put_sampling(&tmp, p, "num_predict");
        av_buf_putc(out, '{');
        if (tmp.len) av_buf_put(out, tmp.ptr + 1, tmp.len - 1); /* without the leading comma */
        av_buf_free(&tmp);
        av_buf_puts(out, "}}");
        return;
    }
    *api = GEN_API_COMPLETIONS;
    put_sampling(out, p, "max_tokens");
    if (p->logprobs > 0) {
        put_key(out, "logprobs");
        av_buf_printf(out, "%d", p->logprobs);
    }
    if (server == GEN_SERVER_LLAMACPP) {
        put_key(out, "n");
        av_buf_puts(out, "1");
    }
    if (server == GEN_SERVER_VLLM && p->own_specials) {
        put_key(out, "add_special_tokens");
        av_buf_puts(out, "false");
    }
    av_buf_putc(out, '}');
}

/* ---- replies ------------------------------------------------------------ */

static void tokcpy(char dst[24], const char *s)
{
    size_t n = s ? strnlen(s, 23) : 0;
    if (n) memcpy(dst, s, n);
    dst[n] = 0;
}

static int64_t num_or0(const cJSON *o, const char *k)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    return cJSON_IsNumber(v) ? (int64_t)v->valuedouble : 0;
}

static void set_text(gen_reply *out, const char *s)
{
    out->len = strlen(s);
    out->text = av_xstrndup(s, out->len);
}

static void parse_chat_lp(gen_reply *out, const cJSON *lp)
{
    const cJSON *content = cJSON_GetObjectItemCaseSensitive(lp, "content");
    const cJSON *pos;
    cJSON_ArrayForEach(pos, content)
    {
        if (out->npos >= GEN_LP_MAX_POS) break;
        gen_lp_pos *p = &out->pos[out->npos++];
        const cJSON *t = cJSON_GetObjectItemCaseSensitive(pos, "token");
        tokcpy(p->tok, cJSON_IsString(t) ? t->valuestring : "");
        const cJSON *top = cJSON_GetObjectItemCaseSensitive(pos, "top_logprobs"), *c;
        cJSON_ArrayForEach(c, top)
        {
            if (p->ncand >= GEN_LP_MAX_CAND) break;
            const cJSON *ct = cJSON_GetObjectItemCaseSensitive(c, "token");
            const cJSON *cl = cJSON_GetObjectItemCaseSensitive(c, "logprob");
            if (!cJSON_IsString(ct) || !cJSON_IsNumber(cl)) continue;
            tokcpy(p->cand[p->ncand].tok, ct->valuestring);
            p->cand[p->ncand++].lp = cl->valuedouble;
        }
        if (!p->ncand) { /* no top list: the sampled token alone */
            const cJSON *l = cJSON_GetObjectItemCaseSensitive(pos, "logprob");
            if (cJSON_IsNumber(l)) {
                tokcpy(p->cand[0].tok, p->tok);
                p->cand[0].lp = l->valuedouble;
                p->ncand = 1;
            }
        }
    }
}

static void parse_completion_lp(gen_reply *out, const cJSON *lp)
{
    const cJSON *tokens = cJSON_GetObjectItemCaseSensitive(lp, "tokens");
    const cJSON *lps = cJSON_GetObjectItemCaseSensitive(lp, "token_logprobs");
    const cJSON *tops = cJSON_GetObjectItemCaseSensitive(lp, "top_logprobs");
    int n = cJSON_GetArraySize(tokens);
    for (int i = 0; i < n && out->npos < GEN_LP_MAX_POS; i++) {
        gen_lp_pos *p = &out->pos[out->npos++];
        const cJSON *t = cJSON_GetArrayItem(tokens, i);
        tokcpy(p->tok, cJSON_IsString(t) ? t->valuestring : "");
        const cJSON *top = cJSON_GetArrayItem(tops, i), *c;
        cJSON_ArrayForEach(c, top)
        {
            if (p->ncand >= GEN_LP_MAX_CAND) break;
            if (!cJSON_IsNumber(c) || !c->string) continue;
            tokcpy(p->cand[p->ncand].tok, c->string);
            p->cand[p->ncand++].lp = c->valuedouble;
        }
        if (!p->ncand) {
            const cJSON *l = cJSON_GetArrayItem(lps, i);
            if (cJSON_IsNumber(l)) {
                tokcpy(p->cand[0].tok, p->tok);
                p->cand[0].lp = l->valuedouble;
                p->ncand = 1;
            }
        }
    }
}

int gen_reply_parse(gen_reply *out, gen_api api, const char *body, size_t len)
{
    memset(out, 0, sizeof *out);
    cJSON *j = cJSON_ParseWithLength(body, len);
    if (!j) return -1;
    int rc = -1;
    if (api == GEN_API_OLLAMA) {
        const cJSON *r = cJSON_GetObjectItemCaseSensitive(j, "response");
        if (!cJSON_IsString(r)) goto done;
        set_text(out, r->valuestring);
        const cJSON *dr = cJSON_GetObjectItemCaseSensitive(j, "done_reason");
        tokcpy(out->finish, cJSON_IsString(dr) ? dr->valuestring : "stop");
        out->prompt_tokens = num_or0(j, "prompt_eval_count");
        out->completion_tokens = num_or0(j, "eval_count");
        rc = 0;
        goto done;
    }
    const cJSON *content = cJSON_GetObjectItemCaseSensitive(j, "content");
    if (cJSON_IsString(content)) { /* llama.cpp /completion */
        set_text(out, content->valuestring);
        const cJSON *st = cJSON_GetObjectItemCaseSensitive(j, "stopped_limit");
        tokcpy(out->finish, cJSON_IsTrue(st) ? "length" : "stop");
        out->prompt_tokens = num_or0(j, "tokens_evaluated");
        out->completion_tokens = num_or0(j, "tokens_predicted");
        rc = 0;
        goto done;
    }
    const cJSON *choice = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(j, "choices"), 0);
    if (!cJSON_IsObject(choice)) goto done;
    const cJSON *fr = cJSON_GetObjectItemCaseSensitive(choice, "finish_reason");
    tokcpy(out->finish, cJSON_IsString(fr) ? fr->valuestring : "");
    const cJSON *lp = cJSON_GetObjectItemCaseSensitive(choice, "logprobs");
    if (api == GEN_API_CHAT) {
        const cJSON *msg = cJSON_GetObjectItemCaseSensitive(choice, "message");
        const cJSON *c = cJSON_GetObjectItemCaseSensitive(msg, "content");
        if (cJSON_IsNull(c) || !c) set_text(out, "");
        else if (cJSON_IsString(c)) set_text(out, c->valuestring);
        else goto done;
    } else {
        const cJSON *t = cJSON_GetObjectItemCaseSensitive(choice, "text");
        if (!cJSON_IsString(t)) goto done;
        set_text(out, t->valuestring);
    }
    if (cJSON_IsObject(lp)) {
        if (cJSON_GetObjectItemCaseSensitive(lp, "content")) parse_chat_lp(out, lp);
        else parse_completion_lp(out, lp);
    }
    const cJSON *usage = cJSON_GetObjectItemCaseSensitive(j, "usage");
    out->prompt_tokens = num_or0(usage, "prompt_tokens");
    out->completion_tokens = num_or0(usage, "completion_tokens");
    rc = 0;
done:
    cJSON_Delete(j);
    if (rc < 0) gen_reply_free(out);
    return rc;
}

void gen_reply_free(gen_reply *r)
{
    if (!r) return;
    free(r->text);
    r->text = NULL;
    r->len = 0;
}
