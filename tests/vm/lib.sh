# Helpers for krsi VM scenarios (busybox ash; safe under `set -eu`).
# Use: `. /krsi/lib.sh` at the top of a scenario. See tests/vm/README.md.
# Diagnostics (fail, skip, events_tail) go to stderr so they stay visible when
# a helper runs inside $(...).

# Set by init per scenario; defaults let a scenario run by hand too.
: "${EVENTS:=/tmp/krsi-events.json}"
: "${KRSI:=/krsi/bin/krsi}"
: "${TRY_EXEC:=/krsi/bin/try_exec}"
: "${AGENT_START_TIMEOUT:=60}"
: "${AGENT_STOP_TIMEOUT:=30}"
AGENT_ERR=${AGENT_ERR:-${EVENTS%.json}.agent.stderr}
AGENT_PID=
AGENT_WHY=
# Line number of $EVENTS after which event matching starts (see mark_events).
EVENTS_FROM=0

log() { echo "[$(cut -d' ' -f1 /proc/uptime)] $*"; }

# fail MSG: print the reason (plus the agent's stderr tail) and exit 1.
fail() {
	{
		echo "FAIL: $*"
		if [ -s "$AGENT_ERR" ]; then
			echo "--- agent stderr (last 20 lines) ---"
			tail -n 20 "$AGENT_ERR"
		fi
	} >&2
	exit 1
}

# skip MSG: the scenario cannot run here (exit 77).
skip() {
	echo "SKIP: $*" >&2
	exit 77
}

# require_lsm NAME: skip unless NAME is an active LSM.
require_lsm() {
	grep -qw "$1" /sys/kernel/security/lsm 2>/dev/null ||
		skip "LSM $1 not active ($(cat /sys/kernel/security/lsm 2>/dev/null))"
}

# _alive PID: running and not a zombie (kill -0 succeeds on zombies).
_alive() {
	[ -r "/proc/$1/stat" ] || return 1
	! grep -q '^[0-9]* ([^)]*) Z' "/proc/$1/stat" 2>/dev/null
}

# _check_filter FILTER: fail now on a jq syntax error instead of timing out.
_check_filter() {
	_err=$(jq -n "if false then select($1) else empty end" 2>&1) ||
		fail "bad jq filter '$1': $_err"
}

# _match FILTER: matching events after the mark, one compact JSON per line.
# Partial last lines are skipped (fromjson?), runtime errors count as no match.
_match() {
	[ -e "$EVENTS" ] || return 0
	# Every poll is an exec the agent may audit: skip `tail` when unmarked.
	if [ "$EVENTS_FROM" = 0 ]; then
		jq -cR "fromjson? | select(try ($1) catch false)" "$EVENTS" 2>/dev/null || true
	else
		tail -n "+$((EVENTS_FROM + 1))" "$EVENTS" |
			jq -cR "fromjson? | select(try ($1) catch false)" 2>/dev/null || true
	fi
}

# mark_events: later wait_event/no_event/count_events only see newer events.
mark_events() {
	if [ -e "$EVENTS" ]; then
		EVENTS_FROM=$(wc -l <"$EVENTS")
	else
		EVENTS_FROM=0
	fi
}

# events_tail [N]: last N (default 20) events, for diagnostics.
events_tail() {
	{
		echo "--- last ${1:-20} events of $EVENTS ---"
		tail -n "${1:-20}" "$EVENTS" 2>/dev/null || echo "(no events file)"
	} >&2
}

# start_agent ARGS...: run `krsi run --output $EVENTS ARGS` in the background
# and wait until it reports agent_started. Fails with its stderr otherwise.
start_agent() {
	try_start_agent "$@" || fail "$AGENT_WHY"
}

# try_start_agent ARGS...: like start_agent but returns 1 (reason in
# $AGENT_WHY, agent stopped) instead of failing the scenario.
try_start_agent() {
	[ -z "$AGENT_PID" ] || fail "start_agent: agent already running (pid $AGENT_PID)"
	: >"$EVENTS"
	: >"$AGENT_ERR"
	EVENTS_FROM=0
	AGENT_WHY=
	"$KRSI" run --output "$EVENTS" "$@" </dev/null 2>"$AGENT_ERR" &
	AGENT_PID=$!
	_n=0
	while [ -z "$(_match '.event == "agent_started"' | head -n 1)" ]; do
		if ! _alive "$AGENT_PID"; then
			_rc=0
			wait "$AGENT_PID" || _rc=$?
			AGENT_PID=
			AGENT_WHY="agent exited with status $_rc before agent_started (krsi run $*)"
			return 1
		fi
		_n=$((_n + 1))
		if [ "$_n" -gt $((AGENT_START_TIMEOUT * 10)) ]; then
			kill -KILL "$AGENT_PID" 2>/dev/null || true
			wait "$AGENT_PID" 2>/dev/null || true
			AGENT_PID=
			AGENT_WHY="agent not started after ${AGENT_START_TIMEOUT}s (krsi run $*)"
			return 1
		fi
		sleep 0.1
	done
	log "agent started (pid $AGENT_PID)"
}

# stop_agent [SIGNAL]: signal the agent (default TERM), wait for it to exit
# and return its exit status (under set -e use `stop_agent || rc=$?`).
stop_agent() {
	[ -n "$AGENT_PID" ] || fail "stop_agent: no agent running"
	kill -s "${1:-TERM}" "$AGENT_PID" 2>/dev/null || true
	_n=0
	while _alive "$AGENT_PID"; do
		_n=$((_n + 1))
		if [ "$_n" -gt $((AGENT_STOP_TIMEOUT * 10)) ]; then
			kill -KILL "$AGENT_PID" 2>/dev/null || true
			AGENT_PID=
			fail "agent still running ${AGENT_STOP_TIMEOUT}s after SIG${1:-TERM}"
		fi
		sleep 0.1
	done
	_rc=0
	wait "$AGENT_PID" || _rc=$?
	AGENT_PID=
	return "$_rc"
}

# agent_backend: the backend the running agent reported ("bpf-lsm", ...).
agent_backend() {
	_match '.event == "agent_started"' | head -n 1 | jq -r '.backend // "unknown"'
}

# agent_running: true while the agent started by start_agent is alive.
agent_running() {
	[ -n "$AGENT_PID" ] && _alive "$AGENT_PID"
}

# wait_event JQ_FILTER [TIMEOUT_S=10]: wait until an event matches; print it.
wait_event() {
	_check_filter "$1"
	_n=0
	while :; do
		_line=$(_match "$1" | head -n 1)
		if [ -n "$_line" ]; then
			echo "$_line"
			return 0
		fi
		_n=$((_n + 1))
		[ "$_n" -le $((${2:-10} * 5)) ] || break
		sleep 0.2
	done
	events_tail
	fail "no event matching '$1' within ${2:-10}s"
}

# no_event JQ_FILTER [SETTLE_S=0]: after SETTLE_S seconds, assert that no
# event matches. Prefer waiting for a later event first (events are ordered).
no_event() {
	_check_filter "$1"
	[ "${2:-0}" = 0 ] || sleep "$2"
	_line=$(_match "$1" | head -n 1)
	[ -z "$_line" ] || fail "unexpected event matching '$1': $_line"
}

# count_events JQ_FILTER: number of matching events.
count_events() {
	_check_filter "$1"
	_match "$1" | wc -l
}

# expect ERRNO|OK|KILLED PROG [ARGS]: run PROG (a try_* program); assert it
# failed with errno=ERRNO (its errno line), succeeded, or died of SIGKILL.
# Its output is left in $OUT.
expect() {
	_want=$1
	shift
	_rc=0
	OUT=$("$@" 2>&1) || _rc=$?
	_got=OK
	[ "$_rc" = 0 ] || _got=$(printf '%s\n' "$OUT" | sed -n 's/^errno=\([A-Z0-9]*\).*/\1/p' | head -n 1)
	[ "$_rc" = 137 ] && _got=KILLED
	[ "$_got" = "$_want" ] || fail "$*: expected $_want, got ${_got:-rc=$_rc} ($OUT)"
	log "$* -> $_got${OUT:+ ($OUT)}"
}

# expect_exec_errno ERRNO|OK PROGRAM [ARGS...]: exec PROGRAM through try_exec
# and assert the execve failed with ERRNO (e.g. EPERM, EACCES), or succeeded
# for OK. Prints the program's output; returns 0 on the expected outcome.
expect_exec_errno() {
	_want=$1
	shift
	_rc=0
	_out=$("$TRY_EXEC" "$@" 2>&1) || _rc=$?
	_got=OK
	if [ "$_rc" = 126 ]; then
		_got=$(printf '%s\n' "$_out" | sed -n 's/^errno=\([A-Z0-9]*\).*/\1/p' | head -n 1)
		_got=${_got:-OK}
	fi
	[ -z "$_out" ] || printf '%s\n' "$_out"
	[ "$_got" = "$_want" ] ||
		fail "exec $*: expected $_want, got $_got (rc=$_rc)"
}

# assert_eq EXPECTED ACTUAL [WHAT]
assert_eq() {
	[ "$1" = "$2" ] || fail "${3:-value}: expected '$1', got '$2'"
}

# assert_contains HAYSTACK NEEDLE [WHAT]
assert_contains() {
	case "$1" in
	*"$2"*) ;;
	*) fail "${3:-output} does not contain '$2': $1" ;;
	esac
}

# Kernel modules packed from tests/vm/modules.txt (and loaded at boot).
# ko NAME: the absolute path of NAME.ko.
ko() {
	_p=$(find "/lib/modules/$(uname -r)/" -name "$1.ko" | head -n 1)
	[ -n "$_p" ] || fail "$1.ko not in /lib/modules/$(uname -r) (tests/vm/modules.txt)"
	readlink -f "$_p"
}

# loaded NAME: the module is loaded (NAME as /proc/modules spells it).
loaded() { grep -q "^$1 " /proc/modules; }

# unload NAME: rmmod it when it is loaded.
unload() { ! loaded "$1" || rmmod "$1" || fail "rmmod $1"; }

# expect_module ERRNO|OK finit|init PATH: load a module through try_module.
expect_module() {
	_want=$1
	shift
	expect "$_want" /krsi/bin/try_module "$@"
}

# pack_modes POLICY FN ARGS_AUDIT ARGS_ENFORCE ARGS_MONITOR: a detection-pack
# policy in its three modes, FN (the scenario's cases) run in each with the
# words of its ARGS: as shipped (audit); with the one-line switch its header
# documents (`action: audit # enforce: X` -> `action: X`); and that under
# `mode: monitor`.
pack_modes() {
	_pm_policy=$1
	_pm_fn=$2
	sed 's/action: audit # enforce: \([a-z]*\)/action: \1/' "$_pm_policy" >"$KRSI_WORK/enforce.yaml"
	! grep -q 'action: audit # enforce:' "$KRSI_WORK/enforce.yaml" || fail "enforce switch did not apply"
	{ echo 'mode: monitor'; cat "$KRSI_WORK/enforce.yaml"; } >"$KRSI_WORK/monitor.yaml"
	start_agent --policy "$_pm_policy" --require-enforcement
	$_pm_fn $3
	stop_agent
	start_agent --policy "$KRSI_WORK/enforce.yaml" --require-enforcement
	$_pm_fn $4
	stop_agent
	start_agent --policy "$KRSI_WORK/monitor.yaml" --require-enforcement
	$_pm_fn $5
	stop_agent
}

# kernel_yama_off: the kernel's own Yama (if built in) at scope 0, so a
# scenario sees krsi's answer alone; kernel_yama_restore (call it from the
# scenario's EXIT trap) puts the old scope back. $SCOPE names the sysctl,
# $OLD_SCOPE holds the old value (empty without Yama).
kernel_yama_off() {
	SCOPE=/proc/sys/kernel/yama/ptrace_scope
	OLD_SCOPE=
	[ -e $SCOPE ] || return 0
	OLD_SCOPE=$(cat $SCOPE)
	echo 0 >$SCOPE
}
kernel_yama_restore() { [ -z "${OLD_SCOPE:-}" ] || echo "$OLD_SCOPE" >$SCOPE; }
