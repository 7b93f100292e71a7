#!/bin/sh
# When the ring buffer is full, records are lost but counted: the agent
# reports a `lost` event and an exit summary, and every deny is still
# enforced and counted per rule in the kernel.
set -eu
. /krsi/lib.sh

cp /krsi/bin/true /tmp/denied
cat >/tmp/lost.yaml <<'P'
rules:
  - name: exec-audit
    hook: bprm_check_security
    action: audit
  - name: deny-it
    hook: bprm_check_security
    action: deny
    match: {file.path: [/tmp/denied]}
P
start_agent --policy /tmp/lost.yaml
# Stop the consumer; 8 MiB of 4200-byte records fills after ~2000 execs.
kill -STOP "$AGENT_PID"
/krsi/bin/exec_bench -n 2600 -w 0 /krsi/bin/true >/dev/null
i=0
denied=0
while [ $i -lt 25 ]; do
	out=$(/krsi/bin/try_exec /tmp/denied 2>&1) || true
	case "$out" in errno=EPERM*) denied=$((denied + 1)) ;; esac
	i=$((i + 1))
done
assert_eq 25 "$denied" "denied execs while the ring buffer is full"
kill -CONT "$AGENT_PID"
ev=$(wait_event '.event == "lost" and .count > 0' 20)
log "$ev"
stop_agent
ev=$(wait_event '.event == "agent_stopped"')
log "$ev"
echo "$ev" | jq -e '.events_lost > 0 and
  ([.rules[] | select(.rule == "deny-it")][0] | .denies == 25 and .dropped > 0)' >/dev/null ||
	fail "summary does not count lost records and denies: $ev"
