// SPDX-License-Identifier: GPL-2.0-only
/* Loading this module logs a kernel WARNING: the harness must fail the test. */
#include <linux/bug.h>
#include <linux/module.h>

static int __init vmtest_warn_init(void)
{
	WARN(1, "vmtest_warn: deliberate warning for the harness self-test\n");
	return 0;
}

static void __exit vmtest_warn_exit(void)
{
}

module_init(vmtest_warn_init);
module_exit(vmtest_warn_exit);
MODULE_LICENSE("GPL");
