#!/usr/bin/env bash
# store_sigkill.sh: a writer killed with SIGKILL in the middle of a large add
# leaves a store that opens, shows the last complete version, holds no partial
# records, and takes the same add again to completion. Twice: a merge (one
# big commit) and a replay of several versions into an empty store.
# AVIARY_TEST_BATCH makes the writer put small batches on disk, and
# AVIARY_TEST_STOP_AFTER=V:N makes it stop itself (SIGSTOP) once N of them
# are written for version V, so the kill lands in the middle of that commit
# however fast the machine is.
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

# stop_and_kill NAME V:N COMMAND...: runs an add that stops itself after N
# batches of version V, then SIGKILLs it; checks it stopped (mid-commit).
stop_and_kill() {
    local name=$1 stop=$2
    shift 2
    AVIARY_TEST_STOP_AFTER=$stop "$@" 2>/dev/null &
    local pid=$! stopped=0
    for _ in $(seq 1 3000); do
        if [ "$(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null)" = T ]; then stopped=1; break; fi
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.02
    done
    kill -9 "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
    rc=$stopped out="" err=""
    check "$name: killed while writing" test "$stopped" = 1
}

# 1. merge: the store has the sample's 5 versions; the big add is version 6
S=$T/s
"$A" init "$S" >/dev/null
"$A" -C "$S" add -q "$SAMPLE"
dump_before=$("$A" -C "$S" dump)
stop_and_kill "merge" 6:20 "$A" -C "$S" add -q "$T/big.jsonl"
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
# (version 6's 30000 records are 60 batches)
stop_and_kill "replay" 6:20 "$A" -C "$R" add -q "$T/full.jsonl"
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
