#!/bin/sh
# Globs matched in the kernel: `*` (across `/` too), `?`, several literal
# parts, a list of globs (any), and `not` of a glob; on a resolved path and
# on comm. Kernel answers and events.
set -eu
. /krsi/lib.sh

expect_open() {
	_rc=0
	_out=$(/krsi/bin/try_open "$2" r 2>&1) || _rc=$?
	_got=OK
	[ "$_rc" = 0 ] || _got=$(printf '%s\n' "$_out" | sed -n 's/^errno=\([A-Z0-9]*\).*/\1/p')
	[ "$_got" = "$1" ] || fail "open $2: expected $1, got $_got ($_out)"
}

W=$KRSI_WORK
mkdir -p $W/conf/sub $W/g $W/a/mid1/b
for f in conf/a.key conf/a.keys conf/sub/b.key conf/c.pem g/x.ok g/x.bad a/mid1/b/x a/x; do
	echo x >$W/$f
done
cat >$W/p.yaml <<P
rules:
  - name: key-files
    hook: open
    action: deny
    match: {file.path: {glob: ['$W/conf/*.key', '$W/conf/*.pem']}}
  - name: only-ok-in-g
    hook: open
    action: deny
    match: {file.path: {prefix: $W/g/}, not: {file.path: {glob: '*.ok'}}}
  - name: three-parts
    hook: open
    action: audit
    match: {file.path: {glob: '$W/*/mid?/*/x'}}
  - name: comm-glob
    hook: open
    action: audit
    match: {file.path: $W/a/x, process.comm: {glob: 'try_?pen'}}
P
start_agent --policy $W/p.yaml

expect_open EPERM $W/conf/a.key
expect_open OK $W/conf/a.keys
expect_open EPERM $W/conf/sub/b.key
expect_open EPERM $W/conf/c.pem
ev=$(wait_event '.rule == "key-files" and .path == "'$W'/conf/sub/b.key"')
echo "$ev" | jq -e '.action == "deny" and .event == "open"' >/dev/null || fail "glob event wrong: $ev"
expect_open OK $W/g/x.ok
expect_open EPERM $W/g/x.bad
expect_open OK $W/a/mid1/b/x
wait_event '.rule == "three-parts" and .path == "'$W'/a/mid1/b/x"' >/dev/null
expect_open OK $W/a/x
wait_event '.rule == "comm-glob" and .process.comm == "try_open"' >/dev/null
cat $W/a/x >/dev/null
no_event '.rule == "comm-glob" and .process.comm == "cat"' 1
stop_agent
