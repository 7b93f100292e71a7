/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Devices under a mount (no USB storage) and kernel module activity: every
 * load with its name, and modules that unlink themselves from the kernel's
 * module list to hide.
 */
#ifndef KRSI_HOOKS_KERNEL_H
#define KRSI_HOOKS_KERNEL_H

/*
 * mount.device.bus: the devices above the block device are walked up
 * (sda -> scsi device -> scsi target -> scsi host -> USB interface -> ...).
 * "usb" when any of them sits on the USB bus (a USB stick is a SCSI disk
 * below a USB interface), else the nearest bus found (scsi for SATA/SAS,
 * virtio, pci for NVMe, ...). Comparing bus_type.name with "usb" holds
 * whether or not usbcore is loaded (no symbol address to resolve) and
 * covers usb-storage and uas alike.
 */
#define KRSI_BUS_DEPTH 16
#define KRSI_BUS_NAME 16

struct bus_walk {
	__u64 dev; /* struct device * */
	__u32 usb;
	__u32 found;
	char nearest[KRSI_BUS_NAME];
	char name[KRSI_BUS_NAME];
};

static long bus_step(__u32 i, void *data)
{
	struct bus_walk *w = data;
	struct device *d = (struct device *)w->dev;
	const struct bus_type *bus;

	if (!d)
		return 1;
	bus = BPF_CORE_READ(d, bus);
	if (bus) {
		if (bpf_probe_read_kernel_str(w->name, sizeof(w->name), BPF_CORE_READ(bus, name)) > 0) {
			if (!w->found) {
				bpf_probe_read_kernel(w->nearest, sizeof(w->nearest), w->name);
				w->found = 1;
			}
			if (w->name[0] == 'u' && w->name[1] == 's' && w->name[2] == 'b' && w->name[3] == 0) {
				w->usb = 1;
				return 1;
			}
		}
	}
	w->dev = (__u64)BPF_CORE_READ(d, parent);
	return 0;
}

/*
 * vfs_get_tree() calls security_sb_set_mnt_opts() once the file system's
 * super block is set up and before anything is mounted, for mount(2) and
 * for fsconfig(FSCONFIG_CMD_CREATE) of the new mount API alike; an error
 * there drops the super block and fails the call. sb_mount only sees the
 * source string, sb_kern_mount is not called by fsmount(2).
 */
SEC("lsm/sb_set_mnt_opts")
int BPF_PROG(krsi_sb_set_mnt_opts, struct super_block *sb, void *mnt_opts, unsigned long kern_flags,
	     unsigned long *set_kern_flags, int ret)
{
	struct block_device *bdev;
	struct krsi_facts *f;
	struct bus_walk w = {};
	__u32 dev;

	if (ret)
		return ret;
	f = krsi_begin(KRSI_HOOK_SB_SET_MNT_OPTS);
	if (!f)
		return 0;
	krsi_set_name(f, sb->s_id);
	krsi_set_name2(f, BPF_CORE_READ(sb, s_type, name));
	dev = BPF_CORE_READ(sb, s_dev);
	f->num[KRSI_F_A0] = dev;
	bdev = BPF_CORE_READ(sb, s_bdev);
	if (bdev) {
		dev = BPF_CORE_READ(bdev, bd_dev);
		f->num[KRSI_F_A0 + 2] = dev >> 20; /* MAJOR() of the kernel's dev_t */
		f->num[KRSI_F_A0 + 3] = dev & ((1u << 20) - 1);
		w.dev = (__u64)__builtin_preserve_access_index(&bdev->bd_device);
		bpf_loop(KRSI_BUS_DEPTH, bus_step, &w, 0);
		/* The bus in path2 (no dentry: the engine does not resolve it). */
		if (w.usb) {
			f->path2[0] = 'u';
			f->path2[1] = 's';
			f->path2[2] = 'b';
			f->path2[3] = 0;
			f->path2_len = 3;
		} else if (w.found) {
			long n = bpf_probe_read_kernel_str(f->path2, KRSI_BUS_NAME, w.nearest);

			f->path2_len = n > 0 ? n - 1 : 0;
		}
	}
	return krsi_decide(f);
}

/*
 * Module loads. The tracepoint knows the module's name; whether it came
 * from a file (finit_module: kernel_read_file READING_MODULE) or from memory
 * (init_module: kernel_load_data LOADING_MODULE) and which file is stashed
 * per thread by the LSM hooks the load passes first.
 */
#define KRSI_MODSRC_UNKNOWN 0
#define KRSI_MODSRC_FILE 1
#define KRSI_MODSRC_MEMORY 2

struct module_origin {
	__u32 src; /* KRSI_MODSRC_* */
	__u32 dev;
	__u64 ino;
	__u64 dentry;
	__u64 mnt;
};

struct {
	__uint(type, BPF_MAP_TYPE_TASK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct module_origin);
} krsi_module_origin SEC(".maps");

SEC("lsm/kernel_read_file")
int BPF_PROG(krsi_module_read_file, struct file *file, enum kernel_read_file_id id, bool contents,
	     int ret)
{
	struct module_origin *o;

	if (ret || id != KRSI_READING_MODULE || !file)
		return ret;
	o = bpf_task_storage_get(&krsi_module_origin, bpf_get_current_task_btf(), 0,
				 BPF_LOCAL_STORAGE_GET_F_CREATE);
	if (!o)
		return 0;
	o->src = KRSI_MODSRC_FILE;
	o->dev = BPF_CORE_READ(file, f_inode, i_sb, s_dev);
	o->ino = BPF_CORE_READ(file, f_inode, i_ino);
	/* Resolved at module_load only if a rule or the event needs the path;
	 * finit_module's caller still holds the file descriptor then. */
	o->dentry = (__u64)BPF_CORE_READ(file, f_path.dentry);
	o->mnt = (__u64)BPF_CORE_READ(file, f_path.mnt);
	return 0;
}

SEC("lsm/kernel_load_data")
int BPF_PROG(krsi_module_load_data, enum kernel_load_data_id id, bool contents, int ret)
{
	struct module_origin *o;

	if (ret || id != KRSI_READING_MODULE)
		return ret;
	o = bpf_task_storage_get(&krsi_module_origin, bpf_get_current_task_btf(), 0,
				 BPF_LOCAL_STORAGE_GET_F_CREATE);
	if (!o)
		return 0;
	o->src = KRSI_MODSRC_MEMORY;
	o->dev = 0;
	o->ino = 0;
	o->dentry = 0;
	o->mnt = 0;
	return 0;
}

/*
 * Hidden modules: every module loaded while the agent runs is remembered
 * (by its struct module address) until the module_free tracepoint; a timer
 * checks once a second that each is still linked in the `modules` list. A
 * module that unlinks itself (list_del(&THIS_MODULE->list), the classic
 * rootkit trick that hides it from /proc/modules, lsmod and rmmod) is
 * reported once. free_module() fires module_free before it unlinks and
 * marks the module UNFORMED, so a normal unload is never mistaken for it.
 */
#define KRSI_MAX_TRACKED_MODULES 4096
#define KRSI_MODCHECK_NS 1000000000ull

struct tracked_module {
	struct krsi_event_hdr hdr; /* the loading task */
	__u64 load_ns;
	__u32 reported;
	__u32 _pad;
	char name[KRSI_MODULE_NAME_LEN];
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, KRSI_MAX_TRACKED_MODULES);
	__type(key, __u64);
	__type(value, struct tracked_module);
} krsi_modules SEC(".maps");

struct modcheck_timer {
	struct bpf_timer t;
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct modcheck_timer);
} krsi_modcheck SEC(".maps");

/* Which way the module left the list, or 0 while it is linked. */
static __always_inline __u32 module_unlinked(struct module *m)
{
	struct list_head *self = __builtin_preserve_access_index(&m->list);
	struct list_head *next = NULL, *prev = NULL, *back = NULL;

	if (bpf_probe_read_kernel(&next, sizeof(next), &self->next) ||
	    bpf_probe_read_kernel(&prev, sizeof(prev), &self->prev))
		return KRSI_HIDDEN_POISONED;
	if (next == self || prev == self)
		return KRSI_HIDDEN_SELF;
	/* LIST_POISON1/2 (list_del, list_del_rcu) are not readable. */
	if (bpf_probe_read_kernel(&back, sizeof(back), &next->prev))
		return KRSI_HIDDEN_POISONED;
	if (back != self)
		return KRSI_HIDDEN_UNLINKED;
	if (bpf_probe_read_kernel(&back, sizeof(back), &prev->next))
		return KRSI_HIDDEN_POISONED;
	if (back != self)
		return KRSI_HIDDEN_UNLINKED;
	return 0;
}

static long modcheck_one(struct bpf_map *map, __u64 *key, struct tracked_module *v, void *ctx)
{
	struct module *m = (struct module *)*key;
	struct krsi_module_event *e;
	__u32 state = 0, how;

	if (v->reported)
		return 0;
	bpf_probe_read_kernel(&state, sizeof(state), __builtin_preserve_access_index(&m->state));
	/* GOING/UNFORMED: on its way out (failed init or unload), not hiding. */
	if (state != MODULE_STATE_LIVE && state != MODULE_STATE_COMING)
		return 0;
	how = module_unlinked(m);
	if (!how)
		return 0;
	e = bpf_ringbuf_reserve(&krsi_events, sizeof(*e), 0);
	if (!e) {
		count(KRSI_CNT_EVENTS_LOST);
		return 0; /* reported on the next round */
	}
	v->reported = 1;
	bpf_probe_read_kernel(&e->hdr, sizeof(e->hdr), &v->hdr);
	e->hdr.boot_ns = bpf_ktime_get_boot_ns();
	e->addr = *key;
	e->load_ns = v->load_ns;
	e->how = how;
	e->_pad = 0;
	bpf_probe_read_kernel(e->name, sizeof(e->name), v->name);
	bpf_ringbuf_submit(e, 0);
	return 0;
}

/* Hidden modules are reported while the policy has a module_load rule
 * (policies/detect/kernel-modules.yaml); loads are tracked regardless, so
 * switching it on later still finds a module that hid meanwhile. */
static __always_inline bool module_watch_on(void)
{
	struct krsi_state *st = state();
	struct krsi_hook_config *hc;
	__u32 idx;

	if (!st || !st->enforce)
		return false;
	idx = (st->active_slot & 1) * KRSI_HOOKS + KRSI_HOOK_MODULE_LOAD;
	hc = bpf_map_lookup_elem(&krsi_hook_config, &idx);
	return hc && (hc->flags & KRSI_HC_ACTIVE);
}

static int modcheck_fire(void *map, __u32 *key, struct modcheck_timer *t)
{
	if (module_watch_on())
		bpf_for_each_map_elem(&krsi_modules, modcheck_one, NULL, 0);
	bpf_timer_start(&t->t, KRSI_MODCHECK_NS, 0);
	return 0;
}

static __always_inline void modcheck_arm(void)
{
	struct modcheck_timer *t;
	__u32 zero = 0;

	t = bpf_map_lookup_elem(&krsi_modcheck, &zero);
	if (!t)
		return;
	/* -EBUSY once initialised: the running timer is kept. */
	if (bpf_timer_init(&t->t, &krsi_modcheck, 1 /* CLOCK_MONOTONIC */) == 0) {
		bpf_timer_set_callback(&t->t, modcheck_fire);
		bpf_timer_start(&t->t, KRSI_MODCHECK_NS, 0);
	}
}

/* Scratch for the tracked-module value (kept off the 512-byte stack). */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct tracked_module);
} krsi_module_scratch SEC(".maps");

static __always_inline void track_module(struct module *mod)
{
	struct tracked_module *v;
	__u64 key = (__u64)mod;
	__u32 zero = 0;

	v = bpf_map_lookup_elem(&krsi_module_scratch, &zero);
	if (!v)
		return;
	fill_hdr_type(&v->hdr, KRSI_EVENT_MODULE_HIDDEN, KRSI_SRC_LSM_HOOK + KRSI_HOOK_MODULE_LOAD,
		      KRSI_ACTION_AUDIT, KRSI_NO_RULE, 0);
	v->load_ns = v->hdr.boot_ns;
	v->reported = 0;
	bpf_probe_read_kernel_str(v->name, sizeof(v->name), mod->name);
	bpf_map_update_elem(&krsi_modules, &key, v, BPF_ANY);
	modcheck_arm();
}

SEC("tp_btf/module_load")
int BPF_PROG(krsi_module_load, struct module *mod)
{
	struct module_origin *o;
	struct krsi_facts *f;
	__u32 src = KRSI_MODSRC_UNKNOWN;
	__u32 dev = 0;
	__u64 ino = 0, dentry = 0, mnt = 0;

	track_module(mod);
	o = bpf_task_storage_get(&krsi_module_origin, bpf_get_current_task_btf(), 0, 0);
	if (o) {
		src = o->src;
		dev = o->dev;
		ino = o->ino;
		dentry = o->dentry;
		mnt = o->mnt;
		/* One load per stash: a later init_module starts afresh. */
		o->src = KRSI_MODSRC_UNKNOWN;
	}
	f = krsi_begin(KRSI_HOOK_MODULE_LOAD);
	if (!f)
		return 0;
	krsi_set_name(f, mod->name);
	f->num[KRSI_F_A0] = dev;
	f->num[KRSI_F_A0 + 1] = ino;
	f->num[KRSI_F_A0 + 2] = src;
	f->num[KRSI_F_A0 + 3] = (__u64)mod;
	if (src == KRSI_MODSRC_FILE) {
		/* The digest lsm.s/kernel_read_file left for this thread, when it
		 * is this file's (krsi_set_hash compares the identity). */
		krsi_set_hash(f);
		if (dentry)
			krsi_set_path(f, (struct dentry *)dentry, (struct vfsmount *)mnt);
	}
	/* Audit only (the compiler refuses deny and kill here): the module is
	 * already in. */
	krsi_decide(f);
	return 0;
}

SEC("tp_btf/module_free")
int BPF_PROG(krsi_module_free, struct module *mod)
{
	__u64 key = (__u64)mod;

	bpf_map_delete_elem(&krsi_modules, &key);
	return 0;
}

#endif
