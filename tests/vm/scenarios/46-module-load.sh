#!/bin/sh
# krsi-timeout: 240
# Module loads (policies/detect/kernel-modules.yaml, hook module_load): a
# module from a file (finit_module) is reported with its name, source
# "file", the file's path, identity and SHA-256; the same module from memory
# (init_module) with source "memory" and no file; busybox insmod is
# reported too. The loads happen (audit only), a benign module raises no
# module_hidden event, and unloading it raises none either. A policy in
# monitor mode reports the same. A deny or kill rule on module_load is
# refused by `krsi policy check` with the rule's position.
set -eu
. /krsi/lib.sh

W=$KRSI_WORK
REL=$(uname -r)
CRC7=$(readlink -f "$(find /lib/modules/$REL/ -name crc7.ko | head -n 1)")
[ -f "$CRC7" ] || fail "crc7.ko not in /lib/modules/$REL (tests/vm/modules.txt)"
loaded() { grep -q "^$1 " /proc/modules; }
unload() { ! loaded "$1" || rmmod "$1" || fail "rmmod $1"; }
expect_module() { # OK|ERRNO finit|init PATH
	_rc=0
	_out=$(/krsi/bin/try_module "$2" "$3" 2>&1) || _rc=$?
	_got=OK
	[ "$_rc" = 0 ] || _got=$(printf '%s\n' "$_out" | sed -n 's/^errno=\([A-Z0-9]*\).*/\1/p')
	[ "$_got" = "$1" ] || fail "try_module $2 $3: expected $1, got ${_got:-?} ($_out)"
}
restore() { loaded crc7 || insmod "$CRC7" || true; }
trap restore EXIT
unload crc7

start_agent --policy /krsi/policies/detect/kernel-modules.yaml
# finit_module: name, file, identity.
mark_events
expect_module OK finit "$CRC7"
loaded crc7 || fail "crc7 not loaded (module_load is audit only)"
ev=$(wait_event '.event == "module_load" and .module.name == "crc7"')
log "$ev"
ino=$(stat -c %i "$CRC7")
sum=$(/krsi/bin/krsi hash "$CRC7" | cut -d'"' -f2)
[ ${#sum} = 64 ] || fail "krsi hash printed '$sum'"
echo "$ev" | jq -e ".hook == \"module_load\" and .backend == \"tracepoint\" and .action == \"audit\" and
  .rule == \"module-loaded-from-file\" and .severity == \"medium\" and .module.source == \"file\" and
  .file.path == \"$CRC7\" and .file.ino == $ino and .file.sha256 == \"$sum\" and (.module.address > 0) and
  .process.comm == \"try_module\" and .process.exe == \"/krsi/bin/try_module\"" >/dev/null ||
	fail "finit_module load event wrong: $ev"
rmmod crc7

# init_module from memory: no file.
mark_events
expect_module OK init "$CRC7"
loaded crc7 || fail "crc7 not loaded from memory"
ev=$(wait_event '.event == "module_load" and .module.name == "crc7"')
log "$ev"
echo "$ev" | jq -e '.rule == "module-loaded-from-memory" and .severity == "high" and .module.source == "memory" and
  .file.path == "" and (.file.ino == null) and (.file.sha256 == null) and .process.comm == "try_module"' >/dev/null ||
	fail "init_module load event wrong: $ev"
rmmod crc7

# busybox insmod (finit_module).
mark_events
insmod "$CRC7"
ev=$(wait_event '.event == "module_load" and .module.name == "crc7"')
echo "$ev" | jq -e ".module.source == \"file\" and .process.comm == \"insmod\" and .file.path == \"$CRC7\"" >/dev/null ||
	fail "insmod load event wrong: $ev"
[ "$(count_events '.event == "module_load"')" = 1 ] || fail "one load, several events"
# Benign loads and a normal unload are not hiding (the check runs every second).
rmmod crc7
no_event '.event == "module_hidden" and (.module.name | startswith("krsi_hide") | not)' 3
stop_agent

# Monitor mode changes nothing for an audit-only hook.
{
	echo "mode: monitor"
	cat /krsi/policies/detect/kernel-modules.yaml
} >$W/monitor.yaml
start_agent --policy $W/monitor.yaml
mark_events
expect_module OK finit "$CRC7"
ev=$(wait_event '.event == "module_load" and .module.name == "crc7"')
echo "$ev" | jq -e '.action == "audit" and .module.source == "file"' >/dev/null ||
	fail "monitor-mode load event wrong: $ev"
stop_agent

# deny/kill on module_load: refused with the position of the action.
cat >$W/bad.yaml <<'P'
rules:
  - name: no-crc7
    hook: module_load
    action: deny
    match: {module.name: crc7}
P
_rc=0
_out=$(/krsi/bin/krsi policy check $W/bad.yaml 2>&1) || _rc=$?
[ "$_rc" != 0 ] || fail "krsi policy check accepted deny on module_load"
assert_contains "$_out" "$W/bad.yaml:4:13:" "diagnostic position"
assert_contains "$_out" "cannot deny" "diagnostic"
