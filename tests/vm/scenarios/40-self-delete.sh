#!/bin/sh
# krsi-timeout: 300
# policies/detect/self-delete.yaml against real deletions of running
# executables, classified by file.running_exe_of:
#   self    a dropper unlinks argv[0] (selfdel self), or renames a file over
#           it (selfdel rename-self: file.replaces_running_exe_of self);
#   parent  a child (try_file) deletes its parent's running executable
#           (selfdel parent);
#   other   a shell-started tool deletes another running program's file,
#           or renames a file over it.
# Shipped as audit rules: every call succeeds and is reported. With the
# file's enforce switch applied (action: deny) each gets EPERM and the file
# stays; with `mode: monitor` on top they are reported as would_deny and
# happen. False positives checked in each mode: a package-manager-like
# replace-by-rename and unlink of a binary that is not running, and plain
# shell deletions, report nothing.
set -eu
. /krsi/lib.sh
require_lsm bpf

W=$KRSI_WORK
B=/krsi/bin
POLICY=/krsi/policies/detect/self-delete.yaml
mkdir -p $W/bin $W/pkg
DAEMON=
cleanup() { [ -z "$DAEMON" ] || kill -KILL $DAEMON 2>/dev/null || true; }
trap cleanup EXIT

# daemon NAME: start a copy of hold as $W/bin/NAME, wait until it runs.
daemon() {
	cp $B/hold $W/bin/$1
	# The background redirect truncates asynchronously: no stale "ready".
	rm -f $W/$1.out
	$W/bin/$1 >$W/$1.out &
	DAEMON=$!
	_n=0
	until grep -q '^ready' $W/$1.out 2>/dev/null; do
		_n=$((_n + 1))
		[ $_n -le 100 ] || fail "$1 did not start"
		sleep 0.1
	done
}
undaemon() {
	kill -KILL $DAEMON 2>/dev/null || true
	wait $DAEMON 2>/dev/null || true
	DAEMON=
}

# check_event FILTER: wait for it, log it.
check_event() {
	_ev=$(wait_event "$1")
	log "$_ev"
}

# false_positives: replace-by-rename and unlink of binaries that are not
# running (what dpkg does with most files), plain rm of data; no event.
false_positives() {
	cp $B/true $W/pkg/tool
	cp $B/true $W/pkg/tool.dpkg-new
	echo data >$W/pkg/data
	mark_events
	expect OK $B/try_file rename $W/pkg/tool.dpkg-new $W/pkg/tool
	expect OK $B/try_file unlink $W/pkg/tool
	rm $W/pkg/data
	# An event the policy does report, so the ones before it had time to come.
	cp $B/selfdel $W/bin/fp-marker
	$W/bin/fp-marker self >/dev/null 2>&1 || true
	wait_event ".file.path == \"$W/bin/fp-marker\"" >/dev/null
	no_event ".file.path == \"$W/pkg/tool\" or .file.path == \"$W/pkg/tool.dpkg-new\" or .file.path == \"$W/pkg/data\""
	rm -f $W/bin/fp-marker
}

# run_cases WANT ACTION: every case; WANT is OK or EPERM, ACTION the event's.
run_cases() {
	WANT=$1
	ACT=$2
	log "--- cases: $WANT, events $ACT"

	cp $B/selfdel $W/bin/dropper
	mark_events
	expect $WANT $W/bin/dropper self
	check_event ".event == \"unlink\" and .rule == \"running-exe-deleted-self\""
	echo "$_ev" | jq -e ".action == \"$ACT\" and .hook == \"inode_unlink\" and
	  .file.path == \"$W/bin/dropper\" and .file.running_exe_of == \"self\" and
	  .file.running_exe == true and .severity == \"high\" and
	  .process.comm == \"dropper\" and .process.exe == \"$W/bin/dropper\"" >/dev/null ||
		fail "self event wrong: $_ev"

	cp $B/selfdel $W/bin/launcher
	mark_events
	expect $WANT $W/bin/launcher parent $B/try_file
	check_event ".event == \"unlink\" and .rule == \"running-exe-deleted-parent\""
	echo "$_ev" | jq -e ".action == \"$ACT\" and .file.path == \"$W/bin/launcher\" and
	  .file.running_exe_of == \"parent\" and .process.comm == \"try_file\" and
	  .process.exe == \"$B/try_file\"" >/dev/null || fail "parent event wrong: $_ev"

	daemon victim
	mark_events
	expect $WANT $B/try_file unlink $W/bin/victim
	check_event ".event == \"unlink\" and .rule == \"running-exe-deleted-other\""
	echo "$_ev" | jq -e ".action == \"$ACT\" and .file.path == \"$W/bin/victim\" and
	  .file.running_exe_of == \"other\" and .severity == \"medium\"" >/dev/null ||
		fail "other event wrong: $_ev"
	undaemon

	daemon swapped
	cp $B/true $W/bin/swapped.new
	mark_events
	expect $WANT $B/try_file rename $W/bin/swapped.new $W/bin/swapped
	check_event ".event == \"rename\" and .rule == \"running-exe-replaced\""
	echo "$_ev" | jq -e ".action == \"$ACT\" and .file.path == \"$W/bin/swapped.new\" and
	  .file.new_path == \"$W/bin/swapped\" and .file.replaces_running_exe_of == \"other\" and
	  .file.running_exe_of == \"none\"" >/dev/null || fail "rename-over event wrong: $_ev"
	undaemon

	cp $B/selfdel $W/bin/updater
	cp $B/true $W/bin/updater.new
	mark_events
	expect $WANT $W/bin/updater rename-self $W/bin/updater.new
	check_event ".event == \"rename\" and .rule == \"running-exe-replaced\""
	echo "$_ev" | jq -e ".action == \"$ACT\" and .file.replaces_running_exe_of == \"self\" and
	  .process.comm == \"updater\"" >/dev/null || fail "rename-self event wrong: $_ev"

	if [ "$WANT" = OK ]; then
		[ ! -e $W/bin/dropper ] && [ ! -e $W/bin/launcher ] && [ ! -e $W/bin/victim ] ||
			fail "an allowed deletion left its file"
	else
		[ -e $W/bin/dropper ] && [ -e $W/bin/launcher ] && [ -e $W/bin/victim ] &&
			[ -e $W/bin/swapped.new ] && [ -e $W/bin/updater.new ] ||
			fail "a denied deletion or rename removed a file"
	fi
	rm -f $W/bin/*
	false_positives
}

# As shipped (audit), with the enforce switch the header documents, and
# enforced under `mode: monitor` (would_deny, allowed).
pack_modes $POLICY run_cases "OK audit" "EPERM deny" "OK would_deny"
