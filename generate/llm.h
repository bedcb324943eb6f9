/* llm.h: what goes over the wire to an OpenAI-compatible server and what
 * comes back. Request bodies are built with a fixed key order (the golden
 * files under tests/data/generate/ pin them); replies from
 * /v1/chat/completions, /v1/completions, llama.cpp's /completion and Ollama's
 * /api/generate are parsed into one shape, with log-probabilities from either
 * the chat shape (logprobs.content[j].top_logprobs) or the completions shape
 * (logprobs.top_logprobs[j] = {token: logprob}). */
#ifndef AV_GENERATE_LLM_H
#define AV_GENERATE_LLM_H

#include <stddef.h>
#include <stdint.h>

#include "generate/client.h"
#include "util/util.h"

typedef enum gen_api {
    GEN_API_CHAT = 0,    /* POST /v1/chat/completions */
    GEN_API_COMPLETIONS, /* POST /v1/completions */
    GEN_API_OLLAMA,      /* POST /api/generate, raw */
} gen_api;

const char *gen_api_path(gen_api api);

typedef struct gen_params {
    double temperature;   /* NAN: not sent */
    double top_p;         /* NAN: not sent */
    int max_tokens;       /* 0: not sent */
    int has_seed;
    int64_t seed;
    const char *const *stop;
    size_t nstop;
    int logprobs;         /* top log-probabilities per position to ask for; 0 = none */
    int own_specials;     /* raw prompts: the prompt carries its own BOS and headers
                             (Magpie), so vLLM gets "add_special_tokens": false */
} gen_params;

/* One turn of a chat request. */
typedef struct gen_turn {
    const char *role;
    const char *text;
    size_t len;
} gen_turn;

/* {"model", "messages", "max_tokens", "temperature", "top_p", "seed", "stop",
 *  "logprobs": true, "top_logprobs"} */
void gen_body_chat(av_buf *out, const char *model, const gen_turn *turns, size_t nturns, const gen_params *p);
/* A raw prompt for the server kind: vLLM/SGLang /v1/completions with
 * "add_special_tokens": false; llama.cpp /v1/completions with "n": 1 (and the
 * caller drops the literal BOS); OpenAI /v1/completions; Ollama /api/generate
 * with "raw": true and the sampling settings under "options". Sets *api. */
void gen_body_raw(av_buf *out, gen_api *api, gen_server server, const char *model, const char *prompt, size_t len,
                  const gen_params *p);

#define GEN_LP_MAX_POS 16  /* positions of log-probabilities kept from a reply */
#define GEN_LP_MAX_CAND 20 /* candidates kept per position */

typedef struct gen_lp_cand {
    char tok[24]; /* token text, truncated */
    double lp;
} gen_lp_cand;

typedef struct gen_lp_pos {
    char tok[24]; /* the sampled token */
    size_t ncand;
    gen_lp_cand cand[GEN_LP_MAX_CAND];
} gen_lp_pos;

typedef struct gen_reply {
    char *text;          /* malloc'd, NUL-terminated */
    size_t len;
    char finish[24];     /* "stop", "length", ... or "" */
    int64_t prompt_tokens, completion_tokens;
    size_t npos;         /* positions with log-probabilities (0 when none were returned) */
    gen_lp_pos pos[GEN_LP_MAX_POS];
} gen_reply;

/* Parses a 2xx body of api. 0 on success; -1 if the body is not JSON or has
 * no text where the API puts it (the caller retries). */
int gen_reply_parse(gen_reply *out, gen_api api, const char *body, size_t len);
void gen_reply_free(gen_reply *r);

#endif
