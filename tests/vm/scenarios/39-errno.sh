#!/bin/sh
# krsi-timeout: 180
# `errno: NAME` per rule: a deny or kill returns the rule's errno instead of
# EPERM, as the kernel's small LSMs do (SafeSetID's
# safesetid_task_fix_setuid returns -EACCES, LoadPin's loadpin_check
# -EPERM). Cases:
#   file_open deny with errno EACCES: open(2) fails with EACCES, and the
#     event says "errno": "EACCES";
#   a deny without errno on another file: EPERM, event "errno": "EPERM";
#   exec deny with errno ENOEXEC: execve fails with ENOEXEC;
#   socket_connect deny with errno ENETUNREACH: connect fails with it;
#   file_open kill with errno EACCES: the process dies, the event names it;
#   the same policy in monitor mode: every call succeeds, would_deny events
#     carry no errno (no call failed).
set -eu
. /krsi/lib.sh
require_lsm bpf

W=$KRSI_WORK
B=/krsi/bin
echo data >$W/eacces
echo data >$W/eperm
echo data >$W/killme
cp $B/true $W/noexec
cat >$W/errno.yaml <<YAML
rules:
  - name: open-eacces
    hook: file_open
    action: deny
    errno: EACCES
    match: {file.path: $W/eacces}
  - name: open-default
    hook: file_open
    action: deny
    match: {file.path: $W/eperm}
  - name: exec-enoexec
    hook: exec
    action: deny
    errno: ENOEXEC
    match: {file.path: $W/noexec}
  - name: connect-refused
    hook: socket_connect
    action: deny
    errno: ENETUNREACH
    match: {net.port: 4999}
  - name: open-kill
    hook: file_open
    action: kill
    errno: EACCES
    match: {file.path: $W/killme}
YAML

start_agent --policy $W/errno.yaml --require-enforcement
expect EACCES $B/try_open $W/eacces r
ev=$(wait_event '.rule == "open-eacces"')
echo "$ev" | jq -e '.action == "deny" and .errno == "EACCES"' >/dev/null || fail "open event: $ev"
expect EPERM $B/try_open $W/eperm r
ev=$(wait_event '.rule == "open-default"')
echo "$ev" | jq -e '.action == "deny" and .errno == "EPERM"' >/dev/null || fail "default event: $ev"
expect_exec_errno ENOEXEC $W/noexec
ev=$(wait_event '.rule == "exec-enoexec"')
echo "$ev" | jq -e '.action == "deny" and .errno == "ENOEXEC" and .event == "exec"' >/dev/null ||
	fail "exec event: $ev"
expect ENETUNREACH $B/try_sock connect 127.0.0.1 4999
ev=$(wait_event '.rule == "connect-refused"')
echo "$ev" | jq -e '.action == "deny" and .errno == "ENETUNREACH" and .net.port == 4999' >/dev/null ||
	fail "connect event: $ev"
expect KILLED $B/try_open $W/killme r
ev=$(wait_event '.rule == "open-kill"')
echo "$ev" | jq -e '.action == "kill" and .errno == "EACCES"' >/dev/null || fail "kill event: $ev"
# No false positives: other files, ports and programs are untouched.
expect OK $B/try_open $W/errno.yaml r
expect_exec_errno OK $B/true
no_event ".path == \"$W/errno.yaml\" or .filename == \"$B/true\""
st=$($B/krsi status --json)
echo "$st" | jq -e '[.rules[] | select(.rule == "open-eacces" or .rule == "open-default") | .denies] == [1, 1]' >/dev/null ||
	fail "deny counters: $st"
stop_agent

# Monitor mode: nothing fails, nothing claims an errno.
sed 's/^rules:/mode: monitor\nrules:/' $W/errno.yaml >$W/monitor.yaml
start_agent --policy $W/monitor.yaml --require-enforcement
expect OK $B/try_open $W/eacces r
expect OK $B/try_open $W/killme r
expect_exec_errno OK $W/noexec
ev=$(wait_event '.rule == "open-eacces"')
echo "$ev" | jq -e '.action == "would_deny" and (has("errno") | not)' >/dev/null || fail "monitor event: $ev"
ev=$(wait_event '.rule == "open-kill"')
echo "$ev" | jq -e '.action == "would_kill" and (has("errno") | not)' >/dev/null || fail "monitor kill event: $ev"
wait_event '.rule == "exec-enoexec" and .action == "would_deny"' >/dev/null
stop_agent
