# query_lib.bash: helpers sourced by the query_*.sh CLI tests, on top of
# store_lib.bash (run, check, has, finish). Builds the sample
# store (tests/data/query_magpie.jsonl as version 1, query_ultrafeedback.jsonl
# as version 2) in $S, and compares outputs with golden files in
# tests/cli/golden/query/ (AVIARY_UPDATE_GOLDEN=1 rewrites them).
. "$(dirname "${BASH_SOURCE[0]}")/store_lib.bash"
GOLD=$SRC/tests/cli/golden/query
S=$T/store
build_store() {
    "$A" init "$S" >/dev/null &&
        "$A" -C "$S" ingest "$SRC/tests/data/query_magpie.jsonl" --licence llama3 -q 2>/dev/null &&
        "$A" -C "$S" ingest "$SRC/tests/data/query_ultrafeedback.jsonl" --licence mit -q 2>/dev/null || {
        echo "cannot build the sample store (is 'aviary ingest' in this build?)"
        exit 77
    }
}
# gold NAME RC: the last command's exit code is RC and its stdout (then, if
# any, "--- stderr" and its stderr) equals golden/query/NAME.
gold() {
    local name=$1 want_rc=$2 got
    got=$(printf '%s\n' "$out"; if [ -n "$err" ]; then printf -- '--- stderr\n%s\n' "$err"; fi)
    if [ -n "${AVIARY_UPDATE_GOLDEN:-}" ]; then printf '%s\n' "$got" >"$GOLD/$name"; fi
    check "$name (exit code)" test "$rc" = "$want_rc"
    if [ -f "$GOLD/$name" ] && [ "$got" = "$(cat "$GOLD/$name")" ]; then
        pass=$((pass + 1))
    else
        fail=$((fail + 1))
        echo "FAIL: $name (output differs from $GOLD/$name)"
        diff <(printf '%s\n' "$got") "$GOLD/$name" 2>&1 | head -20
    fi
}
