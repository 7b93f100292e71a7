#!/bin/sh
# krsi-timeout: 1500
# file_open latency (open + close of one file, O_RDONLY) under:
#   none     no agent
#   rules0   krsi with its default policy: lsm/file_open attached, no open rules
#   rules100 krsi with 100 file_open rules (50 by identity, 50 by path prefix)
#   rules10k krsi with 10,000 file_open rules (5,000 by identity, 5,000 by prefix)
# The opened file matches no rule (the common case); prefix rules make every
# open resolve its path and look it up in the trie. Samples are the mean of
# 100 open+close pairs; ROUNDS interleaved blocks (none, rules0, ...) so
# host-load drift under TCG hits every configuration alike. Also times a
# reload of the 10,000-rule policy.
set -eu
. /krsi/lib.sh

RUNS=${RUNS:-400}
ROUNDS=${ROUNDS:-4}
BLOCK=$((RUNS / ROUNDS))
W=$KRSI_WORK
TARGET=$W/bench-file
echo data >"$TARGET"
CONFIGS="none rules0 rules100 rules10k"

# policy N FILE: N file_open rules, half identities and half prefixes.
policy() {
	mkdir -p "$W/p$1"
	{
		echo "rules:"
		i=0
		while [ "$i" -lt "$1" ]; do
			if [ $((i % 2)) = 0 ]; then
				: >"$W/p$1/f$i"
				echo "  - {name: r$i, hook: file_open, action: deny, match: {file.path: $W/p$1/f$i}}"
			else
				echo "  - {name: r$i, hook: file_open, action: deny, match: {file.path: {prefix: /srv/app$i/}}}"
			fi
			i=$((i + 1))
		done
	} >"$2"
}
policy 100 "$W/rules100.yaml"
policy 10000 "$W/rules10k.yaml"

block() {
	_out=$(/krsi/bin/open_bench -n "$BLOCK" -o "$W/$1.samples" "$TARGET") ||
		fail "open_bench failed under $1: $_out"
	log "$1 round $round: $_out"
}

round=1
while [ "$round" -le "$ROUNDS" ]; do
	block none
	start_agent
	block rules0
	stop_agent || true
	start_agent --policy "$W/rules100.yaml" --no-watch
	block rules100
	stop_agent || true
	start_agent --policy "$W/rules10k.yaml" --no-watch
	block rules10k
	if [ "$round" = 1 ]; then
		mark_events
		s=$(cut -d' ' -f1 /proc/uptime)
		kill -HUP "$AGENT_PID"
		wait_event '.event == "policy_loaded"' 120 >/dev/null
		e=$(cut -d' ' -f1 /proc/uptime)
		reload=$(echo "$s $e" | awk '{printf "%.2f", $2 - $1}')
	fi
	stop_agent || true
	round=$((round + 1))
done

echo
echo "file_open latency: open+close($TARGET, O_RDONLY), $RUNS samples of 100 per config in $ROUNDS interleaved blocks, microseconds (TCG)"
printf "%-9s %8s %8s %8s %8s %8s  %s\n" config p50 p90 p99 mean min "x none: p50 mean min"
for c in $CONFIGS; do
	/krsi/bin/open_bench -s "$W/$c.samples" | awk -v name="$c" '
		{ for (i = 1; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] } }
		END { print name, v["p50_us"], v["p90_us"], v["p99_us"], v["mean_us"], v["min_us"] }'
done | awk '
	$1 == "none" { b50 = $2; bmean = $5; bmin = $6 }
	{ printf "%-9s %8.2f %8.2f %8.2f %8.2f %8.2f  x%.2f x%.2f x%.2f\n", $1, $2, $3, $4, $5, $6, $2 / b50, $5 / bmean, $6 / bmin }'
echo "reload of the 10,000-rule file_open policy (SIGHUP to policy_loaded): ${reload}s (TCG)"
