#!/bin/sh
# krsi-timeout: 300
# policies/detect/proc-mem-write.yaml against real writes into another
# process's memory (memwrite, a sibling of its victim):
#   /proc/PID/mem (and /proc/PID/task/TID/mem) opened for writing: file_open
#     event with file.proc.pid = the victim, file.proc.self false (rule
#     proc-mem-write-other);
#   process_vm_writev and PTRACE_ATTACH + PTRACE_POKEDATA: ptrace_access_check
#     in attach|realcreds mode (rule ptrace-attach-other, target.pid);
#   /proc/self/mem written: the low-severity proc-mem-write-self.
# As shipped (audit) every write lands and is reported; with the enforce
# switch each is refused with EPERM and the victim's memory is unchanged
# (the self write stays an audit); with `mode: monitor` on top they are
# would_deny and land. In every mode reading /proc/PID/mem reports nothing.
set -eu
. /krsi/lib.sh
require_lsm bpf

W=$KRSI_WORK
B=/krsi/bin
POLICY=/krsi/policies/detect/proc-mem-write.yaml

# Yama at 1 would refuse a sibling attach before krsi is asked: krsi alone
# decides here. Restored on exit, like the victims.
SCOPE=/proc/sys/kernel/yama/ptrace_scope
OLD_SCOPE=
VICTIM=
cleanup() {
	[ -z "$VICTIM" ] || kill -KILL $VICTIM 2>/dev/null || true
	[ -z "$OLD_SCOPE" ] || echo "$OLD_SCOPE" >$SCOPE
}
trap cleanup EXIT
if [ -e $SCOPE ]; then
	OLD_SCOPE=$(cat $SCOPE)
	echo 0 >$SCOPE
fi

# victim: start one; sets VICTIM (pid) and ADDR (its buffer).
victim() {
	# The background redirect truncates asynchronously: no stale "ready".
	rm -f $W/victim.out
	$B/memwrite victim >$W/victim.out &
	VICTIM=$!
	_n=0
	until grep -q '^ready' $W/victim.out 2>/dev/null; do
		_n=$((_n + 1))
		[ $_n -le 100 ] || fail "victim did not start"
		sleep 0.1
	done
	ADDR=$(sed -n 's/^ready pid=[0-9]* addr=\(0x[0-9a-f]*\)$/\1/p' $W/victim.out)
	[ -n "$ADDR" ] || fail "no address from the victim: $(cat $W/victim.out)"
}

# victim_done WANT: changed (the write landed) or unchanged; stops it.
victim_done() {
	if [ "$1" = changed ]; then
		_n=0
		until grep -q '^changed to patched' $W/victim.out; do
			_n=$((_n + 1))
			[ $_n -le 100 ] || fail "victim memory not changed: $(cat $W/victim.out)"
			sleep 0.1
		done
	else
		sleep 0.2
		! grep -q '^changed' $W/victim.out || fail "refused write changed the victim: $(cat $W/victim.out)"
	fi
	kill -KILL $VICTIM 2>/dev/null || true
	wait $VICTIM 2>/dev/null || true
	VICTIM=
}

# run_cases WANT ACTION: OK or EPERM, and the events' action.
run_cases() {
	WANT=$1
	ACT=$2
	LANDED=changed
	[ "$WANT" = OK ] || LANDED=unchanged
	log "--- cases: $WANT, events $ACT"

	# Reading another process's memory: no event, in any mode.
	victim
	mark_events
	expect OK $B/memwrite read $VICTIM $ADDR
	assert_eq "ok original" "$OUT" "read of the victim's buffer"

	# Writing it through /proc/PID/mem.
	expect $WANT $B/memwrite write $VICTIM $ADDR
	ev=$(wait_event '.rule == "proc-mem-write-other"')
	log "$ev"
	echo "$ev" | jq -e ".event == \"open\" and .hook == \"file_open\" and .action == \"$ACT\" and
	  .path == \"/proc/$VICTIM/mem\" and .file.proc.pid == $VICTIM and .file.proc.self == false and
	  (.flags | index(\"write\")) != null and .severity == \"high\" and
	  .process.comm == \"memwrite\"" >/dev/null || fail "/proc/PID/mem event wrong: $ev"
	victim_done $LANDED
	# Only the write was reported: the read before it left no event of any rule.
	[ "$(count_events '.process.comm == "memwrite"')" = 1 ] ||
		{ events_tail; fail "reading /proc/PID/mem was reported"; }

	# The same memory through the thread's directory.
	victim
	mark_events
	expect $WANT $B/memwrite write-task $VICTIM $ADDR
	ev=$(wait_event '.rule == "proc-mem-write-other"')
	echo "$ev" | jq -e ".action == \"$ACT\" and .path == \"/proc/$VICTIM/task/$VICTIM/mem\" and
	  .file.proc.pid == $VICTIM and .file.proc.self == false" >/dev/null ||
		fail "/proc/PID/task/TID/mem event wrong: $ev"
	victim_done $LANDED

	# process_vm_writev.
	victim
	mark_events
	expect $WANT $B/memwrite vmwrite $VICTIM $ADDR
	ev=$(wait_event '.rule == "ptrace-attach-other"')
	log "$ev"
	echo "$ev" | jq -e ".event == \"ptrace\" and .hook == \"ptrace_access_check\" and
	  .action == \"$ACT\" and .target.pid == $VICTIM and .ptrace.relation == \"other\" and
	  (.ptrace.mode | index(\"attach\")) != null and (.ptrace.mode | index(\"realcreds\")) != null" \
		>/dev/null || fail "process_vm_writev event wrong: $ev"
	victim_done $LANDED

	# PTRACE_ATTACH, then PTRACE_POKEDATA.
	victim
	mark_events
	expect $WANT $B/memwrite poke $VICTIM $ADDR
	ev=$(wait_event '.rule == "ptrace-attach-other"')
	echo "$ev" | jq -e ".action == \"$ACT\" and .target.pid == $VICTIM" >/dev/null ||
		fail "ptrace attach event wrong: $ev"
	victim_done $LANDED

	# Its own memory: allowed, reported at low severity in every mode.
	mark_events
	expect OK $B/memwrite self
	assert_eq "ok patched" "$OUT" "self write"
	ev=$(wait_event '.rule == "proc-mem-write-self"')
	log "$ev"
	echo "$ev" | jq -e '.action == "audit" and .severity == "low" and .file.proc.self == true and
	  .file.proc.pid == .process.pid and (.path | test("^/proc/[0-9]+/mem$"))' >/dev/null ||
		fail "/proc/self/mem event wrong: $ev"

	# Reading, again with nothing after it but a marker event.
	victim
	mark_events
	expect OK $B/memwrite read $VICTIM $ADDR
	expect OK $B/memwrite self
	wait_event '.rule == "proc-mem-write-self"' >/dev/null
	no_event '.rule != "proc-mem-write-self"'
	victim_done unchanged
}

pack_modes $POLICY run_cases "OK audit" "EPERM deny" "OK would_deny"
