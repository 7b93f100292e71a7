#!/bin/sh
# krsi-timeout: 240
# No USB storage mounts (policies/detect/usb-storage.yaml): the VM has a
# qemu usb-storage stick behind an xHCI controller (a SCSI disk, sd*) and a
# virtio disk (vda), both ext2. With the agent, mounting the stick fails with
# EPERM through mount(2), through the new mount API (fsconfig CMD_CREATE),
# and through a device node of its own (mknod: the check is on the kernel's
# super block, not the name); the event names the device, its bus and
# numbers. The virtio disk, tmpfs and proc mount as usual (the audit rule
# reports the virtio disk with bus virtio). In monitor mode the stick
# mounts and is reported as would_deny; without the agent it mounts.
set -eu
. /krsi/lib.sh
require_lsm bpf

W=$KRSI_WORK
# expect_mount ERRNO|OK ARGS...: run try_mount, compare its errno.
expect_mount() {
	_want=$1
	shift
	_rc=0
	_out=$(/krsi/bin/try_mount "$@" 2>&1) || _rc=$?
	_got=OK
	[ "$_rc" = 0 ] || _got=$(printf '%s\n' "$_out" | sed -n 's/^errno=\([A-Z0-9]*\).*/\1/p')
	[ "$_got" = "$_want" ] || fail "try_mount $*: expected $_want, got ${_got:-?} ($_out)"
	LAST_OUT=$_out
}
mounted() { grep -q " $1 " /proc/self/mounts; }
cleanup() {
	for m in $(grep -o " $W/[^ ]*" /proc/self/mounts | sort -r); do
		umount -l "$m" 2>/dev/null || true
	done
}
trap cleanup EXIT

# The USB stick: a SCSI disk whose sysfs device path runs through the USB
# host controller (enumeration is asynchronous: give it time under TCG).
USB=
for _ in $(seq 60); do
	for b in /sys/block/sd*; do
		[ -e "$b" ] || continue
		case "$(readlink -f "$b")" in */usb*) USB=${b##*/} ;; esac
	done
	[ -n "$USB" ] && [ -b /dev/$USB ] && break
	sleep 0.5
done
[ -n "$USB" ] || fail "no USB disk in /sys/block (qemu usb-storage, modules xhci-pci usb-storage sd_mod)"
[ -b /dev/vda ] || fail "no virtio disk /dev/vda (modules virtio_pci virtio_blk)"
USB_MAJ=$(cut -d: -f1 /sys/block/$USB/dev)
USB_MIN=$(cut -d: -f2 /sys/block/$USB/dev)
VDA_MAJ=$(cut -d: -f1 /sys/block/vda/dev)
log "USB disk $USB ($USB_MAJ:$USB_MIN), virtio disk vda ($VDA_MAJ:0)"
mkdir -p $W/usb $W/virt $W/tmp $W/proc

# Without the agent the stick mounts: the hardware works.
expect_mount OK mount /dev/$USB $W/usb ext2
assert_eq usb "$(cat $W/usb/whoami)" "USB stick content"
umount $W/usb

# The shipped policy, plus an audit rule that reports every mount of a
# block device (so the control's event shows its bus).
cat >$W/usb.yaml <<'P'
rules:
  - name: block-device-mounts
    hook: sb_set_mnt_opts
    action: audit
    match: {mount.device.major: {gt: 0}}
P
# A policy directory holds both files.
mkdir -p $W/pol
cp /krsi/policies/detect/usb-storage.yaml $W/pol/
mv $W/usb.yaml $W/pol/audit.yaml
start_agent --policy $W/pol --require-enforcement

# mount(2) of the stick: refused by the super block's device.
mark_events
expect_mount EPERM mount /dev/$USB $W/usb ext2
! mounted $W/usb || fail "USB stick mounted despite the deny"
ev=$(wait_event '.event == "mount" and .action == "deny"')
log "$ev"
echo "$ev" | jq -e ".hook == \"sb_set_mnt_opts\" and .backend == \"bpf-lsm\" and .rule == \"no-usb-storage-mounts\" and
  .severity == \"high\" and .mount.device.bus == \"usb\" and .mount.device.name == \"$USB\" and
  .mount.device.major == $USB_MAJ and .mount.device.minor == $USB_MIN and .mount.fstype == \"ext2\" and
  .process.comm == \"try_mount\" and .process.exe == \"/krsi/bin/try_mount\"" >/dev/null ||
	fail "USB mount deny event wrong: $ev"

# The new mount API: refused at fsconfig(FSCONFIG_CMD_CREATE).
mark_events
expect_mount EPERM fsmount /dev/$USB ext2 $W/usb
assert_contains "$LAST_OUT" "fsconfig create" "failing step of the new mount API"
! mounted $W/usb || fail "USB stick mounted through fsmount despite the deny"
ev=$(wait_event '.action == "deny" and .rule == "no-usb-storage-mounts"')
echo "$ev" | jq -e ".mount.device.bus == \"usb\" and .mount.device.name == \"$USB\"" >/dev/null ||
	fail "fsmount deny event wrong: $ev"

# Another name for the same device: still the USB disk.
mknod $W/stick b $USB_MAJ $USB_MIN
mark_events
expect_mount EPERM mount $W/stick $W/usb ext2
wait_event ".action == \"deny\" and .mount.device.name == \"$USB\"" >/dev/null

# Control: the virtio disk mounts (both APIs), reported with its bus.
mark_events
expect_mount OK mount /dev/vda $W/virt ext2
assert_eq virtio "$(cat $W/virt/whoami)" "virtio disk content"
ev=$(wait_event '.action == "audit" and .rule == "block-device-mounts"')
log "$ev"
echo "$ev" | jq -e ".hook == \"sb_set_mnt_opts\" and .mount.device.bus == \"virtio\" and .mount.device.name == \"vda\" and
  .mount.device.major == $VDA_MAJ and .mount.fstype == \"ext2\"" >/dev/null ||
	fail "virtio mount audit event wrong: $ev"
umount $W/virt
expect_mount OK fsmount /dev/vda ext2 $W/virt
mounted $W/virt || fail "fsmount of the virtio disk did not mount"
umount $W/virt
# No block device: no event at all.
expect_mount OK mount tmpfs $W/tmp tmpfs
expect_mount OK mount proc $W/proc proc
umount $W/tmp
umount $W/proc
no_event '.action == "deny" or (.mount.device.major // 0) == 0' 1
st=$(/krsi/bin/krsi status --json)
echo "$st" | jq -e '[.rules[] | select(.rule == "no-usb-storage-mounts")][0].denies == 3' >/dev/null ||
	fail "deny counter wrong: $st"
stop_agent

# Monitor mode: reported as would_deny, and the stick mounts.
{
	echo "mode: monitor"
	cat /krsi/policies/detect/usb-storage.yaml
} >$W/usb-monitor.yaml
start_agent --policy $W/usb-monitor.yaml --require-enforcement
mark_events
expect_mount OK mount /dev/$USB $W/usb ext2
assert_eq usb "$(cat $W/usb/whoami)" "USB stick content (monitor mode)"
ev=$(wait_event '.action == "would_deny" and .rule == "no-usb-storage-mounts"')
echo "$ev" | jq -e ".mount.device.bus == \"usb\" and .mount.device.name == \"$USB\"" >/dev/null ||
	fail "monitor-mode event wrong: $ev"
umount $W/usb
stop_agent

# Detached: both APIs mount the stick again.
expect_mount OK fsmount /dev/$USB ext2 $W/usb
assert_eq usb "$(cat $W/usb/whoami)" "USB stick content (detached)"
umount $W/usb
