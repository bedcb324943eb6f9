#!/usr/bin/env bash
# generate_resume.sh: a Magpie run killed with SIGKILL mid-way and resumed
# ends with exactly N prompts and N responses, and the resumed run asks the
# server only what was not committed (requests after the kill = all requests
# - those committed before it); Ctrl-C (SIGINT) commits what is done and
# exits cleanly; rerunning a finished command asks nothing; `aviary runs`
# shows the counters and the cost per record.
. "$AVIARY_SRC/tests/fake_llm/lib.sh"
N=40
start_fake --record "$T/rec" --delay-ms 60
"$AV" init "$T/s" >/dev/null
args=(generate magpie --endpoint "$EP" --model m --template llama3 -n $N --seed 1 --concurrency 4 --batch 4
      --price-in 1 --price-out 2 --no-progress)
"$AV" -C "$T/s" "${args[@]}" 2> "$T/err1" &
pid=$!
# wait for three committed batches, then kill without warning
for _ in $(seq 1 200); do
    v=$("$AV" -C "$T/s" log 2>/dev/null | grep -c '^version')
    [ "${v:-0}" -ge 3 ] && break
    sleep 0.05
done
kill -KILL $pid
wait $pid 2>/dev/null
# the server may still be logging a request that was in flight: wait until
# its log has not grown for half a second
sent1=$(wc -l < "$T/rec")
for _ in $(seq 1 100); do
    sleep 0.5
    now=$(wc -l < "$T/rec")
    [ "$now" -eq "$sent1" ] && break
    sent1=$now
done
run=$("$AV" -C "$T/s" runs --json | python3 -c 'import json,sys; r=[json.loads(l) for l in sys.stdin]; print(r[0]["run"])')
committed=$("$AV" -C "$T/s" runs --json | python3 -c 'import json,sys; print(json.loads(sys.stdin.readline())["requests"])')
p1=$(count prompt "$T/s")
check "killed mid-way: some but not all committed" test "$p1" -gt 0 -a "$p1" -lt $N
check "killed mid-way: committed requests counted" test "$committed" -ge "$p1"

"$AV" -C "$T/s" resume "${run:0:12}" --concurrency 8 2> "$T/err2"
check "resume: exit 0" test $? -eq 0 || cat "$T/err2" >&2
sent2=$(( $(wc -l < "$T/rec") - sent1 ))
# the bodies asked after the kill, each once: a request the killed run had in
# flight may reach the server's log late, under load, and the resume asks it
# again (it was not committed); a committed one asked again would add one
asked2=$(tail -n +"$((sent1 + 1))" "$T/rec" | python3 -c 'import json,sys; print(len({json.loads(l)["body"] for l in sys.stdin}))')
check "resume: exactly $N prompts" test "$(count prompt "$T/s")" -eq $N
check "resume: exactly $N responses" test "$(count response "$T/s")" -eq $N
check "resume: one run record" test "$(count run "$T/s")" -eq 1
check "resume asked only what was not committed ($asked2 = 2*$N - $committed)" test "$asked2" -eq $((2 * N - committed))
check "resume: no body sent twice that was answered and committed" python3 -c '
import json, sys, collections
c = collections.Counter(json.loads(l)["body"] for l in open(sys.argv[1]))
# every request is unique (seeded); a repeat is at most one uncommitted retry
sys.exit(0 if max(c.values()) <= 2 and sum(v - 1 for v in c.values()) == int(sys.argv[2]) else 1)
' "$T/rec" $((sent1 + sent2 - 2 * N))

# the finished command again: nothing is asked, nothing added
before=$(wc -l < "$T/rec")
vbefore=$("$AV" -C "$T/s" log | grep -c '^version')
"$AV" -C "$T/s" "${args[@]}" 2> "$T/err3"
check "rerun of a finished run: exit 0" test $? -eq 0
check "rerun of a finished run: no request" test "$(wc -l < "$T/rec")" -eq "$before"
check "rerun of a finished run: no new version" test "$("$AV" -C "$T/s" log | grep -c '^version')" -eq "$vbefore"
check "rerun of a finished run: all from the cache" grep -q "0 records added, 0 requests, $((2 * N)) answered from the cache" "$T/err3"

"$AV" -C "$T/s" runs > "$T/runs"
check "runs: lists the run with its records" grep -q "^${run:0:12}  generate magpie .* $((2 * N)) " "$T/runs"
"$AV" -C "$T/s" runs --json > "$T/runs.json"
check "runs --json: cost and cost per record" python3 -c '
import json, sys
r = json.loads(open(sys.argv[1]).readline())
cost = (r["prompt_tokens"] * 1 + r["completion_tokens"] * 2) / 1e6
ok = r["records"] == 80 and abs(r["cost"] - cost) < 1e-12 and abs(r["cost_per_record"] - cost / 80) < 1e-12
sys.exit(0 if ok else 1)
' "$T/runs.json" || cat "$T/runs.json" >&2

# SIGINT: commits what is done, says how to finish, exits 1
rm -rf "$T/s2"; "$AV" init "$T/s2" >/dev/null
"$AV" -C "$T/s2" generate magpie --endpoint "$EP" --model m --template qwen2 -n $N --seed 5 --concurrency 2 \
    --batch 1000 --no-progress 2> "$T/err4" &
pid=$!
start=$(wc -l < "$T/rec")
for _ in $(seq 1 200); do [ $(( $(wc -l < "$T/rec") - start )) -ge 12 ] && break; sleep 0.05; done
kill -INT $pid
wait $pid
check "SIGINT: exit 1" test $? -eq 1
check "SIGINT: says how to finish" grep -q "interrupted; what was done is committed; 'aviary resume" "$T/err4"
p=$(count prompt "$T/s2")
check "SIGINT: finished tasks committed" test "$p" -gt 0 -a "$p" -lt $N
finish
