// SPDX-License-Identifier: GPL-2.0-only
/*
 * krsi_fail: a test module whose init fails. The kernel had already linked
 * it into the module list (module_load fired) and takes it out again on the
 * way out (MODULE_STATE_GOING, free_module): krsi must not mistake that for
 * a module hiding itself.
 */
#include <linux/errno.h>
#include <linux/init.h>
#include <linux/module.h>

static int __init krsi_fail_init(void)
{
	return -ENODEV;
}
module_init(krsi_fail_init);

MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("krsi VM test: a module whose init fails");
