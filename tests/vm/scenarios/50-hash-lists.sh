#!/bin/sh
# krsi-timeout: 300
# Content lists (file.sha256): a deny list of known-vulnerable binaries whose
# events carry the vulnerability id, and an allow list for a directory of
# applications. The digest is IMA's, computed in a sleepable program and
# cached per file until the file is opened for writing. Copies, hard links
# and renames of a denied binary are denied; a modified allowed binary is
# refused until it is hashed again and the list reloaded (live); monitor
# mode reports would_deny; a list of 5,000 digests loads and answers.
set -eu
. /krsi/lib.sh
require_lsm bpf

W=$KRSI_WORK
mkdir -p $W/vuln $W/apps $W/other
cp /krsi/bin/true $W/vuln/pkexec-old
cp /krsi/bin/marker $W/apps/tool
cp /krsi/bin/true $W/apps/helper
cp /krsi/bin/marker $W/other/unlisted
BAD=$("$KRSI" hash $W/vuln/pkexec-old | cut -d'"' -f2)
TOOL=$("$KRSI" hash $W/apps/tool | cut -d'"' -f2)
[ ${#BAD} = 64 ] || fail "krsi hash printed '$BAD'"
log "digest of the vulnerable binary: $BAD"

# `krsi hash --list` prints a policy file of its own.
"$KRSI" hash --list allowed_apps $W/apps/tool >$W/allow.yaml
grep -q "\"$TOOL\": \"$W/apps/tool\"" $W/allow.yaml || fail "krsi hash --list: $(cat $W/allow.yaml)"

policy() { # MODE: the policy, with the allow list of $W/allow.yaml
	cat $W/allow.yaml
	cat <<P
  vulnerable:
    "$BAD": CVE-2099-0001 (demo privilege escalation)
$(i=0; while [ $i -lt 5000 ]; do printf '    "%064x": filler %d\n' $i $i; i=$((i + 1)); done)
mode: $1
rules:
  - name: known-vulnerable
    hook: exec
    action: deny
    message: known-vulnerable binary
    severity: high
    match: {file.sha256: {in: vulnerable}}
  - name: apps-allowlist
    hook: exec
    action: deny
    match:
      file.path: {prefix: $W/apps/}
      not: {file.sha256: {in: allowed_apps}}
P
}
policy enforce >$W/p.yaml
start_agent --policy $W/p.yaml

expect_exec_errno EPERM $W/vuln/pkexec-old
ev=$(wait_event ".rule == \"known-vulnerable\" and .file.sha256 == \"$BAD\"")
echo "$ev" | jq -e '.action == "deny" and .hook == "bprm_check_security" and
  .message == "known-vulnerable binary: CVE-2099-0001 (demo privilege escalation)"' >/dev/null ||
	fail "deny event wrong: $ev"

# The content is denied wherever it is: a copy, a hard link, a rename.
cp $W/vuln/pkexec-old $W/other/copy
ln $W/vuln/pkexec-old $W/other/link
expect_exec_errno EPERM $W/other/copy
expect_exec_errno EPERM $W/other/link
mv $W/vuln/pkexec-old $W/vuln/renamed
expect_exec_errno EPERM $W/vuln/renamed
wait_event ".rule == \"known-vulnerable\" and .filename == \"$W/other/copy\"" >/dev/null
# Other programs run; so does the vulnerable one once patched (written:
# its cached digest is dropped, the new content hashed).
expect_exec_errno OK $W/other/unlisted $W/m0
printf 'patched' >>$W/vuln/renamed
expect_exec_errno OK $W/vuln/renamed

# The allow list: listed content runs, unlisted content under apps/ does not.
expect_exec_errno OK $W/apps/tool $W/m1
expect_exec_errno EPERM $W/apps/helper
wait_event ".rule == \"apps-allowlist\" and .filename == \"$W/apps/helper\" and (.file.sha256 | length) == 64" >/dev/null
# Modified: refused until hashed again (truncated, restored, appended to).
cp $W/apps/tool $W/tool.orig
truncate -s 100 $W/apps/tool
expect_exec_errno EPERM $W/apps/tool
cp $W/tool.orig $W/apps/tool
expect_exec_errno OK $W/apps/tool $W/m2
printf 'x' >>$W/apps/tool
expect_exec_errno EPERM $W/apps/tool
# ... and the list changes live: hash again, reload.
"$KRSI" hash --list allowed_apps $W/apps/tool >$W/allow.yaml
policy enforce >$W/p.yaml.new
mark_events
mv $W/p.yaml.new $W/p.yaml
kill -HUP "$AGENT_PID"
wait_event '.event == "policy_loaded"' 30 >/dev/null
expect_exec_errno OK $W/apps/tool $W/m3
no_event ".rule == \"apps-allowlist\" and .filename == \"$W/apps/tool\""

stop_agent
# Without the agent everything runs again.
expect_exec_errno OK $W/apps/helper

# Monitor mode: reported as would_deny, and the program runs.
policy monitor >$W/p.yaml
start_agent --policy $W/p.yaml
expect_exec_errno OK $W/other/copy
ev=$(wait_event ".rule == \"known-vulnerable\" and .action == \"would_deny\"")
echo "$ev" | jq -e ".file.sha256 == \"$BAD\"" >/dev/null || fail "would_deny event wrong: $ev"
stop_agent
log "hash lists ok"
