#!/bin/sh
# Smoke test of the VM itself: the kernel offers what krsi needs (BPF LSM
# active, BTF), the filesystems init mounts are there, and the krsi binary and
# the test tools run.
set -eu
. /krsi/lib.sh

lsm=$(cat /sys/kernel/security/lsm)
log "active LSMs: $lsm"
case ",$lsm," in
*,bpf,*) ;;
*) fail "bpf is not in /sys/kernel/security/lsm: $lsm" ;;
esac
[ -s /sys/kernel/btf/vmlinux ] || fail "no kernel BTF at /sys/kernel/btf/vmlinux"

for fs in /sys/fs/bpf:bpf /sys/kernel/security:securityfs /sys/kernel/tracing:tracefs \
	/sys/fs/cgroup:cgroup2 /tmp:tmpfs /run:tmpfs; do
	dir=${fs%%:*} type=${fs#*:}
	grep -q "^[^ ]* $dir $type " /proc/mounts || fail "$dir is not a $type mount"
done

version=$(/krsi/bin/krsi --version) || fail "krsi --version failed"
assert_contains "$version" "krsi " "krsi --version"
log "$version"

# The helpers scenarios rely on work in this image.
assert_eq '{"a":1}' "$(echo '{"a":1}' | jq -c .)" "jq"
expect_exec_errno OK /krsi/bin/true
expect_exec_errno ENOENT /no/such/program
printf '#!/bin/sh\n' >/tmp/not-exec && chmod 644 /tmp/not-exec
expect_exec_errno EACCES /tmp/not-exec
out=$(/krsi/bin/exec_bench -n 20 -w 2 /krsi/bin/true)
assert_contains "$out" "p99_us=" "exec_bench output"
log "$out"
