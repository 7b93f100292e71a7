#!/bin/sh
# Process fields in the kernel: ancestry (an exec denied only under a given
# ancestor, at any depth), cgroup v2 path, comm under `not`, and numeric
# comparisons. Each case asserts the kernel's answer and the event.
set -eu
. /krsi/lib.sh

W=$KRSI_WORK
cp /bin/busybox $W/ash          # a distinct shell binary to be an ancestor
cp /krsi/bin/try_open $W/allowed_reader
echo s >$W/secret
echo c >$W/cg-file
mkdir -p /sys/fs/cgroup/krsi-test/inner
cat >$W/p.yaml <<P
rules:
  - name: no-true-under-ash
    hook: exec
    action: deny
    match: {file.path: /krsi/bin/true, process.ancestors: {contains: [$W/ash]}}
  - name: secret-readers
    hook: open
    action: deny
    match: {file.path: $W/secret, not: {process.comm: allowed_reader}}
  - name: cgroup-fence
    hook: open
    action: deny
    match: {file.path: $W/cg-file, process.cgroup.path: {prefix: /krsi-test/}}
  - name: high-pids
    hook: open
    action: audit
    match: {file.path: $W/cg-file, process.pid: {gt: 1}, process.uid: {le: 0}}
P
start_agent --policy $W/p.yaml

# Ancestry: direct child and grandchild of ash are denied; elsewhere allowed.
# (`; :` keeps each shell from exec'ing its last command in place.)
out=$($W/ash -c "/krsi/bin/try_exec /krsi/bin/true; :")
assert_contains "$out" "errno=EPERM"
out=$($W/ash -c "sh -c '/krsi/bin/try_exec /krsi/bin/true; :'; :")
assert_contains "$out" "errno=EPERM"
expect_exec_errno OK /krsi/bin/true
ev=$(wait_event '.event == "exec" and .rule == "no-true-under-ash"')
echo "$ev" | jq -e '.action == "deny" and .filename == "/krsi/bin/true"' >/dev/null || fail "ancestry event wrong: $ev"

# not + comm: only allowed_reader may open the secret.
out=$($W/allowed_reader $W/secret r)
out=$(/krsi/bin/try_open $W/secret r || true)
log "secret: $out"
assert_contains "$out" "errno=EPERM"
ev=$(wait_event '.event == "open" and .rule == "secret-readers"')
echo "$ev" | jq -e '.action == "deny" and .process.comm == "try_open"' >/dev/null || fail "comm event wrong: $ev"
no_event '.rule == "secret-readers" and .process.comm == "allowed_reader"'

# cgroup path: the same program is denied inside /krsi-test/inner only.
out=$(/krsi/bin/try_open $W/cg-file r)
out=$(sh -c "echo \$\$ >/sys/fs/cgroup/krsi-test/inner/cgroup.procs; cat /proc/self/cgroup; /krsi/bin/try_open $W/cg-file r; :")
log "cgroup: $out"
assert_contains "$out" "errno=EPERM"
ev=$(wait_event '.event == "open" and .rule == "cgroup-fence"')
log "$ev"
# Numeric comparisons: pid > 1 and uid <= 0 audited the allowed open.
wait_event '.event == "open" and .rule == "high-pids" and .action == "audit"' >/dev/null
stop_agent
rmdir /sys/fs/cgroup/krsi-test/inner /sys/fs/cgroup/krsi-test
