#!/usr/bin/env bash
# store_sigkill.sh: a writer killed with SIGKILL in the middle of a large add
# leaves a store that opens, shows the last complete version, holds no partial
# records, and takes the same add again to completion. Twice: a merge (one
# big commit) and a replay of several versions into an empty store.
# AVIARY_TEST_BATCH makes the writer put small batches on disk, so the kill
# lands after some of them are written.
. "$(dirname "$0")/lib/store_lib.bash"
SAMPLE=$SRC/tests/data/native_sample.jsonl
N=${STORE_SIGKILL_RECORDS:-30000}
export AVIARY_TEST_BATCH=500

# prompts without ids (add computes them), each with a tag referring to it
awk -v n="$N" 'BEGIN {
    print "{\"aviary\":\"dump\",\"format\":1,\"version\":0}"
    for (i = 0; i < n; i++)
        printf "{\"kind\":\"prompt\",\"msgs\":[{\"role\":\"user\",\"text\":\"Question %d: why is the sky blue at noon but red at sunset? Explain it for a child of %d.\"}]}\n", i, i % 13
}' >"$T/big.jsonl"

size_of() { du -sk "$1" | cut -f1; }

# kill_add NAME STORE FILE: starts an add and kills it once the store grew
# (some batches are on disk); checks it was still running then.
kill_add() {
    local before
    before=$(size_of "$2")
    "$A" -C "$2" add -q "$3" 2>/dev/null &
    local pid=$! grew=0
    for _ in $(seq 1 600); do
        if [ "$(size_of "$2")" -gt $((before + 256)) ]; then grew=1; break; fi
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.02
    done
    local alive=0
    kill -0 "$pid" 2>/dev/null && alive=1
    kill -9 "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
    rc=$alive out="" err=""
    check "$1: killed while writing" test "$alive$grew" = 11
}

# 1. merge: the store has the sample's 5 versions; the big add is version 6
S=$T/s
"$A" init "$S" >/dev/null
"$A" -C "$S" add -q "$SAMPLE"
dump_before=$("$A" -C "$S" dump)
kill_add "merge" "$S" "$T/big.jsonl"
run "$A" -C "$S" log -n 1 --format json
check "merge: the store opens after the kill" test "$rc" = 0
check "merge: the last complete version is shown" has "$out" '"version":5,'
check "merge: no partial records" test "$("$A" -C "$S" dump)" = "$dump_before"
run "$A" -C "$S" add "$T/big.jsonl"
golden "merge: the same add again completes" 0 "" "added $N new records of $N in version 6"
"$A" -C "$S" dump >"$T/full.jsonl"
check "merge: every record is there" test "$(grep -c '"kind":"prompt"' "$T/full.jsonl")" = $((N + 2))

# 2. replay of the 6 versions into an empty store (a checking pass first,
#    then the commits), killed while version 6 is being written
R=$T/r
"$A" init "$R" >/dev/null
"$A" -C "$R" add -q "$T/full.jsonl" 2>/dev/null &
pid=$!
seen=0
for _ in $(seq 1 1000); do
    v=$("$A" -C "$R" log -n 1 --format json 2>/dev/null | sed -n 's/^{"version":\([0-9]*\),.*/\1/p')
    if [ "${v:-0}" -ge 5 ]; then seen=1; break; fi
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.02
done
sleep 0.2
alive=0
kill -0 "$pid" 2>/dev/null && alive=1
kill -9 "$pid" 2>/dev/null
wait "$pid" 2>/dev/null
rc=$alive out="" err=""
check "replay: killed after version 5, while writing version 6" test "$seen$alive" = 11
run "$A" -C "$R" log --format json
check "replay: the store opens after the kill" test "$rc" = 0
check "replay: the last complete version is 5" has "$(printf '%s\n' "$out" | head -1)" '{"version":5,'
check "replay: what is there is the original's version 5" \
    test "$("$A" -C "$R" dump)" = "$("$A" -C "$S" dump --at 5)"
run "$A" -C "$R" add "$T/full.jsonl"
golden "replay: the same add again resumes and completes" 0 "" "replayed versions 6 to 6 from '$T/full.jsonl' ($N records)"
check "replay: log as in the original" test "$("$A" -C "$R" log)" = "$("$A" -C "$S" log)"
"$A" -C "$R" dump >"$T/again.jsonl"
check "replay: dump is byte-identical" cmp -s "$T/full.jsonl" "$T/again.jsonl"
finish
