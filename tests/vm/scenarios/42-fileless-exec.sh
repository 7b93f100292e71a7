#!/bin/sh
# krsi-timeout: 240
# policies/detect/fileless-exec.yaml against real fileless executions
# (fileless, running marker as the payload):
#   memfd_create + execveat(fd, "", AT_EMPTY_PATH): exec event with
#     fileless "memfd";
#   a copy opened, unlinked, then run through /proc/self/fd/N: fileless
#     "deleted".
# As shipped (audit) both run (the marker file appears) and are reported
# from bprm_committed_creds; with the enforce switch execve fails with EPERM
# in bprm_check_security and the payload never runs; with `mode: monitor` on
# top they are would_deny and run. A normal exec of the same program reports
# nothing, in every mode.
set -eu
. /krsi/lib.sh
require_lsm bpf

W=$KRSI_WORK
B=/krsi/bin
POLICY=/krsi/policies/detect/fileless-exec.yaml
mkdir -p $W/drop

# run_cases WANT ACTION HOOK: OK or EPERM, the events' action and hook.
run_cases() {
	WANT=$1
	ACT=$2
	HOOK=$3
	log "--- cases: $WANT, events $ACT from $HOOK"
	rm -f $W/ran-*

	mark_events
	expect $WANT $B/fileless memfd $B/marker $W/ran-memfd
	ev=$(wait_event '.event == "exec" and .rule == "fileless-exec" and .fileless == "memfd"')
	log "$ev"
	echo "$ev" | jq -e ".action == \"$ACT\" and .hook == \"$HOOK\" and
	  .process.pid > 0 and .severity == \"high\" and (.file.ino > 0)" >/dev/null ||
		fail "memfd exec event wrong: $ev"

	mark_events
	expect $WANT $B/fileless deleted $W/drop $B/marker $W/ran-deleted
	ev=$(wait_event '.event == "exec" and .rule == "fileless-exec" and .fileless == "deleted"')
	log "$ev"
	echo "$ev" | jq -e ".action == \"$ACT\" and .hook == \"$HOOK\" and
	  (.filename | test(\"^/proc/self/fd/[0-9]+$\"))" >/dev/null ||
		fail "deleted-file exec event wrong: $ev"

	if [ "$WANT" = OK ]; then
		[ -e $W/ran-memfd ] && [ -e $W/ran-deleted ] || fail "an allowed payload did not run"
	else
		[ ! -e $W/ran-memfd ] && [ ! -e $W/ran-deleted ] || fail "a denied payload ran"
	fi
	[ -z "$(ls $W/drop)" ] || fail "payload copies left in $W/drop: $(ls $W/drop)"

	# A normal exec of the same program, and of a copy on tmpfs: no event.
	mark_events
	cp $B/marker $W/drop/plain
	expect OK $B/marker $W/ran-plain
	expect OK $W/drop/plain $W/ran-plain2
	[ -e $W/ran-plain ] && [ -e $W/ran-plain2 ] || fail "a normal exec did not run"
	rm -f $W/drop/plain
	# Then one reported exec, so the normal ones had time to be reported.
	expect $WANT $B/fileless memfd $B/marker $W/ran-memfd2
	wait_event '.fileless == "memfd"' >/dev/null
	no_event '.event == "exec" and .fileless == null'
}

pack_modes $POLICY run_cases "OK audit bprm_committed_creds" "EPERM deny bprm_check_security" \
	"OK would_deny bprm_committed_creds"
