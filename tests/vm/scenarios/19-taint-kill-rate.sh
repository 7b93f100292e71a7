#!/bin/sh
# Stateful correlation and the strong actions: a process that opened a
# /proc/PID/mem for writing is tainted, and every later exec of it and of
# its children is denied (taint set on file_open, tested on exec); a kill
# rule SIGKILLs the caller and denies the call; rate_limit caps a rule's
# events while its counters keep counting.
set -eu
. /krsi/lib.sh

W=$KRSI_WORK
cp /krsi/bin/true $W/victim
cp /krsi/bin/true $W/quiet
cat >$W/p.yaml <<P
rules:
  - name: proc-mem-writer
    hook: file_open
    action: {taint: memwriter}
    match: {file.path: {prefix: /proc/}, file.fs: proc, file.flags: {contains: [write]}}
    severity: high
  - name: no-exec-after-mem-write
    hook: exec
    action: deny
    match: {process.taint: {contains: [memwriter]}}
  - name: kill-victim-runner
    hook: exec
    action: kill
    match: {file.path: $W/victim}
  - name: quiet-audit
    hook: exec
    action: audit
    match: {file.path: $W/quiet}
    rate_limit: {events: 3, per_seconds: 600}
P
start_agent --policy $W/p.yaml

# A bystander execs freely.
out=$(/krsi/bin/open_then_exec /dev/null /krsi/bin/true)
assert_contains "$out" "open=OK"
assert_contains "$out" "child=OK"

# Write-open of our own /proc/self/mem: tainted; the child and the process
# itself are denied exec, by the kernel.
out=$(/krsi/bin/open_then_exec /proc/self/mem /krsi/bin/true || true)
log "$out"
assert_contains "$out" "open=OK"
assert_contains "$out" "child=errno=EPERM"
assert_contains "$out" "self=errno=EPERM"
ev=$(wait_event '.event == "open" and .action == "taint" and .rule == "proc-mem-writer"')
log "$ev"
echo "$ev" | jq -e '(.path | test("^/proc/[0-9]+/mem$")) and .process.taint == ["memwriter"] and
  .process.comm == "open_then_exec"' >/dev/null || fail "taint event wrong: $ev"
ev=$(wait_event '.event == "exec" and .action == "deny" and .rule == "no-exec-after-mem-write"')
echo "$ev" | jq -e '.process.taint == ["memwriter"] and .filename == "/krsi/bin/true"' >/dev/null ||
	fail "deny event wrong: $ev"
# Reading /proc/self/mem is not the signal.
out=$(/krsi/bin/try_open /proc/self/stat r)
out=$(/krsi/bin/open_then_exec /dev/null /krsi/bin/true)
assert_contains "$out" "child=OK"

# kill: the exec is denied and the caller dies of SIGKILL.
rc=0
/krsi/bin/try_exec $W/victim >$W/kill.out 2>&1 || rc=$?
assert_eq "$rc" 137
ev=$(wait_event '.event == "exec" and .action == "kill" and .rule == "kill-victim-runner"')
echo "$ev" | jq -e '.hook == "bprm_check_security" and .process.comm == "try_exec"' >/dev/null ||
	fail "kill event wrong: $ev"

# rate_limit: 10 execs, 3 events, 10 hits.
i=0
while [ $i -lt 10 ]; do
	$W/quiet
	i=$((i + 1))
done
sleep 1
n=$(count_events '.rule == "quiet-audit"')
assert_eq "$n" 3
st=$(/krsi/bin/krsi status --json)
echo "$st" | jq -e '.rules[] | select(.rule == "quiet-audit") | .hits == 10 and .audits == 10 and .suppressed == 7' >/dev/null ||
	fail "rate-limit counters wrong: $st"
echo "$st" | jq -e '.rules[] | select(.rule == "kill-victim-runner") | .kills == 1 and .hits == 1' >/dev/null ||
	fail "kill counters wrong: $st"
echo "$st" | jq -e '.rules[] | select(.rule == "proc-mem-writer") | .taints >= 1' >/dev/null ||
	fail "taint counters wrong: $st"
stop_agent
