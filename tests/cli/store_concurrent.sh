#!/usr/bin/env bash
# store_concurrent.sh: readers running while a writer commits never see half
# a commit. A writer makes K commits of M prompts each (in small on-disk
# batches, so uncommitted records are on disk while readers run); meanwhile
# readers dump the store again and again, and every dump must be whole: as
# many commit lines as its version, and exactly M prompts per commit.
. "$(dirname "$0")/lib/store_lib.bash"
K=${STORE_CONCURRENT_COMMITS:-8}
M=${STORE_CONCURRENT_RECORDS:-2000}
export AVIARY_TEST_BATCH=250
S=$T/s
"$A" init "$S" >/dev/null
for i in $(seq 1 "$K"); do
    awk -v n="$M" -v c="$i" 'BEGIN {
        print "{\"aviary\":\"dump\",\"format\":1,\"version\":0}"
        for (j = 0; j < n; j++)
            printf "{\"kind\":\"prompt\",\"msgs\":[{\"role\":\"user\",\"text\":\"Commit %d, prompt %d: name a bird that cannot fly.\"}]}\n", c, j
    }' >"$T/chunk$i.jsonl"
done

(
    for i in $(seq 1 "$K"); do "$A" -C "$S" add -q "$T/chunk$i.jsonl" || exit 1; done
) &
writer=$!

dumps=0 bad=0 versions=""
while kill -0 "$writer" 2>/dev/null; do
    "$A" -C "$S" dump >"$T/d.jsonl" 2>"$T/d.err" || { bad=$((bad + 1)); cat "$T/d.err"; continue; }
    v=$(head -1 "$T/d.jsonl" | sed -n 's/.*"version":\([0-9]*\)}$/\1/p')
    commits=$(grep -c '^{"commit":' "$T/d.jsonl")
    prompts=$(grep -c '^{"kind":"prompt"' "$T/d.jsonl")
    if [ "$commits" != "$v" ] || [ "$prompts" != $((v * M)) ]; then
        bad=$((bad + 1))
        echo "a dump at version $v has $commits commits and $prompts prompts"
    fi
    dumps=$((dumps + 1))
    case " $versions " in *" $v "*) ;; *) versions="$versions $v" ;; esac
done
wait "$writer"
rc=$? out="" err=""
check "the writer's commits all succeed" test "$rc" = 0
check "no reader saw half a commit ($dumps dumps, versions:$versions)" test "$bad" = 0
nv=$(echo $versions | wc -w)
check "readers ran while the writer committed (saw $nv versions)" test "$nv" -ge 2
run "$A" -C "$S" log --format json
check "K versions in the end" test "$(printf '%s\n' "$out" | wc -l)" = "$K"
check "every record in the end" test "$("$A" -C "$S" dump | grep -c '^{"kind":"prompt"')" = $((K * M))
finish
