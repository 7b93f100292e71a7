#!/bin/sh
# Monitor mode: a deny rule is reported as would_deny and the exec goes
# ahead; a rule's own `mode: enforce` overrides the policy's monitor mode.
# Lists and severity/tags reach the event.
set -eu
. /krsi/lib.sh

cp /krsi/bin/true /tmp/trial
cp /krsi/bin/true /tmp/hard
cat >/tmp/monitor.yaml <<'P'
mode: monitor
lists:
  trial_bins: [/tmp/trial]
rules:
  - name: trial-deny
    hook: exec
    action: deny
    match: {file.path: {in: trial_bins}}
    severity: medium
    tags: [rollout, T1059]
  - name: hard-deny
    hook: exec
    action: deny
    mode: enforce
    match: {file.path: /tmp/hard}
P
start_agent --policy /tmp/monitor.yaml

expect_exec_errno OK /tmp/trial monitored
ev=$(wait_event '.event == "exec" and .filename == "/tmp/trial"')
log "$ev"
echo "$ev" | jq -e '.action == "would_deny" and .rule == "trial-deny" and
  .backend == "bpf-lsm" and .hook == "bprm_committed_creds" and
  .severity == "medium" and .tags == ["rollout", "T1059"] and
  .argv == ["/tmp/trial", "monitored"]' >/dev/null || fail "would_deny event wrong: $ev"

expect_exec_errno EPERM /tmp/hard
wait_event '.event == "exec" and .action == "deny" and .rule == "hard-deny"' >/dev/null
no_event '.action == "deny" and .rule == "trial-deny"'
stop_agent
