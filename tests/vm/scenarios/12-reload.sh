#!/bin/sh
# SIGHUP reloads the policy whole or not at all: a broken file is reported
# with file:line:column and the old policy keeps enforcing; a good file
# replaces the old one completely, and the change is reported.
set -eu
. /krsi/lib.sh

cp /krsi/bin/true /tmp/a
cp /krsi/bin/true /tmp/b
policy=/tmp/reload.yaml
cat >$policy <<'P'
rules:
  - name: deny-a
    hook: bprm_check_security
    action: deny
    match: {file.path: [/tmp/a]}
P
start_agent --policy $policy
expect_exec_errno EPERM /tmp/a
expect_exec_errno OK /tmp/b

# Broken: a valid rule followed by an unknown hook. Nothing of it may apply.
cat >$policy <<'P'
rules:
  - name: deny-b
    hook: bprm_check_security
    action: deny
    match: {file.path: [/tmp/b]}
  - name: broken
    hook: no_such_hook
    action: deny
    match: {file.path: [/tmp/a]}
P
mark_events
kill -HUP "$AGENT_PID"
ev=$(wait_event '.event == "policy_rejected"')
log "$ev"
echo "$ev" | jq -e '.error | test("^/tmp/reload.yaml:7:11: unknown hook `no_such_hook`")' >/dev/null ||
	fail "rejection does not name file:line:column: $ev"
agent_running || fail "agent died on a bad policy"
expect_exec_errno EPERM /tmp/a
expect_exec_errno OK /tmp/b

# Good: deny b instead of a.
cat >$policy <<'P'
rules:
  - name: deny-b
    hook: bprm_check_security
    action: deny
    match: {file.path: [/tmp/b]}
P
mark_events
kill -HUP "$AGENT_PID"
ev=$(wait_event '.event == "policy_loaded"')
log "$ev"
echo "$ev" | jq -e '.changes == {"added": ["deny-b"], "removed": ["deny-a"], "changed": []}' >/dev/null ||
	fail "reload changes wrong: $ev"
expect_exec_errno OK /tmp/a
expect_exec_errno EPERM /tmp/b
wait_event '.action == "deny" and .rule == "deny-b"' >/dev/null

# Reload under a concurrent exec loop: /tmp/b stays denied in every exec,
# whichever of two equivalent policies is active (never a gap).
cat >/tmp/reload-2.yaml <<'P'
rules:
  - name: deny-b-again
    hook: bprm_check_security
    action: deny
    match: {file.path: [/tmp/b, /tmp/a]}
P
cp $policy /tmp/reload-1.yaml
(
	i=0
	while [ ! -e /tmp/loop-stop ]; do
		if /tmp/b 2>/dev/null; then echo LEAK >>/tmp/leak; fi
		i=$((i + 1))
	done
	echo "$i" >/tmp/loop-count
) &
loop=$!
mark_events
n=0
while [ $n -lt 20 ]; do
	cp /tmp/reload-$((n % 2 + 1)).yaml $policy
	kill -HUP "$AGENT_PID"
	n=$((n + 1))
	# Each reload is applied before the next is sent.
	_k=0
	while [ "$(count_events '.event == "policy_loaded"')" -lt $n ]; do
		_k=$((_k + 1))
		[ $_k -lt 100 ] || fail "reload $n not applied"
		sleep 0.1
	done
done
touch /tmp/loop-stop
wait "$loop"
[ ! -e /tmp/leak ] || fail "$(wc -l </tmp/leak) execs of /tmp/b were allowed during reloads"
execs=$(cat /tmp/loop-count)
[ "$execs" -ge 20 ] || fail "only $execs execs ran during the reloads"
log "$n reloads applied during $execs denied execs of /tmp/b: no leak"
stop_agent
