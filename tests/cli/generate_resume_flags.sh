#!/usr/bin/env bash
# generate_resume_flags.sh: `aviary resume RUN` takes only the options that
# do not change what the run asks (concurrency, timeouts, prices, endpoint,
# ...); an identity option such as --template or -n is refused with a usage
# error instead of silently starting a different run.
. "$AVIARY_SRC/tests/fake_llm/lib.sh"
start_fake
"$AV" init "$T/s" >/dev/null
"$AV" -C "$T/s" generate magpie --endpoint "$EP" --model m --template llama3 -n 2 --seed 1 -q --no-progress
run=$("$AV" -C "$T/s" runs --json | python3 -c 'import json, sys; print(json.loads(sys.stdin.readline())["run"])')
"$AV" -C "$T/s" resume "${run:0:8}" --template qwen2 >"$T/out" 2>"$T/err"
check "an identity option: exit 2" test $? -eq 2
check "... says why" grep -q "aviary: '--template' cannot be changed on resume (the run's own arguments are kept)" "$T/err"
check "... with resume's usage" grep -q "^usage: aviary resume <run>" "$T/err"
"$AV" -C "$T/s" resume "${run:0:8}" extra >/dev/null 2>"$T/err"
check "a stray argument: exit 2" test $? -eq 2
"$AV" -C "$T/s" resume "${run:0:8}" --concurrency >/dev/null 2>"$T/err"
check "a missing value: exit 2" test $? -eq 2
check "still one run" test "$(count run "$T/s")" -eq 1
"$AV" -C "$T/s" resume "${run:0:8}" --concurrency 2 --timeout=30 --retries 1 --price-in 1 --price-out 2 --endpoint "$EP" --no-progress 2>"$T/err"
check "operational options: exit 0" test $? -eq 0
check "... the same run, answered from the cache" grep -q "aviary: run ${run:0:12}: 0 tasks done, 0 records added, 0 requests, 4 answered from the cache" "$T/err"
check "... and still one run" test "$(count run "$T/s")" -eq 1
finish
