#!/bin/sh
# krsi-timeout: 180
# A module that hides itself (tests/vm/modules-src/krsi_hide.c: its init
# does list_del(&THIS_MODULE->list)): it loads (reported by module_load),
# vanishes from /proc/modules while resident, and the agent raises one
# high-severity module_hidden event naming it, with the address its load
# event gave and the task that loaded it. Loaded once per boot: a hidden
# module cannot be unloaded.
set -eu
. /krsi/lib.sh

W=$KRSI_WORK
KO=/krsi/modules/krsi_hide.ko
[ -f $KO ] || fail "$KO missing (built by xtask from tests/vm/modules-src)"
! grep -q krsi_hide /proc/modules || fail "krsi_hide already loaded"
[ ! -d /sys/module/krsi_hide ] || skip "krsi_hide was loaded earlier in this boot"

start_agent --policy /krsi/policies/detect/kernel-modules.yaml
mark_events
/krsi/bin/try_module finit $KO >/dev/null || fail "loading $KO"
load=$(wait_event '.event == "module_load" and .module.name == "krsi_hide"')
log "$load"
echo "$load" | jq -e ".action == \"audit\" and .module.source == \"file\" and .file.path == \"$KO\"" >/dev/null ||
	fail "krsi_hide load event wrong: $load"
# The kernel's view: resident (sysfs) but not in the module list.
[ -d /sys/module/krsi_hide ] || fail "krsi_hide not resident"
! grep -q "^krsi_hide " /proc/modules || fail "krsi_hide did not hide (still in /proc/modules)"
dmesg | grep -q "krsi_hide: unlinked" || fail "krsi_hide init did not run"

ev=$(wait_event '.event == "module_hidden"' 10)
log "$ev"
addr=$(echo "$load" | jq '.module.address')
echo "$ev" | jq -e ".hook == \"module_load\" and .backend == \"tracepoint\" and .rule == \"hidden-module\" and
  .severity == \"high\" and .action == \"audit\" and .module.name == \"krsi_hide\" and
  .module.address == $addr and .module.how == \"poisoned\" and (.module.loaded_at | length > 0) and
  .process.comm == \"try_module\" and .process.pid > 0" >/dev/null ||
	fail "module_hidden event wrong: $ev"
# Reported once, not every second.
no_event '.event == "module_hidden" and .module.name != "krsi_hide"' 3
[ "$(count_events '.event == "module_hidden" and .module.name == "krsi_hide"')" = 1 ] || fail "module_hidden reported more than once"
stop_agent
