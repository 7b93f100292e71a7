#!/bin/sh
# argv and the environment of the new image, read in the kernel once the
# exec is committed (bprm_committed_creds): audit by argument, kill by an
# environment variable name before the program runs an instruction (its
# first action would create a marker file), would_kill in monitor mode,
# exact NAME=value entries and the environment size.
set -eu
. /krsi/lib.sh

W=$KRSI_WORK
cat >$W/p.yaml <<P
rules:
  - name: secret-arg
    hook: exec
    action: audit
    match: {exec.argv: {contains: [topsecret]}, file.path: /krsi/bin/true}
  - name: evil-env
    hook: exec
    action: kill
    match: {exec.env.names: {contains: [KRSI_EVIL]}}
  - name: watched-env
    hook: exec
    action: kill
    mode: monitor
    match: {exec.env.names: {contains: [KRSI_WATCH]}}
  - name: debug-mode
    hook: exec
    action: audit
    match: {exec.env: {contains: [KRSI_MODE=debug]}}
  - name: huge-env
    hook: exec
    action: audit
    match: {exec.env.count: {gt: 100}}
P
start_agent --policy $W/p.yaml

/krsi/bin/true a topsecret b
/krsi/bin/true plain
ev=$(wait_event '.rule == "secret-arg"')
echo "$ev" | jq -e '.event == "exec" and .hook == "bprm_committed_creds" and .action == "audit" and
  .argv == ["/krsi/bin/true","a","topsecret","b"]' >/dev/null || fail "argv event wrong: $ev"
no_event '.rule == "secret-arg" and (.argv | index("plain"))'

# kill: exit by SIGKILL, and the marker was never written.
rc=0
env KRSI_EVIL=1 /krsi/bin/marker $W/m1 || rc=$?
assert_eq "$rc" 137
[ ! -e $W/m1 ] || fail "the killed program ran: $W/m1 exists"
ev=$(wait_event '.rule == "evil-env"')
echo "$ev" | jq -e '.action == "kill" and .process.exe == "/krsi/bin/marker"' >/dev/null || fail "kill event wrong: $ev"
env KRSI_EVIL_NOT=1 /krsi/bin/marker $W/m2
[ -e $W/m2 ] || fail "a bystander variable was killed"

# monitor: reported as would_kill, the program runs.
env KRSI_WATCH=1 /krsi/bin/marker $W/m3
[ -e $W/m3 ] || fail "monitor mode killed"
wait_event '.rule == "watched-env" and .action == "would_kill"' >/dev/null

# Exact NAME=value entries.
env KRSI_MODE=debugX /krsi/bin/true
env KRSI_MODE=debug /krsi/bin/true
wait_event '.rule == "debug-mode"' >/dev/null
n=$(count_events '.rule == "debug-mode"')
assert_eq "$n" 1

# Environment size: 150 variables.
i=0
vars=""
while [ $i -lt 150 ]; do
	vars="$vars V$i=x"
	i=$((i + 1))
done
env $vars /krsi/bin/true
wait_event '.rule == "huge-env"' >/dev/null
st=$(/krsi/bin/krsi status --json)
echo "$st" | jq -e '.rules[] | select(.rule == "evil-env") | .kills == 1' >/dev/null || fail "kill counter: $st"
stop_agent
