#!/bin/sh
# krsi-timeout: 120
# False positive check for hidden modules: a module whose init fails
# (tests/vm/modules-src/krsi_fail.c) was linked in the module list when
# module_load fired and is unlinked by the kernel on the way out; that is
# reported as a load, never as a module hiding itself. Without any rule on
# module_load (an unrelated policy) the hidden-module watch still runs and
# stays silent here too.
set -eu
. /krsi/lib.sh

W=$KRSI_WORK
KO=/krsi/modules/krsi_fail.ko
[ -f $KO ] || fail "$KO missing (built by xtask from tests/vm/modules-src)"

start_agent --policy /krsi/policies/detect/kernel-modules.yaml
mark_events
_rc=0
_out=$(/krsi/bin/try_module finit $KO 2>&1) || _rc=$?
assert_contains "$_out" "errno=ENODEV" "krsi_fail init"
ev=$(wait_event '.event == "module_load" and .module.name == "krsi_fail"')
echo "$ev" | jq -e '.module.source == "file" and .action == "audit"' >/dev/null || fail "load event wrong: $ev"
! grep -q "^krsi_fail " /proc/modules || fail "krsi_fail stayed loaded"
no_event '.event == "module_hidden" and (.module.name | startswith("krsi_hide") | not)' 3
stop_agent

# Another policy (no module_load rule): the same load raises nothing.
cat >$W/other.yaml <<'P'
rules:
  - name: nothing-here
    hook: exec
    action: audit
    match: {file.path: /nonexistent/krsi}
P
start_agent --policy $W/other.yaml
mark_events
/krsi/bin/try_module finit $KO >/dev/null 2>&1 || true
no_event '.event == "module_load" or .event == "module_hidden"' 3
stop_agent
