// SPDX-License-Identifier: GPL-2.0-only
/*
 * krsi_hide: a test module that hides itself the way kernel rootkits do:
 * its init unlinks THIS_MODULE from the kernel's module list, so it stays
 * resident but lsmod, /proc/modules and rmmod no longer see it. krsi must
 * report it (module_hidden event). It does nothing else and has no exit
 * function: once hidden it can never be unloaded.
 */
#include <linux/init.h>
#include <linux/list.h>
#include <linux/module.h>

static int __init krsi_hide_init(void)
{
	/*
	 * module_mutex (which writers of the list hold) is not visible to
	 * modules since 5.x; rootkits unlink without it, and nothing else
	 * loads or unloads modules while the test loads this one.
	 */
	list_del(&THIS_MODULE->list);
	pr_info("krsi_hide: unlinked from the module list\n");
	return 0;
}
module_init(krsi_hide_init);

MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("krsi VM test: a module that hides itself");
