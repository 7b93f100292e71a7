#!/bin/sh
# The embedded default policy audits every exec: the event names the new
# program, its argv (read from the new image's stack), pid and ppid, and the
# BPF LSM backend that produced it.
set -eu
. /krsi/lib.sh

start_agent
wait_event '.event == "agent_started" and .backend == "bpf-lsm" and .enforcing == true' >/dev/null

/krsi/bin/true audit-marker "two words" "" last &
child=$!
wait "$child"

ev=$(wait_event ".event == \"exec\" and .process.pid == $child")
log "$ev"
echo "$ev" | jq -e --argjson ppid "$$" '
  .action == "audit" and .rule == "exec-audit" and
  .hook == "bprm_committed_creds" and .backend == "bpf-lsm" and
  .filename == "/krsi/bin/true" and
  .argv == ["/krsi/bin/true", "audit-marker", "two words", "", "last"] and
  .process.ppid == $ppid and .process.tid == .process.pid and
  .process.uid == 0 and .process.exe == "/krsi/bin/true" and
  (.process.cgroup_id | type) == "number" and
  (.time | test("^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:]{8}\\.[0-9]{9}Z$")) and
  (.file.dev | test("^[0-9]+:[0-9]+$")) and (.file.ino | type) == "number"
' >/dev/null || fail "audit event fields wrong: $ev"

# A script: argv is what the interpreter really runs.
printf '#!/bin/sh\nexit 0\n' >/tmp/script.sh
chmod 755 /tmp/script.sh
/tmp/script.sh s-arg &
child=$!
wait "$child"
ev=$(wait_event ".event == \"exec\" and .process.pid == $child")
echo "$ev" | jq -e '.argv == ["/bin/sh", "/tmp/script.sh", "s-arg"]' >/dev/null ||
	fail "script exec argv wrong: $ev"

stop_agent
wait_event '.event == "agent_stopped" and ([.rules[] | select(.rule == "exec-audit" and .audits >= 2)] | length) == 1' >/dev/null
