#!/bin/sh
# krsi doctor sees the BPF LSM active and proves enforcement with its live probe.
set -eu
. /krsi/lib.sh

rc=0
out=$(/krsi/bin/krsi doctor) || rc=$?
echo "$out"
assert_eq 0 "$rc" "krsi doctor exit status"
echo "$out" | grep -Eq '^bpf_lsm +ok +active' || fail "bpf_lsm not reported active"
echo "$out" | grep -Eq '^enforcement_probe +ok +an LSM program denied' || fail "probe did not prove enforcement"
echo "$out" | grep -q '^result: krsi can report and deny' || fail "no positive result line"

json=$(/krsi/bin/krsi doctor --json)
echo "$json" | jq -e '.enforcement == true and
  ([.checks[] | select(.name == "bpf_lsm")][0].ok == true) and
  ([.checks[] | select(.name == "btf")][0].ok == true) and
  (.kernel | startswith("6."))' >/dev/null || fail "doctor --json wrong: $json"
