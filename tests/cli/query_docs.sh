#!/usr/bin/env bash
# query_docs.sh: runs every example of docs/query.md (the "$ aviary ..." lines
# of its ```console blocks) against the sample store the page describes, and
# checks that the output (stdout and stderr, in order) is what the page shows
# ("<id>" in the page matches a content id).
. "$(dirname "$0")/lib/query_lib.bash"
build_store
doc=$SRC/docs/query.md
[ -f "$doc" ] || { echo "no $doc"; exit 1; }
cmds=() wants=()
inblock=0 cmd="" want=""
flush() {
    if [ -n "$cmd" ]; then
        cmds+=("$cmd")
        wants+=("$want")
    fi
    cmd="" want=""
}
while IFS= read -r line || [ -n "$line" ]; do
    if [ "$inblock" = 0 ]; then
        [ "$line" = '```console' ] && inblock=1
        continue
    fi
    if [ "$line" = '```' ]; then
        flush
        inblock=0
        continue
    fi
    case $line in
    '$ '*) flush; cmd=${line#\$ } ;;
    *) want=${want:+$want$'\n'}$line ;;
    esac
done <"$doc"
check "the page has examples (${#cmds[@]})" test "${#cmds[@]}" -ge 15
for i in "${!cmds[@]}"; do
    c=${cmds[$i]}
    case $c in aviary\ *) ;; *) check "example runs aviary: $c" false; continue ;; esac
    got=$(cd "$T" && eval "\"\$A\" -C \"\$S\" ${c#aviary }" 2>&1)
    # <id> in the page stands for a content id (they depend on the hash scheme)
    if has "${wants[$i]}" '<id>'; then got=$(printf '%s\n' "$got" | sed -E 's/[0-9a-f]{32}|[0-9a-f]{12}/<id>/g'); fi
    out=$got err="" rc=""
    check "docs example: $c" test "$got" = "${wants[$i]}"
done
finish
