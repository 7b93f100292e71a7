#!/bin/sh
# krsi-timeout: 240
# File creation rules: inode_create by parent-directory prefix (a dropped
# cron job) and by file.name in a list under a prefix (authorized_keys in a
# home), inode_mkdir by file.name equal (.ssh), inode_symlink by file.parent
# equal (the directory itself, not below it), and a monitor-mode rule
# (would_deny, the file is created). Creations elsewhere are silent; after
# the agent stops they are all allowed. Last, the shipped
# policies/examples/file-create.yaml loads and three of its rules are checked.
set -eu
. /krsi/lib.sh
require_lsm bpf

W=$KRSI_WORK
mkdir -p $W/etc/cron.d/sub $W/etc/other $W/home/alice $W/spool/sub
cat >$W/create.yaml <<P
lists:
  key_files: [authorized_keys, authorized_keys2]
rules:
  - name: no-cron-drop
    hook: inode_create
    action: deny
    match: {file.parent: {prefix: $W/etc/cron.d}}
    severity: high
  - name: no-home-keys
    hook: inode_create
    action: deny
    match: {file.parent: {prefix: $W/home/}, file.name: {in: key_files}}
  - name: no-ssh-dir
    hook: inode_mkdir
    action: deny
    match: {file.name: .ssh}
  - name: no-spool-symlinks
    hook: inode_symlink
    action: deny
    match: {file.parent: $W/spool}
  - name: hidden-files-trial
    hook: inode_create
    action: deny
    mode: monitor
    match: {file.parent: {prefix: $W}, file.name: {prefix: .hidden}}
P
start_agent --policy $W/create.yaml --require-enforcement

# inode_create, parent prefix: the directory and below it.
expect EPERM /krsi/bin/try_file create $W/etc/cron.d/job
ev=$(wait_event ".event == \"create\" and .action == \"deny\" and .file.name == \"job\"")
log "$ev"
echo "$ev" | jq -e ".hook == \"inode_create\" and .backend == \"bpf-lsm\" and .rule == \"no-cron-drop\" and
  .severity == \"high\" and .file.parent == \"$W/etc/cron.d\" and
  .process.comm == \"try_file\" and .process.exe == \"/krsi/bin/try_file\"" >/dev/null ||
	fail "create deny event wrong: $ev"
expect EPERM /krsi/bin/try_file create $W/etc/cron.d/sub/job2
wait_event ".rule == \"no-cron-drop\" and .file.parent == \"$W/etc/cron.d/sub\" and .file.name == \"job2\"" >/dev/null
[ ! -e $W/etc/cron.d/job ] || fail "denied create left a file"

# file.name in a list, only under the home prefix.
expect EPERM /krsi/bin/try_file create $W/home/alice/authorized_keys2
wait_event ".action == \"deny\" and .rule == \"no-home-keys\" and .file.parent == \"$W/home/alice\" and .file.name == \"authorized_keys2\"" >/dev/null
expect OK /krsi/bin/try_file create $W/etc/other/authorized_keys

# inode_mkdir by name.
expect EPERM /krsi/bin/try_file mkdir $W/home/alice/.ssh
ev=$(wait_event ".action == \"deny\" and .rule == \"no-ssh-dir\"")
echo "$ev" | jq -e ".event == \"create\" and .hook == \"inode_mkdir\" and .file.parent == \"$W/home/alice\" and
  .file.name == \".ssh\"" >/dev/null || fail "mkdir deny event wrong: $ev"
[ ! -d $W/home/alice/.ssh ] || fail "denied mkdir made the directory"
expect OK /krsi/bin/try_file mkdir $W/home/alice/.config

# inode_symlink: parent equal is the directory itself, not its subdirectories.
expect EPERM /krsi/bin/try_file symlink /etc/passwd $W/spool/link
ev=$(wait_event ".action == \"deny\" and .rule == \"no-spool-symlinks\"")
echo "$ev" | jq -e ".hook == \"inode_symlink\" and .file.parent == \"$W/spool\" and .file.name == \"link\"" \
	>/dev/null || fail "symlink deny event wrong: $ev"
[ ! -L $W/spool/link ] || fail "denied symlink exists"
expect OK /krsi/bin/try_file symlink /etc/passwd $W/spool/sub/link

# Monitor mode: reported as would_deny, and the file exists.
expect OK /krsi/bin/try_file create $W/.hidden-payload
ev=$(wait_event ".action == \"would_deny\" and .rule == \"hidden-files-trial\"")
echo "$ev" | jq -e ".hook == \"inode_create\" and .file.parent == \"$W\" and .file.name == \".hidden-payload\"" \
	>/dev/null || fail "monitor create event wrong: $ev"
[ -e $W/.hidden-payload ] || fail "monitor-mode create did not create the file"

# Bystanders: no event for creations no rule names.
expect OK /krsi/bin/try_file create $W/etc/other/conf
expect OK /krsi/bin/try_file mkdir $W/etc/other/dir
no_event ".file.parent == \"$W/etc/other\" or .file.parent == \"$W/spool/sub\" or .file.name == \".config\""

st=$(/krsi/bin/krsi status --json)
echo "$st" | jq -e '([.rules[] | select(.rule == "no-cron-drop")][0].denies == 2) and
  ([.rules[] | select(.rule == "hidden-files-trial")][0].would_denies == 1)' >/dev/null ||
	fail "counters wrong: $st"
stop_agent

expect OK /krsi/bin/try_file create $W/etc/cron.d/job
expect OK /krsi/bin/try_file mkdir $W/home/alice/.ssh
expect OK /krsi/bin/try_file symlink /etc/passwd $W/spool/link
expect OK /krsi/bin/try_file create $W/home/alice/authorized_keys2

# The shipped example (policies/examples/file-create.yaml) loads: it denies
# /etc/ld.so.preload, reports authorized_keys and hidden directories in /tmp
# (not the X11 socket directories).
mkdir -p /etc
[ ! -e /etc/ld.so.preload ] || fail "/etc/ld.so.preload exists before the test"
start_agent --policy /krsi/policies/examples/file-create.yaml --require-enforcement
mark_events
_rc=0
(expect EPERM /krsi/bin/try_file create /etc/ld.so.preload) || _rc=$?
rm -f /etc/ld.so.preload
[ "$_rc" = 0 ] || fail "creating /etc/ld.so.preload was not denied"
wait_event '.action == "deny" and .rule == "no-ld-preload-file" and .file.parent == "/etc" and .file.name == "ld.so.preload"' >/dev/null
expect OK /krsi/bin/try_file create $W/home/alice/authorized_keys
wait_event ".action == \"audit\" and .rule == \"authorized-keys-created\" and .file.parent == \"$W/home/alice\"" >/dev/null
expect OK /krsi/bin/try_file mkdir /tmp/.krsi-hidden
expect OK /krsi/bin/try_file mkdir /tmp/.X11-unix
rmdir /tmp/.krsi-hidden /tmp/.X11-unix
wait_event '.action == "audit" and .rule == "hidden-dir-in-tmp" and .file.parent == "/tmp" and .file.name == ".krsi-hidden"' >/dev/null
no_event '.file.name == ".X11-unix"'
stop_agent
