// SPDX-License-Identifier: GPL-2.0-only
/*
 * Test-only: makes allocations made for dm-remap fail, as failslab and
 * fail_page_alloc would. Debian's kernels have neither (nor function error
 * injection), but they have kprobes: a probe on each allocator entry point
 * sends the call straight back to its caller with NULL when the allocation
 * is chosen to fail, the way override_function_with_return does for BPF.
 *
 * An allocation is made for dm-remap when the first module code on its
 * stack is dm-remap's: dm-remap called the allocator, or called core code
 * (the xarray, a mempool, the block layer) that did. Allocations made by
 * other modules under it (dm core, dm-io, a block driver below) are left
 * alone: they are not dm-remap's to handle.
 *
 * Parameters (/sys/module/dmr_inject/parameters):
 *   nth       the nth allocation for dm-remap from now fails, once
 *   interval  every interval-th allocation for dm-remap fails
 *   matched, injected   counts since last reset (write 0)
 * Each failure is logged with the allocator and the dm-remap code it was for.
 */
#include <linux/hash.h>
#include <linux/kallsyms.h>
#include <linux/kprobes.h>
#include <linux/module.h>
#include <linux/spinlock.h>
#include <linux/stacktrace.h>
#include <linux/string.h>

static int nth;
module_param(nth, int, 0644);
static unsigned int interval;
module_param(interval, uint, 0644);
static unsigned long matched;
module_param(matched, ulong, 0644);
static unsigned long injected;
module_param(injected, ulong, 0644);
static char *target = "dm_remap";
module_param(target, charp, 0444);

/* Protects the counters above and the address cache. */
static DEFINE_RAW_SPINLOCK(lock);

enum { UNKNOWN, CORE, TARGET, OTHER };

/* Code address -> its class: sprint_symbol for every frame is slow. */
#define CACHE_SIZE 4096
static struct { unsigned long addr; int class; } cache[CACHE_SIZE];

static int classify(unsigned long addr)
{
	char buf[KSYM_SYMBOL_LEN], tag[MODULE_NAME_LEN + 3];
	unsigned int h = hash_long(addr, 12), i;
	unsigned long flags;
	int class = UNKNOWN;
	char *p;

	raw_spin_lock_irqsave(&lock, flags);
	for (i = 0; i < CACHE_SIZE && cache[(h + i) % CACHE_SIZE].addr; i++)
		if (cache[(h + i) % CACHE_SIZE].addr == addr) {
			class = cache[(h + i) % CACHE_SIZE].class;
			break;
		}
	raw_spin_unlock_irqrestore(&lock, flags);
	if (class)
		return class;

	sprint_symbol(buf, addr);
	p = strrchr(buf, '[');
	snprintf(tag, sizeof(tag), "[%s]", target);
	if (!p || !strncmp(p, "[" KBUILD_MODNAME "]", strlen(KBUILD_MODNAME) + 2))
		class = CORE;	/* our own frames count as the kernel's */
	else if (!strncmp(p, tag, strlen(tag)))
		class = TARGET;
	else
		class = OTHER;

	raw_spin_lock_irqsave(&lock, flags);
	for (i = 0; i < CACHE_SIZE; i++)
		if (!cache[(h + i) % CACHE_SIZE].addr) {
			cache[(h + i) % CACHE_SIZE].addr = addr;
			cache[(h + i) % CACHE_SIZE].class = class;
			break;
		}
	raw_spin_unlock_irqrestore(&lock, flags);
	return class;
}

/* Where a failing allocator returns to: its caller, with NULL. */
static noinline notrace unsigned long return_null(void)
{
	return 0;
}

static int fail_pre(struct kprobe *p, struct pt_regs *regs)
{
	unsigned long entries[48], site = 0, flags;
	unsigned int n, i;
	bool fail = false;

	if ((READ_ONCE(nth) <= 0 && !READ_ONCE(interval)) || in_nmi())
		return 0;
	n = stack_trace_save(entries, ARRAY_SIZE(entries), 0);
	for (i = 0; i < n; i++) {
		int class = classify(entries[i]);

		if (class == CORE)
			continue;
		if (class == TARGET)
			site = entries[i];
		break;
	}
	if (!site)
		return 0;

	raw_spin_lock_irqsave(&lock, flags);
	matched++;
	if (nth > 0)
		fail = --nth == 0;
	else if (interval)
		fail = matched % interval == 0;
	injected += fail;
	raw_spin_unlock_irqrestore(&lock, flags);
	if (!fail)
		return 0;
	pr_info("dmr_inject: %s fails for %pS (called from %pS)\n", p->symbol_name, (void *)site,
		(void *)*(unsigned long *)kernel_stack_pointer(regs));
	instruction_pointer_set(regs, (unsigned long)return_null);
	return 1;	/* regs->ip changed: do not run the function */
}

/* Present so that the probes use ftrace ops that may change the IP. */
static void fail_post(struct kprobe *p, struct pt_regs *regs, unsigned long flags)
{
}

/* The allocator entry points of 6.1 and 6.12 (the latter: _noprof). */
static const char *const allocators[] = {
	"__kmalloc", "__kmalloc_node", "kmalloc_trace", "kmalloc_node_trace", "kmalloc_large",
	"kmalloc_large_node", "kmem_cache_alloc", "kmem_cache_alloc_lru", "kmem_cache_alloc_node",
	"kvmalloc_node", "alloc_pages", "__alloc_pages", "__folio_alloc", "__vmalloc_node_range",
	"__kmalloc_noprof", "__kmalloc_node_noprof", "__kmalloc_cache_noprof", "__kmalloc_cache_node_noprof",
	"__kmalloc_large_noprof", "__kmalloc_large_node_noprof", "kmem_cache_alloc_noprof",
	"kmem_cache_alloc_lru_noprof", "kmem_cache_alloc_node_noprof", "__kvmalloc_node_noprof",
	"alloc_pages_noprof", "__alloc_pages_noprof", "alloc_pages_mpol_noprof", "__folio_alloc_noprof",
	"__vmalloc_node_range_noprof",
};
static struct kprobe probes[ARRAY_SIZE(allocators)];

static void unregister_all(void)
{
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(probes); i++)
		if (probes[i].addr)
			unregister_kprobe(&probes[i]);
}

static int __init dmr_inject_init(void)
{
	unsigned int i, nr = 0;
	int r;

	for (i = 0; i < ARRAY_SIZE(allocators); i++) {
		probes[i].symbol_name = allocators[i];
		probes[i].pre_handler = fail_pre;
		probes[i].post_handler = fail_post;
		r = register_kprobe(&probes[i]);
		if (r == -ENOENT || r == -EINVAL) {
			probes[i].addr = NULL;
			continue;
		}
		if (r) {
			pr_err("dmr_inject: cannot probe %s: %d\n", allocators[i], r);
			probes[i].addr = NULL;
			unregister_all();
			return r;
		}
		nr++;
	}
	pr_info("dmr_inject: %u allocators probed, failing allocations for %s on request\n", nr, target);
	return nr ? 0 : -ENOENT;
}

static void __exit dmr_inject_exit(void)
{
	unregister_all();
}

module_init(dmr_inject_init);
module_exit(dmr_inject_exit);
MODULE_LICENSE("GPL");
