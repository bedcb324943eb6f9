#!/usr/bin/env bash
# generate.sh: the generation client's own cost. Runs `aviary generate
# magpie` against the fake OpenAI-compatible server on loopback at
# concurrency 64 and reports requests/s, aviary's CPU time per request
# ((user+sys) / requests, from /usr/bin/time) and its peak memory for a small
# and a large run (flat memory = the same peak for 10x the requests).
#
#   bench/generate.sh [REQUESTS]     (default 100000; needs a Release build)
#   env: AVIARY (binary, default build/aviary), CONCURRENCY (64), BATCH (tasks per commit, 2048)
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
AV=${AVIARY:-$here/build/aviary}
REQ=${1:-100000}
C=${CONCURRENCY:-64}
[ -x "$AV" ] || { echo "aviary binary '$AV' not found (set AVIARY)" >&2; exit 1; }
T=$(mktemp -d "${TMPDIR:-/tmp}/avbench.XXXXXX")
FAKE=
trap '[ -n "$FAKE" ] && kill $FAKE 2>/dev/null; rm -rf "$T"' EXIT
python3 "$here/tests/fake_llm/fake_llm.py" --port-file "$T/port" &
FAKE=$!
for _ in $(seq 1 100); do [ -s "$T/port" ] && break; sleep 0.05; done
EP="http://127.0.0.1:$(cat "$T/port")/v1"

run() { # run N_REQUESTS LABEL
    local n=$(( $1 / 2 )) # a Magpie sample is two requests: instruction, response
    rm -rf "$T/s"
    "$AV" init "$T/s" >/dev/null
    /usr/bin/time -f "%e %U %S %M" -o "$T/time" "$AV" -C "$T/s" generate magpie -q --no-progress --endpoint "$EP" \
        --model bench --template llama3 -n $n --seed 1 --concurrency $C --batch ${BATCH:-2048} 2> "$T/err" &
    local tpid=$! anon=0 a pid
    # the heap alone: peak RssAnon (RSS also counts the store's memory-mapped file, which grows with the data)
    while kill -0 $tpid 2>/dev/null; do
        pid=$(pgrep -P $tpid | head -1)
        a=$(awk '/^RssAnon/ {print $2}' /proc/${pid:-0}/status 2>/dev/null || true)
        [ -n "$a" ] && [ "$a" -gt "$anon" ] && anon=$a
        sleep 0.2
    done
    wait $tpid || { cat "$T/err" >&2; exit 1; }
    read -r el us sy rss < "$T/time"
    local req=$(( n * 2 ))
    python3 - "$2" "$req" "$el" "$us" "$sy" "$rss" "$anon" "$(du -sm "$T/s" | cut -f1)" <<'PY'
import sys
label, req, el, us, sy, rss, anon, store = sys.argv[1], int(sys.argv[2]), *map(float, sys.argv[3:])
print(f"{label:>8}: {req} requests in {el:.1f} s = {req/el:,.0f} req/s; aviary CPU {us+sy:.2f} s "
      f"(user {us:.2f} + sys {sy:.2f}) = {(us+sy)/req*1e6:.1f} us/request; peak heap (RssAnon) {anon/1024:.1f} MB, "
      f"peak RSS {rss/1024:.1f} MB with a {store:.0f} MB store mapped")
PY
}
echo "aviary generate magpie against the fake server, concurrency $C ($(nproc) cores shared with the server)"
run $(( REQ / 10 )) small
run "$REQ" large
