#!/usr/bin/env bash
# audit_licence.sh: `aviary licence list|show|add`: the built-in registry,
# adding a store's own entry (one commit) and what it changes in audit and
# trace, overriding a built-in entry only with --force, and bad input.
. "$(dirname "$0")/lib/store_lib.bash"
S=$T/s
"$A" init "$S" >/dev/null && "$A" -C "$S" add "$SRC/tests/data/licence_mixed.jsonl" 2>/dev/null
check "sample loads" test $? = 0

run "$A" -C "$S" licence list
check "list: exit 0" test "$rc" = 0
check "list: header" has "$out" "id                commercial  attribution  share-alike  naming  output-restriction  from     name"
check "list: llama3" has "$out" "llama3            limited     yes          no           yes     yes                 builtin  Meta Llama 3 Community License Agreement"
check "list: cc-by-nc" has "$out" "cc-by-nc-4.0      no          yes          no           no      no                  builtin"
n_builtin=$(printf '%s\n' "$out" | tail -n +2 | wc -l)
check "list: 20 or more entries" test "$n_builtin" -ge 20

run "$A" -C "$S" licence list --format json
check "list json: one object per entry" test "$(printf '%s\n' "$out" | grep -c '^{"id":')" = "$n_builtin"
check "list json: openai" has "$out" '{"id":"openai-terms","name":"OpenAI Terms of Use"'

run "$A" -C "$S" licence show LLAMA-3.1
check "show: normalised id" has "$out" "id:                 llama3.1"
check "show: naming" has "$out" 'naming:             prominently display "Built with Llama"'
check "show: outputs" has "$out" "outputs:            no restriction on training with them"
check "show: properties" has "$out" "properties:         limited-commercial, attribution, naming, use-policy"
run "$A" -C "$S" licence show tongyi-qianwen --format json
check "show json" has "$out" '"properties":["limited-commercial","attribution","output-restriction"]}'
run "$A" -C "$S" licence show nope
golden "show unknown" 1 "" "aviary: no licence 'nope' in the registry (see 'aviary licence list')"

# A store's own licence: one commit, then audit and trace know it.
run "$A" -C "$S" licence add acme-weird --name "ACME Weird Licence" --commercial no --attribution yes \
    --notice "Contains ACME data." --link https://acme.example/licence
golden "add" 0 "" "added licence 'acme-weird' (version 3)"
run "$A" -C "$S" log -n 1
check "add is one commit" has "$out" "licence add acme-weird"
run "$A" -C "$S" licence list
check "list shows the store's entry" has "$out" "acme-weird        no          yes          unknown      no      no                  store    ACME Weird Licence"
run "$A" -C "$S" trace 056ba5ee
check "trace: only the source is unknown now" has "$out" "licences: acme-weird + unknown (source 'scraped' has no licence)"
run "$A" -C "$S" audit
check "audit: acme-weird has properties now" has "$out" "  acme-weird       1  no          yes          unknown      no      no                  ACME Weird Licence"
check "audit: its notice is an obligation" has "$out" "> Contains ACME data."
run "$A" -C "$S" audit --policy "$SRC/tests/data/policies/commercial.json"
check "policy sees the store's entry" has "$out" "licence 'acme-weird' forbids commercial use (property 'non-commercial' is denied)"

run "$A" -C "$S" licence add acme-weird --name "Again" --commercial yes
golden "add twice" 1 "" "aviary: licence 'acme-weird' already exists; use --force to replace it"
run "$A" -C "$S" licence add mit --name "MIT, our reading" --commercial yes --share-alike yes
golden "override built-in without --force" 1 "" "aviary: licence 'mit' is built in; use --force to override it in this store"
run "$A" -C "$S" licence add mit --name "MIT, our reading" --commercial yes --share-alike yes --force
golden "override with --force" 0 "" "replaced licence 'mit' (version 4)"
run "$A" -C "$S" licence show mit
check "override in effect" has "$out" "from:               this store"
check "override share-alike" has "$out" "share-alike:        yes"

run "$A" -C "$S" licence add ACME --name x --commercial no
golden "uppercase id" 1 "" "aviary: licence id 'ACME' must be written 'acme' (lowercase, '-' for spaces)"
run "$A" -C "$S" licence add unknown --name x --commercial no
golden "reserved id" 1 "" "aviary: 'unknown' is reserved for licences aviary does not know"
run "$A" -C "$S" licence add x1 --commercial no
check "no --name: usage" test "$rc" = 2
run "$A" -C "$S" licence add x1 --name x
check "no --commercial: usage" test "$rc" = 2
run "$A" -C "$S" licence add x1 --name x --commercial maybe
check "bad answer: usage" test "$rc" = 2
run "$A" -C "$S" licence add x1 --name x --commercial no --attribution limited
check "limited only for commercial" test "$rc" = 2
run "$A" -C "$S" licence frobnicate
check "bad subcommand" test "$rc" = 2
run "$A" -C "$S" licence
check "no subcommand" test "$rc" = 2
run "$A" -C "$S" log -n 1
check "failed adds made no commit" has "$out" "version 4"

finish
