#!/bin/sh
# krsi-timeout: 240
# ptrace rules (ptrace_access_check, ptrace_traceme), decided by the kernel:
# a tracer may attach to its own child (audited, relation "descendant") but
# not to a sibling (denied, relation "other", EPERM) by PTRACE_ATTACH or
# PTRACE_SEIZE, nor to its parent (relation "ancestor"); PTRACE_TRACEME is
# denied for one program (target = its parent, relation "ancestor"); opening /proc/PID/mem is a ptrace check too
# (mode attach|fscreds, denied: the kernel answers EACCES) while
# /proc/PID/environ is mode read|fscreds (audited, open works); a monitor
# rule reports would_deny and lets the attach happen; the same binary under
# another name (a bystander) is unaffected; after the agent stops, the
# denied attach works. Then policies/examples/ptrace.yaml is loaded and one
# of its rules checked.
set -eu
. /krsi/lib.sh
require_lsm bpf

W=$KRSI_WORK
B=/krsi/bin
cp $B/try_ptrace $W/tracer       # may only trace its own children
cp $B/try_ptrace $W/tracer-trial # monitor-mode rule
cp $B/try_ptrace $W/traceme      # PTRACE_TRACEME denied
cp $B/try_open $W/memreader      # /proc/PID/mem denied, environ audited
cp $B/hold $W/hold

# Yama (built in) refuses attaching to a non-descendant at ptrace_scope 1:
# with 0 only krsi decides. Restored on exit, like the target process.
SCOPE=/proc/sys/kernel/yama/ptrace_scope
OLD_SCOPE=
HOLD=
cleanup() {
	[ -z "$HOLD" ] || kill -KILL "$HOLD" 2>/dev/null || true
	[ -z "$OLD_SCOPE" ] || echo "$OLD_SCOPE" >$SCOPE
}
trap cleanup EXIT
if [ -e $SCOPE ]; then
	OLD_SCOPE=$(cat $SCOPE)
	log "yama ptrace_scope was $OLD_SCOPE"
	echo 0 >$SCOPE || skip "cannot set yama ptrace_scope to 0 (was $OLD_SCOPE)"
fi

# The target: a sibling of every tracer below (all are children of this shell).
$W/hold >$W/hold.out &
HOLD=$!
n=0
until grep -q '^ready' $W/hold.out 2>/dev/null; do
	n=$((n + 1))
	[ $n -le 100 ] || fail "hold did not start"
	sleep 0.1
done

cat >$W/ptrace.yaml <<P
rules:
  - name: no-attach-strangers
    hook: ptrace
    action: deny
    match:
      process.exe: $W/tracer
      ptrace.relation: other
      ptrace.mode: {contains: attach}
    message: tracer may only debug its own children
    severity: high
  - name: no-attach-parent
    hook: ptrace
    action: deny
    match: {process.exe: $W/tracer, ptrace.relation: ancestor}
  - name: children-audit
    hook: ptrace_access_check
    action: audit
    match: {process.exe: $W/tracer, ptrace.relation: descendant}
  - name: no-traceme
    hook: ptrace_traceme
    action: deny
    match: {process.exe: $W/traceme}
  - name: no-mem-access
    hook: ptrace
    action: deny
    match: {process.exe: $W/memreader, target.exe: $W/hold, ptrace.mode: {contains: attach}}
  - name: environ-audit
    hook: ptrace
    action: audit
    match: {process.exe: $W/memreader, ptrace.mode: {contains: read}}
  - name: trial
    hook: ptrace
    action: deny
    mode: monitor
    match: {process.exe: $W/tracer-trial, target.comm: hold}
P
start_agent --policy $W/ptrace.yaml --require-enforcement

# A sibling: denied, by PTRACE_ATTACH and by PTRACE_SEIZE.
expect EPERM $W/tracer attach $HOLD
ev=$(wait_event ".event == \"ptrace\" and .action == \"deny\" and .target.pid == $HOLD")
log "$ev"
echo "$ev" | jq -e --arg w "$W" --argjson hold "$HOLD" '
  .hook == "ptrace_access_check" and .backend == "bpf-lsm" and
  .rule == "no-attach-strangers" and .severity == "high" and
  .message == "tracer may only debug its own children" and
  .ptrace.relation == "other" and .ptrace.mode == ["attach", "realcreds"] and
  .target.pid == $hold and .target.comm == "hold" and .target.exe == ($w + "/hold") and
  ((.target.exe_dev // .target.dev) | test("^[0-9]+:[0-9]+$")) and
  ((.target.exe_ino // .target.ino) | type) == "number" and
  .target.uid == 0 and ((.target.cgroup.id? // .target.cgroup_id) | type) == "number" and
  .process.exe == ($w + "/tracer") and .process.comm == "tracer" and .process.uid == 0
' >/dev/null || fail "attach deny event wrong: $ev"
mark_events
expect EPERM $W/tracer seize $HOLD
wait_event ".event == \"ptrace\" and .action == \"deny\" and .rule == \"no-attach-strangers\" and .target.pid == $HOLD" >/dev/null

# Its parent (this shell): an ancestor, denied by the rule for ancestors.
mark_events
expect EPERM $W/tracer attach $$
ev=$(wait_event ".event == \"ptrace\" and .target.pid == $$")
echo "$ev" | jq -e '.action == "deny" and .rule == "no-attach-parent" and
  .ptrace.relation == "ancestor" and .ptrace.mode == ["attach", "realcreds"]' >/dev/null ||
	fail "parent attach event wrong: $ev"

# Its own child: allowed and audited as a descendant.
mark_events
expect OK $W/tracer child-attach
child=$(printf '%s\n' "$OUT" | sed -n 's/^child=//p')
ev=$(wait_event ".event == \"ptrace\" and .rule == \"children-audit\" and .target.pid == $child")
echo "$ev" | jq -e --arg w "$W" '.action == "audit" and .ptrace.relation == "descendant" and
  .ptrace.mode == ["attach", "realcreds"] and .target.exe == ($w + "/tracer") and
  .process.exe == ($w + "/tracer")' >/dev/null || fail "descendant audit event wrong: $ev"
no_event '.action == "deny"'

# PTRACE_TRACEME: the child asks its parent to trace it; the target is the parent.
mark_events
expect EPERM $W/traceme traceme
parent=$(printf '%s\n' "$OUT" | sed -n 's/^parent=//p')
ev=$(wait_event ".event == \"ptrace\" and .hook == \"ptrace_traceme\" and .target.pid == $parent")
log "$ev"
echo "$ev" | jq -e --arg w "$W" --argjson parent "$parent" '.action == "deny" and
  .rule == "no-traceme" and .ptrace.relation == "ancestor" and
  .process.exe == ($w + "/traceme") and .process.pid != $parent and
  .process.ppid == $parent and .target.exe == ($w + "/traceme") and
  .target.comm == "traceme"' >/dev/null || fail "traceme deny event wrong: $ev"

# /proc/PID/mem: a ptrace access check of mode attach|fscreds; a denial
# reaches user space as EACCES (mm_access). environ is read|fscreds: audited.
mark_events
expect EACCES $W/memreader /proc/$HOLD/mem r
ev=$(wait_event ".event == \"ptrace\" and .rule == \"no-mem-access\" and .target.pid == $HOLD")
echo "$ev" | jq -e '.action == "deny" and .ptrace.mode == ["attach", "fscreds"] and
  .ptrace.relation == "other" and .process.comm == "memreader"' >/dev/null ||
	fail "mem deny event wrong: $ev"
expect OK $W/memreader /proc/$HOLD/environ r
ev=$(wait_event ".event == \"ptrace\" and .rule == \"environ-audit\" and .target.pid == $HOLD")
echo "$ev" | jq -e '.action == "audit" and .ptrace.mode == ["read", "fscreds"]' >/dev/null ||
	fail "environ audit event wrong: $ev"

# Monitor mode: reported, and the attach happens.
mark_events
expect OK $W/tracer-trial attach $HOLD
wait_event ".event == \"ptrace\" and .action == \"would_deny\" and .rule == \"trial\" and .target.pid == $HOLD and .ptrace.relation == \"other\"" >/dev/null

# Bystanders: the same programs under their shipped names (other file
# identities): allowed, no events.
mark_events
expect OK $B/try_ptrace attach $HOLD
expect OK $B/try_ptrace traceme
expect OK $B/try_ptrace seize $HOLD
expect OK $B/try_open /proc/$HOLD/mem r
no_event '.event == "ptrace"' 1
# The target survived every attach and runs (not left stopped).
state=$(sed 's/^.*) \(.\).*/\1/' /proc/$HOLD/stat)
assert_contains "SR" "$state" "hold's state after the attaches"

st=$(/krsi/bin/krsi status --json)
echo "$st" | jq -e '([.rules[] | select(.rule == "no-attach-strangers")][0].denies == 2) and
  ([.rules[] | select(.rule == "no-attach-parent")][0].denies == 1) and
  ([.rules[] | select(.rule == "no-traceme")][0].denies == 1) and
  ([.rules[] | select(.rule == "trial")][0].would_denies == 1)' >/dev/null ||
	fail "counters wrong: $st"

stop_agent
expect OK $W/tracer attach $HOLD
expect OK $W/traceme traceme
expect OK $W/memreader /proc/$HOLD/mem r

# The shipped example loads and holds: attaching to a process that is not
# one's child is denied, to one's own child allowed.
start_agent --policy /krsi/policies/examples/ptrace.yaml --require-enforcement
expect EPERM $B/try_ptrace attach $HOLD
wait_event ".event == \"ptrace\" and .rule == \"ptrace-attach-non-child\" and .target.pid == $HOLD" >/dev/null
expect OK $B/try_ptrace child-attach
stop_agent
