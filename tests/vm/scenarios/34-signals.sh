#!/bin/sh
# krsi-timeout: 240
# Signal rules (task_kill), decided by the kernel: a protected process
# (matched by target.exe) cannot be sent SIGTERM or SIGKILL by anyone but
# its supervisor (kill(2) fails with EPERM, the process lives on; the event
# has signal.number and the target's pid, comm and exe); other signals reach
# it (SIGUSR1 audited, SIGINT reported as would_deny by a monitor rule, and
# delivered); a second process is protected from SIGKILL by its comm; an
# unprotected process dies as usual; after the agent stops, the protected
# process can be killed. Then policies/examples/signals.yaml is loaded and
# one of its rules checked.
set -eu
. /krsi/lib.sh
require_lsm bpf

W=$KRSI_WORK
B=/krsi/bin
HOLDS=
# A failed run may leave the agent protecting the targets: stop it first.
cleanup() {
	if agent_running; then
		kill -KILL "$AGENT_PID" 2>/dev/null || true
		while _alive "$AGENT_PID"; do sleep 0.1; done
	fi
	for p in $HOLDS; do kill -KILL "$p" 2>/dev/null || true; done
}
trap cleanup EXIT

# start_hold NAME: run $W/NAME (a copy of hold) in the background, output in
# $W/NAME.out; its pid in $HOLD once it has set up its handlers.
start_hold() {
	"$W/$1" >"$W/$1.out" &
	HOLD=$!
	HOLDS="$HOLDS $HOLD"
	_n=0
	until grep -q '^ready' "$W/$1.out" 2>/dev/null; do
		_n=$((_n + 1))
		[ $_n -le 100 ] || fail "$1 did not start"
		sleep 0.1
	done
}

# delivered NAME SIG: NAME's hold printed "signal SIG" (within 5 s).
delivered() {
	_n=0
	until grep -q "^signal $2\$" "$W/$1.out"; do
		_n=$((_n + 1))
		[ $_n -le 50 ] || fail "signal $2 not delivered to $1: $(cat "$W/$1.out")"
		sleep 0.1
	done
}

# ended PID STATUS: PID (a child of this shell) exited with STATUS.
ended() {
	_rc=0
	wait "$1" || _rc=$?
	assert_eq "$2" "$_rc" "exit status of pid $1"
}

for n in guardian precious other; do cp $B/hold $W/$n; done
cp $B/try_kill $W/supervisor
cat >$W/signals.yaml <<P
rules:
  - name: protect-guardian
    hook: kill
    action: deny
    match:
      target.exe: $W/guardian
      signal.number: [9, 15]
      not: {process.exe: $W/supervisor}
    message: only the supervisor may stop the guardian
    severity: critical
  - name: protect-precious
    hook: task_kill
    action: deny
    match: {target.comm: precious, signal.number: 9}
  - name: sigint-trial
    hook: kill
    action: deny
    mode: monitor
    match: {target.exe: $W/guardian, signal.number: 2}
  - name: usr1-audit
    hook: kill
    action: audit
    match: {target.exe: $W/guardian, signal.number: 10}
P
start_hold guardian
G=$HOLD
start_hold precious
P=$HOLD
start_hold other
O=$HOLD
start_agent --policy $W/signals.yaml --require-enforcement

expect EPERM $B/try_kill $G 15
ev=$(wait_event '.event == "signal" and .action == "deny"')
log "$ev"
echo "$ev" | jq -e --arg w "$W" --argjson g "$G" '
  .hook == "task_kill" and .backend == "bpf-lsm" and .rule == "protect-guardian" and
  .message == "only the supervisor may stop the guardian" and .severity == "critical" and
  .signal.number == 15 and .target.pid == $g and .target.comm == "guardian" and
  .target.exe == ($w + "/guardian") and .target.uid == 0 and
  ((.target.exe_dev // .target.dev) | test("^[0-9]+:[0-9]+$")) and
  ((.target.exe_ino // .target.ino) | type) == "number" and
  .process.exe == "/krsi/bin/try_kill" and .process.comm == "try_kill"
' >/dev/null || fail "SIGTERM deny event wrong: $ev"
expect EPERM $B/try_kill $G 9
# Any sender: the shell's own kill builtin too.
if kill -TERM $G 2>/dev/null; then fail "the shell's SIGTERM to the guardian was not denied"; fi
wait_event ".event == \"signal\" and .action == \"deny\" and .signal.number == 15 and .process.pid == $$" >/dev/null
_alive $G || fail "guardian died"

# Other signals are delivered: SIGUSR1 audited, SIGINT reported by the monitor rule.
mark_events
expect OK $B/try_kill $G 10
delivered guardian 10
ev=$(wait_event '.event == "signal" and .rule == "usr1-audit"')
echo "$ev" | jq -e --argjson g "$G" '.action == "audit" and .signal.number == 10 and .target.pid == $g' \
	>/dev/null || fail "SIGUSR1 audit event wrong: $ev"
expect OK $B/try_kill $G 2
delivered guardian 2
wait_event ".event == \"signal\" and .action == \"would_deny\" and .rule == \"sigint-trial\" and .signal.number == 2 and .target.pid == $G" >/dev/null
expect OK $B/try_kill $G 0
assert_eq 2 "$(count_events '.event == "signal"')" "signal events after the mark (SIGUSR1, SIGINT)"

# By comm: SIGKILL denied, SIGTERM allowed.
mark_events
expect EPERM $B/try_kill $P 9
ev=$(wait_event '.event == "signal" and .rule == "protect-precious"')
echo "$ev" | jq -e --argjson p "$P" '.action == "deny" and .signal.number == 9 and
  .target.pid == $p and .target.comm == "precious"' >/dev/null || fail "SIGKILL by comm event wrong: $ev"
_alive $P || fail "precious died"
expect OK $B/try_kill $P 15
ended $P 143

# Bystander: an unprotected process of the same program dies as usual.
mark_events
expect OK $B/try_kill $O 15
ended $O 143
# The supervisor may stop the guardian.
expect OK $W/supervisor $G 15
ended $G 143
no_event '.event == "signal"'

st=$(/krsi/bin/krsi status --json)
echo "$st" | jq -e '([.rules[] | select(.rule == "protect-guardian")][0].denies == 3) and
  ([.rules[] | select(.rule == "protect-precious")][0].denies == 1) and
  ([.rules[] | select(.rule == "sigint-trial")][0].would_denies == 1)' >/dev/null ||
	fail "counters wrong: $st"

# After the agent stops, a protected program can be killed.
start_hold guardian
G=$HOLD
stop_agent
expect OK $B/try_kill $G 9
ended $G 137

# The shipped example loads and holds: a signal to PID 1 (signal 0, an
# existence check that reaches the hook but changes nothing) is reported.
start_agent --policy /krsi/policies/examples/signals.yaml --require-enforcement
expect OK $B/try_kill 1 0
ev=$(wait_event '.event == "signal" and .rule == "signal-to-init"')
echo "$ev" | jq -e '.action == "audit" and .signal.number == 0 and .target.pid == 1' >/dev/null ||
	fail "example signal-to-init event wrong: $ev"
stop_agent
