#!/bin/sh
# krsi-timeout: 240
# bpf(2) rules, scoped to test programs so the agent's own bpf() calls are
# never matched: the bpf hook denies BPF_MAP_CREATE to one executable (by
# identity) and reports BPF_PROG_LOAD by comm in monitor mode; bpf_map
# denies a map by name (the map gets an id, the fd is refused); bpf_prog
# denies programs by name prefix. Other names, commands and programs work,
# the agent keeps answering `krsi status` (its own bpf() use), and without
# the agent everything is allowed. Last, the shipped policies/examples/bpf.yaml
# keeps other programs from opening krsi's own maps and programs.
set -eu
. /krsi/lib.sh
require_lsm bpf

W=$KRSI_WORK
cp /krsi/bin/try_bpf $W/rogue
cat >$W/bpf.yaml <<P
rules:
  - name: no-maps-for-rogue
    hook: bpf
    action: deny
    match: {bpf.cmd: map_create, process.exe: $W/rogue}
    severity: high
  - name: prog-load-trial
    hook: bpf
    action: deny
    mode: monitor
    match: {bpf.cmd: prog_load, process.comm: [try_bpf, rogue]}
  - name: no-evil-map
    hook: bpf_map
    action: deny
    match: {bpf.map.name: krsi_evil, process.comm: try_bpf}
  - name: no-bad-progs
    hook: bpf_prog
    action: deny
    match: {bpf.prog.name: {prefix: krsi_bad}, process.comm: [try_bpf, rogue]}
P
start_agent --policy $W/bpf.yaml --require-enforcement

# bpf hook: map_create by the one executable.
expect EPERM $W/rogue map krsi_any
ev=$(wait_event ".event == \"bpf\" and .action == \"deny\" and .rule == \"no-maps-for-rogue\"")
log "$ev"
echo "$ev" | jq -e ".hook == \"bpf\" and .backend == \"bpf-lsm\" and .severity == \"high\" and
  .bpf.cmd == \"map_create\" and .process.exe == \"$W/rogue\" and .process.comm == \"rogue\"" >/dev/null ||
	fail "bpf deny event wrong: $ev"

# Monitor mode: the same executable's prog_load is reported and succeeds.
expect OK $W/rogue prog krsi_fine
ev=$(wait_event ".action == \"would_deny\" and .rule == \"prog-load-trial\" and .process.comm == \"rogue\"")
echo "$ev" | jq -e '.hook == "bpf" and .bpf.cmd == "prog_load"' >/dev/null ||
	fail "bpf would_deny event wrong: $ev"

# bpf_map: the map by name. Another name from the same program is created.
expect EPERM /krsi/bin/try_bpf map krsi_evil
ev=$(wait_event ".event == \"bpf\" and .action == \"deny\" and .rule == \"no-evil-map\"")
log "$ev"
echo "$ev" | jq -e '.hook == "bpf_map" and .bpf.map.name == "krsi_evil" and (.bpf.map.id > 0) and
  .process.comm == "try_bpf"' >/dev/null || fail "bpf_map deny event wrong: $ev"
expect OK /krsi/bin/try_bpf map krsi_good
out=$OUT
assert_contains "$out" "ok id=" "try_bpf map krsi_good"

# bpf_prog: programs by name prefix, reported with the id the kernel gave.
expect EPERM /krsi/bin/try_bpf prog krsi_bad_1
ev=$(wait_event ".action == \"deny\" and .rule == \"no-bad-progs\"")
log "$ev"
echo "$ev" | jq -e '.event == "bpf" and .hook == "bpf_prog" and .bpf.prog.name == "krsi_bad_1" and
  (.bpf.prog.id > 0) and .process.comm == "try_bpf"' >/dev/null || fail "bpf_prog deny event wrong: $ev"
expect OK /krsi/bin/try_bpf prog krsi_ok
out=$OUT
assert_contains "$out" "ok id=" "try_bpf prog krsi_ok"
no_event ".action == \"deny\" and (.bpf.map.name == \"krsi_good\" or .bpf.prog.name == \"krsi_ok\")"

# The agent's own bpf() calls (status reads its maps) are untouched.
st=$(/krsi/bin/krsi status --json)
echo "$st" | jq -e '([.rules[] | select(.rule == "no-maps-for-rogue")][0].denies == 1) and
  ([.rules[] | select(.rule == "no-evil-map")][0].denies == 1) and
  ([.rules[] | select(.rule == "no-bad-progs")][0].denies == 1)' >/dev/null || fail "counters wrong: $st"
agent_running || fail "agent died"
no_event ".action == \"deny\" and (.process.comm | startswith(\"krsi\"))"
stop_agent

expect OK $W/rogue map krsi_any
expect OK /krsi/bin/try_bpf map krsi_evil
expect OK /krsi/bin/try_bpf prog krsi_bad_1

# The shipped example (policies/examples/bpf.yaml) loads and protects the
# agent's own objects: another program opening krsi's maps or programs by id
# is refused while another program's map opens, the agent itself (comm krsi)
# is not refused; a program load by an unknown loader is reported.
start_agent --policy /krsi/policies/examples/bpf.yaml --require-enforcement
mark_events
# Someone else's map, which the walk may open.
/krsi/bin/try_bpf hold other_map >$W/hold.out &
HOLD=$!
n=0
until grep -q '^held ok' $W/hold.out 2>/dev/null; do
	n=$((n + 1))
	[ $n -lt 100 ] || fail "try_bpf hold did not create its map: $(cat $W/hold.out)"
	sleep 0.1
done
maps=$(/krsi/bin/try_bpf maps)
kill $HOLD
log "try_bpf maps: $(echo $maps)"
denied=$(printf '%s\n' "$maps" | grep -c 'errno=EPERM' || true)
[ "$denied" -ge 5 ] || fail "expected krsi's maps refused to try_bpf: $maps"
printf '%s\n' "$maps" | grep -q ' name=other_map$' || fail "other_map not opened by id: $maps"
ev=$(wait_event '.action == "deny" and .rule == "no-krsi-map-access"')
log "$ev"
echo "$ev" | jq -e '.hook == "bpf_map" and (.bpf.map.name | startswith("krsi_")) and
  .process.comm == "try_bpf"' >/dev/null || fail "map tamper event wrong: $ev"
id=$(echo "$ev" | jq -r .bpf.map.id)
printf '%s\n' "$maps" | grep -qx "id=$id errno=EPERM" || fail "map id $id not refused: $maps"
progs=$(/krsi/bin/try_bpf progs)
printf '%s\n' "$progs" | grep -q 'errno=EPERM' || fail "expected krsi's programs refused: $progs"
wait_event '.action == "deny" and .rule == "no-krsi-prog-access" and .hook == "bpf_prog" and (.bpf.prog.name | startswith("krsi_"))' >/dev/null
/krsi/bin/krsi status --json | jq -e '.rules | length > 0' >/dev/null || fail "krsi status refused its own maps"
expect OK /krsi/bin/try_bpf prog some_prog
wait_event '.action == "audit" and .rule == "unknown-bpf-loader" and .bpf.cmd == "prog_load" and .process.comm == "try_bpf"' >/dev/null
stop_agent
