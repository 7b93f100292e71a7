#!/bin/sh
# A deny rule is enforced by the kernel: the exec fails with EPERM and a deny
# event is emitted. The match is on the file's identity, so a hard link or a
# rename of the denied file is denied too; other programs run; after SIGTERM
# the deny is gone.
set -eu
. /krsi/lib.sh

cp /krsi/bin/true /tmp/victim
cp /krsi/bin/true /tmp/bystander
cat >/tmp/deny.yaml <<'P'
rules:
  - name: exec-audit
    hook: bprm_check_security
    action: audit
  - name: no-victim
    hook: bprm_check_security
    action: deny
    match:
      file.path: [/tmp/victim]
    message: victim must not run
P
start_agent --policy /tmp/deny.yaml

expect_exec_errno EPERM /tmp/victim deny-arg-1 "deny arg 2"
ev=$(wait_event '.event == "exec" and .action == "deny" and .filename == "/tmp/victim"')
log "$ev"
echo "$ev" | jq -e '
  .rule == "no-victim" and .message == "victim must not run" and
  .hook == "bprm_check_security" and .backend == "bpf-lsm" and
  .argv == ["/tmp/victim", "deny-arg-1", "deny arg 2"] and
  .process.exe == "/krsi/bin/try_exec" and .process.comm == "try_exec"
' >/dev/null || fail "deny event fields wrong: $ev"

# Same inode under another name: hard link, then rename.
ln /tmp/victim /tmp/alias
expect_exec_errno EPERM /tmp/alias
wait_event '.action == "deny" and .filename == "/tmp/alias" and .rule == "no-victim"' >/dev/null
mv /tmp/victim /tmp/renamed
expect_exec_errno EPERM /tmp/renamed
wait_event '.action == "deny" and .filename == "/tmp/renamed"' >/dev/null

# Through a relative path and execveat-style callers (busybox sh uses execve).
cd /tmp && expect_exec_errno EPERM ./alias && cd /

# Unrelated programs still run, and are audited, not denied.
expect_exec_errno OK /tmp/bystander
wait_event '.action == "audit" and .filename == "/tmp/bystander"' >/dev/null
no_event '.action == "deny" and .filename == "/tmp/bystander"'

rc=0
stop_agent || rc=$?
assert_eq 0 "$rc" "agent exit status after SIGTERM"
wait_event '.event == "agent_stopped" and ([.rules[] | select(.rule == "no-victim" and .denies == 4)] | length) == 1' >/dev/null

# Detached: the same file runs again.
expect_exec_errno OK /tmp/alias
expect_exec_errno OK /tmp/renamed
