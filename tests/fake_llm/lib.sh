# lib.sh: shared setup for the generate CLI tests (sourced, never run alone):
# a temporary directory, the fake server started on 127.0.0.1 and stopped at
# exit, and pass/fail counting with the closing "N passed, N failed" line.
AV=${AVIARY:?AVIARY must name the aviary binary}
SRC=${AVIARY_SRC:?AVIARY_SRC must name the source tree}
if ! command -v python3 >/dev/null 2>&1; then echo "python3 missing: skipped"; exit 77; fi
T=$(mktemp -d "${TMPDIR:-/tmp}/avgen.XXXXXX")
FAKE=
pass=0
fail=0
cleanup() {
    [ -n "$FAKE" ] && kill "$FAKE" 2>/dev/null && wait "$FAKE" 2>/dev/null
    rm -rf "$T"
}
trap cleanup EXIT

# start_fake [fake_llm.py options...]: sets PORT and EP
start_fake() {
    stop_fake
    rm -f "$T/port"
    python3 "$SRC/tests/fake_llm/fake_llm.py" --port-file "$T/port" "$@" &
    FAKE=$!
    for _ in $(seq 1 100); do [ -s "$T/port" ] && break; sleep 0.05; done
    PORT=$(cat "$T/port")
    EP="http://127.0.0.1:$PORT/v1"
}
stop_fake() {
    if [ -n "$FAKE" ]; then kill "$FAKE" 2>/dev/null; wait "$FAKE" 2>/dev/null; FAKE=; fi
}

# check DESCRIPTION COMMAND...: runs the command, counts the result
check() {
    local d=$1
    shift
    if "$@"; then pass=$((pass + 1)); else fail=$((fail + 1)); echo "FAIL: $d" >&2; return 1; fi
}
finish() {
    echo "$pass passed, $fail failed"
    [ "$fail" -eq 0 ]
}
# count KIND STORE: records of a kind in a store's dump
count() { "$AV" -C "$2" dump | grep -c "\"kind\":\"$1\"" || true; }
