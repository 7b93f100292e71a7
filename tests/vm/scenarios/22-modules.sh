#!/bin/sh
# krsi-timeout: 240
# Module loading: kernel_read_file denies finit_module(2) of one module file
# (by identity, read.id module) while another module file loads and is
# audited; kernel_load_data denies init_module(2) from memory;
# kernel_module_request denies the kernel's request for "net-pf-35" (the
# modprobe helper never runs, AF_PHONET stays unsupported) and, in monitor
# mode, reports "net-pf-29" while the helper runs; mount(2) of an unknown
# type is audited as "fs-TYPE". Without the agent the same socket()
# autoloads phonet through the helper, and crc7 loads. The shipped example
# policy is loaded last.
set -eu
. /krsi/lib.sh
require_lsm bpf

W=$KRSI_WORK

CRC7=$(ko crc7)
ITU=$(ko crc-itu-t)
PHONET=$(ko phonet)
INSMOD=$(command -v insmod)
# init loaded them at boot: start from unloaded modules.
unload crc7
unload crc_itu_t
unload phonet

# A modprobe helper that logs each request and can load phonet only.
OLD_MODPROBE=$(cat /proc/sys/kernel/modprobe)
restore() {
	echo "$OLD_MODPROBE" >/proc/sys/kernel/modprobe
	loaded phonet && rmmod phonet
	loaded crc7 || insmod "$CRC7"
	loaded crc_itu_t || insmod "$ITU"
}
trap restore EXIT
cat >$W/modprobe.sh <<M
#!/bin/sh
echo "\$*" >>$W/modprobe.log
case "\$*" in *net-pf-35*) exec $INSMOD $PHONET ;; esac
exit 1
M
chmod 755 $W/modprobe.sh
: >$W/modprobe.log
echo $W/modprobe.sh >/proc/sys/kernel/modprobe

cat >$W/modules.yaml <<P
rules:
  - name: no-crc7
    hook: kernel_read_file
    action: deny
    match: {read.id: module, file.path: $CRC7}
    severity: critical
  - name: module-files
    hook: module_load
    action: audit
    match: {read.id: module}
  - name: no-modules-from-memory
    hook: kernel_load_data
    action: deny
    match: {read.id: module}
  - name: no-phonet-autoload
    hook: kernel_module_request
    action: deny
    match: {module.name: net-pf-35}
  - name: fs-autoload
    hook: kernel_module_request
    action: audit
    match: {module.name: {prefix: fs-}}
  - name: can-autoload-trial
    hook: kernel_module_request
    action: deny
    mode: monitor
    match: {module.name: {prefix: net-pf-29}}
P
start_agent --policy $W/modules.yaml --require-enforcement

# finit_module: the kernel reads the file; denied by the file's identity.
expect_module EPERM finit "$CRC7"
ev=$(wait_event ".event == \"kernel_read\" and .action == \"deny\" and .rule == \"no-crc7\"")
log "$ev"
echo "$ev" | jq -e ".hook == \"kernel_read_file\" and .backend == \"bpf-lsm\" and .severity == \"critical\" and
  .read.id == \"module\" and .file.path == \"$CRC7\" and (.file.ino > 0) and
  .process.comm == \"try_module\" and .process.exe == \"/krsi/bin/try_module\"" >/dev/null ||
	fail "kernel_read_file deny event wrong: $ev"
! loaded crc7 || fail "crc7 loaded despite the deny"

# init_module: the same bytes from memory.
expect_module EPERM init "$CRC7"
ev=$(wait_event ".event == \"kernel_read\" and .action == \"deny\" and .rule == \"no-modules-from-memory\"")
log "$ev"
echo "$ev" | jq -e '.hook == "kernel_load_data" and .read.id == "module" and .process.comm == "try_module"' \
	>/dev/null || fail "kernel_load_data deny event wrong: $ev"
! loaded crc7 || fail "crc7 loaded from memory despite the deny"

# Bystander module file: loads, and the audit rule reports it.
expect_module OK finit "$ITU"
loaded crc_itu_t || fail "crc-itu-t not loaded"
ev=$(wait_event ".action == \"audit\" and .rule == \"module-files\" and .file.path == \"$ITU\"")
echo "$ev" | jq -e '.hook == "kernel_read_file" and .read.id == "module"' >/dev/null ||
	fail "module audit event wrong: $ev"
no_event ".action == \"deny\" and .file.path == \"$ITU\""
rmmod crc_itu_t

# Module request denied: modprobe never runs, the family stays unknown.
expect EAFNOSUPPORT /krsi/bin/try_socket 35 2
ev=$(wait_event ".event == \"module_request\" and .action == \"deny\"")
log "$ev"
echo "$ev" | jq -e '.hook == "kernel_module_request" and .rule == "no-phonet-autoload" and
  .module.name == "net-pf-35" and .process.comm == "try_socket"' >/dev/null ||
	fail "module request deny event wrong: $ev"
! grep -q net-pf-35 $W/modprobe.log || fail "modprobe ran for a denied request: $(cat $W/modprobe.log)"
! loaded phonet || fail "phonet loaded despite the deny"

# Monitor mode: would_deny, and the request reaches the helper (which has
# no CAN module to load, so the family stays unsupported).
expect EAFNOSUPPORT /krsi/bin/try_socket 29 3 1
ev=$(wait_event ".event == \"module_request\" and .action == \"would_deny\"")
echo "$ev" | jq -e '.rule == "can-autoload-trial" and .module.name == "net-pf-29"' >/dev/null ||
	fail "module request would_deny event wrong: $ev"
grep -q -- "-- net-pf-29" $W/modprobe.log || fail "modprobe did not run for net-pf-29: $(cat $W/modprobe.log)"

# An unknown file system type in mount(2): the kernel asks for "fs-TYPE"
# (audited; the helper runs, finds nothing, the mount fails with ENODEV).
mkdir -p $W/mnt
_out=$(/krsi/bin/try_mount mount none $W/mnt krsifs 2>&1) || true
assert_contains "$_out" "errno=ENODEV" "mount -t krsifs"
wait_event '.action == "audit" and .rule == "fs-autoload" and .module.name == "fs-krsifs" and .process.comm == "try_mount"' >/dev/null
grep -q -- "-- fs-krsifs" $W/modprobe.log || fail "modprobe did not run for fs-krsifs: $(cat $W/modprobe.log)"

st=$(/krsi/bin/krsi status --json)
echo "$st" | jq -e '([.rules[] | select(.rule == "no-crc7")][0].denies == 1) and
  ([.rules[] | select(.rule == "no-phonet-autoload")][0].denies == 1) and
  ([.rules[] | select(.rule == "can-autoload-trial")][0].would_denies == 1)' >/dev/null ||
	fail "counters wrong: $st"
stop_agent

# Detached: the request runs the helper, which loads phonet; crc7 loads.
expect OK /krsi/bin/try_socket 35 2
grep -q -- "-- net-pf-35" $W/modprobe.log || fail "modprobe did not run for net-pf-35: $(cat $W/modprobe.log)"
loaded phonet || fail "phonet not autoloaded"
expect_module OK finit "$CRC7"
loaded crc7 || fail "crc7 not loaded"

# The shipped example (policies/examples/module-load.yaml) loads: a module
# file from outside /lib/modules is refused while the same module from the
# tree loads (reported), and autoloading RDS (net-pf-21) is denied.
rmmod crc7
cp "$CRC7" $W/crc7.ko
: >$W/modprobe.log
start_agent --policy /krsi/policies/examples/module-load.yaml --require-enforcement
mark_events
expect_module EPERM finit $W/crc7.ko
wait_event ".action == \"deny\" and .rule == \"no-modules-outside-lib-modules\" and .file.path == \"$W/crc7.ko\"" >/dev/null
# busybox insmod falls back to init_module(2) from memory when
# finit_module(2) fails: both calls must be denied, and both are.
_rc=0
insmod $W/crc7.ko 2>$W/insmod.err || _rc=$?
[ "$_rc" != 0 ] && ! loaded crc7 || fail "busybox insmod of $W/crc7.ko loaded it"
wait_event ".action == \"deny\" and .rule == \"no-modules-outside-lib-modules\" and .process.comm == \"insmod\"" >/dev/null
wait_event '.action == "deny" and .rule == "no-modules-from-memory" and .hook == "kernel_load_data" and .process.comm == "insmod"' >/dev/null
expect_module OK finit "$CRC7"
wait_event ".action == \"audit\" and .rule == \"module-loaded\" and .file.path == \"$CRC7\"" >/dev/null
expect EAFNOSUPPORT /krsi/bin/try_socket 21 5
wait_event '.action == "deny" and .rule == "no-risky-protocol-autoload" and .module.name == "net-pf-21"' >/dev/null
! grep -q net-pf-21 $W/modprobe.log || fail "modprobe ran for a denied RDS request"
stop_agent
