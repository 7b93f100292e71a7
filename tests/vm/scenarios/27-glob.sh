#!/bin/sh
# Globs matched in the kernel: `*` (across `/` too), `?`, several literal
# parts, a list of globs (any), and `not` of a glob; on a resolved path and
# on comm. Kernel answers and events.
set -eu
. /krsi/lib.sh

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

expect EPERM /krsi/bin/try_open $W/conf/a.key r
expect OK /krsi/bin/try_open $W/conf/a.keys r
expect EPERM /krsi/bin/try_open $W/conf/sub/b.key r
expect EPERM /krsi/bin/try_open $W/conf/c.pem r
ev=$(wait_event '.rule == "key-files" and .path == "'$W'/conf/sub/b.key"')
echo "$ev" | jq -e '.action == "deny" and .event == "open"' >/dev/null || fail "glob event wrong: $ev"
expect OK /krsi/bin/try_open $W/g/x.ok r
expect EPERM /krsi/bin/try_open $W/g/x.bad r
expect OK /krsi/bin/try_open $W/a/mid1/b/x r
wait_event '.rule == "three-parts" and .path == "'$W'/a/mid1/b/x"' >/dev/null
expect OK /krsi/bin/try_open $W/a/x r
wait_event '.rule == "comm-glob" and .process.comm == "try_open"' >/dev/null
cat $W/a/x >/dev/null
no_event '.rule == "comm-glob" and .process.comm == "cat"' 1
stop_agent
