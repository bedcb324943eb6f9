# store_lib.bash: helpers sourced by the store_*.sh CLI tests (kept out of
# tests/cli/*.sh so the suite does not run it as a test). Sets A (the binary),
# SRC, T (a temporary directory removed at exit) and counts checks.
A=${AVIARY:?set AVIARY to the aviary binary}
SRC=${AVIARY_SRC:?set AVIARY_SRC to the repository}
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
pass=0 fail=0
# run CMD...: runs it, keeping stdout in $out, stderr in $err, exit code in $rc.
run() {
    "$@" >"$T/.out" 2>"$T/.err"
    rc=$?
    out=$(cat "$T/.out")
    err=$(cat "$T/.err")
}
# check NAME TEST...: one check; on failure shows the last command's output.
check() {
    local name=$1
    shift
    if "$@"; then
        pass=$((pass + 1))
    else
        fail=$((fail + 1))
        printf 'FAIL: %s\n  rc=%s\n  stdout: %s\n  stderr: %s\n' "$name" "$rc" "$(printf %s "$out" | head -c 2000)" "$err"
    fi
}
# golden NAME RC STDOUT STDERR: the last command's exit code and outputs exactly.
golden() {
    check "$1 (exit code)" test "$rc" = "$2"
    check "$1 (stdout)" test "$out" = "$3"
    check "$1 (stderr)" test "$err" = "$4"
}
has() { case "$1" in *"$2"*) return 0 ;; esac; return 1; }
finish() {
    echo "$pass passed, $fail failed"
    [ "$fail" = 0 ]
}
