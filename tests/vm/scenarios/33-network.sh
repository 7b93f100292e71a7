#!/bin/sh
# krsi-timeout: 240
# Socket rules, decided by the kernel:
#  - socket_create: packet sockets and raw sockets denied for one program
#    (EPERM), a raw socket of another program only reported (monitor);
#  - socket_connect: a CIDR list (10.0.0.0/8 and 127.0.2.0/24, so the
#    boundary is tested on loopback), a port list and an IPv6 address
#    (::1 port 5555) denied for one program, TCP and UDP; an IPv6 socket
#    connecting to an IPv4-mapped address is caught by the IPv4 CIDR;
#    allowed connects reach a listener;
#    an audit rule's rate_limit caps its events, not the counting;
#  - socket_bind: ports 1-1023 denied for every program but one (port 0
#    and high ports allowed), IPv4 and IPv6;
#  - socket_listen / socket_accept: denied for one program (accept(2)
#    fails before waiting for a connection), audited for another, with the
#    socket's family and type in the event.
# Bystanders (the same program under its shipped name) are unaffected
# except by the bind rule, which names the one program allowed. Then
# policies/examples/network.yaml is loaded and three of its rules checked.
set -eu
. /krsi/lib.sh
require_lsm bpf

W=$KRSI_WORK
B=/krsi/bin
SERVERS=
cleanup() {
	for p in $SERVERS; do kill -KILL "$p" 2>/dev/null || true; done
}
trap cleanup EXIT

# serve PROG ADDR PORT: start `PROG listen ADDR PORT` in the background
# (output in $W/serve-PORT.out); waits until it listens. Its pid is in $SERVER.
serve() {
	"$1" listen "$2" "$3" >"$W/serve-$3.out" 2>&1 &
	SERVER=$!
	SERVERS="$SERVERS $SERVER"
	_n=0
	until grep -q '^listening' "$W/serve-$3.out"; do
		_alive $SERVER || return 0 # it failed: the caller checks served
		_n=$((_n + 1))
		[ $_n -le 100 ] || fail "$1 listen $2 $3: not listening after 10s"
		sleep 0.1
	done
}

# served ERRNO|OK PORT: the listener on PORT ended with errno=ERRNO (at any
# step) or accepted a connection.
served() {
	_rc=0
	wait "$SERVER" || _rc=$?
	_out=$(cat "$W/serve-$2.out")
	_got=OK
	[ "$_rc" = 0 ] || _got=$(printf '%s\n' "$_out" | sed -n 's/^errno=\([A-Z0-9]*\).*/\1/p' | head -n 1)
	[ "$_got" = "$1" ] || fail "listener on $2: expected $1, got ${_got:-rc=$_rc} ($_out)"
	log "listener on $2 -> $_got ($(echo $_out))"
}

cp $B/try_sock $W/client  # outbound rules
cp $B/try_sock $W/sniffer # no packet or raw sockets
cp $B/try_sock $W/server  # listen/accept audited
cp $B/try_sock $W/noisy   # may not listen
cp $B/try_sock $W/guarded # may listen but not accept
cp $B/try_sock $W/httpd   # the one program that may bind ports below 1024
cp $B/try_sock $W/chatty  # every connect audited, rate limited
cat >$W/net.yaml <<P
lists:
  bad_ports: [4444, 31337]
rules:
  - name: no-internal-net
    hook: connect
    action: deny
    match: {process.exe: $W/client, net.addr: {cidr: [10.0.0.0/8, 127.0.2.0/24]}}
    message: client may not reach internal networks
    severity: high
  - name: no-bad-ports
    hook: socket_connect
    action: deny
    match: {process.exe: $W/client, net.port: {in: bad_ports}}
  - name: no-v6-5555
    hook: connect
    action: deny
    match: {process.exe: $W/client, net.addr: "::1", net.port: 5555}
  - name: no-sniffing
    hook: socket_create
    action: deny
    match: {process.exe: $W/sniffer, any: [{socket.family: packet}, {socket.type: raw}]}
  - name: raw-trial
    hook: socket_create
    action: deny
    mode: monitor
    match: {process.exe: $W/client, socket.type: raw}
  - name: low-ports-httpd-only
    hook: bind
    action: deny
    match:
      socket.family: [inet, inet6]
      all: [{net.port: {ge: 1}}, {net.port: {lt: 1024}}]
      not: {process.exe: $W/httpd}
  - name: no-listen-noisy
    hook: listen
    action: deny
    match: {process.exe: $W/noisy}
  - name: no-accept-guarded
    hook: socket_accept
    action: deny
    match: {process.exe: $W/guarded}
  - name: chatty-connects
    hook: connect
    action: audit
    match: {process.exe: $W/chatty}
    rate_limit: {events: 2, per_seconds: 600}
  - name: server-listen
    hook: socket_listen
    action: audit
    match: {process.exe: $W/server}
  - name: server-accept
    hook: socket_accept
    action: audit
    match: {process.exe: $W/server}
P
start_agent --policy $W/net.yaml --require-enforcement

### socket_create
expect EPERM $W/sniffer create packet raw
ev=$(wait_event '.event == "socket" and .hook == "socket_create" and .action == "deny"')
log "$ev"
echo "$ev" | jq -e --arg w "$W" '
  .backend == "bpf-lsm" and .rule == "no-sniffing" and
  .socket.family == "packet" and .socket.type == "raw" and .socket.protocol == 768 and
  .process.exe == ($w + "/sniffer") and .process.comm == "sniffer"
' >/dev/null || fail "packet socket deny event wrong: $ev"
expect EPERM $W/sniffer create packet dgram
expect EPERM $W/sniffer create inet raw
expect EPERM $W/sniffer create inet6 raw
expect OK $W/sniffer create inet dgram
expect OK $W/sniffer create unix stream
assert_eq 4 "$(count_events '.rule == "no-sniffing"')" "no-sniffing events"
wait_event '.rule == "no-sniffing" and .socket.family == "inet6" and .socket.type == "raw" and .socket.protocol == 58' >/dev/null
# Monitor: reported, the socket is made.
mark_events
expect OK $W/client create inet raw
ev=$(wait_event '.hook == "socket_create" and .rule == "raw-trial"')
echo "$ev" | jq -e '.action == "would_deny" and .socket.family == "inet" and
  .socket.type == "raw" and .socket.protocol == 1' >/dev/null || fail "raw-trial event wrong: $ev"
# Bystander.
mark_events
expect OK $B/try_sock create packet raw
expect OK $B/try_sock create inet raw
no_event '.hook == "socket_create"'

### socket_connect
mark_events
expect EPERM $W/client connect 10.1.2.3 80
ev=$(wait_event '.event == "socket" and .hook == "socket_connect" and .action == "deny"')
log "$ev"
echo "$ev" | jq -e --arg w "$W" '
  .rule == "no-internal-net" and .message == "client may not reach internal networks" and
  .severity == "high" and .socket.family == "inet" and .socket.type == "stream" and
  .net.addr == "10.1.2.3" and .net.port == 80 and .process.exe == ($w + "/client")
' >/dev/null || fail "connect deny event wrong: $ev"
expect EPERM $W/client connect 10.255.0.1 53 udp
wait_event '.rule == "no-internal-net" and .socket.type == "dgram" and .net.addr == "10.255.0.1" and .net.port == 53' >/dev/null
# Without the rule the kernel has no route there (only lo is up).
expect ENETUNREACH $B/try_sock connect 10.1.2.3 80
# The CIDR's edge on loopback: 127.0.2.0/24 denied, 127.0.3.1 reaches the listener.
serve $B/try_sock 0.0.0.0 7200
expect EPERM $W/client connect 127.0.2.9 7200
wait_event '.rule == "no-internal-net" and .net.addr == "127.0.2.9" and .net.port == 7200' >/dev/null
expect OK $W/client connect 127.0.3.1 7200
served OK 7200
# Ports from a list: denied for the client, a bystander gets through.
serve $B/try_sock 127.0.0.1 4444
mark_events
expect EPERM $W/client connect 127.0.0.1 4444
ev=$(wait_event '.rule == "no-bad-ports"')
echo "$ev" | jq -e '.action == "deny" and .net.addr == "127.0.0.1" and .net.port == 4444' >/dev/null ||
	fail "bad-port event wrong: $ev"
expect OK $B/try_sock connect 127.0.0.1 4444
served OK 4444
expect ECONNREFUSED $W/client connect 127.0.0.1 7201
no_event '.net.port == 7201 or .process.exe == "/krsi/bin/try_sock"'

# rate_limit on a socket hook: 5 connects, each answered by the kernel
# (refused), 2 events, 5 hits of which 3 suppressed.
mark_events
for i in 1 2 3 4 5; do
	expect ECONNREFUSED $W/chatty connect 127.0.0.1 7300
done
sleep 1
assert_eq 2 "$(count_events '.rule == "chatty-connects"')" "chatty-connects events under rate_limit"
st=$(/krsi/bin/krsi status --json)
echo "$st" | jq -e '.rules[] | select(.rule == "chatty-connects") | .hits == 5 and .audits == 5 and
  .suppressed == 3' >/dev/null || fail "rate-limit counters wrong: $st"

# IPv6, when lo has ::1.
if grep -q '^00000000000000000000000000000001 ' /proc/net/if_inet6 2>/dev/null; then
	mark_events
	expect EPERM $W/client connect ::1 5555
	ev=$(wait_event '.rule == "no-v6-5555"')
	echo "$ev" | jq -e '.action == "deny" and .socket.family == "inet6" and
	  .net.addr == "::1" and .net.port == 5555' >/dev/null || fail "IPv6 connect event wrong: $ev"
	serve $B/try_sock :: 5556
	expect OK $W/client connect ::1 5556
	served OK 5556
	# An IPv6 socket to an IPv4-mapped address meets the IPv4 rules.
	expect EPERM $W/client connect ::ffff:10.1.2.3 80
	ev=$(wait_event '.rule == "no-internal-net" and .socket.family == "inet6"')
	echo "$ev" | jq -e '.net.addr == "10.1.2.3" and .net.port == 80' >/dev/null ||
		fail "IPv4-mapped connect event wrong: $ev"
	# bind below 1024 over IPv6.
	mark_events
	expect EPERM $W/server bind ::1 443
	ev=$(wait_event '.hook == "socket_bind" and .rule == "low-ports-httpd-only"')
	echo "$ev" | jq -e '.action == "deny" and .socket.family == "inet6" and
	  .net.addr == "::1" and .net.port == 443' >/dev/null || fail "IPv6 bind event wrong: $ev"
	expect OK $W/httpd bind ::1 443
else
	log "lo has no ::1: IPv6 cases not run"
fi

### socket_bind
mark_events
expect EPERM $W/server bind 127.0.0.1 80
ev=$(wait_event '.event == "socket" and .hook == "socket_bind" and .action == "deny"')
log "$ev"
echo "$ev" | jq -e --arg w "$W" '.rule == "low-ports-httpd-only" and .socket.family == "inet" and
  .socket.type == "stream" and .net.addr == "127.0.0.1" and .net.port == 80 and
  .process.exe == ($w + "/server")' >/dev/null || fail "bind deny event wrong: $ev"
expect EPERM $B/try_sock bind 0.0.0.0 1023 udp
expect EPERM $W/server bind 127.0.0.1 1
expect OK $W/httpd bind 127.0.0.1 80
expect OK $W/server bind 127.0.0.1 0
expect OK $W/server bind 127.0.0.1 1024
expect OK $W/server bind 127.0.0.1 8080
assert_eq 3 "$(count_events '.hook == "socket_bind"')" "bind events (the three denials)"

### socket_listen, socket_accept
mark_events
serve $W/noisy 127.0.0.1 7100
served EPERM 7100
ev=$(wait_event '.event == "socket" and .hook == "socket_listen" and .rule == "no-listen-noisy"')
echo "$ev" | jq -e '.action == "deny" and .socket.family == "inet" and .socket.type == "stream"' >/dev/null ||
	fail "listen deny event wrong: $ev"
assert_contains "$(cat $W/serve-7100.out)" "): listen" "noisy's failing step"

# socket_accept is checked when accept(2) is called, before it waits for a
# connection: guarded listens, then its accept fails at once.
serve $W/guarded 127.0.0.1 7102
served EPERM 7102
assert_contains "$(cat $W/serve-7102.out)" "): accept" "guarded's failing step"
wait_event '.hook == "socket_accept" and .action == "deny" and .rule == "no-accept-guarded"' >/dev/null

mark_events
serve $W/server 127.0.0.1 7101
ev=$(wait_event '.hook == "socket_listen" and .rule == "server-listen"')
echo "$ev" | jq -e --arg w "$W" '.action == "audit" and .socket.family == "inet" and
  .socket.type == "stream" and .process.exe == ($w + "/server")' >/dev/null ||
	fail "listen audit event wrong: $ev"
expect OK $B/try_sock connect 127.0.0.1 7101
served OK 7101
ev=$(wait_event '.hook == "socket_accept" and .rule == "server-accept"')
echo "$ev" | jq -e '.action == "audit" and .socket.family == "inet" and .socket.type == "stream" and
  .process.comm == "server"' >/dev/null || fail "accept audit event wrong: $ev"

st=$(/krsi/bin/krsi status --json)
echo "$st" | jq -e '([.rules[] | select(.rule == "no-sniffing")][0].denies == 4) and
  ([.rules[] | select(.rule == "raw-trial")][0].would_denies == 1) and
  ([.rules[] | select(.rule == "no-listen-noisy")][0].denies == 1) and
  ([.rules[] | select(.rule == "server-accept")][0].audits == 1)' >/dev/null ||
	fail "counters wrong: $st"

stop_agent
expect OK $W/sniffer create packet raw
expect OK $W/server bind 127.0.0.1 80
serve $W/client 127.0.0.1 4444
expect OK $W/client connect 127.0.0.1 4444
served OK 4444

# The shipped example loads and holds: packet sockets and low-port binds
# denied, a connection to a C2 port reported.
start_agent --policy /krsi/policies/examples/network.yaml --require-enforcement
expect EPERM $B/try_sock create packet raw
expect OK $B/try_sock create inet dgram
expect EPERM $B/try_sock bind 127.0.0.1 80
expect ECONNREFUSED $B/try_sock connect 127.0.0.1 4444
wait_event '.event == "socket" and .rule == "c2-port" and .action == "audit" and .net.port == 4444' >/dev/null
assert_eq 1 "$(count_events '.rule == "packet-or-raw-socket"')" "example packet-socket denials"
stop_agent
