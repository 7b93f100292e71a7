#!/bin/sh
# krsi-timeout: 180
# Yama scope 1 (policies/yama-1.yaml) with PR_SET_PTRACER made inside a pid
# namespace, against security/yama/yama_lsm.c with the kernel's own Yama at 0:
#   yama_task_prctl resolves the declared pid with find_get_task_by_vpid, in
#   the declarer's namespace, and ptracer_exception_found/task_is_descendant
#   then compare thread-group leaders. So (tests/vm/progs/pidns_ptracer.c):
#     the tracer whose pid *in the target's namespace* is the declared number
#       attaches (ptracer_exception_found);
#     a process of the initial namespace whose *global* pid is that number
#       is refused (it is not the task the declaration names);
#     another process of the namespace is refused (not declared);
#   in monitor mode all three attach and the two refusals are would_deny.
# The same policy with an audit rule on ptrace.declared shows the tracer's
# match in the event. Scenario 35 keeps the initial-namespace cases.
set -eu
. /krsi/lib.sh
require_lsm bpf

W=$KRSI_WORK
B=/krsi/bin
trap kernel_yama_restore EXIT
kernel_yama_off # krsi's answer alone

mkdir -p $W/pol
cp /krsi/policies/yama-1.yaml $W/pol/
cat >$W/pol/declared.yaml <<'YAML'
rules:
  - name: declared-attach
    hook: ptrace_access_check
    action: audit
    match: {ptrace.declared: true, ptrace.mode: {contains: [attach]}}
YAML

# run MODE: one pidns_ptracer round; sets IMPOSTOR TARGET TARGET_NS TRACER OTHER.
run() {
	$B/pidns_ptracer 1000 >$W/$1.out 2>&1 || fail "pidns_ptracer: $(cat $W/$1.out)"
	cat $W/$1.out
	line=$(grep '^pids ' $W/$1.out) || fail "no pids line: $(cat $W/$1.out)"
	IMPOSTOR=$(echo "$line" | sed 's/.*impostor=\([0-9]*\).*/\1/')
	TARGET=$(echo "$line" | sed 's/.* target=\([0-9]*\).*/\1/')
	TARGET_NS=$(echo "$line" | sed 's/.*target_ns=\([0-9]*\).*/\1/')
	TRACER=$(echo "$line" | sed 's/.*tracer=\([0-9]*\).*/\1/')
	OTHER=$(echo "$line" | sed 's/.*other=\([0-9]*\).*/\1/')
	[ "$TARGET" != "$TARGET_NS" ] || fail "target has the same pid in both namespaces"
}

# result MODE WHO WANT: the attach's reported outcome (ok or an errno name).
result() {
	got=$(sed -nE "s/^$2: (ok|errno=[A-Z]*).*/\1/p" $W/$1.out)
	[ "$got" = "$3" ] || fail "$2 ($1): expected $3, got '${got}': $(cat $W/$1.out)"
}

# --- enforce ---
start_agent --policy $W/pol --require-enforcement
run enforce
result enforce impostor errno=EPERM
result enforce tracer ok
result enforce other errno=EPERM
ev=$(wait_event ".event == \"ptrace\" and .rule == \"yama-1-attach\" and .process.pid == $IMPOSTOR")
echo "$ev" | jq -e --argjson t "$TARGET" '.action == "deny" and .ptrace.declared == false and
  .ptrace.relation == "other" and .target.pid == $t and .process.uid == 1000' >/dev/null ||
	fail "impostor event wrong: $ev"
ev=$(wait_event ".event == \"ptrace\" and .rule == \"yama-1-attach\" and .process.pid == $OTHER")
echo "$ev" | jq -e '.action == "deny" and .ptrace.declared == false' >/dev/null ||
	fail "other's event wrong: $ev"
# The tracer matched the declaration: audited, never denied.
ev=$(wait_event ".event == \"ptrace\" and .rule == \"declared-attach\" and .process.pid == $TRACER")
echo "$ev" | jq -e --argjson t "$TARGET" '.action == "audit" and .ptrace.declared == true and
  .ptrace.relation == "other" and .target.pid == $t' >/dev/null || fail "tracer's event wrong: $ev"
no_event ".rule == \"yama-1-attach\" and .process.pid == $TRACER"
no_event ".rule == \"declared-attach\" and (.process.pid == $IMPOSTOR or .process.pid == $OTHER)"
stop_agent

# --- monitor ---
sed 's/^rules:/mode: monitor\nrules:/' /krsi/policies/yama-1.yaml >$W/pol/yama-1.yaml
start_agent --policy $W/pol --require-enforcement
run monitor
result monitor impostor ok
result monitor tracer ok
result monitor other ok
wait_event ".rule == \"yama-1-attach\" and .action == \"would_deny\" and .process.pid == $IMPOSTOR" >/dev/null
wait_event ".rule == \"yama-1-attach\" and .action == \"would_deny\" and .process.pid == $OTHER" >/dev/null
wait_event ".rule == \"declared-attach\" and .process.pid == $TRACER" >/dev/null
no_event ".rule == \"yama-1-attach\" and .process.pid == $TRACER"
stop_agent

# Without krsi, the kernel's Yama at 0 lets all three attach.
run none
result none impostor ok
result none other ok
