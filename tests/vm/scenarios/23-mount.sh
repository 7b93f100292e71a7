#!/bin/sh
# krsi-timeout: 240
# Mount rules: sb_mount denies tmpfs on a target prefix (mount.fstype +
# mount.target) while tmpfs elsewhere and other file systems there mount;
# it denies moving a mount into the prefix with mount(2) MS_MOVE
# (mount.flags contains move, mount.source is the moved path); a monitor
# rule reports bind mounts (would_deny, the bind happens); move_mount(2)
# (open_tree + move_mount, which never reaches sb_mount) is denied into the
# prefix, reported with the moved file system's type, and allowed elsewhere.
# After the agent stops all of it works. Last, the shipped
# policies/examples/mount.yaml loads and is exercised.
set -eu
. /krsi/lib.sh
require_lsm bpf

W=$KRSI_WORK
mounted() { grep -q " $1 " /proc/self/mounts; }

mkdir -p $W/secure/t1 $W/secure/p1 $W/secure/moved $W/secure/m3 $W/open/t2 $W/open/m4 $W/open/b $W/src
echo s >$W/src/file
# Undo every mount this scenario made, whatever happened (they share /tmp).
HIDE=
cleanup() {
	for m in $(grep -o " $W/[^ ]*" /proc/self/mounts | sort -r) /proc/${HIDE:-none} /usr/share/krsi-mount-test; do
		! mounted "$m" || umount -l "$m" 2>/dev/null || true
	done
	rmdir /usr/share/krsi-mount-test 2>/dev/null || true
	[ -z "$HIDE" ] || kill "$HIDE" 2>/dev/null || true
}
trap cleanup EXIT

cat >$W/mount.yaml <<P
rules:
  - name: no-tmpfs-in-secure
    hook: sb_mount
    action: deny
    match: {mount.fstype: tmpfs, mount.target: {prefix: $W/secure/}}
    severity: high
  - name: no-move-into-secure
    hook: mount
    action: deny
    match: {mount.flags: {contains: [move]}, mount.target: {prefix: $W/secure/}}
  - name: bind-trial
    hook: sb_mount
    action: deny
    mode: monitor
    match: {mount.flags: {contains: bind}, mount.target: {prefix: $W/}}
  - name: no-move-mount-into-secure
    hook: move_mount
    action: deny
    match: {mount.target: {prefix: $W/secure/}}
P
start_agent --policy $W/mount.yaml --require-enforcement

# tmpfs on the prefix: denied, nothing mounted.
expect EPERM /krsi/bin/try_mount mount tmpfs $W/secure/t1 tmpfs nosuid,nodev
ev=$(wait_event ".event == \"mount\" and .action == \"deny\" and .rule == \"no-tmpfs-in-secure\"")
log "$ev"
echo "$ev" | jq -e ".hook == \"sb_mount\" and .backend == \"bpf-lsm\" and .severity == \"high\" and
  .mount.fstype == \"tmpfs\" and .mount.source == \"tmpfs\" and .mount.target == \"$W/secure/t1\" and
  .mount.flags == [\"nosuid\", \"nodev\"] and .process.comm == \"try_mount\" and
  .process.exe == \"/krsi/bin/try_mount\"" >/dev/null || fail "sb_mount deny event wrong: $ev"
! mounted $W/secure/t1 || fail "denied tmpfs is mounted"

# Bystanders: tmpfs elsewhere, another file system type on the prefix.
expect OK /krsi/bin/try_mount mount tmpfs $W/open/t2 tmpfs
mounted $W/open/t2 || fail "tmpfs on $W/open/t2 not mounted"
expect OK /krsi/bin/try_mount mount proc $W/secure/p1 proc
mounted $W/secure/p1 || fail "proc on $W/secure/p1 not mounted"
no_event ".mount.target == \"$W/open/t2\" or .mount.target == \"$W/secure/p1\""

# mount(2) MS_MOVE of the allowed tmpfs into the prefix: the tmpfs rule does
# not see a file system type there, the move rule does.
expect EPERM /krsi/bin/try_mount mount $W/open/t2 $W/secure/moved - move
ev=$(wait_event ".action == \"deny\" and .rule == \"no-move-into-secure\"")
log "$ev"
echo "$ev" | jq -e ".hook == \"sb_mount\" and .mount.source == \"$W/open/t2\" and
  .mount.target == \"$W/secure/moved\" and .mount.flags == [\"move\"]" >/dev/null ||
	fail "MS_MOVE deny event wrong: $ev"
mounted $W/open/t2 && ! mounted $W/secure/moved || fail "denied MS_MOVE moved the mount"

# Monitor mode: a bind mount is reported and happens.
expect OK /krsi/bin/try_mount mount $W/src $W/open/b - bind
ev=$(wait_event ".action == \"would_deny\" and .rule == \"bind-trial\"")
echo "$ev" | jq -e ".hook == \"sb_mount\" and .mount.source == \"$W/src\" and .mount.target == \"$W/open/b\" and
  .mount.flags == [\"bind\"]" >/dev/null || fail "bind would_deny event wrong: $ev"
[ -e $W/open/b/file ] || fail "monitor-mode bind mount not done"

# move_mount(2): denied into the prefix, allowed elsewhere.
expect EPERM /krsi/bin/try_mount move $W/open/t2 $W/secure/m3
ev=$(wait_event ".action == \"deny\" and .rule == \"no-move-mount-into-secure\"")
log "$ev"
echo "$ev" | jq -e ".event == \"mount\" and .hook == \"move_mount\" and .mount.source == \"$W/open/t2\" and
  .mount.target == \"$W/secure/m3\" and .mount.fstype == \"tmpfs\" and .mount.flags == [\"move\"]" >/dev/null ||
	fail "move_mount deny event wrong: $ev"
! mounted $W/secure/m3 || fail "denied move_mount moved the mount"
expect OK /krsi/bin/try_mount move $W/open/t2 $W/open/m4
mounted $W/open/m4 || fail "move_mount to $W/open/m4 did not happen"
no_event ".mount.target == \"$W/open/m4\""

st=$(/krsi/bin/krsi status --json)
echo "$st" | jq -e '([.rules[] | select(.rule == "no-tmpfs-in-secure")][0].denies == 1) and
  ([.rules[] | select(.rule == "no-move-mount-into-secure")][0].denies == 1) and
  ([.rules[] | select(.rule == "bind-trial")][0].would_denies == 1)' >/dev/null ||
	fail "counters wrong: $st"
stop_agent

# Detached: the denied calls work.
expect OK /krsi/bin/try_mount mount tmpfs $W/secure/t1 tmpfs nosuid,nodev
expect OK /krsi/bin/try_mount move $W/open/m4 $W/secure/m3
mounted $W/secure/m3 || fail "move_mount without agent did not happen"

# The shipped example (policies/examples/mount.yaml) loads: hiding a process
# by bind-mounting an empty directory over /proc/PID is refused, so is tmpfs
# over /usr; other mounts and a move_mount are reported.
sleep 120 &
HIDE=$!
mkdir -p $W/empty $W/open/t5 $W/open/t6 /usr/share/krsi-mount-test
start_agent --policy /krsi/policies/examples/mount.yaml --require-enforcement
mark_events
expect EPERM /krsi/bin/try_mount mount $W/empty /proc/$HIDE - bind
ev=$(wait_event ".action == \"deny\" and .rule == \"no-proc-pid-hiding\"")
log "$ev"
echo "$ev" | jq -e ".mount.target == \"/proc/$HIDE\" and .mount.flags == [\"bind\"] and .mount.source == \"$W/empty\"" \
	>/dev/null || fail "proc hiding event wrong: $ev"
[ -e /proc/$HIDE/status ] || fail "process $HIDE hidden"
expect EPERM /krsi/bin/try_mount mount tmpfs /usr/share/krsi-mount-test tmpfs
wait_event '.action == "deny" and .rule == "no-tmpfs-over-system-dirs" and .mount.target == "/usr/share/krsi-mount-test"' >/dev/null
expect OK /krsi/bin/try_mount mount tmpfs $W/open/t5 tmpfs
wait_event ".action == \"audit\" and .rule == \"mount-audit\" and .mount.target == \"$W/open/t5\"" >/dev/null
expect OK /krsi/bin/try_mount move $W/open/t5 $W/open/t6
wait_event ".action == \"audit\" and .rule == \"move-mount-audit\" and .mount.target == \"$W/open/t6\" and .mount.source == \"$W/open/t5\"" >/dev/null
stop_agent
