#!/usr/bin/env bash
# readme_session.sh: the README's "A session" block, run line by line as
# written (from a copy of the repository's sample data), so the README
# cannot drift from what aviary does.
set -u
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
mkdir -p "$T/bin" "$T/tests/data"
ln -s "$AVIARY" "$T/bin/aviary"
cp -r "$AVIARY_SRC/tests/data/demo" "$T/tests/data/"
block=$(awk '/^## A session/{s=1} s&&/^```sh/{b=1;next} b&&/^```/{exit} b' "$AVIARY_SRC/README.md")
[ -n "$block" ] || { echo "FAIL: no session block in README.md"; echo "0 passed, 1 failed"; exit 1; }
cd "$T"
export PATH="$T/bin:$PATH"
unset AVIARY_DIR
pass=0 fail=0
while IFS= read -r line; do
    [ -z "$line" ] && continue
    if eval "$line" > "$T/out" 2>&1; then
        pass=$((pass + 1))
    else
        fail=$((fail + 1))
        echo "FAIL: $line"
        cat "$T/out"
    fi
    case "$line" in
    *"--format count"*) [ "$(cat "$T/out")" = 3 ] && pass=$((pass + 1)) || { fail=$((fail + 1)); echo "FAIL: expected 3 Math prompts, got: $(cat "$T/out")"; } ;;
    esac
done <<< "$block"
[ -f "$T/ds/README.md" ] && ls "$T"/ds/data/*.parquet >/dev/null 2>&1 && pass=$((pass + 1)) ||
    { fail=$((fail + 1)); echo "FAIL: the export made no dataset folder with Parquet data"; }
echo "$pass passed, $fail failed"
[ $fail -eq 0 ]
