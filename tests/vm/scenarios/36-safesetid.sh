#!/bin/sh
# krsi-timeout: 240
# SafeSetID as a krsi policy (policies/safesetid.yaml: uid 1000 -> 1001,
# 1002; gid 1000 -> 1001), case by case against security/safesetid/lsm.c
# (safesetid_task_fix_setuid / _setgid and id_permitted_for_cred):
#   a listed transition of the real id: allowed;
#   an unlisted one: the process is killed (the kernel's force_sig(SIGKILL)),
#     the call returning EACCES (the event's errno) as the module's does;
#   back to an id the process already holds (its effective or saved id):
#     allowed without a listing;
#   a real id with nothing listed: unrestricted;
#   the same for gids;
#   CAP_SETUID/CAP_SETGID outside set*id calls (safesetid_security_capable):
#     a restricted id claiming another in SCM_CREDENTIALS gets EPERM, an
#     unrestricted one does not.
set -eu
. /krsi/lib.sh
require_lsm bpf

B=/krsi/bin

start_agent --policy /krsi/policies/safesetid.yaml --require-enforcement
# Root becomes real uid 1000 (unrestricted: root has nothing listed), keeping
# euid 0 and with it CAP_SETUID; then the restricted changes.
expect OK $B/try_setid setresuid 1000 0 0 setuid 1001
assert_contains "$OUT" "uid=1001,1001,1001"
expect OK $B/try_setid setresuid 1000 0 0 setuid 1002
expect KILLED $B/try_setid setresuid 1000 0 0 setuid 1003
expect KILLED $B/try_setid setresuid 1000 0 0 setresuid -1 1004 -1
ev=$(wait_event '.event == "setuid" and .rule == "safesetid-uid" and .id.new == 1003')
echo "$ev" | jq -e '.action == "kill" and .errno == "EACCES" and .id.old == 1000 and
  .id.new_effective == 1003 and .id.old_effective == 0' >/dev/null || fail "safesetid event wrong: $ev"
expect OK $B/try_setid setresuid 1000 0 0 setresuid 0 0 0
expect OK $B/try_setid setresuid 1000 0 0 setresuid -1 1000 0
expect OK $B/try_setid setresuid 2000 0 0 setuid 3000
# gids.
expect OK $B/try_setid setresgid 1000 0 0 setgid 1001
expect KILLED $B/try_setid setresgid 1000 0 0 setgid 1005
wait_event '.event == "setgid" and .rule == "safesetid-gid" and .action == "kill" and .errno == "EACCES"' >/dev/null
# Capabilities outside set*id calls: SCM_CREDENTIALS naming another id needs
# CAP_SETUID (CAP_SETGID), checked without CAP_OPT_INSETID.
expect EPERM $B/try_setid setresuid 1000 0 0 scmcred 1005 0
ev=$(wait_event '.event == "capable" and .rule == "safesetid-cap-setuid"')
echo "$ev" | jq -e '.action == "deny" and .errno == "EPERM" and .hook == "capable" and .capable.cap == "setuid" and
  .capable.uid == 1000 and .capable.insetid == false' >/dev/null || fail "capable event wrong: $ev"
expect OK $B/try_setid setresuid 2000 0 0 scmcred 1005 0
expect EPERM $B/try_setid setresgid 1000 0 0 scmcred 0 1005
wait_event '.event == "capable" and .rule == "safesetid-cap-setgid" and .capable.gid == 1000' >/dev/null
# The set*id calls themselves pass the capability check (CAP_OPT_INSETID).
expect OK $B/try_setid setresuid 1000 0 0 setuid 1001
st=$($B/krsi status --json)
echo "$st" | jq -e '.rules[] | select(.rule == "safesetid-uid") | .kills == 2' >/dev/null || fail "kill counter: $st"
stop_agent
expect OK $B/try_setid setresuid 1000 0 0 setuid 1003
expect OK $B/try_setid setresuid 1000 0 0 scmcred 1005 0
