#!/bin/sh
# krsi-timeout: 1500
# Exec latency (fork + execve + waitpid of a tiny static program) under:
#   none     no agent
#   audit    krsi with its embedded default policy (audits every exec)
#   deny1k   krsi with a 1,000-path deny list (the exec'd program is not on it)
#   hash     krsi with a 1,000-digest deny list (file.sha256; the digest of
#            the program is computed once, then found in the cache)
#   hashnc   the same, the cache switched off: IMA hashes the program at
#            every exec (what an in-kernel hash without a cache costs)
#   env      policies/detect/suspicious-env.yaml (the environment walked at
#            every exec, names hashed for duplicates)
#   auditd   auditd with `-a always,exit -F arch=b64 -S execve`
# RUNS (default 2000) timed execs per configuration, taken in ROUNDS (4)
# interleaved blocks (none, audit, deny1k, auditd, none, ...) each after a
# short warm-up, so host-load drift under TCG hits every configuration alike.
# Prints one table: p50/p90/p99/mean/min in microseconds and ratios to none.
# Under TCG on a loaded host the percentiles carry scheduling noise; min is
# the steadiest estimate of the per-exec cost each configuration adds.
set -eu
. /krsi/lib.sh

RUNS=${RUNS:-2000}
ROUNDS=${ROUNDS:-4}
WARMUP=${WARMUP:-50}
BLOCK=$((RUNS / ROUNDS))
PROG=/krsi/bin/true
W=$KRSI_WORK
CONFIGS="none audit deny1k hash hashnc env auditd"

# block NAME: one timed block; samples accumulate in $W/NAME.samples.
block() {
	_out=$(/krsi/bin/exec_bench -n "$BLOCK" -w "$WARMUP" -o "$W/$1.samples" "$PROG") ||
		fail "exec_bench failed under $1: $_out"
	log "$1 round $round: $_out"
}

# unavailable NAME WHY: the configuration cannot be measured (kept once).
unavailable() {
	[ -e "$W/$1.why" ] || log "$1: not measured: $2"
	[ -e "$W/$1.why" ] || echo "$2" >"$W/$1.why"
}

# note NAME TEXT: remark printed beside NAME's figures (kept once).
note() {
	[ -e "$W/$1.note" ] || echo "$2" >"$W/$1.note"
}

# The 1,000-entry deny list: scripts under /tmp/deny and a policy naming them.
mkdir -p /tmp/deny
policy=$W/deny1k.yaml
{
	echo "rules:"
	echo "  - name: deny-list"
	echo "    hook: bprm_check_security"
	echo "    action: deny"
	echo "    match:"
	echo "      file.path:"
	i=0
	while [ "$i" -lt 1000 ]; do
		f=$(printf '/tmp/deny/f%04d' "$i")
		printf '#!/bin/sh\nexit 0\n' >"$f"
		chmod 755 "$f"
		echo "        - $f"
		i=$((i + 1))
	done
} >"$policy"

# The 1,000-digest deny list (none is the program's).
hpolicy=$W/hash1k.yaml
{
	echo "rules:"
	echo "  - name: digest-deny-list"
	echo "    hook: exec"
	echo "    action: deny"
	echo "    match:"
	echo "      file.sha256:"
	i=0
	while [ "$i" -lt 1000 ]; do
		printf '        - "%064x"\n' "$((i + 1))"
		i=$((i + 1))
	done
} >"$hpolicy"
cp $PROG $W/denied-copy
printf 'x' >>$W/denied-copy
echo "        - \"$("$KRSI" hash $W/denied-copy | cut -d'"' -f2)\"" >>"$hpolicy"

# krsi_block NAME POLICY: one block under the agent with POLICY.
krsi_block() {
	[ ! -e "$W/$1.why" ] || return 0
	if try_start_agent --policy "$2"; then
		case "$1:$(/krsi/bin/try_exec $W/denied-copy 2>&1 || true)" in
		hash*:errno=EPERM* | env:*) note "$1" "backend=$(agent_backend)" ;;
		*) note "$1" "backend=$(agent_backend) NOT-ENFORCED(the listed copy ran)" ;;
		esac
		block "$1"
		stop_agent || log "agent exit status $?"
	else
		unavailable "$1" "$AGENT_WHY"
	fi
}

# auditd logging to /tmp like a default install logs to /var/log/audit.
mkdir -p /tmp/audit /var/log/audit /var/run /etc/audit/plugins.d
cat >/tmp/audit/auditd.conf <<CONF
local_events = yes
write_logs = yes
log_file = /tmp/audit/audit.log
log_format = ENRICHED
flush = INCREMENTAL_ASYNC
freq = 50
max_log_file = 1024
max_log_file_action = IGNORE
space_left = 2
space_left_action = IGNORE
admin_space_left = 1
admin_space_left_action = IGNORE
disk_full_action = IGNORE
disk_error_action = IGNORE
plugin_dir = /etc/audit/plugins.d
CONF
chmod 640 /tmp/audit/auditd.conf

# start_auditd: start auditd and add the execve rule; returns 1 on failure.
start_auditd() {
	command -v auditd >/dev/null && command -v auditctl >/dev/null || {
		unavailable auditd "auditd not in this image (run with --bench)"
		return 1
	}
	# -n: foreground (we own its pid) but logging to the file as installed;
	# -f would send every record to stderr instead.
	auditd -n -c /tmp/audit >>"$W/auditd.out" 2>&1 &
	auditd_pid=$!
	_n=0
	until auditctl -s 2>/dev/null | grep -q "^pid $auditd_pid\$"; do
		_n=$((_n + 1))
		if [ "$_n" -gt 100 ] || ! _alive "$auditd_pid"; then
			# -n reports config errors to syslog only; -f says why on stderr.
			timeout 3 auditd -f -c /tmp/audit 2>&1 | grep -iv parser | tail -n 5 >&2 || true
			kill "$auditd_pid" 2>/dev/null || true
			wait "$auditd_pid" 2>/dev/null || true
			unavailable auditd "auditd did not start"
			return 1
		fi
		sleep 0.1
	done
	auditctl -a always,exit -F arch=b64 -S execve >/dev/null
}

stop_auditd() {
	auditctl -D >/dev/null || true
	kill "$auditd_pid" 2>/dev/null || true
	wait "$auditd_pid" 2>/dev/null || true
}

round=1
while [ "$round" -le "$ROUNDS" ]; do
	block none

	if [ ! -e "$W/audit.why" ]; then
		if try_start_agent; then
			note audit "backend=$(agent_backend)"
			block audit
			stop_agent || log "agent exit status $?"
		else
			unavailable audit "$AGENT_WHY"
		fi
	fi

	if [ ! -e "$W/deny1k.why" ]; then
		if try_start_agent --policy "$policy"; then
			# Say so when the list is not enforced: the figure then measures
			# report-only matching, not denial.
			case "$(/krsi/bin/try_exec /tmp/deny/f0999 2>&1 || true)" in
			errno=EPERM*) note deny1k "backend=$(agent_backend)" ;;
			*) note deny1k "backend=$(agent_backend) NOT-ENFORCED(f0999 ran)" ;;
			esac
			block deny1k
			stop_agent || log "agent exit status $?"
		else
			unavailable deny1k "$AGENT_WHY"
		fi
	fi

	krsi_block hash "$hpolicy"
	export KRSI_BENCH_NO_HASH_CACHE=1
	krsi_block hashnc "$hpolicy"
	unset KRSI_BENCH_NO_HASH_CACHE
	krsi_block env /krsi/policies/detect/suspicious-env.yaml

	if [ ! -e "$W/auditd.why" ] && start_auditd; then
		block auditd
		stop_auditd
	fi
	round=$((round + 1))
done
if [ -e /tmp/audit/audit.log ]; then
	note auditd "$(grep -c 'type=EXECVE' /tmp/audit/audit.log || true) EXECVE records logged"
fi

echo
echo "exec latency: fork+execve+waitpid($PROG), $RUNS runs per config in $ROUNDS interleaved blocks, microseconds (TCG)"
printf "%-7s %8s %8s %8s %8s %8s  %-26s %s\n" config p50 p90 p99 mean min "x none: p50 p99 mean min" notes
for c in $CONFIGS; do
	if [ -e "$W/$c.why" ] || [ ! -s "$W/$c.samples" ]; then
		echo "$c - - - - - n/a: $(cat "$W/$c.why" 2>/dev/null || echo 'no samples')"
		continue
	fi
	/krsi/bin/exec_bench -s "$W/$c.samples" | awk -v name="$c" -v note="$(cat "$W/$c.note" 2>/dev/null || true)" '
		{ for (i = 1; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] } }
		END { print name, v["p50_us"], v["p90_us"], v["p99_us"], v["mean_us"], v["min_us"], note }'
done | awk '
	$1 == "none" { b50 = $2; b99 = $4; bmean = $5; bmin = $6 }
	{
		note = $0; sub(/^[^ ]+ [^ ]+ [^ ]+ [^ ]+ [^ ]+ [^ ]+ ?/, "", note)
		if ($2 == "-" || b50 == "") {
			printf "%-7s %8s %8s %8s %8s %8s  %-26s %s\n", $1, $2, $3, $4, $5, $6, "-", note
			next
		}
		ratio = sprintf("x%.2f x%.2f x%.2f x%.3f", $2 / b50, $4 / b99, $5 / bmean, $6 / bmin)
		printf "%-7s %8.1f %8.1f %8.1f %8.1f %8.1f  %-26s %s\n", $1, $2, $3, $4, $5, $6, ratio, note
	}'
