#!/bin/sh
# krsi-timeout: 240
# Yama's ptrace scopes as krsi policies (policies/yama-{1,2,3}.yaml), case by
# case against security/yama/yama_lsm.c, with the kernel's own Yama at 0:
#   scope 1 (yama_ptrace_access_check, YAMA_SCOPE_RELATIONAL):
#     attach to a sibling: EPERM; to its own child: allowed
#       (task_is_descendant);
#     the target declared PR_SET_PTRACER_ANY, or the tracer's ancestor:
#       allowed (ptracer_exception_found); a declaration of another pid: EPERM;
#     root attaches to a sibling: allowed (ns_capable CAP_SYS_PTRACE);
#     PTRACE_TRACEME: allowed (yama_ptrace_traceme has no scope 1 case);
#     /proc/PID/mem of a sibling (PTRACE_MODE_ATTACH_FSCREDS): refused;
#   scope 2 (YAMA_SCOPE_CAPABILITY): an unprivileged attach even to its own
#     child: EPERM; root: allowed; unprivileged PTRACE_TRACEME to an
#     unprivileged parent: EPERM;
#   scope 3 (YAMA_SCOPE_NO_ATTACH): root's attach to its child and
#     PTRACE_TRACEME: EPERM.
# Then both LSMs stacked: the kernel's Yama at 1 and krsi's scope 2 — a call
# passes only when both allow.
set -eu
. /krsi/lib.sh
require_lsm bpf

W=$KRSI_WORK
B=/krsi/bin
PIDS=
cleanup() {
	for p in $PIDS; do kill -KILL "$p" 2>/dev/null || true; done
	kernel_yama_restore
}
trap cleanup EXIT
kernel_yama_off
chmod 755 $W

# target WHO: a sibling of the tracers below that declared WHO; sets $T.
target() {
	$B/ptracer_decl "$1" >$W/t.$1.out &
	T=$!
	PIDS="$PIDS $T"
	n=0
	until grep -q '^ready' $W/t.$1.out 2>/dev/null; do
		n=$((n + 1))
		[ $n -lt 100 ] || fail "target $1 never ready: $(cat $W/t.$1.out)"
		sleep 0.05
	done
}

# --- scope 1 ---
# Targets and tracers run as uid 1000, so the kernel's own uid checks pass
# and Yama's rules (krsi's here) decide; root is the CAP_SYS_PTRACE case.
start_agent --policy /krsi/policies/yama-1.yaml --require-enforcement
target none # a root process: only its pid is used (declared by T_OTHER)
T_ROOT=$T
$B/as_user 1000 $B/ptracer_decl none >$W/none.out &
PIDS="$PIDS $!"
$B/as_user 1000 $B/ptracer_decl any >$W/any.out &
PIDS="$PIDS $!"
# Declares this shell, an ancestor of every tracer started from it.
$B/as_user 1000 $B/ptracer_decl $$ >$W/anc.out &
PIDS="$PIDS $!"
# Declares an unrelated process.
$B/as_user 1000 $B/ptracer_decl $T_ROOT >$W/other.out &
PIDS="$PIDS $!"
n=0
until [ "$(cat $W/none.out $W/any.out $W/anc.out $W/other.out 2>/dev/null | grep -c '^ready')" = 4 ]; do
	n=$((n + 1))
	[ $n -lt 100 ] || fail "targets not ready"
	sleep 0.05
done
T_NONE_U=$(sed -n 's/^ready pid=//p' $W/none.out)
T_ANY=$(sed -n 's/^ready pid=//p' $W/any.out)
T_ANC=$(sed -n 's/^ready pid=//p' $W/anc.out)
T_OTHER=$(sed -n 's/^ready pid=//p' $W/other.out)
expect EPERM $B/as_user 1000 $B/try_ptrace attach $T_NONE_U
ev=$(wait_event '.event == "ptrace" and .rule == "yama-1-attach"')
echo "$ev" | jq -e '.action == "deny" and .ptrace.relation == "other" and .ptrace.declared == false and
  .ptrace.capable == false and .process.uid == 1000' >/dev/null || fail "scope 1 event wrong: $ev"
expect OK $B/as_user 1000 $B/try_ptrace child-attach
expect OK $B/as_user 1000 $B/try_ptrace attach $T_ANY
expect OK $B/as_user 1000 $B/try_ptrace attach $T_ANC
expect EPERM $B/as_user 1000 $B/try_ptrace attach $T_OTHER
# CAP_SYS_PTRACE: root attaches to anything.
expect OK $B/try_ptrace attach $T_NONE_U
# PTRACE_TRACEME is not Yama scope 1's business.
expect OK $B/as_user 1000 $B/try_ptrace traceme
# /proc/PID/mem of a sibling: an attach-mode check (the kernel answers EACCES).
expect EACCES $B/as_user 1000 $B/try_open /proc/$T_NONE_U/mem r
# The declaration dies with the declarer: a new process is not covered.
kill -KILL $T_ANY
sleep 0.2
expect EPERM $B/as_user 1000 $B/try_ptrace attach $T_NONE_U
stop_agent

# --- scope 2 ---
start_agent --policy /krsi/policies/yama-2.yaml --require-enforcement
expect EPERM $B/as_user 1000 $B/try_ptrace child-attach
expect OK $B/try_ptrace child-attach
expect OK $B/try_ptrace attach $T_NONE_U
expect EPERM $B/as_user 1000 $B/try_ptrace traceme
wait_event '.rule == "yama-2-traceme" and .action == "deny" and .ptrace.capable == false' >/dev/null
expect OK $B/try_ptrace traceme

# Stacked with the kernel's Yama at scope 1: both must allow.
if [ -n "$OLD_SCOPE" ]; then
	echo 1 >$SCOPE
	expect OK $B/try_ptrace attach $T_NONE_U                # both allow (root)
	expect EPERM $B/as_user 1000 $B/try_ptrace attach $T_ANC # Yama 1 allows (declared), krsi 2 refuses
	expect EPERM $B/as_user 1000 $B/try_ptrace attach $T_OTHER # both refuse
	echo 0 >$SCOPE
fi
stop_agent

# --- scope 3 --- (the shipped file seals itself until reboot, which
# scenario 90 tests; here an unlocked copy)
grep -v '^lock:' /krsi/policies/yama-3.yaml >$W/yama-3-unlocked.yaml
start_agent --policy $W/yama-3-unlocked.yaml --require-enforcement
expect EPERM $B/try_ptrace child-attach
expect EPERM $B/try_ptrace traceme
wait_event '.rule == "yama-3-traceme"' >/dev/null
stop_agent
expect OK $B/try_ptrace child-attach
