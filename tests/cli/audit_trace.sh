#!/usr/bin/env bash
# audit_trace.sh: golden tests of `aviary trace` on the shipped mixed sample
# (tests/data/licence_mixed.jsonl): a generated response with its run, a
# judged pair whose judge has no licence, a Magpie-like prompt with generator
# and tagger; a row with an unlicensed source and a licence the registry
# lacks; a response known only through its run's model; and --at showing a
# model's licence as it was before it was corrected.
. "$(dirname "$0")/lib/store_lib.bash"
S=$T/s
"$A" init "$S" >/dev/null && "$A" -C "$S" add "$SRC/tests/data/licence_mixed.jsonl" 2>/dev/null
check "sample loads" test $? = 0

# golden_file NAME ID [ARGS...] <<EOF: the exact stdout of trace, exit 0, no stderr.
golden_trace() {
    local name=$1
    shift
    cat >"$T/want"
    run "$A" -C "$S" trace "$@"
    printf '%s\n' "$out" >"$T/got"
    check "$name (exit code)" test "$rc" = 0
    check "$name (stderr)" test -z "$err"
    if ! cmp -s "$T/want" "$T/got"; then
        fail=$((fail + 1))
        echo "FAIL: $name (stdout)"
        diff "$T/want" "$T/got"
    else
        pass=$((pass + 1))
    fi
}

golden_trace "generated response, judged pair, tagged prompt" c2e8c449 <<'EOF'
response c2e8c449f44a0acf2c3577dd1b50abae (version 1)
  model mistralai/Mixtral-8x7B-Instruct-v0.1 (writer), licence apache-2.0 set by tag 2c8876bffa52154a2a36d16017982c06 in version 1
  run c3cb900004f572efa1a6760fb58d62a8 "generate responses" (version 1)
    endpoint: "http://127.0.0.1:8000/v1"
    model: "mistralai/Mixtral-8x7B-Instruct-v0.1"
    params: {"temperature":0.0}
    template: "chat"
  preference 015277e73908e107abf2b8a9fd981ba5 p(A better) = 0.75 (logprob) (version 1)
    model mystery-judge (judge), licence unknown (no licence tag)
    prompt: d7b52d260a9383dec3cef3395084b22c
    response A: 011539b3a7e6a2567601d9c8fefb35ea
    response B: c2e8c449f44a0acf2c3577dd1b50abae
  prompt: prompt d7b52d260a9383dec3cef3395084b22c (version 1)
    model meta-llama/Meta-Llama-3-70B-Instruct (generator), licence llama3 set by tag 93f083a1921c40cccf9e1c0d711b5388 in version 1
    source magpie-llama3, line 1 (linked in version 1)
      file: "data.jsonl"
      url: "https://example.org/data"
      licence: "mit"
    tag 8e51ec278e1c807c9ef839258e7746a8 (version 1)
      task_category = "Creative writing"
      model meta-llama/Meta-Llama-3-8B-Instruct (tagger), licence llama3 set by tag 647f2f91a446cff2e9c4465c1bfa1c2b in version 1
      source magpie-llama3, line 1 (linked in version 1)
licences: apache-2.0 + llama3 + mit + unknown (model 'mystery-judge' has no licence)
EOF

golden_trace "unknown source and unregistered licence" 056ba5ee23280c0e8e1f17345ae64c68 <<'EOF'
response 056ba5ee23280c0e8e1f17345ae64c68 (version 1)
  model custom-model (writer), licence acme-weird set by tag a9594735e6852a60f1cfef73773ab324 in version 1
  prompt: prompt 8b62323cbbea5b4d55d618e1e64a79c4 (version 1)
    source scraped, line 7 (linked in version 1)
      file: "data.jsonl"
      url: "https://example.org/data"
licences: acme-weird + unknown (licence 'acme-weird' of model 'custom-model' is not in the registry; source 'scraped' has no licence)
EOF

golden_trace "response known through its run" 513fdc7a <<'EOF'
response 513fdc7ac834978f4b570241b31d826a (version 1)
  run ac168509d69a9ab120cf983308047cff "generate responses" (version 1)
    endpoint: "http://127.0.0.1:8000/v1"
    model: "gpt-3.5-turbo"
    params: {"temperature":0.0}
    template: "chat"
    model gpt-3.5-turbo (run model), licence openai-terms set by tag c4335c00a73ba4136e049e1667ada47d in version 1
  prompt: prompt a463450b846e763652a9b442290cc360 (version 1)
    source ultrafeedback, line 1 (linked in version 1)
      file: "data.jsonl"
      url: "https://example.org/data"
      licence: "MIT"
licences: mit + openai-terms
EOF

golden_trace "a model's licence as of version 1" b991cd3e --at 1 <<'EOF'
response b991cd3ecbde19def705e6332437343e (version 1)
  model llama-2-13b-chat (writer), licence llama3 set by tag 5c8d660dac0831b7de909c0fb48fb87a in version 1
  source ultrafeedback, line 1 (linked in version 1)
    file: "data.jsonl"
    url: "https://example.org/data"
    licence: "MIT"
  rating 656c50cb46aa2b0a7554816acc89fed4 helpfulness = 4.0 (version 1)
    model gpt-4 (judge), licence openai-terms set by tag 4205d381892957dd42e69dfa7284b54d in version 1
    source ultrafeedback, line 1 (linked in version 1)
  prompt: prompt a463450b846e763652a9b442290cc360 (version 1)
    source ultrafeedback, line 1 (linked in version 1)
licences: llama3 + mit + openai-terms
EOF

run "$A" -C "$S" trace b991cd3e
check "the corrected licence at head" has "$out" "model llama-2-13b-chat (writer), licence llama2 set by tag 4c63beaf2dfbf2db2597b0aad7394e2e in version 2"
check "licences at head" has "$out" "licences: llama2 + mit + openai-terms"

run "$A" -C "$S" trace ffffffff
golden "no such record" 1 "" "aviary: no record 'ffffffff'"
run "$A" -C "$S" trace 12
check "short prefix is an error" test "$rc" = 1
check "short prefix says why" test -n "$err"
run "$A" -C "$S" trace
check "no id: usage error" test "$rc" = 2
check "no id: message" has "$err" "aviary: 'trace' needs a record id"
run "$A" -C "$S" trace c2e8c449 --bogus
check "unknown option: usage error" test "$rc" = 2
run "$A" -C "$S" trace --help
check "--help to stdout" has "$out" "usage: aviary trace <id> [--at <version>]"
check "--help exits 0" test "$rc" = 0
run "$A" -C "$S" trace c2e8c449 --at 9
check "--at past head is an error" test "$rc" = 1

finish
