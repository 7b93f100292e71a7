#!/bin/sh
# 10,000 rules load without a program reload (they are map entries), the
# first and the last are both enforced, other programs run, and a reload of
# the whole set is atomic and timed.
set -eu
. /krsi/lib.sh

N=10000
mkdir -p /tmp/many
policy=/tmp/many.yaml
t0=$(date +%s)
{
	echo "rules:"
	i=0
	while [ $i -lt $N ]; do
		f=/tmp/many/f$i
		: >"$f"
		echo "  - {name: r$i, hook: exec, action: deny, match: {file.path: $f}}"
		i=$((i + 1))
	done
} >$policy
rm -f /tmp/many/f0 /tmp/many/f$((N - 1))
cp /krsi/bin/true /tmp/many/f0
cp /krsi/bin/true /tmp/many/f$((N - 1))
cp /krsi/bin/true /tmp/free
log "generated $N rules in $(($(date +%s) - t0))s"

start_agent --policy $policy --no-watch
ev=$(wait_event '.event == "agent_started"')
echo "$ev" | jq -e ".rules == $N and .identities == $N" >/dev/null || fail "not all rules loaded: $ev"
expect_exec_errno EPERM /tmp/many/f0
expect_exec_errno EPERM /tmp/many/f$((N - 1))
expect_exec_errno OK /tmp/free
wait_event ".action == \"deny\" and .rule == \"r$((N - 1))\"" >/dev/null

# Reload the same 10,000 rules: timed from SIGHUP to policy_loaded.
mark_events
s=$(cut -d' ' -f1 /proc/uptime)
kill -HUP "$AGENT_PID"
wait_event '.event == "policy_loaded"' 60 >/dev/null
e=$(cut -d' ' -f1 /proc/uptime)
log "reload of $N rules took $(echo "$s $e" | awk '{printf "%.2f", $2 - $1}')s (TCG)"
expect_exec_errno EPERM /tmp/many/f$((N - 1))
expect_exec_errno OK /tmp/free
stop_agent
