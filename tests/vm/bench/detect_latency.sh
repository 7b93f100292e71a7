#!/bin/sh
# krsi-timeout: 1500
# What the detection pack's items 1, 3 and 5 cost (policies/detect/):
#   exec latency (fork+execve+waitpid of /krsi/bin/true, which none of them
#   reports) with no agent, with fileless-exec.yaml, and with all three
#   (self-delete.yaml, proc-mem-write.yaml, fileless-exec.yaml: the open
#   rules run on the exec's own opens too);
#   file_open latency (open+close of a plain file, O_RDONLY, 100 per
#   sample) with no agent and with proc-mem-write.yaml (two unindexed
#   file_open clauses evaluated on every open).
# Configurations interleave in ROUNDS blocks, as in exec_latency.sh; one
# table per measurement with ratios to none (min is the steadiest under TCG).
set -eu
. /krsi/lib.sh

RUNS=${RUNS:-1000}
OPEN_RUNS=${OPEN_RUNS:-200}
ROUNDS=${ROUNDS:-4}
W=$KRSI_WORK
D=/krsi/policies/detect
TARGET=$W/bench-file
echo data >"$TARGET"
mkdir -p $W/all
cp $D/self-delete.yaml $D/proc-mem-write.yaml $D/fileless-exec.yaml $W/all/

exec_block() {
	_out=$(/krsi/bin/exec_bench -n $((RUNS / ROUNDS)) -w 50 -o "$W/exec-$1.samples" /krsi/bin/true) ||
		fail "exec_bench failed under $1: $_out"
	log "exec $1 round $round: $_out"
}
open_block() {
	_out=$(/krsi/bin/open_bench -n $((OPEN_RUNS / ROUNDS)) -o "$W/open-$1.samples" "$TARGET") ||
		fail "open_bench failed under $1: $_out"
	log "open $1 round $round: $_out"
}

round=1
while [ "$round" -le "$ROUNDS" ]; do
	exec_block none
	open_block none
	start_agent --policy $D/fileless-exec.yaml --no-watch --require-enforcement
	exec_block fileless
	stop_agent || true
	start_agent --policy $D/proc-mem-write.yaml --no-watch --require-enforcement
	open_block procmem
	stop_agent || true
	start_agent --policy $W/all --no-watch --require-enforcement
	exec_block all3
	stop_agent || true
	round=$((round + 1))
done

# table TOOL KIND CONFIGS...: percentiles and ratios to the first config.
table() {
	_tool=$1
	_kind=$2
	shift 2
	printf "%-9s %8s %8s %8s %8s %8s  %s\n" config p50 p90 p99 mean min "x none: p50 mean min"
	for c in "$@"; do
		/krsi/bin/$_tool -s "$W/$_kind-$c.samples" | awk -v name="$c" '
			{ for (i = 1; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] } }
			END { print name, v["p50_us"], v["p90_us"], v["p99_us"], v["mean_us"], v["min_us"] }'
	done | awk '
		NR == 1 { b50 = $2; bmean = $5; bmin = $6 }
		{ printf "%-9s %8.1f %8.1f %8.1f %8.1f %8.1f  x%.2f x%.2f x%.2f\n", $1, $2, $3, $4, $5, $6, $2 / b50, $5 / bmean, $6 / bmin }'
}

echo
echo "exec latency: fork+execve+waitpid(/krsi/bin/true), $RUNS runs per config in $ROUNDS interleaved blocks, microseconds (TCG)"
table exec_bench exec none fileless all3
echo
echo "file_open latency: open+close($TARGET), $OPEN_RUNS samples of 100 per config in $ROUNDS interleaved blocks, microseconds (TCG)"
table open_bench open none procmem
