#!/bin/sh
# krsi-timeout: 300
# Yama scope 3 "cannot be lowered until reboot" (yama_dointvec_minmax
# refuses a lower ptrace_scope once it is YAMA_SCOPE_NO_ATTACH), as krsi's
# policy lock gives it: policies/yama-3.yaml says `lock: until-reboot`.
#   - the first run seals it: attach and PTRACE_TRACEME refused (EPERM);
#   - lowering it by reloading another policy (yama-1) leaves it enforcing;
#   - root cannot lift it: removing or renaming a pin, unmounting bpffs,
#     BPF_LINK_DETACH of a pinned link, opening a sealed map by id, writing
#     a map it may open (frozen) are all refused, and each refusal is a
#     tamper event;
#   - SIGKILL of the agent leaves it enforcing (pinned links);
#   - a new agent with an unlocked policy finds the seal, reports its
#     records (a tamper event) and cannot lower it; running the locked file
#     again makes no second seal; a changed locked file adds one (raising).
# The seals stay until reboot, so this scenario runs last (9x).
set -eu
. /krsi/lib.sh
require_lsm bpf

W=$KRSI_WORK
B=/krsi/bin
trap kernel_yama_restore EXIT
kernel_yama_off # krsi's answer alone
ROOT=/sys/fs/bpf/krsi/sealed
[ ! -e $ROOT ] || [ -z "$(ls $ROOT)" ] || fail "seals already in force before this scenario: $(ls $ROOT)"

expect OK $B/try_ptrace child-attach

# --- sealed on first run ---
mkdir -p $W/pol
cp /krsi/policies/yama-3.yaml $W/pol/yama.yaml
start_agent --policy $W/pol --require-enforcement
ev=$(wait_event '.event == "policy_sealed" and .new == true')
SEAL=$(echo "$ev" | jq -r .seal)
DIR=$ROOT/$SEAL
assert_eq "$(echo "$ev" | jq -c .rules)" '["yama-3-attach","yama-3-traceme"]'
log "seal $SEAL: maps hold $(echo "$ev" | jq .map_bytes) bytes; not frozen: $(echo "$ev" | jq -c .unfrozen_maps)"
wait_event ".event == \"agent_started\" and .sealed == [\"$SEAL\"]" >/dev/null
ls $DIR >$W/pins
log "pins: $(tr '\n' ' ' <$W/pins)"
grep -qx events $W/pins || fail "no events pin"
grep -qx rule_stats $W/pins || fail "no rule_stats pin"
grep -qx link-00 $W/pins || fail "no link pins"
grep -q '^abi-v' $W/pins || fail "no record layout mark"
expect EPERM $B/try_ptrace child-attach
expect EPERM $B/try_ptrace traceme
ev=$(wait_event '.rule == "yama-3-attach" and .action == "deny"')
assert_eq "$(echo "$ev" | jq -r .hook)" ptrace_access_check
st=$($KRSI status --json)
assert_eq "$(echo "$st" | jq -r ".sealed[0].seal")" "$SEAL"
assert_eq "$(echo "$st" | jq -r '.sealed[0].rules[] | select(.rule == "yama-3-attach") | .denies >= 1')" true

# --- lowering by reload: refused, the seal stays ---
mark_events
cp /krsi/policies/yama-1.yaml $W/pol/yama.yaml
kill -HUP "$AGENT_PID"
wait_event ".event == \"policy_loaded\" and .sealed == [\"$SEAL\"]" >/dev/null
expect EPERM $B/try_ptrace child-attach # yama-1 alone would allow a child

# --- root tampering, each refused and reported ---
mark_events
expect_fail() { # DESCRIPTION CMD...: CMD must fail
	_d=$1
	shift
	if "$@" 2>$W/err; then fail "$_d succeeded"; fi
	log "$_d refused: $(head -n 1 $W/err)"
}
expect_fail "rm link pin" rm -f $DIR/link-00
wait_event '.event == "tamper" and .lock.refused == "pin" and .hook == "inode_unlink" and .action == "deny" and .rule == "policy-lock"' >/dev/null
expect_fail "rm -r pins" rm -rf $DIR
expect_fail "mv pin dir" mv $DIR /sys/fs/bpf/elsewhere
expect_fail "rmdir layout mark" rmdir $DIR/abi-v*
wait_event '.event == "tamper" and .hook == "inode_rename"' >/dev/null
expect_fail "umount bpffs" umount /sys/fs/bpf
expect_fail "lazy umount bpffs" umount -l /sys/fs/bpf
wait_event '.event == "tamper" and .lock.refused == "umount" and .hook == "sb_umount"' >/dev/null
expect EPERM $B/tamper detach $DIR/link-00
ev=$(wait_event '.event == "tamper" and .lock.refused == "link"')
assert_eq "$(echo "$ev" | jq -r '.lock.id > 0 and .process.pid > 0')" true
expect EPERM $B/tamper update $DIR/rule_stats # frozen
$B/tamper maps >$W/maps
refused=$(grep -c 'errno=EPERM' $W/maps || true)
log "maps opened by id: $(grep -c name= $W/maps || true), refused: $refused"
[ "$refused" -ge 20 ] || fail "expected the sealed maps refused by id: $(cat $W/maps)"
wait_event '.event == "tamper" and .lock.refused == "map" and .hook == "bpf_map"' >/dev/null
[ -e $DIR/link-00 ] || fail "a pin went missing"
expect EPERM $B/try_ptrace child-attach

# --- the agent killed: still enforcing ---
stop_agent KILL || true
expect EPERM $B/try_ptrace child-attach
expect EPERM $B/try_ptrace traceme
expect_fail "rm pin, no agent" rm -f $DIR/link-01

# --- a new agent with an unlocked policy: finds the seal, cannot lower it ---
start_agent --policy /krsi/policies/yama-1.yaml --require-enforcement
wait_event ".event == \"policy_sealed\" and .seal == \"$SEAL\" and .new == false" >/dev/null
expect EPERM $B/try_ptrace child-attach
expect_fail "rm pin, new agent" rm -f $DIR/link-00
wait_event '.event == "tamper" and .lock.refused == "pin"' >/dev/null # its records still flow
stop_agent
expect EPERM $B/try_ptrace child-attach

# --- the locked file again: the same seal; changed: a second one ---
start_agent --policy /krsi/policies/yama-3.yaml --require-enforcement
wait_event ".event == \"policy_sealed\" and .seal == \"$SEAL\" and .new == false" >/dev/null
assert_eq "$(ls $ROOT | wc -l)" 1
stop_agent
sed 's/ptrace attach refused (Yama scope 3)/no ptrace attach, sealed twice/' /krsi/policies/yama-3.yaml >$W/yama-3b.yaml
start_agent --policy $W/yama-3b.yaml --require-enforcement
ev=$(wait_event '.event == "policy_sealed" and .new == true')
[ "$(echo "$ev" | jq -r .seal)" != "$SEAL" ] || fail "a changed locked file reused the seal"
assert_eq "$(ls $ROOT | wc -l)" 2
mark_events
expect EPERM $B/try_ptrace child-attach
wait_event '.message == "no ptrace attach, sealed twice"' >/dev/null
stop_agent

# --- a locked file that cannot be sealed is refused whole ---
printf 'mode: monitor\nlock: until-reboot\nrules:\n  - {name: x, hook: bprm_check_security, action: deny, match: {process.uid: 4242}}\n' >$W/bad.yaml
if $KRSI run --policy $W/bad.yaml --output $W/bad.json 2>$W/bad.err; then fail "a monitor-mode lock ran"; fi
grep -q "bad.yaml:4:.*must enforce" $W/bad.err || fail "no file:line error: $(cat $W/bad.err)"
assert_eq "$(ls $ROOT | wc -l)" 2
log "scope 3 sealed until reboot: $(ls $ROOT | tr '\n' ' ')"
