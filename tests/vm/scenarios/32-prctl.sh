#!/bin/sh
# krsi-timeout: 240
# prctl rules (task_prctl), decided by the kernel: one program may not
# rename itself (PR_SET_NAME) nor make itself undumpable (PR_SET_DUMPABLE 0;
# PR_SET_DUMPABLE 1 is allowed: prctl.arg2 matters); a monitor rule reports
# would_deny and the call works. The hook's default answer is -ENOSYS ("not
# handled"): prctls that krsi allows, audited or not, must still do what the
# kernel does (PR_SET_NAME renames, PR_GET_DUMPABLE returns the value, an
# unknown option gets EINVAL) and not a bare 0. A bystander is unaffected;
# after the agent stops, the denied calls work. Then
# policies/examples/prctl.yaml is loaded and two of its rules checked.
set -eu
. /krsi/lib.sh
require_lsm bpf

W=$KRSI_WORK
B=/krsi/bin
cp $B/try_prctl $W/renamer # denied rules
cp $B/try_prctl $W/namer   # every prctl audited, none denied
cat >$W/prctl.yaml <<P
rules:
  - name: no-rename
    hook: prctl
    action: deny
    match: {process.exe: $W/renamer, prctl.option: 15}
    message: renamer may not change its name
    severity: low
  - name: stay-dumpable
    hook: task_prctl
    action: deny
    match: {process.exe: $W/renamer, prctl.option: 4, prctl.arg2: 0}
  - name: trial-get-name
    hook: prctl
    action: deny
    mode: monitor
    match: {process.exe: $W/renamer, prctl.option: 16}
  - name: namer-audit
    hook: prctl
    action: audit
    match: {process.exe: $W/namer}
P
start_agent --policy $W/prctl.yaml --require-enforcement

# PR_SET_NAME (15): denied; arg2 is the name's address.
expect EPERM $W/renamer set-name evil
ev=$(wait_event '.event == "prctl" and .action == "deny"')
log "$ev"
echo "$ev" | jq -e --arg w "$W" '
  .hook == "task_prctl" and .backend == "bpf-lsm" and .rule == "no-rename" and
  .message == "renamer may not change its name" and .severity == "low" and
  .prctl.option == 15 and .prctl.arg2 > 0 and
  .process.exe == ($w + "/renamer") and .process.comm == "renamer"
' >/dev/null || fail "PR_SET_NAME deny event wrong: $ev"

# PR_SET_DUMPABLE (4): 0 denied, 1 allowed (and in effect).
mark_events
expect EPERM $W/renamer set-dumpable 0
ev=$(wait_event '.event == "prctl" and .action == "deny"')
echo "$ev" | jq -e '.rule == "stay-dumpable" and .prctl.option == 4 and .prctl.arg2 == 0' >/dev/null ||
	fail "PR_SET_DUMPABLE deny event wrong: $ev"
expect OK $W/renamer set-dumpable 1
assert_eq "ok dumpable=1" "$OUT" "renamer after PR_SET_DUMPABLE 1"
expect OK $W/renamer get-dumpable
assert_eq "ok dumpable=1" "$OUT" "renamer PR_GET_DUMPABLE"
# Options no rule names still get the kernel's own answers.
expect OK $W/renamer raw 39
assert_eq "ok ret=0" "$OUT" "renamer PR_GET_NO_NEW_PRIVS"
expect EINVAL $W/renamer raw 9999

# Monitor mode: reported, and the call answers.
mark_events
expect OK $W/renamer get-name
assert_eq "ok name=renamer" "$OUT" "renamer PR_GET_NAME"
wait_event '.event == "prctl" and .action == "would_deny" and .rule == "trial-get-name" and .prctl.option == 16' >/dev/null

# Audited calls take effect: the rename happens (the event still names the
# process as it was), PR_SET_DUMPABLE 0 sticks, an unknown option is EINVAL.
mark_events
expect OK $W/namer set-name newname
assert_eq "ok name=newname" "$OUT" "namer after an audited PR_SET_NAME"
ev=$(wait_event '.event == "prctl" and .rule == "namer-audit" and .prctl.option == 15')
echo "$ev" | jq -e '.action == "audit" and .process.comm == "namer"' >/dev/null ||
	fail "PR_SET_NAME audit event wrong: $ev"
wait_event '.rule == "namer-audit" and .prctl.option == 16 and .process.comm == "newname"' >/dev/null
expect OK $W/namer set-dumpable 0
assert_eq "ok dumpable=0" "$OUT" "namer after an audited PR_SET_DUMPABLE 0"
expect EINVAL $W/namer raw 9999
wait_event '.rule == "namer-audit" and .prctl.option == 9999' >/dev/null

# Bystander: the same program under its shipped name.
mark_events
expect OK $B/try_prctl set-name evil
assert_eq "ok name=evil" "$OUT" "bystander after PR_SET_NAME"
expect OK $B/try_prctl set-dumpable 0
assert_eq "ok dumpable=0" "$OUT" "bystander after PR_SET_DUMPABLE 0"
no_event '.event == "prctl"' 1

st=$(/krsi/bin/krsi status --json)
echo "$st" | jq -e '([.rules[] | select(.rule == "no-rename")][0].denies == 1) and
  ([.rules[] | select(.rule == "stay-dumpable")][0].denies == 1) and
  ([.rules[] | select(.rule == "trial-get-name")][0].would_denies == 1)' >/dev/null ||
	fail "counters wrong: $st"

stop_agent
expect OK $W/renamer set-name evil
assert_eq "ok name=evil" "$OUT" "renamer after the agent stopped"
expect OK $W/renamer set-dumpable 0

# The shipped example loads and holds: a program run from /tmp may not
# rename itself, one elsewhere may; PR_SET_DUMPABLE 0 is audited.
start_agent --policy /krsi/policies/examples/prctl.yaml --require-enforcement
expect EPERM $W/renamer set-name kworker
wait_event '.event == "prctl" and .rule == "rename-from-tmp" and .action == "deny"' >/dev/null
expect OK $B/try_prctl set-name kworker
assert_eq "ok name=kworker" "$OUT" "bystander rename under the example"
expect OK $B/try_prctl set-dumpable 0
wait_event '.event == "prctl" and .rule == "undumpable-outside-key-holders" and .action == "audit" and .prctl.arg2 == 0' >/dev/null
stop_agent
