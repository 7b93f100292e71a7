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
/* Clauses: a rule compiles to one or more (its condition in disjunctive
 * form); clauses that share an index key are chained through `next`. */
#define KRSI_MAX_CLAUSES 32768 /* per slot */
#define KRSI_NO_CLAUSE 0xffffffffu
#define KRSI_MAX_CHAIN 64 /* clauses walked per indexed lookup */
#define KRSI_MAX_ANY_CHAIN 256 /* clauses walked for the hook's unindexed rules */
#define KRSI_MAX_PREDS 8 /* predicates per clause (a conjunction) */
/* Prefix trie data: slot, hook, then at most this many bytes of path. */
#define KRSI_PREFIX_DATA 256
#define KRSI_PREFIX_PATH (KRSI_PREFIX_DATA - 2)
/* String-set trie data: a 4-byte set id, then the string and its NUL. */
#define KRSI_SET_DATA 256
#define KRSI_SET_STR (KRSI_SET_DATA - 4)
#define KRSI_NAME_MAX 256 /* power of two */
#define KRSI_TAINT_LABELS 64

/* Hooks, numbered in crates/krsi-policy model::Hook order. */
enum krsi_hook {
	KRSI_HOOK_BPRM_CHECK_SECURITY = 0,
	KRSI_HOOK_FILE_OPEN = 1,
	KRSI_HOOK_INODE_UNLINK = 2,
	KRSI_HOOK_PATH_UNLINK = 3,
	KRSI_HOOK_INODE_RENAME = 4,
	KRSI_HOOK_KERNEL_READ_FILE = 5,
	KRSI_HOOK_KERNEL_LOAD_DATA = 6,
	KRSI_HOOK_KERNEL_MODULE_REQUEST = 7,
	KRSI_HOOK_SB_MOUNT = 8,
	KRSI_HOOK_MOVE_MOUNT = 9,
	KRSI_HOOK_PTRACE_ACCESS_CHECK = 10,
	KRSI_HOOK_PTRACE_TRACEME = 11,
	KRSI_HOOK_TASK_FIX_SETUID = 12,
	KRSI_HOOK_TASK_FIX_SETGID = 13,
	KRSI_HOOK_TASK_PRCTL = 14,
	KRSI_HOOK_SOCKET_CREATE = 15,
	KRSI_HOOK_SOCKET_CONNECT = 16,
	KRSI_HOOK_SOCKET_BIND = 17,
	KRSI_HOOK_SOCKET_LISTEN = 18,
	KRSI_HOOK_SOCKET_ACCEPT = 19,
	KRSI_HOOK_INODE_CREATE = 20,
	KRSI_HOOK_INODE_MKDIR = 21,
	KRSI_HOOK_INODE_SYMLINK = 22,
	KRSI_HOOK_TASK_KILL = 23,
	KRSI_HOOK_BPF = 24,
	KRSI_HOOK_BPF_MAP = 25,
	KRSI_HOOK_BPF_PROG = 26,
	/* exec after the point of no return: argv and environment are known */
	KRSI_HOOK_BPRM_COMMITTED_CREDS = 27,
	/* a new super block, before it is mounted (mount(2) and fsconfig) */
	KRSI_HOOK_SB_SET_MNT_OPTS = 28,
	/* tp_btf/module_load: a module was loaded (audit only) */
	KRSI_HOOK_MODULE_LOAD = 29,
	/* a capability check (capable(), ns_capable(), file_ns_capable()) */
	KRSI_HOOK_CAPABLE = 30,
	KRSI_HOOKS = 32,
};

/*
 * Facts: what a hook invocation is about, as numbers and strings a clause's
 * predicates compare. Numbers 0..15 are the acting process, 16..31 the
 * hook's own (crates/krsi-policy fields.rs maps every field to one).
 * By convention A0/A1 hold the primary file's identity (dev, ino).
 */
enum krsi_fact {
	KRSI_F_PID = 0,
	KRSI_F_TID = 1,
	KRSI_F_PPID = 2,
	KRSI_F_UID = 3,
	KRSI_F_EUID = 4,
	KRSI_F_GID = 5,
	KRSI_F_CGROUP_ID = 6,
	KRSI_F_NS_PID = 7,
	KRSI_F_NS_MNT = 8,
	KRSI_F_NS_USER = 9,
	KRSI_F_CAPS = 10,
	KRSI_F_TAINT = 11,
	KRSI_F_EXE_DEV = 12,
	KRSI_F_EXE_INO = 13,
	KRSI_F_A0 = 16, /* ... KRSI_F_A0 + 15 */
	KRSI_FACTS = 32,
	/* String facts. */
	KRSI_S_COMM = 64,
	KRSI_S_EXE = 65,
	KRSI_S_PATH = 66,
	KRSI_S_PATH2 = 67,
	KRSI_S_NAME = 68,
	KRSI_S_NAME2 = 69,
	KRSI_S_CGROUP = 70, /* cgroup v2 path of the process */
	/* Not a value: the process's ancestors, tested by KRSI_OP_ANC_IN. */
	KRSI_F_ANCESTORS = 71,
	/* String lists of the new image (KRSI_OP_STRS_IN). */
	KRSI_F_ARGV = 72,
	KRSI_F_ENV_NAMES = 73,
	KRSI_F_ENV = 74,
	/* SHA-256 of the primary file as 64 lowercase hex digits (exec, kernel
	 * reads); its 32 raw bytes are facts A12..A15. */
	KRSI_S_HASH = 75,
};
/* Where a hook keeps the raw SHA-256 of its primary file (4 facts). */
#define KRSI_A_HASH (KRSI_F_A0 + 12)

enum krsi_pred_op {
	KRSI_OP_EQ = 1, /* n == v */
	KRSI_OP_LT = 2, /* n < v */
	KRSI_OP_GT = 3, /* n > v */
	KRSI_OP_ANY = 4, /* n & v != 0 */
	KRSI_OP_ALL = 5, /* n & v == v */
	KRSI_OP_IN = 6, /* (set, n, 0) in krsi_num_sets */
	KRSI_OP_ID_EQ = 7, /* (n, n+1) == (v, v2): a file identity */
	KRSI_OP_ID_IN = 8, /* (set, n, n+1) in krsi_num_sets */
	KRSI_OP_STR = 9, /* string fact matches an entry of trie set (exact or prefix) */
	KRSI_OP_CIDR = 10, /* 16 address bytes at (n, n+1) match trie set */
	KRSI_OP_ANC_IN = 11, /* the exe identity of an ancestor is in the set */
	KRSI_OP_STRS_IN = 12, /* some argv/env string of the new image is in trie set */
	KRSI_OP_GLOB = 13, /* the string fact matches krsi_globs[slot][set] */
	KRSI_OP_SETID_OK = 14, /* SafeSetID: the id change is allowed by pair set */
};

/* A glob: literal segments (byte 0 = '?') separated by '*'. */
#define KRSI_GLOB_SEGS 4
#define KRSI_GLOB_SEG_LEN 32
#define KRSI_MAX_GLOBS 1024 /* per slot */
struct krsi_glob {
	__u8 nseg;
	__u8 anchored_start;
	__u8 anchored_end;
	__u8 _pad;
	__u8 len[KRSI_GLOB_SEGS];
	char seg[KRSI_GLOB_SEGS][KRSI_GLOB_SEG_LEN];
	/* 0xff where the byte must equal seg, 0 for '?' and past the end:
	 * the compare needs no branch per byte. */
	__u8 mask[KRSI_GLOB_SEGS][KRSI_GLOB_SEG_LEN];
};
#define KRSI_MAX_STRS 512 /* argv + env strings examined per exec */
#define KRSI_MAX_ANCESTORS 32
#define KRSI_CGROUP_DEPTH 16

struct krsi_pred {
	__u8 fact; /* enum krsi_fact */
	__u8 op; /* enum krsi_pred_op */
	__u8 neg; /* the predicate is negated */
	__u8 _pad;
	__u32 set; /* set id (ops IN, ID_IN, STR, CIDR), slot in bit 31 */
	__u64 v;
	__u64 v2;
};

/* A conjunction of predicates: on a match the rule's action applies. */
struct krsi_clause {
	__u32 rule;
	__u8 action; /* enum krsi_action */
	__u8 npred;
	__u8 taint; /* label bit to set, or KRSI_NO_TAINT */
	__u8 _pad;
	__u32 next; /* index within the slot, or KRSI_NO_CLAUSE */
	__u32 _pad2;
	struct krsi_pred pred[KRSI_MAX_PREDS];
};
#define KRSI_NO_TAINT 0xff

/* Per slot and hook: which indexes hold entries and which facts the
 * predicates need (strings are resolved only when asked for). */
struct krsi_hook_config {
	__u32 any_head; /* clauses without an index key, or KRSI_NO_CLAUSE */
	__u32 flags; /* KRSI_HC_* */
};
#define KRSI_HC_IDENTITY (1u << 0)
#define KRSI_HC_PREFIX (1u << 1)
#define KRSI_HC_ANY (1u << 2)
#define KRSI_HC_NEED_EXE (1u << 3)
#define KRSI_HC_NEED_PATH (1u << 4)
#define KRSI_HC_NEED_PATH2 (1u << 5)
#define KRSI_HC_NEED_TAINT (1u << 6)
#define KRSI_HC_NEED_NS (1u << 7)
#define KRSI_HC_NEED_CGROUP (1u << 8)
/* A rule compares file.sha256: the hook's sleepable program hashes the file
 * (or finds it in the hash cache) before the rules run. */
#define KRSI_HC_NEED_HASH (1u << 9)
/* A rule reads exec.env.bytes/duplicates/overflow: the committed exec's
 * environment is walked once (names hashed to find duplicates). */
#define KRSI_HC_NEED_ENV (1u << 12)
#define KRSI_HC_ACTIVE (KRSI_HC_IDENTITY | KRSI_HC_PREFIX | KRSI_HC_ANY)

/* Per slot and rule. */
struct krsi_rule_config {
	__u32 rate_events; /* at most this many events per period (0: no limit) */
	__u32 rate_period_s;
	__u32 deny_errno; /* what a deny or kill returns, negated (0: EPERM) */
	__u32 _pad;
};

struct krsi_rate {
	__u64 window_start_ns;
	__u64 count;
};

struct krsi_index_key {
	__u8 slot;
	__u8 hook;
	__u16 _pad;
	__u32 dev;
	__u64 ino;
};

struct krsi_num_set_key {
	__u32 set;
	__u32 _pad;
	__u64 a;
	__u64 b;
};

struct krsi_set_key {
	__u32 prefixlen;
	__u8 data[KRSI_SET_DATA];
};

enum krsi_action {
	KRSI_ACTION_NONE = 0,
	KRSI_ACTION_AUDIT = 1,
	KRSI_ACTION_DENY = 2,
	/* A deny rule matched where it cannot be enforced (tracepoint backend). */
	KRSI_ACTION_WOULD_DENY = 3,
	KRSI_ACTION_KILL = 4, /* SIGKILL the actor, and deny the call */
	KRSI_ACTION_WOULD_KILL = 5, /* a kill rule in monitor mode */
	KRSI_ACTION_TAINT = 6, /* label the process and its future children */
};

enum krsi_event_type {
	KRSI_EVENT_EXEC = 1,
	KRSI_EVENT_FILE = 2,
	KRSI_EVENT_HOOK = 3, /* struct krsi_hook_event: every other hook */
	KRSI_EVENT_MODULE_HIDDEN = 4, /* struct krsi_module_event */
	KRSI_EVENT_TAMPER = 5, /* struct krsi_tamper_event */
};

/* Which program produced a record: the event's `hook` and `backend`. */
enum krsi_source {
	KRSI_SRC_LSM_BPRM_CHECK_SECURITY = 1,
	KRSI_SRC_LSM_BPRM_COMMITTED_CREDS = 2,
	KRSI_SRC_TP_SCHED_PROCESS_EXEC = 3,
	KRSI_SRC_LSM_FILE_OPEN = 4,
	/* The policy lock's own hooks (bpf is KRSI_SRC_LSM_HOOK + KRSI_HOOK_BPF). */
	KRSI_SRC_LSM_BPF_MAP = 5,
	KRSI_SRC_LSM_SB_UMOUNT = 6,
	KRSI_SRC_LSM_INODE_UNLINK = 7,
	KRSI_SRC_LSM_INODE_RENAME = 8,
	KRSI_SRC_LSM_INODE_RMDIR = 9,
	/* Every other hook: KRSI_SRC_LSM_HOOK + enum krsi_hook. */
	KRSI_SRC_LSM_HOOK = 64,
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
#define KRSI_F_PATH2_TRUNCATED (1u << 4)
/* The record carries the primary file's SHA-256 (exec: sha256; others:
 * facts A12..A15); without it the hash was not asked for or not available. */
#define KRSI_F_HASH (1u << 5)
/* The hash was asked for and could not be computed (no IMA hash, not
 * SHA-256, or the hash program did not run first). */
#define KRSI_F_HASH_MISSING (1u << 6)
/* The exec record carries the environment summary (env_*). */
#define KRSI_F_ENV (1u << 7)
/* Not every argv/environment string was examined (more than
 * KRSI_MAX_STRS, or unreadable): exec.env.overflow. */
#define KRSI_F_ENV_OVERFLOW (1u << 8)

struct krsi_state {
	__u32 active_slot; /* 0 or 1 */
	__u32 enforce; /* non-zero once the policy is applied */
	/* Set by the agent once a policy has used file hashes: from then on
	 * every write-open or truncate drops the file's cached hash. */
	__u32 hash_live;
	__u32 hash_nocache; /* benchmarks: hash on every call */
};

/*
 * LoadPin's pin (krsi_loadpin, one element). Reads pin the first file
 * system they come from (NONE -> SET); the agent may configure one instead
 * (DEV: the file system whose s_dev is `dev`, SET on its first read). The
 * pinned super block going away makes it GONE for good, as in the kernel.
 */
#define KRSI_PIN_NONE 0
#define KRSI_PIN_SET 1
#define KRSI_PIN_GONE 2
#define KRSI_PIN_DEV 3
struct krsi_loadpin {
	__u64 sb; /* the pinned super block (SET, and GONE after it) */
	__u32 state; /* KRSI_PIN_* */
	__u32 dev; /* s_dev of the pinned (DEV: configured) file system */
};

/* The hash cache: a file's SHA-256, dropped when the file is opened for
 * writing or truncated (exec holds writers off while it runs). */
struct krsi_hash_key {
	__u32 dev;
	__u32 generation; /* i_generation: an inode number reused is another file */
	__u64 ino;
};

struct krsi_hash_value {
	__u8 sha256[32];
};

/* Same layout as struct bpf_lpm_trie_key: data[0] is the slot, data[1] the hook. */
struct krsi_prefix_key {
	__u32 prefixlen; /* in bits, including slot and hook */
	__u8 data[KRSI_PREFIX_DATA];
};

struct krsi_rule_stats {
	__u64 hits;
	__u64 denies;
	__u64 would_denies; /* monitor mode, or a backend that cannot deny */
	__u64 audits;
	__u64 dropped; /* events for this rule lost to a full ring buffer */
	__u64 kills;
	__u64 taints;
	__u64 suppressed; /* events left out by the rule's rate_limit */
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
	__u64 taint; /* the process's taint labels after this call */
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
	__u32 fileless; /* KRSI_FILELESS_*: memfd, deleted, internal (krsi.bpf.c) */
	__u8 sha256[32]; /* with KRSI_F_HASH */
	/* with KRSI_F_ENV: exec.env.count/bytes/duplicates, and the entries the
	 * kernel singled out (a matched variable, or both settings of the first
	 * variable set twice) */
	__u32 env_count;
	__u32 env_bytes;
	__u32 env_duplicates;
	__u16 env_len[2];
	char env[2][KRSI_NAME_MAX];
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
	__u32 proc_pid; /* file.proc.pid: 0 unless a per-process /proc file */
	__u32 proc_self; /* file.proc.self */
	char path[KRSI_PATH_MAX];
	char exe[KRSI_PATH_MAX];
};

/* Every hook but exec and file_open: the facts the rules saw. */
struct krsi_hook_event {
	struct krsi_event_hdr hdr;
	__u32 hook; /* enum krsi_hook */
	__u32 flags; /* KRSI_F_* */
	__u64 args[16]; /* facts A0..A15 */
	__u16 path_len;
	__u16 path2_len;
	__u16 name_len;
	__u16 name2_len;
	__u16 exe_len;
	__u16 _pad[3];
	char path[KRSI_PATH_MAX];
	char path2[KRSI_PATH_MAX];
	char name[KRSI_NAME_MAX];
	char name2[KRSI_NAME_MAX];
	char exe[KRSI_PATH_MAX];
};

/*
 * A module loaded while the agent ran is no longer linked in the kernel's
 * module list although it was never freed: it hid itself. hdr describes the
 * task that loaded it (hdr.boot_ns: when the unlink was seen).
 */
#define KRSI_MODULE_NAME_LEN 64 /* MODULE_NAME_LEN is 56 */
enum krsi_hidden_how {
	KRSI_HIDDEN_POISONED = 1, /* list pointers unreadable (list_del poison) */
	KRSI_HIDDEN_SELF = 2, /* points to itself (list_del_init) */
	KRSI_HIDDEN_UNLINKED = 3, /* neighbours no longer point back */
};

struct krsi_module_event {
	struct krsi_event_hdr hdr;
	__u64 addr; /* struct module * */
	__u64 load_ns; /* boot time of the load */
	__u32 how; /* enum krsi_hidden_how */
	__u32 _pad;
	char name[KRSI_MODULE_NAME_LEN];
};

/*
 * The policy lock. A sealed instance (a policy with `lock: until-reboot`)
 * is pinned, its maps are frozen, and its own programs refuse, from then
 * until reboot, whatever would undo it: detaching or replacing its links,
 * new file descriptors for its maps, removing its pins and unmounting the
 * bpffs they live in.
 */
#define KRSI_LOCK_MAX_IDS 256
/* krsi_lock_ids keys: kind << 32 | object id. */
#define KRSI_LOCK_LINK 1ull
#define KRSI_LOCK_MAP 2ull

struct krsi_lock {
	__u32 armed;
	__u32 pin_dev; /* the bpffs holding the pins (kernel dev_t encoding) */
	__u64 pin_dir_ino; /* the seal's pin directory */
};

/* What a tamper record says was refused. */
enum krsi_tamper_what {
	KRSI_TAMPER_LINK = 1, /* BPF_LINK_DETACH / BPF_LINK_UPDATE of a sealed link */
	KRSI_TAMPER_MAP = 2, /* a new fd for a sealed map */
	KRSI_TAMPER_PIN = 3, /* unlink/rename/rmdir in the pin directory */
	KRSI_TAMPER_UMOUNT = 4, /* unmounting the bpffs holding the pins */
};

struct krsi_tamper_event {
	struct krsi_event_hdr hdr;
	__u32 what; /* enum krsi_tamper_what */
	__u32 id; /* link or map id, or 0 */
	__u64 ino; /* the pin's inode, or 0 */
};

#endif
