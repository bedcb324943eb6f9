#!/usr/bin/env bash
# generate_faults.sh: injected faults end with no duplicate and no missing
# record (429, 500, 503 while loading, malformed and truncated JSON, dropped
# connections, slow replies past the timeout); exhausted retries fail the
# task and a rerun finishes it; insufficient_quota stops the run; chat-only
# endpoints are refused for Magpie; the API key is sent but never stored.
. "$AVIARY_SRC/tests/fake_llm/lib.sh"
export OPENAI_API_KEY=sk-test-SECRET-4242

# about half the requests fail one way or another; 20 retries make a lost task
# (0.5^21 per request) practically impossible, so the test is deterministic
start_fake --record "$T/rec" --slow-ms 1500 --fault-every 5:500 --fault-every 7:429 --fault-every 11:malformed \
    --fault-every 13:truncated --fault-every 17:drop --fault-every 19:503load --fault-every 23:429s
"$AV" init "$T/s" >/dev/null
"$AV" -C "$T/s" generate magpie --endpoint "$EP" --model m --template llama3 -n 20 --seed 1 --concurrency 4 \
    --backoff 5 --retries 20 --batch 3 --no-progress 2> "$T/err"
rc=$?
[ $rc -eq 0 ] || cat "$T/err" >&2
check "faulty server: exit 0" test $rc -eq 0
check "faulty server: 20 prompts" test "$(count prompt "$T/s")" -eq 20
check "faulty server: 20 responses" test "$(count response "$T/s")" -eq 20
check "faulty server: faults were injected" test "$(grep -c '"fault": "' "$T/rec")" -ge 15
check "summary names no error" grep -q "0 errors" "$T/err"
check "the key was sent as a bearer token" grep -q '"auth": "Bearer sk-test-SECRET-4242"' "$T/rec"
check "the key is not in the store" bash -c "! grep -rqa SECRET-4242 '$T/s'"
check "the key is not in the run's record or log" bash -c "! '$AV' -C '$T/s' dump | grep -q SECRET-4242"
check "the key is not on stderr" bash -c "! grep -q SECRET-4242 '$T/err'"

# credentials in the endpoint URL reach neither the run record nor the commit's command line
EPU=$(echo "$EP" | sed 's|http://|http://user:pw-SECRET-77@|')
"$AV" -C "$T/s" generate magpie -q --endpoint "$EPU?api-key=SECRET-78" --model m --template llama3 -n 1 --seed 99 --no-progress
check "credentials in the URL: run ok" test $? -eq 0
check "credentials in the URL: not in the dump (runs, commits)" bash -c "! '$AV' -C '$T/s' dump | grep -q 'SECRET-7'"
check "credentials in the URL: not in the store files" bash -c "! grep -rqa 'SECRET-7' '$T/s'"
check "credentials in the URL: the endpoint is kept without them" bash -c "'$AV' -C '$T/s' dump | grep -q '\"endpoint\":\"http://127.0.0.1:$PORT/v1\"'"

# retries exhausted: the tasks fail, nothing half-written; a rerun finishes them
start_fake --record "$T/rec2"
rm -rf "$T/s"; "$AV" init "$T/s" >/dev/null
"$AV" -C "$T/s" generate magpie --endpoint "$EP" --model m --template qwen2 -n 3 --seed 1 --system '@fault:500*3' \
    --retries 1 --backoff 1 --no-progress 2> "$T/err"
check "exhausted retries: exit 1" test $? -eq 1
check "exhausted retries: reported" grep -q "3 tasks failed" "$T/err"
check "exhausted retries: nothing written" test "$(count prompt "$T/s")" -eq 0
"$AV" -C "$T/s" generate magpie --endpoint "$EP" --model m --template qwen2 -n 3 --seed 1 --system '@fault:500*3' \
    --retries 4 --backoff 1 --no-progress 2> "$T/err"
check "rerun: exit 0" test $? -eq 0
check "rerun: 3 prompts, 3 responses" test "$(count prompt "$T/s")$(count response "$T/s")" = 33

# slow replies past the timeout are retried
rm -rf "$T/s"; "$AV" init "$T/s" >/dev/null
start_fake --slow-ms 1500
"$AV" -C "$T/s" generate magpie --endpoint "$EP" --model m --template phi3 -n 2 --seed 1 --system '@fault:slow' \
    --timeout 0.4 --backoff 1 --no-progress 2> "$T/err"
check "slow replies: exit 0" test $? -eq 0
check "slow replies: 2 responses" test "$(count response "$T/s")" -eq 2

# insufficient_quota is final: the run stops at once
"$AV" -C "$T/s" generate magpie --endpoint "$EP" --model m --template phi3 -n 5 --seed 9 --system '@fault:quota' \
    --no-progress 2> "$T/err"
check "quota: exit 1" test $? -eq 1
check "quota: stopped with the server's message" grep -q "stopped: HTTP 429: You exceeded your current quota (insufficient_quota)" "$T/err"

# chat-only endpoints cannot do Magpie
"$AV" -C "$T/s" generate magpie --endpoint "$EP/chat/completions" --model m --template llama3 -n 1 2> "$T/err"
check "chat endpoint refused: exit 1" test $? -eq 1
check "chat endpoint refused: explained" grep -q "magpie needs a raw-completion endpoint" "$T/err"
"$AV" -C "$T/s" generate magpie --endpoint "$EP" --server openai --model m --template llama3 -n 1 2> "$T/err"
check "--server openai refused" grep -q "applies\|wraps every message" "$T/err"
"$AV" -C "$T/s" generate magpie --endpoint "$EP" --model m --template llama4 -n 1 2> "$T/err"
check "unknown template: named" grep -q "unknown template 'llama4'" "$T/err"
"$AV" -C "$T/s" generate magpie --endpoint "$EP" --model m -n 1 2> "$T/err"
check "missing --template: usage error" test $? -eq 2
finish
