#!/bin/sh
# krsi-timeout: 240
# The shipped module allowlist (policies/detect/module-allowlist/) with a
# list made by `krsi hash`: a listed module loads, from its own path or as
# a copy elsewhere (content, not location); an unlisted one and a modified
# copy of a listed one get EPERM with an event naming the file and its
# digest; a module from memory (init_module) is refused. Monitor mode
# reports would_deny and lets the load happen.
set -eu
. /krsi/lib.sh
require_lsm bpf

W=$KRSI_WORK
CRC7=$(ko crc7)
ITU=$(ko crc-itu-t)
unload crc7
unload crc_itu_t
restore() {
	loaded crc7 || insmod "$CRC7" || true
	loaded crc_itu_t || insmod "$ITU" || true
}
trap restore EXIT

mkdir -p $W/pol $W/copies
cp /krsi/policies/detect/module-allowlist/rules.yaml $W/pol/
"$KRSI" hash --list allowed_modules "$CRC7" >$W/pol/allowed-modules.yaml
ITU_SUM=$("$KRSI" hash "$ITU" | cut -d'"' -f2)
cp "$CRC7" $W/copies/crc7.ko
cp "$CRC7" $W/copies/crc7-modified.ko
printf '\0' >>$W/copies/crc7-modified.ko

start_agent --policy $W/pol
expect_module EPERM finit "$ITU"
! loaded crc_itu_t || fail "crc-itu-t loaded despite the allowlist"
ev=$(wait_event '.rule == "module-not-allowlisted"')
echo "$ev" | jq -e --arg p "$ITU" --arg s "$ITU_SUM" '.action == "deny" and .hook == "kernel_read_file" and
  .file.path == $p and .file.sha256 == $s and .read.id == "module" and .severity == "high"' >/dev/null ||
	fail "deny event wrong: $ev"

# The allowed content loads from anywhere; a changed byte does not.
expect_module EPERM finit $W/copies/crc7-modified.ko
expect_module OK finit $W/copies/crc7.ko
loaded crc7 || fail "allowlisted crc7 not loaded"
rmmod crc7
expect_module OK finit "$CRC7"
rmmod crc7
# From memory there is no file to check.
expect_module EPERM init "$CRC7"
wait_event '.rule == "module-from-memory" and .read.id == "module"' >/dev/null
! loaded crc7 || fail "crc7 loaded from memory"
stop_agent

# Monitor mode: reported, loaded.
{ echo "mode: monitor"; cat $W/pol/rules.yaml; } >$W/pol/rules.yaml.new
mv $W/pol/rules.yaml.new $W/pol/rules.yaml
start_agent --policy $W/pol
expect_module OK finit "$ITU"
loaded crc_itu_t || fail "monitor mode refused crc-itu-t"
wait_event "(.rule == \"module-not-allowlisted\") and .action == \"would_deny\" and .file.sha256 == \"$ITU_SUM\"" >/dev/null
stop_agent
log "module allowlist ok"
