#!/bin/sh
# PID 1 of the krsi test VM (busybox ash). Mounts the kernel filesystems the
# agent and scenarios need, runs each scenario (or bench) with a timeout in its
# own session, prints machine-readable markers for `cargo xtask vm-test`, and
# powers off. Markers:
#   KRSI-SCENARIO-BEGIN <name>
#   KRSI-SCENARIO-END <name> PASS|FAIL|SKIP rc=<n> secs=<s> [timeout]
#   KRSI-VM-DONE
export PATH=/krsi/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
export HOME=/root TERM=dumb LANG=C NO_COLOR=1

warn() { echo "KRSI-INIT-WARN $*"; }

mnt() { # TYPE DIR [OPTIONS]
	mkdir -p "$2"
	mount -t "$1" ${3:+-o "$3"} "$1" "$2" 2>/dev/null || warn "mount -t $1 $2 failed"
}
mnt proc /proc
mnt sysfs /sys
mnt devtmpfs /dev
mnt devpts /dev/pts
mnt tmpfs /dev/shm mode=1777
mnt securityfs /sys/kernel/security
mnt bpf /sys/fs/bpf
mnt tracefs /sys/kernel/tracing
mnt debugfs /sys/kernel/debug
mnt cgroup2 /sys/fs/cgroup
mnt tmpfs /tmp mode=1777
mnt tmpfs /run mode=755
ln -sf /proc/self/fd /dev/fd 2>/dev/null
hostname krsi-vm
ip link set lo up 2>/dev/null || ifconfig lo 127.0.0.1 up 2>/dev/null || warn "lo not up"

MODE=test FILTER= TIMEOUT=120 KEEP=
for arg in $(cat /proc/cmdline); do
	case "$arg" in
	krsi.mode=*) MODE=${arg#krsi.mode=} ;;
	krsi.filter=*) FILTER=${arg#krsi.filter=} ;;
	krsi.timeout=*) TIMEOUT=${arg#krsi.timeout=} ;;
	krsi.keep=*) KEEP=${arg#krsi.keep=} ;;
	esac
done

# Kernel modules some scenarios need (tests/vm/modules.txt), deps first.
while read -r ko; do
	[ -n "$ko" ] || continue
	insmod "$ko" || warn "insmod $ko failed"
done </krsi/modules.load

uptime_cs() { # centiseconds since boot
	read -r up _ </proc/uptime
	echo "${up%.*}${up#*.}"
}

# kill_strays: SIGKILL every user process but init, whatever session or
# group it moved to, so nothing a scenario started (an agent it did not stop,
# a daemon) outlives it. Kernel threads (pid 2 and its children) are spared.
kill_strays() {
	for st in /proc/[0-9]*/stat; do
		{ read -r line <"$st"; } 2>/dev/null || continue
		p=${st#/proc/}
		p=${p%/stat}
		comm=${line#*(}
		comm=${comm%%)*}
		# Fields after "(comm) ": state ppid ...
		set -- ${line##*) }
		case "$p:${2:-}:${1:-}" in
		1:* | 2:* | *:2:* | *:Z) continue ;;
		esac
		kill -KILL "$p" 2>/dev/null && echo "KRSI: killed leftover process $p ($comm)"
	done
}

if [ "$MODE" = bench ]; then DIR=/krsi/bench; else DIR=/krsi/scenarios; fi
read -r boot_s _ </proc/uptime
echo "KRSI-VM-START mode=$MODE filter=${FILTER:-*} uptime=${boot_s}s kernel=$(uname -r)"

for f in "$DIR"/*.sh; do
	[ -f "$f" ] || continue
	name=$(basename "$f" .sh)
	# Comma-separated filters: run scenarios matching any of them.
	match=
	for sub in $(echo "$FILTER" | tr , ' '); do
		case "$name" in *"$sub"*) match=1 ;; esac
	done
	[ -z "$FILTER" ] || [ -n "$match" ] || continue
	limit=$(sed -n 's/^# *krsi-timeout: *\([0-9][0-9]*\).*/\1/p' "$f" | head -n 1)
	limit=${limit:-$TIMEOUT}
	work=/tmp/krsi-run/$name
	mkdir -p "$work"
	echo "KRSI-SCENARIO-BEGIN $name"
	t0=$(uptime_cs)
	# Own session so the watchdog and the cleanup can kill everything the
	# scenario started (a background agent included) with one signal.
	(cd "$work" && EVENTS=$work/events.json KRSI_SCENARIO=$name KRSI_WORK=$work \
		exec setsid sh "$f" </dev/null 2>&1) &
	pid=$!
	rm -f /tmp/krsi-run/.timeout
	setsid sh -c "sleep $limit; echo 'KRSI: $name timed out after ${limit}s'; \
		touch /tmp/krsi-run/.timeout; kill -KILL -$pid" &
	wd=$!
	rc=0
	wait "$pid" || rc=$?
	kill -KILL -"$wd" 2>/dev/null
	wait "$wd" 2>/dev/null
	kill_strays
	t1=$(uptime_cs)
	secs=$(((t1 - t0) / 100)).$(((t1 - t0) % 100 / 10))
	extra=
	if [ -e /tmp/krsi-run/.timeout ]; then
		extra=" timeout"
		status=FAIL
	elif [ "$rc" = 0 ]; then
		status=PASS
	elif [ "$rc" = 77 ]; then
		status=SKIP
	else
		status=FAIL
	fi
	echo "KRSI-SCENARIO-END $name $status rc=$rc secs=$secs$extra"
done

echo KRSI-VM-DONE
if [ "$KEEP" = 1 ]; then
	echo "krsi: --keep: shell on the console; exit it to power off"
	setsid cttyhack sh -l
fi
sync
poweroff -f
