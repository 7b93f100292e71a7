#!/bin/sh
# krsi-timeout: 240
# LoadPin as a krsi policy (policies/loadpin.yaml), against
# security/loadpin/loadpin.c (loadpin_check, loadpin_sb_free_security):
#   the first kernel read pins its file system ("pinned"): a module there
#     loads, the same module copied to another file system (tmpfs) is
#     refused ("denied"), with the file and its device in the event;
#   a load from memory (init_module, the "old API") is refused;
#   once the pinned file system is unmounted every read is refused;
#   in monitor mode (enforce=0) the unpinned load goes ahead, reported.
# The agent is started fresh for each case: pinning starts with it.
set -eu
. /krsi/lib.sh
require_lsm bpf

W=$KRSI_WORK
CRC7=$(ko crc7)
ITU=$(ko crc-itu-t)
unload crc7
unload crc_itu_t
cleanup() {
	umount $W/pin 2>/dev/null || true
	loaded crc7 || insmod "$CRC7" || true
	loaded crc_itu_t || insmod "$ITU" || true
}
trap cleanup EXIT
mkdir -p $W/tmpfs
mount -t tmpfs none $W/tmpfs
cp "$CRC7" "$ITU" $W/tmpfs/

# 1. Pinned to the root file system by the first read.
start_agent --policy /krsi/policies/loadpin.yaml --require-enforcement
expect_module OK finit "$CRC7"
expect_module EPERM finit $W/tmpfs/crc-itu-t.ko
ev=$(wait_event '.event == "kernel_read" and .rule == "loadpin-unpinned-read"')
echo "$ev" | jq -e --arg p "$W/tmpfs/crc-itu-t.ko" '.action == "deny" and .file.path == $p and
  .read.id == "module" and .read.pinned == false and (.file.dev | test("^[0-9]+:[0-9]+$"))' >/dev/null ||
	fail "loadpin event wrong: $ev"
expect_module EPERM init "$ITU"
wait_event '.rule == "loadpin-old-api" and .read.id == "module"' >/dev/null
rmmod crc7
stop_agent

# 2. Pinned to a tmpfs; after its unmount nothing loads, not even from the root.
mkdir -p $W/pin
mount -t tmpfs none $W/pin
cp "$CRC7" $W/pin/
start_agent --policy /krsi/policies/loadpin.yaml --require-enforcement
expect_module OK finit $W/pin/crc7.ko
rmmod crc7
expect_module EPERM finit "$CRC7"
umount $W/pin
expect_module EPERM finit "$CRC7"
expect_module EPERM finit $W/tmpfs/crc7.ko
stop_agent

# 3. Monitor mode: reported as would_deny, loaded.
sed 's/^rules:/mode: monitor\nrules:/' /krsi/policies/loadpin.yaml >$W/monitor.yaml
start_agent --policy $W/monitor.yaml --require-enforcement
expect_module OK finit "$CRC7"
expect_module OK finit $W/tmpfs/crc-itu-t.ko
wait_event '.rule == "loadpin-unpinned-read" and .action == "would_deny"' >/dev/null
stop_agent
rmmod crc7
rmmod crc_itu_t
umount $W/tmpfs
