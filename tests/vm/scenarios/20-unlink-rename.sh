#!/bin/sh
# krsi-timeout: 240
# unlink and rename rules: inode_unlink by file identity (a hard link is the
# same file) and by file.running_exe (a program deleting its own running
# executable), path_unlink by path prefix in monitor mode (reported, the file
# is removed), inode_rename by file.replaces_running_exe (renaming a new file
# over a running executable), file.running_exe (moving a running executable
# away) and file.new_path prefix. Unrelated unlinks and renames go through
# silently; after the agent stops, everything is allowed again. Last, the
# shipped policies/examples/unlink-rename.yaml loads and reports a dropper.
set -eu
. /krsi/lib.sh
require_lsm bpf

W=$KRSI_WORK
mkdir -p $W/keep $W/logs $W/bin $W/drop
echo precious >$W/keep/precious
ln $W/keep/precious $W/precious-link
echo log >$W/logs/app.log
echo b >$W/bystander
echo p >$W/planted
cp /krsi/bin/try_file $W/bin/selfdel
cp /krsi/bin/try_file $W/bin/running
cp /krsi/bin/true $W/bin/newver

cat >$W/unlink.yaml <<P
rules:
  - name: keep-precious
    hook: unlink
    action: deny
    match: {file.path: $W/keep/precious}
    message: precious file
    severity: high
  - name: no-self-delete
    hook: inode_unlink
    action: deny
    match: {file.running_exe: true}
  - name: logs-unlink-trial
    hook: path_unlink
    action: deny
    mode: monitor
    match: {file.path: {prefix: $W/logs/}}
  - name: no-replace-running
    hook: rename
    action: deny
    match: {file.replaces_running_exe: true}
  - name: no-move-running
    hook: inode_rename
    action: deny
    match: {file.running_exe: true}
  - name: no-drop-into-keep
    hook: inode_rename
    action: deny
    match: {file.new_path: {prefix: $W/keep/}}
P
start_agent --policy $W/unlink.yaml --require-enforcement

# The file itself, under its own name and through a hard link.
mark_events
expect EPERM /krsi/bin/try_file unlink $W/keep/precious
ev=$(wait_event ".event == \"unlink\" and .action == \"deny\" and .file.path == \"$W/keep/precious\"")
log "$ev"
echo "$ev" | jq -e '.hook == "inode_unlink" and .backend == "bpf-lsm" and .rule == "keep-precious" and
  .message == "precious file" and .severity == "high" and .file.running_exe == false and
  (.file.dev | test("^[0-9]+:[0-9]+$")) and (.file.ino > 0) and
  .process.comm == "try_file" and .process.exe == "/krsi/bin/try_file"' >/dev/null ||
	fail "unlink deny event wrong: $ev"
expect EPERM /krsi/bin/try_file unlink $W/precious-link
wait_event ".action == \"deny\" and .rule == \"keep-precious\" and .file.path == \"$W/precious-link\"" >/dev/null
[ -e $W/keep/precious ] && [ -e $W/precious-link ] || fail "a denied unlink removed the file"

# A program deleting its own running executable.
_rc=0
out=$($W/bin/selfdel unlink-self 2>&1) || _rc=$?
assert_contains "$out" "errno=EPERM" "selfdel unlink-self"
ev=$(wait_event ".action == \"deny\" and .rule == \"no-self-delete\" and .file.path == \"$W/bin/selfdel\"")
log "$ev"
echo "$ev" | jq -e ".hook == \"inode_unlink\" and .file.running_exe == true and
  .process.exe == \"$W/bin/selfdel\" and .process.comm == \"selfdel\"" >/dev/null ||
	fail "self-unlink event wrong: $ev"
[ -e $W/bin/selfdel ] || fail "selfdel removed itself"

# Renaming a new binary over a running one, and moving a running one away.
$W/bin/running pause >$W/running.out &
RUN_PID=$!
n=0
until grep -q running $W/running.out 2>/dev/null; do
	n=$((n + 1))
	[ $n -lt 100 ] || fail "$W/bin/running did not start"
	sleep 0.1
done
expect EPERM /krsi/bin/try_file rename $W/bin/newver $W/bin/running
ev=$(wait_event ".event == \"rename\" and .action == \"deny\" and .rule == \"no-replace-running\"")
log "$ev"
echo "$ev" | jq -e ".hook == \"inode_rename\" and .file.path == \"$W/bin/newver\" and
  .file.new_path == \"$W/bin/running\" and .file.replaces_running_exe == true and
  .file.running_exe == false" >/dev/null || fail "rename-over event wrong: $ev"
expect EPERM /krsi/bin/try_file rename $W/bin/running $W/bin/hidden
ev=$(wait_event ".action == \"deny\" and .rule == \"no-move-running\"")
echo "$ev" | jq -e ".file.path == \"$W/bin/running\" and .file.new_path == \"$W/bin/hidden\" and
  .file.running_exe == true" >/dev/null || fail "move-running event wrong: $ev"
[ -e $W/bin/running ] && [ ! -e $W/bin/hidden ] || fail "denied rename moved the file"

# Planting a file under keep/ by rename.
expect EPERM /krsi/bin/try_file rename $W/planted $W/keep/planted
wait_event ".action == \"deny\" and .rule == \"no-drop-into-keep\" and .file.new_path == \"$W/keep/planted\" and .file.path == \"$W/planted\"" >/dev/null

# Monitor mode: path_unlink reports would_deny and the file is gone.
expect OK /krsi/bin/try_file unlink $W/logs/app.log
ev=$(wait_event ".action == \"would_deny\" and .rule == \"logs-unlink-trial\"")
log "$ev"
echo "$ev" | jq -e ".event == \"unlink\" and .hook == \"path_unlink\" and .file.path == \"$W/logs/app.log\"" \
	>/dev/null || fail "path_unlink would_deny event wrong: $ev"
[ ! -e $W/logs/app.log ] || fail "monitor-mode unlink did not remove the file"

# Bystanders: unrelated unlink and rename (of a binary that is not running).
mark_events
expect OK /krsi/bin/try_file unlink $W/bystander
expect OK /krsi/bin/try_file rename $W/bin/newver $W/bin/newver2
expect OK /krsi/bin/try_file rename $W/bin/newver2 $W/drop/newver3
no_event ".file.path == \"$W/bystander\" or .file.path == \"$W/bin/newver\" or .file.path == \"$W/bin/newver2\""

rc=0
stop_agent || rc=$?
assert_eq 0 "$rc" "agent exit status"
wait_event '.event == "agent_stopped" and
  ([.rules[] | select(.rule == "keep-precious" and .denies == 2)] | length) == 1 and
  ([.rules[] | select(.rule == "no-replace-running" and .denies == 1)] | length) == 1 and
  ([.rules[] | select(.rule == "logs-unlink-trial" and .would_denies == 1)] | length) == 1' >/dev/null

# Detached: all of it is allowed again.
expect OK /krsi/bin/try_file rename $W/drop/newver3 $W/bin/running
kill $RUN_PID 2>/dev/null || true
wait $RUN_PID 2>/dev/null || true
expect OK /krsi/bin/try_file unlink $W/precious-link
expect OK /krsi/bin/try_file unlink $W/keep/precious
expect OK /krsi/bin/try_file rename $W/planted $W/keep/planted
$W/bin/selfdel unlink-self | grep -qx ok || fail "selfdel unlink-self failed without agent"
[ ! -e $W/bin/selfdel ] || fail "selfdel still there"

# The shipped example (policies/examples/unlink-rename.yaml) loads; its
# audit rule reports a dropper deleting itself.
cp /krsi/bin/try_file $W/bin/dropper
start_agent --policy /krsi/policies/examples/unlink-rename.yaml --require-enforcement
$W/bin/dropper unlink-self | grep -qx ok || fail "dropper unlink-self failed under an audit rule"
wait_event ".action == \"audit\" and .rule == \"running-binary-deleted\" and .file.path == \"$W/bin/dropper\" and .file.running_exe == true" >/dev/null
stop_agent
