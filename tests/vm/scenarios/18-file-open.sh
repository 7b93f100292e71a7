#!/bin/sh
# file_open rules, enforced by lsm/file_open: a path-prefix rule with an
# open-flags condition, a longer prefix nested in it (the trie's longest
# match still sees the outer rule), a file denied by identity (hard links
# and renames included), monitor mode, and no events for unrelated opens.
set -eu
. /krsi/lib.sh

# Paths live in this scenario's own work directory.
W=$KRSI_WORK
mkdir -p $W/conf/sub $W/trial
echo a >$W/conf/app.conf
echo b >$W/conf/sub/x
echo s >$W/secret
echo o >$W/other
echo t >$W/trial/f
ln $W/secret $W/secret-link
cat >$W/open.yaml <<P
rules:
  - name: conf-writes
    hook: file_open
    action: deny
    match: {file.path: {prefix: $W/conf/}, file.flags: {contains: [write, append]}}
    severity: high
  - name: conf-sub-reads
    hook: open
    action: audit
    match: {file.path: {prefix: $W/conf/sub/}}
  - name: secret
    hook: open
    action: deny
    match: {file.path: $W/secret}
  - name: trial
    hook: open
    action: deny
    mode: monitor
    match: {file.path: {prefix: $W/trial/}}
P
start_agent --policy $W/open.yaml

expect OK /krsi/bin/try_open $W/conf/app.conf r
expect EPERM /krsi/bin/try_open $W/conf/app.conf w
expect EPERM /krsi/bin/try_open $W/conf/app.conf a
ev=$(wait_event ".event == \"open\" and .action == \"deny\" and .path == \"$W/conf/app.conf\"")
log "$ev"
echo "$ev" | jq -e '.hook == "file_open" and .backend == "bpf-lsm" and .rule == "conf-writes" and
  .severity == "high" and .flags == ["write"] and .process.comm == "try_open" and
  .process.exe == "/krsi/bin/try_open"' >/dev/null || fail "open deny event wrong: $ev"

# Nested prefix: reads are audited by the inner rule, writes denied by the outer one.
expect OK /krsi/bin/try_open $W/conf/sub/x r
wait_event ".event == \"open\" and .action == \"audit\" and .rule == \"conf-sub-reads\" and .path == \"$W/conf/sub/x\" and .flags == [\"read\"]" >/dev/null
expect EPERM /krsi/bin/try_open $W/conf/sub/x rw
wait_event ".action == \"deny\" and .rule == \"conf-writes\" and .path == \"$W/conf/sub/x\" and .flags == [\"read\", \"write\"]" >/dev/null

# Identity: the file itself, under any name.
expect EPERM /krsi/bin/try_open $W/secret r
expect EPERM /krsi/bin/try_open $W/secret-link r
mv $W/secret $W/moved-secret
expect EPERM /krsi/bin/try_open $W/moved-secret r
wait_event ".action == \"deny\" and .rule == \"secret\" and .path == \"$W/moved-secret\"" >/dev/null

# Monitor mode: reported, allowed.
expect OK /krsi/bin/try_open $W/trial/f w
wait_event ".action == \"would_deny\" and .rule == \"trial\" and .path == \"$W/trial/f\"" >/dev/null

# Unrelated opens (including creating a file next to the rules) are silent.
expect OK /krsi/bin/try_open $W/other rw
expect OK /krsi/bin/try_open $W/new-file c
no_event ".event == \"open\" and (.path == \"$W/other\" or .path == \"$W/new-file\")"

st=$(/krsi/bin/krsi status --json)
echo "$st" | jq -e '([.rules[] | select(.rule == "conf-writes")][0].denies == 3) and
  ([.rules[] | select(.rule == "trial")][0].would_denies == 1)' >/dev/null || fail "counters wrong: $st"
stop_agent
expect OK /krsi/bin/try_open $W/conf/app.conf w
expect OK /krsi/bin/try_open $W/moved-secret r
