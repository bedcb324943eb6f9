#!/usr/bin/env python3
"""fake_llm.py: a fake OpenAI-compatible server for aviary's generate/judge tests.

Standard library only. Listens on 127.0.0.1 (HTTP/1.1, keep-alive) and answers
deterministically, so tests can assert exact results:

  POST /v1/completions        raw prompts; logprobs in the completions shape
  POST /v1/chat/completions   messages; logprobs in the chat shape
  POST /completion            llama.cpp's native raw endpoint
  POST /api/generate          Ollama's native raw endpoint
  GET  /stats                 {"requests": N, "by_path": {...}, "faults": N}

What it writes:
  - a Magpie instruction for a raw prompt: "Write a poem about topic <h>."
    (h from the prompt and seed), never with a newline;
  - for an RLAIF prompt ending "Preferred Response=": "1" or "2", with top
    log-probabilities P("1") = clamp(0.6 + 0.3 * sign(len(r1) - len(r2)))
    (the longer response wins; a 0.1 bias to the first position);
  - for a comparison ending "The answer is:": "(A)" / "(B)" as the tokens
    "(", "A"/"B", ")" with the same rule at the second position;
  - for a prompt ending "Score:": "7" with P(6)=0.2, P(7)=0.5, P(8)=0.3;
  - for a prompt ending "Rationale:": a one-line rationale;
  - for an UltraFeedback prompt ("## Annotation" with "<text k>" items):
    a section per text with Rating 1 + len(text) % 5 (the Type form when
    the format asks for it);
  - for a Magpie tagger prompt: JSON inside a ```json fence;
  - otherwise "Answer <h> to: <first 40 characters of the last user turn>".

A model whose name contains "verbose" gets longer chat answers; one named
"...garbleN..." answers "I cannot rate these texts." the first N times it sees
a body (for re-ask tests).

Faults, deterministic per request:
  - "@fault:KIND" or "@fault:KIND*N" anywhere in a body: the first N (default
    1) times that exact body arrives it gets KIND;
  - --fault-every N:KIND: every Nth request (1-based) gets KIND;
  KIND: 429 (retry-after-ms: 20), 429s (Retry-After: 1), 429date (Retry-After
  as an HTTP date), quota (429 insufficient_quota), 500, 503load (llama.cpp's
  "Loading model"), oldvllm (400 in the old vLLM shape), slow (reply after
  --slow-ms), malformed (200 with broken JSON), truncated (Content-Length
  longer than what is sent, then close), drop (close without a reply).

Options: --port-file F (port written there once listening), --record F (each
request as one JSON line {"path", "body"}), --delay-ms N (every reply),
--slow-ms N (default 3000), --no-logprobs, --chat-only (404 for raw paths).
"""
import argparse
import asyncio
import email.utils
import hashlib
import json
import math
import os
import re
import sys
import time

ARGS = None
STATE = {"requests": 0, "by_path": {}, "faults": 0, "seen": {}}
RECORD = None


def h(s, n=6):
    return hashlib.sha256(s.encode("utf-8", "surrogatepass")).hexdigest()[:n]


def ntok(s):
    return max(1, len(s.split()))


def clamp(p):
    return min(0.98, max(0.02, p))


def sign(x):
    return (x > 0) - (x < 0)


def between(s, a, *ends):
    """the text after a, up to the first of ends (or the end)"""
    i = s.find(a)
    if i < 0:
        return ""
    i += len(a)
    js = [j for j in (s.find(b, i) for b in ends) if j >= 0]
    return s[i:min(js)] if js else s[i:]


R2_ENDS = ("\nPreferred Response=", "\nConsider the coherence")
B_ENDS = ("\nThe answer is:", "\nLet's think step by step")


def pref_tokens(p1, labels):
    """top candidates for a two-way choice where P(first label) = p1"""
    return [(labels[0], math.log(p1)), (labels[1], math.log(1 - p1))]


def answer(prompt, raw, seed):
    """returns (text, [(token, [(cand, logprob)...])...]) for a prompt"""
    p = prompt.rstrip()
    if p.endswith("Preferred Response="):
        r1 = between(prompt, "Response 1 - ", "\nResponse 2 - ")
        r2 = between(prompt, "\nResponse 2 - ", *R2_ENDS)
        p1 = clamp(0.6 + 0.3 * sign(len(r1) - len(r2)))
        cands = pref_tokens(p1, ["1", "2"])
        tok = "1" if p1 >= 0.5 else "2"
        return tok, [(tok, cands)]
    if p.endswith("The answer is:"):
        ra = between(prompt, "\n(A) ", "\n(B) ")
        rb = between(prompt, "\n(B) ", *B_ENDS)
        p1 = clamp(0.6 + 0.3 * sign(len(ra) - len(rb)))
        lab = "A" if p1 >= 0.5 else "B"
        cands = pref_tokens(p1, ["A", "B"])
        return " (" + lab + ")", [(" (", [(" (", 0.0)]), (lab, cands), (")", [(")", 0.0)])]
    if p.endswith("Score:"):
        cands = [("7", math.log(0.5)), ("8", math.log(0.3)), ("6", math.log(0.2))]
        return " 7", [(" 7", cands)]
    if p.endswith("Rationale:"):
        r1 = between(prompt, "Response 1 - ", "\nResponse 2 - ")
        r2 = between(prompt, "\nResponse 2 - ", *R2_ENDS)
        which = 1 if len(r1) >= len(r2) else 2
        t = " Response %d covers more of the question." % which
        return t, [(w, [(w, -0.1)]) for w in t.split(" ")]
    if "## Annotation" in prompt and "<text 1>" in prompt:
        ann = prompt[prompt.index("## Annotation"):]
        texts = re.findall(r"<text (\d+)> (.*?)(?=\n<text \d+> |\n\n### Output|$)", ann, re.S)
        typed = "Type:" in prompt[:prompt.index("## Annotation")]
        out = []
        for k, t in texts:
            r = 1 + len(t) % 5
            if typed:
                out.append("#### Output for Text %s\nType: 1\nRationale: Text %s is informative.\nRating: %d\nRationale: Text %s has %d characters." % (k, k, r, k, len(t)))
            else:
                out.append("#### Output for Text %s\nRating: %d\nRationale: Text %s has %d characters." % (k, r, k, len(t)))
        t = "\n\n".join(out)
        return t, []
    if '"input_quality"' in prompt:
        t = 'Assessment:\n```json\n{"explanation": "The query is clear.", "input_quality": "good"}\n```'
        return t, []
    if '"primary_tag"' in prompt:
        t = '```json\n{"primary_tag": "Math", "other_tags": ["Reasoning", "Information seeking"]}\n```'
        return t, []
    if '"difficulty"' in prompt:
        t = '{"intent": "The user wants to learn a fact.", "knowledge": "To solve this problem, the models need to know the fact.", "difficulty": "easy"}'
        return t, []
    if raw:
        t = "Write a poem about topic %s." % h(prompt + "|" + str(seed))
        return t, [(w, [(w, -0.5)]) for w in t.split(" ")]
    last = prompt.rsplit("\n", 1)[-1] if "\n" in prompt else prompt
    t = "Answer %s to: %s" % (h(prompt + "|" + str(seed)), prompt[-40:].replace("\n", " ").strip() or last)
    return t, [(w, [(w, -0.3)]) for w in t.split(" ")]


def chat_logprobs(toks, top):
    content = []
    for tok, cands in toks:
        lp = dict(cands).get(tok, cands[0][1] if cands else 0.0)
        content.append({
            "token": tok, "logprob": lp, "bytes": list(tok.encode()),
            "top_logprobs": [{"token": c, "logprob": l, "bytes": list(c.encode())} for c, l in cands[:top]],
        })
    return {"content": content}


def comp_logprobs(toks, top):
    tokens, lps, tops, offs, off = [], [], [], [], 0
    for tok, cands in toks:
        tokens.append(tok)
        lps.append(dict(cands).get(tok, cands[0][1] if cands else 0.0))
        tops.append({c: l for c, l in cands[:top]})
        offs.append(off)
        off += len(tok)
    return {"tokens": tokens, "token_logprobs": lps, "top_logprobs": tops, "text_offset": offs}


def garbled(model, body):
    """a model named "...garbleN..." answers nonsense the first N times it sees a body"""
    m = re.search(r"garble(\d+)", model)
    if not m:
        return False
    key = "garble:" + h(body, 16)
    seen = STATE["seen"].get(key, 0)
    STATE["seen"][key] = seen + 1
    return seen < int(m.group(1))


def handle(path, body):
    """returns (status, headers, payload bytes)"""
    try:
        req = json.loads(body)
    except Exception:
        return 400, {}, b'{"error": {"message": "body is not JSON", "type": "invalid_request_error", "code": null}}'
    model = req.get("model", "")
    seed = req.get("seed", "")
    if ARGS.chat_only and path != "/v1/chat/completions":
        return 404, {}, json.dumps({"error": {"message": "Not found: %s" % path, "type": "invalid_request_error", "code": "not_found"}}).encode()
    if path == "/v1/chat/completions":
        msgs = req.get("messages", [])
        prompt = "\n".join(m.get("content", "") for m in msgs)
        # the answer depends on the last user turn's ending, the hash on all
        text, toks = answer(prompt, False, seed)
        if "verbose" in model:
            text += " In more detail, there is much more to say."
            toks = [(w, [(w, -0.3)]) for w in text.split(" ")]
        if garbled(model, body):
            text, toks = "I cannot rate these texts.", []
        out = {"id": "chatcmpl-" + h(body, 12), "object": "chat.completion", "created": 0, "model": model,
               "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}],
               "usage": {"prompt_tokens": ntok(prompt), "completion_tokens": ntok(text), "total_tokens": ntok(prompt) + ntok(text)}}
        if req.get("logprobs") and not ARGS.no_logprobs:
            out["choices"][0]["logprobs"] = chat_logprobs(toks, int(req.get("top_logprobs") or 0))
        return 200, {}, json.dumps(out).encode()
    if path in ("/v1/completions", "/completion", "/api/generate"):
        prompt = req.get("prompt", "")
        text, toks = answer(prompt, True, seed) if not any(prompt.rstrip().endswith(e) for e in ("Preferred Response=", "The answer is:", "Score:", "Rationale:")) and "## Annotation" not in prompt and '"difficulty"' not in prompt and '"input_quality"' not in prompt and '"primary_tag"' not in prompt else answer(prompt, False, seed)
        if path == "/completion":
            out = {"content": text, "model": model, "tokens_predicted": ntok(text), "tokens_evaluated": ntok(prompt), "stop": True}
            return 200, {}, json.dumps(out).encode()
        if path == "/api/generate":
            out = {"model": model, "created_at": "2026-01-01T00:00:00Z", "response": text, "done": True,
                   "done_reason": "stop", "prompt_eval_count": ntok(prompt), "eval_count": ntok(text)}
            return 200, {}, json.dumps(out).encode()
        out = {"id": "cmpl-" + h(body, 12), "object": "text_completion", "created": 0, "model": model,
               "choices": [{"index": 0, "text": text, "finish_reason": "stop", "logprobs": None}],
               "usage": {"prompt_tokens": ntok(prompt), "completion_tokens": ntok(text), "total_tokens": ntok(prompt) + ntok(text)}}
        if req.get("logprobs") and not ARGS.no_logprobs:
            out["choices"][0]["logprobs"] = comp_logprobs(toks, int(req.get("logprobs")))
        return 200, {}, json.dumps(out).encode()
    return 404, {}, json.dumps({"error": {"message": "Not found: %s" % path, "type": "invalid_request_error", "code": "not_found"}}).encode()


def pick_fault(body):
    n = STATE["requests"]
    m = re.search(r"@fault:([a-z0-9]+)(?:\*(\d+))?", body)
    if m:
        key = h(body, 16)
        seen = STATE["seen"].get(key, 0)
        STATE["seen"][key] = seen + 1
        if seen < int(m.group(2) or 1):
            return m.group(1)
    for spec in ARGS.fault_every:
        every, kind = spec.split(":", 1)
        if n % int(every) == 0:
            return kind
    return None


def reply(status, payload, headers=None):
    reason = {200: "OK", 400: "Bad Request", 404: "Not Found", 429: "Too Many Requests",
              500: "Internal Server Error", 503: "Service Unavailable"}.get(status, "Status")
    head = "HTTP/1.1 %d %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\n" % (status, reason, len(payload))
    for k, v in (headers or {}).items():
        head += "%s: %s\r\n" % (k, v)
    return head.encode() + b"\r\n" + payload


async def serve(reader, writer):
    try:
        while True:
            line = await reader.readline()
            if not line:
                break
            try:
                method, target, _ = line.decode().split(" ", 2)
            except ValueError:
                break
            headers = {}
            while True:
                hl = await reader.readline()
                if hl in (b"\r\n", b"\n", b""):
                    break
                k, _, v = hl.decode().partition(":")
                headers[k.strip().lower()] = v.strip()
            n = int(headers.get("content-length", "0"))
            body = (await reader.readexactly(n)).decode("utf-8", "surrogateescape") if n else ""
            path = target.split("?", 1)[0]
            if method == "GET" and path == "/stats":
                st = {k: v for k, v in STATE.items() if k != "seen"}
                writer.write(reply(200, json.dumps(st).encode()))
                await writer.drain()
                continue
            STATE["requests"] += 1
            STATE["by_path"][path] = STATE["by_path"].get(path, 0) + 1
            fault = pick_fault(body)
            if RECORD:
                RECORD.write(json.dumps({"path": path, "body": body, "fault": fault, "auth": headers.get("authorization", "")}) + "\n")
                RECORD.flush()
            if ARGS.delay_ms:
                await asyncio.sleep(ARGS.delay_ms / 1000)
            if fault:
                STATE["faults"] += 1
            if fault == "drop":
                break
            if fault == "slow":
                await asyncio.sleep(ARGS.slow_ms / 1000)
            if fault == "truncated":
                status, hdrs, payload = handle(path, body)
                full = reply(status, payload, hdrs)
                writer.write(full[: len(full) - len(payload) // 2])
                await writer.drain()
                break
            if fault == "429":
                writer.write(reply(429, b'{"error": {"message": "Rate limit reached", "type": "requests", "code": "rate_limit_exceeded"}}', {"retry-after-ms": "20"}))
            elif fault == "429s":
                writer.write(reply(429, b'{"error": {"message": "Rate limit reached", "type": "requests", "code": null}}', {"Retry-After": "1"}))
            elif fault == "429date":
                writer.write(reply(429, b'{"error": {"message": "Rate limit reached", "type": "requests", "code": null}}', {"Retry-After": email.utils.formatdate(time.time() + 1, usegmt=True)}))
            elif fault == "quota":
                writer.write(reply(429, b'{"error": {"message": "You exceeded your current quota", "type": "insufficient_quota", "param": null, "code": "insufficient_quota"}}'))
            elif fault == "500":
                writer.write(reply(500, b'{"error": {"message": "internal error", "type": "server_error", "code": null}}'))
            elif fault == "503load":
                writer.write(reply(503, b'{"error": {"code": 503, "message": "Loading model", "type": "unavailable_error"}}'))
            elif fault == "oldvllm":
                writer.write(reply(400, b'{"object": "error", "message": "bad request from old vLLM", "type": "BadRequestError", "param": null, "code": 400}'))
            elif fault == "ollamaerr":
                writer.write(reply(400, b'{"error": "model \\"x\\" not found, try pulling it first"}'))
            elif fault == "malformed":
                writer.write(reply(200, b'{"id": "x", "choices": [{"text": "unterminated'))
            else:
                status, hdrs, payload = handle(path, body)
                writer.write(reply(status, payload, hdrs))
            await writer.drain()
    except (ConnectionError, asyncio.IncompleteReadError):
        pass
    finally:
        try:
            writer.close()
        except Exception:
            pass


async def main():
    global ARGS, RECORD
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--port-file")
    ap.add_argument("--record")
    ap.add_argument("--delay-ms", type=int, default=0)
    ap.add_argument("--slow-ms", type=int, default=3000)
    ap.add_argument("--fault-every", action="append", default=[])
    ap.add_argument("--no-logprobs", action="store_true")
    ap.add_argument("--chat-only", action="store_true")
    ARGS = ap.parse_args()
    if ARGS.record:
        RECORD = open(ARGS.record, "a", encoding="utf-8")
    server = await asyncio.start_server(serve, "127.0.0.1", ARGS.port, backlog=512)
    port = server.sockets[0].getsockname()[1]
    if ARGS.port_file:
        tmp = ARGS.port_file + ".tmp"
        with open(tmp, "w") as f:
            f.write("%d\n" % port)
        os.rename(tmp, ARGS.port_file)
    else:
        print(port, flush=True)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    try:
        asyncio.run(main())
    except KeyboardInterrupt:
        sys.exit(0)
