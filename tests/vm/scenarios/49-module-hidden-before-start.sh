#!/bin/sh
# krsi-timeout: 180
# A module that hid itself before the agent started
# (tests/vm/modules-src/krsi_hide_early.c, krsi_hide under another name):
# the kernel side never saw it load, so the agent compares the module kset
# (/sys/module/NAME/initstate) with the module list once a policy has a
# module_load rule. Under a policy without one nothing is reported; once the
# policy file is switched to policies/detect/kernel-modules.yaml (live
# reload) one high-severity module_hidden event names the module; the
# visible modules (crc7, the USB and disk drivers, ...) are not reported.
set -eu
. /krsi/lib.sh

W=$KRSI_WORK
KO=/krsi/modules/krsi_hide_early.ko
[ -f $KO ] || fail "$KO missing (built by xtask from tests/vm/modules-src)"
[ ! -d /sys/module/krsi_hide_early ] || skip "krsi_hide_early was loaded earlier in this boot"

/krsi/bin/try_module finit $KO >/dev/null || fail "loading $KO"
[ -d /sys/module/krsi_hide_early ] || fail "krsi_hide_early not resident"
! grep -q "^krsi_hide_early " /proc/modules || fail "krsi_hide_early did not hide"

cat >$W/policy.yaml <<'P'
rules:
  - name: nothing-here
    hook: exec
    action: audit
    match: {file.path: /nonexistent/krsi}
P
start_agent --policy $W/policy.yaml
no_event '.event == "module_hidden"' 3

mark_events
cp /krsi/policies/detect/kernel-modules.yaml $W/policy.yaml
wait_event '.event == "policy_loaded"' 20 >/dev/null
ev=$(wait_event '.event == "module_hidden" and .module.name == "krsi_hide_early"' 10)
log "$ev"
echo "$ev" | jq -e '.hook == "module_scan" and .backend == "agent" and .rule == "hidden-module" and
  .severity == "high" and .action == "audit" and .module.how == "sysfs_only"' >/dev/null ||
	fail "module_hidden (scan) event wrong: $ev"
no_event '.event == "module_hidden" and (.module.name | startswith("krsi_hide") | not)' 2
[ "$(count_events '.event == "module_hidden" and .module.name == "krsi_hide_early"')" = 1 ] ||
	fail "krsi_hide_early reported more than once"
stop_agent
