#!/bin/sh
# krsi-timeout: 240
# policies/detect/suspicious-env.yaml against raw execve calls with
# hand-built environments (tests/vm/progs/exec_env): LD_PRELOAD set twice is
# reported with both settings (audit as shipped, would_kill in monitor mode:
# the program runs) and, enforced, killed before the program's first
# instruction (its first action would create a marker file); one loader
# variable is audited with its value; a large environment is reported with its count and size, one too
# large for the kernel walk as overflow. Shell use (which drops duplicates)
# raises nothing.
set -eu
. /krsi/lib.sh
require_lsm bpf

W=$KRSI_WORK
P=/krsi/policies/detect/suspicious-env.yaml
EE=/krsi/bin/exec_env
M=/krsi/bin/marker

start_agent --policy $P
$EE $M LD_PRELOAD=/tmp/a.so PATH=/bin LD_PRELOAD=/tmp/b.so -- $W/m1
[ -e $W/m1 ] || fail "the audit rule killed the program"
ev=$(wait_event '.rule == "env-variable-set-twice"')
echo "$ev" | jq -e '.action == "audit" and .hook == "bprm_committed_creds" and
  .env.entries == ["LD_PRELOAD=/tmp/a.so", "LD_PRELOAD=/tmp/b.so"] and
  .env.duplicates == 1 and .env.count == 3 and .env.bytes == 52 and (.env.overflow | not)' >/dev/null ||
	fail "duplicate event wrong: $ev"

# One loader variable: audited with its value.
$EE $M LD_AUDIT=/tmp/audit.so -- $W/m2
ev=$(wait_event '.rule == "env-loader-variable"')
echo "$ev" | jq -e '.action == "audit" and .env.entries == ["LD_AUDIT=/tmp/audit.so"]' >/dev/null ||
	fail "loader variable event wrong: $ev"

# Oversized: counted and sized exactly; past the walk, overflow.
$EE -n 300 -s 10 $M -- $W/m3
ev=$(wait_event '.rule == "env-oversized" and .env.count == 300')
want=$(awk 'BEGIN { b = 0; for (i = 0; i < 300; i++) b += length("KRSI_FILL" i "=") + 10 + 1; print b }')
echo "$ev" | jq -e --argjson b "$want" '.env.bytes == $b and (.env.overflow | not)' >/dev/null ||
	fail "oversized event wrong (want bytes $want): $ev"
$EE -n 700 -s 4 $M -- $W/m4
ev=$(wait_event '.rule == "env-oversized" and .env.count == 700')
echo "$ev" | jq -e '.env.overflow == true' >/dev/null || fail "overflow not reported: $ev"

# Shell use: duplicates are dropped before the exec; nothing to report.
mark_events
sh -c "export KRSI_A=1; KRSI_A=2 $M $W/m5; env KRSI_B=1 KRSI_B=2 $M $W/m6"
$EE $M PATH=/bin -- $W/m7
# Events are in order: once this one is in, the ones before it would be too.
$EE $M LD_AUDIT=/tmp/last.so -- $W/m10
wait_event '.env.entries == ["LD_AUDIT=/tmp/last.so"]' >/dev/null
no_event '.rule == "env-variable-set-twice"'
stop_agent

# The one-line switch of the duplicate rule: enforce (kill), first in
# monitor mode (would_kill, the program runs), then enforced: killed before
# its first instruction, no marker.
sed '/name: env-variable-set-twice/,/action:/s/action: audit # enforce: kill/action: kill/' $P >$W/enforce.yaml
[ "$(grep -c '^    action: kill$' $W/enforce.yaml)" = 1 ] || fail "could not switch the rule to kill"
{ echo "mode: monitor"; cat $W/enforce.yaml; } >$W/monitor.yaml
start_agent --policy $W/monitor.yaml
$EE $M LD_PRELOAD=/tmp/a.so LD_PRELOAD=/tmp/b.so -- $W/m11
[ -e $W/m11 ] || fail "monitor mode killed the program"
wait_event '.rule == "env-variable-set-twice" and .action == "would_kill"' >/dev/null
stop_agent
start_agent --policy $W/enforce.yaml
rc=0
$EE $M LD_PRELOAD=/tmp/a.so LD_PRELOAD=/tmp/b.so -- $W/m8 || rc=$?
assert_eq 137 "$rc" "exit status of the killed exec"
[ ! -e $W/m8 ] || fail "the killed program ran an instruction: $W/m8 exists"
wait_event '.rule == "env-variable-set-twice" and .action == "kill"' >/dev/null
# A clean environment still runs.
$EE $M LD_PRELOAD=/tmp/a.so -- $W/m9
[ -e $W/m9 ] || fail "a single LD_PRELOAD was killed"
stop_agent

# `krsi run --monitor`: the enforcing policy on trial, nothing killed.
start_agent --monitor --policy $W/enforce.yaml
wait_event '.event == "agent_started" and .monitor == true' >/dev/null
$EE $M LD_PRELOAD=/tmp/a.so LD_PRELOAD=/tmp/b.so -- $W/m12
[ -e $W/m12 ] || fail "--monitor killed the program"
wait_event '.rule == "env-variable-set-twice" and .action == "would_kill"' >/dev/null
stop_agent
log "suspicious environment ok"
