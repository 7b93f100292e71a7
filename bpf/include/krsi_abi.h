/* SPDX-License-Identifier: (GPL-2.0-only OR Apache-2.0) */
/*
 * The ABI between krsi's BPF programs and the agent: map keys/values and
 * ring-buffer records. Mirrored by crates/krsi-agent/src/abi.rs; any change
 * here must change there (the agent checks record sizes at start-up).
 */
#ifndef KRSI_ABI_H
#define KRSI_ABI_H

#define KRSI_COMM_LEN 16
#define KRSI_PATH_MAX 1024 /* power of two: the BPF side masks with it */
#define KRSI_ARGV_MAX 2048 /* power of two */

/* Rules live in two slots; the agent fills the idle one, then flips. */
#define KRSI_SLOTS 2
#define KRSI_MAX_RULES 16384 /* per slot */
#define KRSI_MAX_IDENTITIES 131072 /* both slots together */
#define KRSI_NO_RULE 0xffffffffu
/* Clauses: a rule compiles to one or more; clauses that share an index key
 * (a file identity or a path prefix) are chained through `next`. */
#define KRSI_MAX_CLAUSES 32768 /* per slot */
#define KRSI_NO_CLAUSE 0xffffffffu
#define KRSI_MAX_CHAIN 64 /* clauses walked per lookup */
/* LPM data: one byte of slot, then at most this many bytes of path. */
#define KRSI_PREFIX_DATA 256
#define KRSI_PREFIX_PATH (KRSI_PREFIX_DATA - 1)

enum krsi_action {
	KRSI_ACTION_NONE = 0,
	KRSI_ACTION_AUDIT = 1,
	KRSI_ACTION_DENY = 2,
	/* A deny rule matched where it cannot be enforced (tracepoint backend). */
	KRSI_ACTION_WOULD_DENY = 3,
};

enum krsi_event_type {
	KRSI_EVENT_EXEC = 1,
	KRSI_EVENT_FILE = 2,
};

/* Which program produced a record: the event's `hook` and `backend`. */
enum krsi_source {
	KRSI_SRC_LSM_BPRM_CHECK_SECURITY = 1,
	KRSI_SRC_LSM_BPRM_COMMITTED_CREDS = 2,
	KRSI_SRC_TP_SCHED_PROCESS_EXEC = 3,
	KRSI_SRC_LSM_FILE_OPEN = 4,
};

/* file.flags as the policy names them (crates/krsi-policy fields::OPEN_FLAGS order). */
#define KRSI_OPEN_READ (1u << 0)
#define KRSI_OPEN_WRITE (1u << 1)
#define KRSI_OPEN_EXEC (1u << 2)
#define KRSI_OPEN_APPEND (1u << 3)
#define KRSI_OPEN_CREATE (1u << 4)
#define KRSI_OPEN_TRUNCATE (1u << 5)
#define KRSI_OPEN_DIRECTORY (1u << 6)
#define KRSI_OPEN_NOFOLLOW (1u << 7)

/* krsi_slot_config.flags: which file_open indexes hold entries. */
#define KRSI_CFG_OPEN_IDENTITY (1u << 0)
#define KRSI_CFG_OPEN_PREFIX (1u << 1)

/* Global counters (per-CPU array index). */
enum krsi_counter {
	KRSI_CNT_EVENTS_LOST = 0, /* ring buffer reservation failed */
	KRSI_CNT_PATH_TRUNCATED = 1,
	KRSI_CNT_MAX = 8,
};

/* Record flags. */
#define KRSI_F_ARGV_TRUNCATED (1u << 0)
#define KRSI_F_EXE_TRUNCATED (1u << 1)
#define KRSI_F_ARGV_MISSING (1u << 2)
#define KRSI_F_PATH_TRUNCATED (1u << 3)

struct krsi_state {
	__u32 active_slot; /* 0 or 1 */
	__u32 enforce; /* non-zero once the policy is applied */
};

struct krsi_slot_config {
	__u32 exec_audit_rule; /* rule auditing every exec, or KRSI_NO_RULE */
	__u32 flags;
};

/* File identity: kernel dev_t (MKDEV: major << 20 | minor) and inode number. */
struct krsi_exec_key {
	__u32 slot;
	__u32 dev;
	__u64 ino;
};

struct krsi_clause {
	__u32 rule;
	__u32 action; /* enum krsi_action */
	__u32 flags_any; /* file_open: at least one of these KRSI_OPEN_* (0: any) */
	__u32 next; /* index within the slot, or KRSI_NO_CLAUSE */
};

/* Same layout as struct bpf_lpm_trie_key: data[0] is the slot. */
struct krsi_prefix_key {
	__u32 prefixlen; /* in bits, including the slot byte */
	__u8 data[KRSI_PREFIX_DATA];
};

struct krsi_rule_ref {
	__u32 rule; /* index into the slot's rule table */
	__u32 action; /* enum krsi_action */
};

struct krsi_rule_stats {
	__u64 hits;
	__u64 denies;
	__u64 would_denies; /* monitor mode, or a backend that cannot deny */
	__u64 audits;
	__u64 dropped; /* events for this rule lost to a full ring buffer */
};

struct krsi_event_hdr {
	__u64 boot_ns; /* bpf_ktime_get_boot_ns() */
	__u32 type; /* enum krsi_event_type */
	__u32 source; /* enum krsi_source */
	__u32 action; /* enum krsi_action */
	__u32 rule;
	__u32 slot;
	__u32 pid; /* tgid */
	__u32 tid;
	__u32 ppid;
	__u32 uid;
	__u32 gid;
	__u64 cgroup_id;
	char comm[KRSI_COMM_LEN];
};

struct krsi_exec_event {
	struct krsi_event_hdr hdr;
	__u32 dev;
	__u32 argc;
	__u64 ino;
	__u32 flags;
	__u16 filename_len;
	__u16 exe_len;
	__u32 argv_len;
	__u32 _pad;
	char filename[KRSI_PATH_MAX];
	char exe[KRSI_PATH_MAX];
	char argv[KRSI_ARGV_MAX];
};

/* A file event (file_open). */
struct krsi_file_event {
	struct krsi_event_hdr hdr;
	__u32 dev;
	__u32 open_flags; /* KRSI_OPEN_* */
	__u64 ino;
	__u32 flags; /* KRSI_F_* */
	__u16 path_len;
	__u16 exe_len;
	char path[KRSI_PATH_MAX];
	char exe[KRSI_PATH_MAX];
};

#endif
