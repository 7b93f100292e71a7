#!/bin/sh
# `krsi status` reports the kernel's per-rule counters over the root-only
# socket, and editing the policy file reloads it without a signal: a good
# edit applies, a broken one is rejected and the old policy keeps enforcing.
set -eu
. /krsi/lib.sh

cp /krsi/bin/true /tmp/x
cp /krsi/bin/true /tmp/y
policy=/tmp/watched.yaml
printf 'rules:\n  - {name: deny-x, hook: exec, action: deny, match: {file.path: /tmp/x}}\n' >$policy
start_agent --policy $policy
expect_exec_errno EPERM /tmp/x
expect_exec_errno EPERM /tmp/x

st=$(/krsi/bin/krsi status --json)
log "$st"
echo "$st" | jq -e '.backend == "bpf-lsm" and .enforcing == true and .policy == "/tmp/watched.yaml" and
  ([.rules[] | select(.rule == "deny-x")][0] | .denies == 2 and .hits == 2)' >/dev/null ||
	fail "status counters wrong: $st"
table=$(/krsi/bin/krsi status)
assert_contains "$table" "deny-x" "status table"
[ "$(stat -c %a /run/krsi/krsi.sock)" = 600 ] || fail "status socket is not 0600"
[ "$(stat -c %a /run/krsi)" = 700 ] || fail "status directory is not 0700"

# Replace the file the way editors do (write elsewhere, rename over it).
mark_events
printf 'rules:\n  - {name: deny-y, hook: exec, action: deny, match: {file.path: /tmp/y}}\n' >/tmp/new.yaml
mv /tmp/new.yaml $policy
wait_event '.event == "policy_loaded" and .changes.added == ["deny-y"]' >/dev/null
expect_exec_errno OK /tmp/x
expect_exec_errno EPERM /tmp/y

# A broken edit in place: rejected, deny-y still enforced.
mark_events
printf 'rules:\n  - {name: deny-y, hook: exec, action: deny, match: {file.path: relative}}\n' >$policy
ev=$(wait_event '.event == "policy_rejected"')
echo "$ev" | jq -e '.error | test("watched.yaml:2:[0-9]+: path `relative` must be absolute")' >/dev/null ||
	fail "rejection wrong: $ev"
expect_exec_errno EPERM /tmp/y

# Counters survive reloads (retired policies are folded into the totals).
st=$(/krsi/bin/krsi status --json)
echo "$st" | jq -e '([.rules[] | select(.rule == "deny-x")][0].denies == 2) and
  ([.rules[] | select(.rule == "deny-y")][0].denies == 2)' >/dev/null || fail "counters after reload wrong: $st"
stop_agent
[ ! -e /run/krsi/krsi.sock ] || fail "status socket left behind"
