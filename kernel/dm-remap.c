// SPDX-License-Identifier: GPL-2.0-only
/*
 * dm-remap: moves failing blocks of a disk to spare blocks.
 *
 * A set is a data device plus optional spare devices, formatted by
 * dmremapctl (on-disk format: dm-remap-format.h, docs/FORMAT.md). A write
 * that fails on the data device is written to a spare block instead and
 * the remap committed on every member before the write completes; a block
 * that cannot be read is recorded as pending and returns EIO until it is
 * written. Reads never return another block's or stale data as success.
 *
 * Bios that touch no remapped or pending block go straight to the data
 * device: no lock, no allocation, and no lookup at all while the table is
 * empty. Lookups are lockless (xarray under RCU). The table, the spare
 * allocator and the on-disk metadata are changed only by the worker.
 */
#include "dm-remap-format.h"

#include <linux/bio.h>
#include <linux/blkdev.h>
#include <linux/crc32c.h>
#include <linux/device-mapper.h>
#include <linux/module.h>
#include <linux/sched/mm.h>
#include <linux/slab.h>
#include <linux/vmalloc.h>
#include <linux/workqueue.h>
#include <linux/xarray.h>

#define DM_MSG_PREFIX "remap"

/* The table's open mode lost fmode_t for blk_mode_t in 6.5; the bit is the same. */
#ifdef BLK_OPEN_WRITE
#define REMAP_MODE_WRITE BLK_OPEN_WRITE
#else
#define REMAP_MODE_WRITE FMODE_WRITE
#endif

#define REMAP_READ_RETRIES_DEFAULT 3
#define REMAP_READ_RETRIES_MAX 100
/* Spare blocks a member can hand out; bounds the allocation bitmap. */
#define REMAP_SPARE_BLOCKS_MAX DMR_MAX_ENTRIES_LIMIT
/* Failed spare writes in a row before one block's remap gives up. */
#define REMAP_SPARE_TRIES 8

struct remap_member {
	struct dm_dev *dev;
	u16 index;
	sector_t spare_offset;
	u32 spare_blocks;
	u32 spare_used;			/* worker only; read racily by status */
	unsigned long *spare_map;	/* worker only: used or retired blocks */
	int newest_slot;		/* worker only: slot of its newest snapshot */
	u64 snap_seq;			/* seq of its newest snapshot at load */
	u64 end_seq;			/* last commit found on it at load */
	bool md_failed;			/* a metadata write to it failed */
};

struct remap_c {
	struct dm_target *ti;

	/* Geometry, fixed after the constructor. */
	u8 set_uuid[16];
	u32 block_size;
	unsigned int block_shift;	/* log2(block size in sectors) */
	sector_t data_offset;
	sector_t data_sectors;
	u64 data_blocks;
	u32 max_entries;
	u32 journal_blocks;
	sector_t md_offset;
	u32 slot_blocks;
	u64 generation;
	unsigned int read_retries;
	bool no_auto_remap;
	bool read_only;			/* table loaded read-only: never write metadata */

	unsigned int nr_members;	/* as given in the table line; [0] is data */
	struct remap_member *members;
	struct remap_member *by_index[DMR_MAX_MEMBERS];

	/* data block -> encoded entry; RCU readers, written by the worker. */
	struct xarray table;
	/* (member index << 32 | spare block) of failed spare blocks; worker only. */
	struct xarray retired;
	u8 *member_table;		/* as on disk, 16 KiB; worker only */
	void *md_block;			/* 4 KiB scratch for metadata I/O; worker only */
	struct page *bounce;		/* one data block; worker only */

	/* Metadata state; worker only (and ctr/preresume, before any I/O). */
	u64 seq;
	u64 snapshot_seq;

	/* lock protects deferred and requests. */
	spinlock_t lock;
	struct bio_list deferred;
	struct list_head requests;	/* from messages, for the worker */
	struct workqueue_struct *wq;
	struct work_struct worker;

	atomic_t nr_remapped;
	atomic_t nr_pending;
	atomic_t nr_retired;
	atomic64_t read_errors;
	atomic64_t write_errors;
	atomic64_t remap_events;
	atomic64_t healed;
	bool exhausted;
	bool md_degraded;
	bool suspended;			/* under lock: no new requests for the worker */
	unsigned int spare_level;	/* worker only: last usage threshold crossed */
};

/* A message that changes state, carried out by the worker. */
struct remap_req {
	struct list_head list;
	u64 block;
	int result;
	struct completion done;
};

/* Per-bio data: where the bio went, to reprocess it after an error. */
struct remap_pb {
	struct bvec_iter iter;		/* as submitted, after remapping */
	sector_t start;			/* target-relative start sector */
	unsigned int flags;
};

#define PB_SPARE	0x1	/* went to a spare location */
#define PB_HANDLED	0x2	/* the worker has dealt with it */

/*
 * Table entries are xarray value entries: state in bits 0-1, spare member
 * index in bits 2-7, spare block in bits 8-39.
 */
static inline void *entry_mk(unsigned int state, u16 idx, u32 blk)
{
	return xa_mk_value(state | ((unsigned long)idx << 2) | ((unsigned long)blk << 8));
}

static inline unsigned int entry_state(void *e) { return xa_to_value(e) & 3; }
static inline u16 entry_index(void *e) { return (xa_to_value(e) >> 2) & 0x3f; }
static inline u32 entry_block(void *e) { return xa_to_value(e) >> 8; }

static u32 dmr_csum(const void *buf, size_t len)
{
	return ~crc32c(~0U, buf, len);
}

/* Checksum of a 4 KiB metadata block whose csum field (byte 8) counts as zero. */
static u32 block_csum(void *block)
{
	__le32 *field = block + 8, saved = *field;
	u32 c;

	*field = 0;
	c = dmr_csum(block, DMR_MD_BLOCK_SIZE);
	*field = saved;
	return c;
}

/* Synchronous I/O on a buffer from kmalloc, kvmalloc or a page. */
static int sync_io(struct block_device *bdev, sector_t sector, void *buf, size_t len, blk_opf_t opf)
{
	while (len) {
		unsigned int nr = min_t(size_t, DIV_ROUND_UP(len, PAGE_SIZE) + 1, BIO_MAX_VECS);
		struct bio *bio = bio_alloc(bdev, nr, opf, GFP_NOIO);
		size_t done = 0;
		int r;

		bio->bi_iter.bi_sector = sector;
		while (done < len && bio->bi_vcnt < nr) {
			void *p = buf + done;
			struct page *pg = is_vmalloc_addr(p) ? vmalloc_to_page(p) : virt_to_page(p);
			unsigned int n = min_t(size_t, len - done, PAGE_SIZE - offset_in_page(p));

			__bio_add_page(bio, pg, n, offset_in_page(p));
			done += n;
		}
		r = submit_bio_wait(bio);
		bio_put(bio);
		if (r)
			return r;
		buf += done;
		len -= done;
		sector += done >> SECTOR_SHIFT;
	}
	return 0;
}

static sector_t slot_sector(struct remap_c *rc, unsigned int slot)
{
	return rc->md_offset + (sector_t)slot * rc->slot_blocks * DMR_MD_BLOCK_SECTORS;
}

static sector_t journal_sector(struct remap_c *rc, u64 seq)
{
	return slot_sector(rc, 2) + (sector_t)do_div(seq, rc->journal_blocks) * DMR_MD_BLOCK_SECTORS;
}

/* ---------------------------------------------------------------------------
 * Superblocks
 */

/* Reads and checks superblock copy @copy: magic, checksum, version, features, location. */
static int read_superblock(struct dm_dev *dev, unsigned int copy, struct dmr_superblock_disk *sb)
{
	int r = sync_io(dev->bdev, DMR_SB_SECTOR(copy), sb, sizeof(*sb), REQ_OP_READ | REQ_META);

	if (r)
		return r;
	if (le64_to_cpu(sb->magic) != DMR_SB_MAGIC)
		return -EINVAL;
	if (block_csum(sb) != le32_to_cpu(sb->csum))
		return -EILSEQ;
	if (le32_to_cpu(sb->version) < DMR_VERSION_MIN || le32_to_cpu(sb->version) > DMR_VERSION_MAX ||
	    (le32_to_cpu(sb->incompat_flags) & ~DMR_INCOMPAT_SUPP) ||
	    (le32_to_cpu(sb->ro_compat_flags) & ~DMR_RO_COMPAT_SUPP))
		return -EPROTONOSUPPORT;
	if (le32_to_cpu(sb->sb_copy) != copy || le64_to_cpu(sb->sb_location) != DMR_SB_SECTOR(copy))
		return -EINVAL;
	return 0;
}

/* The valid copy with the higher generation: one damaged copy is survivable. */
static int read_member_sb(struct dm_dev *dev, struct dmr_superblock_disk *sb)
{
	struct dmr_superblock_disk *other = kmalloc(sizeof(*other), GFP_KERNEL);
	int r0, r1;

	if (!other)
		return -ENOMEM;
	r0 = read_superblock(dev, 0, sb);
	r1 = read_superblock(dev, 1, other);
	if (!r1 && (r0 || le64_to_cpu(other->generation) > le64_to_cpu(sb->generation))) {
		memcpy(sb, other, sizeof(*sb));
		r0 = 0;
	}
	kfree(other);
	return r0;
}

static const char *sb_error(int r)
{
	switch (r) {
	case -EILSEQ:
		return "superblock checksum mismatch";
	case -EPROTONOSUPPORT:
		return "unsupported format version or features";
	case -EIO:
		return "cannot read superblock";
	default:
		return "not a dm-remap member (no valid superblock)";
	}
}

/* ---------------------------------------------------------------------------
 * Spare allocation (worker only)
 */

static bool spare_mark(struct remap_c *rc, u16 idx, u32 blk)
{
	struct remap_member *m = idx < DMR_MAX_MEMBERS ? rc->by_index[idx] : NULL;

	if (!m || blk >= m->spare_blocks || test_and_set_bit(blk, m->spare_map))
		return false;
	m->spare_used++;
	return true;
}

static void spare_release(struct remap_c *rc, u16 idx, u32 blk)
{
	struct remap_member *m = rc->by_index[idx];

	if (m && blk < m->spare_blocks && test_and_clear_bit(blk, m->spare_map))
		m->spare_used--;
}

static void spare_totals(struct remap_c *rc, u64 *used, u64 *total);

/* An event when spare use crosses 80% and 95%, so monitoring hears it early. */
static void spare_threshold(struct remap_c *rc)
{
	static const unsigned int levels[] = { 95, 80 };
	u64 used, total;
	unsigned int i;

	spare_totals(rc, &used, &total);
	for (i = 0; i < ARRAY_SIZE(levels); i++) {
		if (used * 100 >= total * levels[i]) {
			if (rc->spare_level < levels[i]) {
				rc->spare_level = levels[i];
				DMWARN("%s: %u%% of spare blocks in use", dm_device_name(dm_table_get_md(rc->ti->table)),
				       levels[i]);
				dm_table_event(rc->ti->table);
			}
			return;
		}
	}
}

/* First fit: the internal spare area first, then spare devices by index. */
static int spare_alloc(struct remap_c *rc, u16 *idx, u32 *blk)
{
	unsigned int i;

	for (i = 0; i < DMR_MAX_MEMBERS; i++) {
		struct remap_member *m = rc->by_index[i];
		unsigned long b;

		if (!m || !m->spare_blocks || m->spare_used >= m->spare_blocks)
			continue;
		b = find_first_zero_bit(m->spare_map, m->spare_blocks);
		if (b >= m->spare_blocks)
			continue;
		set_bit(b, m->spare_map);
		m->spare_used++;
		*idx = i;
		*blk = b;
		spare_threshold(rc);
		return 0;
	}
	return -ENOSPC;
}

static void spare_totals(struct remap_c *rc, u64 *used, u64 *total)
{
	unsigned int i;

	*used = *total = 0;
	for (i = 0; i < rc->nr_members; i++) {
		*used += READ_ONCE(rc->members[i].spare_used);
		*total += rc->members[i].spare_blocks;
	}
}

/* ---------------------------------------------------------------------------
 * Metadata: loading
 */

struct md_candidate {
	int slot;
	u64 snap_seq;
	u64 end_seq;
};

/* An on-disk entry in host order. */
struct entry_fields {
	unsigned int state;
	u64 blk;
	u16 idx;
	u32 sblk;
};

static struct entry_fields entry_decode(const struct dmr_entry_disk *d)
{
	return (struct entry_fields){ le16_to_cpu(d->state), le64_to_cpu(d->data_block),
				      le16_to_cpu(d->spare_index), le32_to_cpu(d->spare_block) };
}

/* Checks an entry of a snapshot or journal against the set's geometry. */
static bool entry_valid(struct remap_c *rc, const struct dmr_entry_disk *d, bool journal)
{
	struct entry_fields f = entry_decode(d);
	struct remap_member *m = f.idx < DMR_MAX_MEMBERS ? rc->by_index[f.idx] : NULL;

	switch (f.state) {
	case DMR_ENTRY_FREE:
		return journal && f.blk < rc->data_blocks;
	case DMR_ENTRY_PENDING:
		return f.blk < rc->data_blocks && f.idx == DMR_NO_MEMBER && !f.sblk;
	case DMR_ENTRY_REMAPPED:
		return f.blk < rc->data_blocks && m && f.sblk < m->spare_blocks;
	case DMR_ENTRY_RETIRED:
		return f.blk == DMR_NO_BLOCK && m && f.sblk < m->spare_blocks;
	}
	return false;
}

/*
 * Reads and checks one snapshot slot of @m completely (header, member
 * table, entries). Returns its seq, or 0 when the slot is not a valid
 * snapshot of this set. With @load, the entries also go into the table.
 */
static u64 md_read_slot(struct remap_c *rc, struct remap_member *m, unsigned int slot, bool load, int *err)
{
	struct dmr_snapshot_disk *h = rc->md_block;
	sector_t s = slot_sector(rc, slot);
	struct dmr_entry_disk *ents = NULL;
	u8 *table = NULL;
	u32 nr, i;
	u64 seq = 0, prev = 0;
	size_t len;

	*err = 0;
	if (sync_io(m->dev->bdev, s, h, DMR_MD_BLOCK_SIZE, REQ_OP_READ | REQ_META))
		return 0;
	if (le64_to_cpu(h->magic) != DMR_SNAP_MAGIC || block_csum(h) != le32_to_cpu(h->csum) ||
	    le32_to_cpu(h->slot) != slot || memcmp(h->set_uuid, rc->set_uuid, 16) ||
	    le64_to_cpu(h->generation) != rc->generation || le32_to_cpu(h->nr_entries) > rc->max_entries)
		return 0;
	nr = le32_to_cpu(h->nr_entries);
	seq = le64_to_cpu(h->seq);
	len = round_up((size_t)nr * sizeof(*ents), DMR_MD_BLOCK_SIZE);
	table = kvmalloc(DMR_MEMBER_TABLE_BLOCKS * DMR_MD_BLOCK_SIZE, GFP_KERNEL);
	ents = len ? kvmalloc(len, GFP_KERNEL) : NULL;
	if (!table || (len && !ents)) {
		*err = -ENOMEM;
		goto out;
	}
	{
		u32 members_csum = le32_to_cpu(h->members_csum), entries_csum = le32_to_cpu(h->entries_csum);

		if (sync_io(m->dev->bdev, s + DMR_MD_BLOCK_SECTORS, table,
			    DMR_MEMBER_TABLE_BLOCKS * DMR_MD_BLOCK_SIZE, REQ_OP_READ | REQ_META) ||
		    dmr_csum(table, DMR_MEMBER_TABLE_BLOCKS * DMR_MD_BLOCK_SIZE) != members_csum ||
		    (len && sync_io(m->dev->bdev, s + (1 + DMR_MEMBER_TABLE_BLOCKS) * DMR_MD_BLOCK_SECTORS,
				    ents, len, REQ_OP_READ | REQ_META)) ||
		    dmr_csum(ents, (size_t)nr * sizeof(*ents)) != entries_csum) {
			seq = 0;
			goto out;
		}
	}
	for (i = 0; i < nr; i++) {
		u64 key = le64_to_cpu(ents[i].data_block);

		/* Sorted and unique by data block; retired entries last. */
		if (!entry_valid(rc, &ents[i], false) || le16_to_cpu(ents[i].state) == DMR_ENTRY_FREE ||
		    (i && key != DMR_NO_BLOCK && key <= prev)) {
			seq = 0;
			goto out;
		}
		prev = key;
	}
	if (!load)
		goto out;
	memcpy(rc->member_table, table, DMR_MEMBER_TABLE_BLOCKS * DMR_MD_BLOCK_SIZE);
	for (i = 0; i < nr && !*err; i++) {
		struct entry_fields f = entry_decode(&ents[i]);
		unsigned int state = f.state;
		u16 idx = f.idx;
		u32 sblk = f.sblk;
		u64 blk = f.blk;

		if (state != DMR_ENTRY_PENDING && !spare_mark(rc, idx, sblk)) {
			*err = -EUCLEAN;	/* a spare block used twice */
			break;
		}
		if (state == DMR_ENTRY_RETIRED) {
			atomic_inc(&rc->nr_retired);
			*err = xa_err(xa_store(&rc->retired, (u64)idx << 32 | sblk, xa_mk_value(1), GFP_KERNEL));
		} else {
			*err = xa_err(xa_store(&rc->table, blk, entry_mk(state, idx, sblk), GFP_KERNEL));
		}
		if (state == DMR_ENTRY_REMAPPED)
			atomic_inc(&rc->nr_remapped);
		else if (state == DMR_ENTRY_PENDING)
			atomic_inc(&rc->nr_pending);
	}
out:
	kvfree(table);
	kvfree(ents);
	return *err ? 0 : seq;
}

/* Follows the journal from @seq; returns the last seq of the unbroken chain. */
static u64 md_chain_end(struct remap_c *rc, struct remap_member *m, u64 seq)
{
	struct dmr_journal_disk *j = rc->md_block;

	for (;;) {
		if (sync_io(m->dev->bdev, journal_sector(rc, seq + 1), j, DMR_MD_BLOCK_SIZE, REQ_OP_READ | REQ_META))
			return seq;
		if (le64_to_cpu(j->magic) != DMR_JOURNAL_MAGIC || block_csum(j) != le32_to_cpu(j->csum) ||
		    memcmp(j->set_uuid, rc->set_uuid, 16) || le64_to_cpu(j->seq) != seq + 1 ||
		    le64_to_cpu(j->generation) != rc->generation || le32_to_cpu(j->nr_updates) > DMR_JOURNAL_UPDATES)
			return seq;
		seq++;
	}
}

/* Whether a remapped entry currently lives at spare location @idx:@sblk. */
static bool entry_uses(struct remap_c *rc, u16 idx, u32 sblk)
{
	unsigned long index;
	void *e;

	xa_for_each(&rc->table, index, e)
		if (entry_state(e) == DMR_ENTRY_REMAPPED && entry_index(e) == idx && entry_block(e) == sblk)
			return true;
	return false;
}

/*
 * Applies one journal update to the in-memory state. @reserved: the spare
 * blocks it names were already taken by the allocator (a commit of ours),
 * not read from disk.
 */
static int apply_update(struct remap_c *rc, const struct dmr_entry_disk *u, bool reserved)
{
	struct entry_fields f = entry_decode(u);
	unsigned int state = f.state;
	u64 blk = f.blk;
	u16 idx = f.idx;
	u32 sblk = f.sblk;
	void *old;

	if (!entry_valid(rc, u, true))
		return -EUCLEAN;
	if (state == DMR_ENTRY_RETIRED) {
		/* A location in use by an entry is marked already. */
		if (!reserved && !spare_mark(rc, idx, sblk) && !entry_uses(rc, idx, sblk))
			return -EUCLEAN;
		atomic_inc(&rc->nr_retired);
		return xa_err(xa_store(&rc->retired, (u64)idx << 32 | sblk, xa_mk_value(1), GFP_NOIO));
	}
	old = xa_load(&rc->table, blk);
	if (state == DMR_ENTRY_REMAPPED && !reserved && !spare_mark(rc, idx, sblk))
		return -EUCLEAN;
	if (old && entry_state(old) == DMR_ENTRY_REMAPPED) {
		/* The old location is kept only if a retired entry says so. */
		if (!xa_load(&rc->retired, (u64)entry_index(old) << 32 | entry_block(old)))
			spare_release(rc, entry_index(old), entry_block(old));
		atomic_dec(&rc->nr_remapped);
	} else if (old) {
		atomic_dec(&rc->nr_pending);
	}
	if (state == DMR_ENTRY_FREE) {
		if (!old)
			return -EUCLEAN;
		xa_erase(&rc->table, blk);
		return 0;
	}
	if (state == DMR_ENTRY_REMAPPED)
		atomic_inc(&rc->nr_remapped);
	else
		atomic_inc(&rc->nr_pending);
	return xa_err(xa_store(&rc->table, blk, entry_mk(state, idx, sblk), GFP_NOIO));
}

static void md_clear(struct remap_c *rc)
{
	unsigned int i;

	xa_destroy(&rc->table);
	xa_destroy(&rc->retired);
	for (i = 0; i < rc->nr_members; i++) {
		struct remap_member *m = &rc->members[i];

		if (m->spare_map)
			bitmap_zero(m->spare_map, m->spare_blocks);
		m->spare_used = 0;
	}
	atomic_set(&rc->nr_remapped, 0);
	atomic_set(&rc->nr_pending, 0);
	atomic_set(&rc->nr_retired, 0);
}

static int md_compact(struct remap_c *rc);

/*
 * Loads the newest fully valid state across every copy on every member
 * (docs/FORMAT.md §5). Members behind it are rewritten when @resync.
 */
static int md_load(struct remap_c *rc, bool resync, char **error)
{
	struct md_candidate best = { .slot = -1 }, c;
	struct remap_member *src = NULL;
	bool stale = false;
	unsigned int i, slot;
	u64 seq;
	int r;

	md_clear(rc);
	for (i = 0; i < rc->nr_members; i++) {
		struct remap_member *m = &rc->members[i];

		c.slot = -1;
		c.snap_seq = 0;
		for (slot = 0; slot < 2; slot++) {
			seq = md_read_slot(rc, m, slot, false, &r);
			if (r) {
				*error = "Cannot allocate metadata buffers";
				return r;
			}
			if (seq && seq > c.snap_seq) {
				c.slot = slot;
				c.snap_seq = seq;
			}
		}
		m->newest_slot = c.slot;
		m->snap_seq = c.snap_seq;
		m->end_seq = c.slot < 0 ? 0 : md_chain_end(rc, m, c.snap_seq);
		if (c.slot >= 0 && (!src || m->end_seq > best.end_seq)) {
			c.end_seq = m->end_seq;
			best = c;
			src = m;
		}
	}
	if (!src) {
		*error = "No valid metadata on any member";
		return -EUCLEAN;
	}
	/*
	 * Behind: a shorter chain, or the same chain from an older snapshot (a
	 * crash during compaction). The latter's ring still needs records the
	 * next commits would overwrite, so it is rewritten too.
	 */
	for (i = 0; i < rc->nr_members; i++)
		stale |= rc->members[i].newest_slot < 0 || rc->members[i].end_seq < best.end_seq ||
			 rc->members[i].snap_seq != best.snap_seq;

	if (!md_read_slot(rc, src, best.slot, true, &r)) {
		*error = r == -ENOMEM ? "Cannot allocate the remap table" : "Metadata changed while loading";
		return r ? r : -EUCLEAN;
	}
	for (seq = best.snap_seq + 1; seq <= best.end_seq; seq++) {
		struct dmr_journal_disk *j = rc->md_block;

		if (sync_io(src->dev->bdev, journal_sector(rc, seq), j, DMR_MD_BLOCK_SIZE, REQ_OP_READ | REQ_META)) {
			*error = "Cannot read the metadata journal";
			return -EIO;
		}
		/* Read again: check again, it is what gets trusted. */
		if (le64_to_cpu(j->magic) != DMR_JOURNAL_MAGIC || block_csum(j) != le32_to_cpu(j->csum) ||
		    le64_to_cpu(j->seq) != seq || le32_to_cpu(j->nr_updates) > DMR_JOURNAL_UPDATES) {
			*error = "Metadata journal changed while loading";
			return -EUCLEAN;
		}
		for (i = 0; i < le32_to_cpu(j->nr_updates); i++) {
			r = apply_update(rc, &j->updates[i], false);
			if (r) {
				*error = "Metadata journal record is inconsistent (run dmremapctl check)";
				return r;
			}
		}
	}
	if ((u64)atomic_read(&rc->nr_remapped) + atomic_read(&rc->nr_pending) + atomic_read(&rc->nr_retired) >
	    rc->max_entries) {
		*error = "Metadata holds more entries than its capacity";
		return -EUCLEAN;
	}
	rc->seq = best.end_seq;
	rc->snapshot_seq = best.snap_seq;
	if (resync && stale) {
		/* A fresh snapshot everywhere: no member stays behind. */
		r = md_compact(rc);
		if (r) {
			*error = "Cannot bring stale members up to date";
			return r;
		}
	}
	return 0;
}

/* ---------------------------------------------------------------------------
 * Metadata: commits (worker only)
 */

/* Writes a snapshot of the current state into every member's other slot. */
static int md_compact(struct remap_c *rc)
{
	struct dmr_snapshot_disk *h = rc->md_block;
	size_t nr = atomic_read(&rc->nr_remapped) + atomic_read(&rc->nr_pending) + atomic_read(&rc->nr_retired);
	size_t n = 0, len;
	struct dmr_entry_disk *ents;
	unsigned long key;
	unsigned int i, ok = 0;
	void *e;

	len = round_up(max_t(size_t, nr, 1) * sizeof(*ents), DMR_MD_BLOCK_SIZE);
	ents = kvzalloc(len, GFP_NOIO);
	if (!ents)
		return -ENOMEM;
	xa_for_each(&rc->table, key, e) {
		if (n == nr)
			break;
		ents[n].data_block = cpu_to_le64(key);
		ents[n].state = cpu_to_le16(entry_state(e));
		ents[n].spare_index = cpu_to_le16(entry_state(e) == DMR_ENTRY_PENDING ? DMR_NO_MEMBER : entry_index(e));
		ents[n].spare_block = cpu_to_le32(entry_state(e) == DMR_ENTRY_PENDING ? 0 : entry_block(e));
		n++;
	}
	xa_for_each(&rc->retired, key, e) {
		if (n == nr)
			break;
		ents[n].data_block = cpu_to_le64(DMR_NO_BLOCK);
		ents[n].state = cpu_to_le16(DMR_ENTRY_RETIRED);
		ents[n].spare_index = cpu_to_le16(key >> 32);
		ents[n].spare_block = cpu_to_le32(key & 0xffffffff);
		n++;
	}
	for (i = 0; i < rc->nr_members; i++) {
		struct remap_member *m = &rc->members[i];
		unsigned int slot = m->newest_slot == 0 ? 1 : 0;
		sector_t s = slot_sector(rc, slot);

		if (m->md_failed)
			continue;
		memset(h, 0, sizeof(*h));
		h->magic = cpu_to_le64(DMR_SNAP_MAGIC);
		h->slot = cpu_to_le32(slot);
		memcpy(h->set_uuid, rc->set_uuid, 16);
		h->seq = cpu_to_le64(rc->seq);
		h->generation = cpu_to_le64(rc->generation);
		h->nr_entries = cpu_to_le32(n);
		h->entries_csum = cpu_to_le32(dmr_csum(ents, n * sizeof(*ents)));
		h->members_csum = cpu_to_le32(dmr_csum(rc->member_table, DMR_MEMBER_TABLE_BLOCKS * DMR_MD_BLOCK_SIZE));
		h->csum = cpu_to_le32(block_csum(h));
		/* Body first, header last, each durable: a torn snapshot is an invalid one. */
		if (sync_io(m->dev->bdev, s + DMR_MD_BLOCK_SECTORS, rc->member_table,
			    DMR_MEMBER_TABLE_BLOCKS * DMR_MD_BLOCK_SIZE, REQ_OP_WRITE | REQ_META) ||
		    sync_io(m->dev->bdev, s + (1 + DMR_MEMBER_TABLE_BLOCKS) * DMR_MD_BLOCK_SECTORS, ents,
			    round_up(max_t(size_t, n, 1) * sizeof(*ents), DMR_MD_BLOCK_SIZE),
			    REQ_OP_WRITE | REQ_META) ||
		    sync_io(m->dev->bdev, s, h, DMR_MD_BLOCK_SIZE,
			    REQ_OP_WRITE | REQ_META | REQ_SYNC | REQ_PREFLUSH | REQ_FUA)) {
			DMERR("%s: metadata snapshot write failed", m->dev->name);
			m->md_failed = true;
			rc->md_degraded = true;
			continue;
		}
		m->newest_slot = slot;
		ok++;
	}
	kvfree(ents);
	if (!ok)
		return -EIO;
	rc->snapshot_seq = rc->seq;
	return 0;
}

static void flush_members(struct remap_c *rc)
{
	unsigned int i;

	for (i = 0; i < rc->nr_members; i++)
		blkdev_issue_flush(rc->members[i].dev->bdev);
}

/*
 * One durable commit of up to 252 updates: the record goes to every member
 * with a preflush (so spare data written before it is stable first) and
 * FUA. Applied to the in-memory table only once it is durable.
 */
static int md_commit(struct remap_c *rc, struct dmr_entry_disk *u, unsigned int nr)
{
	struct dmr_journal_disk *j = rc->md_block;
	u64 seq = rc->seq + 1;
	unsigned int i, ok = 0;
	int r;

	if (!nr)
		return 0;
	if (rc->read_only)
		return -EROFS;
	if (seq - rc->snapshot_seq > rc->journal_blocks) {
		r = md_compact(rc);
		if (r)
			return r;
	}
	/*
	 * A preflush reaches only the member it is sent to: make the spare
	 * data of this commit stable on every member before any record can
	 * point at it.
	 */
	flush_members(rc);
	memset(j, 0, sizeof(*j));
	j->magic = cpu_to_le64(DMR_JOURNAL_MAGIC);
	j->nr_updates = cpu_to_le32(nr);
	memcpy(j->set_uuid, rc->set_uuid, 16);
	j->seq = cpu_to_le64(seq);
	j->generation = cpu_to_le64(rc->generation);
	memcpy(j->updates, u, nr * sizeof(*u));
	j->csum = cpu_to_le32(block_csum(j));
	for (i = 0; i < rc->nr_members; i++) {
		struct remap_member *m = &rc->members[i];

		if (m->md_failed)
			continue;
		if (sync_io(m->dev->bdev, journal_sector(rc, seq), j, DMR_MD_BLOCK_SIZE,
			    REQ_OP_WRITE | REQ_META | REQ_SYNC | REQ_PREFLUSH | REQ_FUA)) {
			DMERR("%s: metadata journal write failed", m->dev->name);
			m->md_failed = true;
			rc->md_degraded = true;
			continue;
		}
		ok++;
	}
	if (!ok)
		return -EIO;
	rc->seq = seq;
	for (i = 0; i < nr; i++) {
		r = apply_update(rc, &u[i], true);
		if (WARN_ON_ONCE(r))
			return r;
	}
	dm_table_event(rc->ti->table);
	return 0;
}

/* ---------------------------------------------------------------------------
 * The worker: everything that is not the fast path
 */

struct updates {
	struct dmr_entry_disk u[DMR_JOURNAL_UPDATES];
	unsigned int nr;
};

static void upd_add(struct updates *up, u64 blk, unsigned int state, u16 idx, u32 sblk)
{
	struct dmr_entry_disk *d = &up->u[up->nr++];

	d->data_block = cpu_to_le64(blk);
	d->state = cpu_to_le16(state);
	d->spare_index = cpu_to_le16(idx);
	d->spare_block = cpu_to_le32(sblk);
}

static int upd_flush(struct remap_c *rc, struct updates *up)
{
	int r = md_commit(rc, up->u, up->nr);

	up->nr = 0;
	return r;
}

static void copy_bio_block(struct bio *bio, struct bvec_iter *it, void *buf, unsigned int len, bool to_bio)
{
	while (len) {
		struct bio_vec bv = bio_iter_iovec(bio, *it);
		unsigned int n = min(len, bv.bv_len);
		void *p = bvec_kmap_local(&bv);

		if (to_bio)
			memcpy(p, buf, n);
		else
			memcpy(buf, p, n);
		kunmap_local(p);
		bio_advance_iter_single(bio, it, n);
		buf += n;
		len -= n;
	}
}

static sector_t data_sector(struct remap_c *rc, u64 blk)
{
	return rc->data_offset + (blk << rc->block_shift);
}

/* Synchronous I/O of one block at spare location @idx:@sblk. */
static int spare_io(struct remap_c *rc, u16 idx, u32 sblk, void *buf, blk_opf_t opf)
{
	struct remap_member *m = rc->by_index[idx];

	return sync_io(m->dev->bdev, m->spare_offset + ((sector_t)sblk << rc->block_shift), buf, rc->block_size,
		       opf);
}

static int block_io(struct remap_c *rc, struct block_device *bdev, sector_t sector, void *buf, blk_opf_t opf)
{
	return sync_io(bdev, sector, buf, rc->block_size, opf);
}

/* Whether @extra more entries (beyond those queued in @up) fit in a snapshot. */
static bool md_room(struct remap_c *rc, struct updates *up, unsigned int extra)
{
	u64 n = (u64)atomic_read(&rc->nr_remapped) + atomic_read(&rc->nr_pending) + atomic_read(&rc->nr_retired);

	return n + up->nr + extra <= rc->max_entries;
}

static void set_exhausted(struct remap_c *rc, const char *what)
{
	if (rc->exhausted)
		return;
	rc->exhausted = true;
	DMERR("%s: %s", dm_device_name(dm_table_get_md(rc->ti->table)), what);
	dm_table_event(rc->ti->table);
}

/*
 * Puts the data of block @blk (in @buf) on a fresh spare block. The old
 * spare location, if any, is retired. Updates are queued in @up.
 */
static int remap_block(struct remap_c *rc, u64 blk, void *old, void *buf, struct updates *up)
{
	unsigned int failed = 0;
	u16 idx;
	u32 sblk;

	for (;;) {
		/* The new entry, the old location retired, and a failed spare block. */
		if (!md_room(rc, up, 3)) {
			set_exhausted(rc, "metadata is full");
			return -ENOSPC;
		}
		if (spare_alloc(rc, &idx, &sblk)) {
			set_exhausted(rc, "spare blocks exhausted");
			return -ENOSPC;
		}
		if (!spare_io(rc, idx, sblk, buf, REQ_OP_WRITE))
			break;
		/* This spare block is bad too: retire it (it stays taken), try the next. */
		upd_add(up, DMR_NO_BLOCK, DMR_ENTRY_RETIRED, idx, sblk);
		if (++failed == REMAP_SPARE_TRIES)
			return -EIO;	/* a spare device that fails everything */
		if (up->nr >= DMR_JOURNAL_UPDATES - 4 && upd_flush(rc, up))
			return -EIO;
	}
	/* The old location is retired in the same record that replaces it. */
	if (old && entry_state(old) == DMR_ENTRY_REMAPPED)
		upd_add(up, DMR_NO_BLOCK, DMR_ENTRY_RETIRED, entry_index(old), entry_block(old));
	upd_add(up, blk, DMR_ENTRY_REMAPPED, idx, sblk);
	atomic64_inc(&rc->remap_events);
	return 0;
}

/* Writes @buf as block @blk wherever it belongs now, remapping on failure. */
static int write_block(struct remap_c *rc, u64 blk, void *buf, struct updates *up)
{
	void *e = xa_load(&rc->table, blk);

	if (e && entry_state(e) == DMR_ENTRY_REMAPPED) {
		if (!spare_io(rc, entry_index(e), entry_block(e), buf, REQ_OP_WRITE))
			return 0;
		return remap_block(rc, blk, e, buf, up);
	}
	/* Drives reallocate a sector when it is written: try in place first. */
	if (!block_io(rc, rc->members[0].dev->bdev, data_sector(rc, blk), buf, REQ_OP_WRITE)) {
		if (e) {
			upd_add(up, blk, DMR_ENTRY_FREE, DMR_NO_MEMBER, 0);
			atomic64_inc(&rc->healed);
		}
		return 0;
	}
	if (rc->no_auto_remap)
		return -EIO;
	return remap_block(rc, blk, e, buf, up);
}

/* Reads block @blk into @buf with retries; records it as pending if it cannot. */
static int read_block(struct remap_c *rc, u64 blk, void *buf, struct updates *up)
{
	void *e = xa_load(&rc->table, blk);
	unsigned int i;

	if (e && entry_state(e) == DMR_ENTRY_PENDING)
		return -EIO;
	for (i = 0; i < rc->read_retries; i++)
		if (!(e ? spare_io(rc, entry_index(e), entry_block(e), buf, REQ_OP_READ) :
			  block_io(rc, rc->members[0].dev->bdev, data_sector(rc, blk), buf, REQ_OP_READ)))
			return 0;
	if (!rc->no_auto_remap && md_room(rc, up, 2)) {
		/* A lost spare block: retire it, the data is gone. */
		if (e)
			upd_add(up, DMR_NO_BLOCK, DMR_ENTRY_RETIRED, entry_index(e), entry_block(e));
		upd_add(up, blk, DMR_ENTRY_PENDING, DMR_NO_MEMBER, 0);
	}
	return -EIO;
}

static void process_bio(struct remap_c *rc, struct bio *bio)
{
	struct remap_pb *pb = dm_per_bio_data(bio, sizeof(*pb));
	struct updates *up;
	struct bvec_iter it = pb->iter;
	u64 blk = pb->start >> rc->block_shift;
	unsigned int nblocks = pb->iter.bi_size >> (SECTOR_SHIFT + rc->block_shift), i;
	void *buf = page_address(rc->bounce);
	bool write = bio_op(bio) == REQ_OP_WRITE;
	blk_status_t status = BLK_STS_OK;

	pb->flags |= PB_HANDLED;
	up = kmalloc(sizeof(*up), GFP_NOIO);
	if (!up) {
		bio->bi_status = BLK_STS_RESOURCE;
		bio_endio(bio);
		return;
	}
	up->nr = 0;
	for (i = 0; i < nblocks; i++, blk++) {
		int r;

		if (write) {
			copy_bio_block(bio, &it, buf, rc->block_size, false);
			r = write_block(rc, blk, buf, up);
		} else {
			r = read_block(rc, blk, buf, up);
			if (!r)
				copy_bio_block(bio, &it, buf, rc->block_size, true);
			else
				bio_advance_iter(bio, &it, rc->block_size);
		}
		if (r)
			status = BLK_STS_IOERR;
		if (up->nr >= DMR_JOURNAL_UPDATES - 4 && upd_flush(rc, up))
			status = BLK_STS_IOERR;
	}
	/* The write is acknowledged only once its remaps are durable. */
	if (upd_flush(rc, up))
		status = BLK_STS_IOERR;
	/* The worker's own writes carry no FUA: honour the caller's now. */
	if (write && (bio->bi_opf & REQ_FUA) && status == BLK_STS_OK)
		flush_members(rc);
	kfree(up);
	bio->bi_status = status;
	bio_endio(bio);
}

/*
 * Proactive remap of one block (message "remap"): its current data goes to
 * a new spare block if it can be read, else it becomes pending.
 */
static int remap_now(struct remap_c *rc, u64 blk)
{
	void *buf = page_address(rc->bounce), *e = xa_load(&rc->table, blk);
	struct updates *up;
	int r;

	if (e)
		return 0;	/* already off the data device */
	up = kmalloc(sizeof(*up), GFP_NOIO);
	if (!up)
		return -ENOMEM;
	up->nr = 0;
	r = read_block(rc, blk, buf, up);
	if (!r)
		r = remap_block(rc, blk, e, buf, up);
	else if (up->nr)
		r = 0;	/* unreadable: recorded as pending */
	if (upd_flush(rc, up) && !r)
		r = -EIO;
	kfree(up);
	return r;
}

static void remap_worker(struct work_struct *w)
{
	struct remap_c *rc = container_of(w, struct remap_c, worker);
	struct bio_list bios;
	struct bio *bio;

	bio_list_init(&bios);
	spin_lock_irq(&rc->lock);
	bio_list_merge(&bios, &rc->deferred);
	bio_list_init(&rc->deferred);
	spin_unlock_irq(&rc->lock);
	while ((bio = bio_list_pop(&bios)))
		process_bio(rc, bio);
	for (;;) {
		struct remap_req *req;

		spin_lock_irq(&rc->lock);
		req = list_first_entry_or_null(&rc->requests, struct remap_req, list);
		if (req)
			list_del(&req->list);
		spin_unlock_irq(&rc->lock);
		if (!req)
			break;
		req->result = remap_now(rc, req->block);
		complete(&req->done);
	}
}

static void defer_bio(struct remap_c *rc, struct bio *bio)
{
	unsigned long flags;

	spin_lock_irqsave(&rc->lock, flags);
	bio_list_add(&rc->deferred, bio);
	spin_unlock_irqrestore(&rc->lock, flags);
	queue_work(rc->wq, &rc->worker);
}

/* ---------------------------------------------------------------------------
 * Constructor and destructor
 */

static void remap_free(struct remap_c *rc)
{
	unsigned int i;

	if (rc->wq)
		destroy_workqueue(rc->wq);
	xa_destroy(&rc->table);
	xa_destroy(&rc->retired);
	for (i = 0; i < rc->nr_members; i++) {
		kvfree(rc->members[i].spare_map);
		if (rc->members[i].dev)
			dm_put_device(rc->ti, rc->members[i].dev);
	}
	if (rc->bounce)
		__free_page(rc->bounce);
	kfree(rc->md_block);
	kvfree(rc->member_table);
	kfree(rc->members);
	kfree(rc);
}

/* Takes the geometry from the data member's superblock. */
static int set_geometry(struct remap_c *rc, struct dmr_superblock_disk *sb, char **error)
{
	rc->block_size = le32_to_cpu(sb->block_size);
	if (rc->block_size < SECTOR_SIZE || rc->block_size > PAGE_SIZE || !is_power_of_2(rc->block_size)) {
		*error = "Block size must be a power of two from 512 to the page size";
		return -EINVAL;
	}
	memcpy(rc->set_uuid, sb->set_uuid, 16);
	rc->block_shift = ilog2(rc->block_size >> SECTOR_SHIFT);
	rc->data_offset = le64_to_cpu(sb->data_offset);
	rc->data_sectors = le64_to_cpu(sb->data_sectors);
	rc->data_blocks = rc->data_sectors >> rc->block_shift;
	rc->max_entries = le32_to_cpu(sb->max_entries);
	rc->journal_blocks = le32_to_cpu(sb->journal_blocks);
	rc->md_offset = le64_to_cpu(sb->md_offset);
	rc->generation = le64_to_cpu(sb->generation);
	if (rc->md_offset != DMR_MD_OFFSET_SECTORS || !rc->max_entries || rc->max_entries % DMR_ENTRIES_PER_BLOCK ||
	    rc->max_entries > DMR_MAX_ENTRIES_LIMIT || rc->journal_blocks < DMR_JOURNAL_BLOCKS_MIN ||
	    rc->journal_blocks > DMR_JOURNAL_BLOCKS_MAX ||
	    le64_to_cpu(sb->md_sectors) !=
		    (u64)DMR_MD_BLOCKS(rc->max_entries, rc->journal_blocks) * DMR_MD_BLOCK_SECTORS) {
		*error = "Invalid metadata geometry in the data member's superblock";
		return -EINVAL;
	}
	rc->slot_blocks = DMR_SLOT_BLOCKS(rc->max_entries);
	return 0;
}

/* Identifies a member against the data member and takes its spare area. */
static int add_member(struct remap_c *rc, struct remap_member *m, struct dmr_superblock_disk *sb,
		      bool data, char **error)
{
	u16 idx = le16_to_cpu(sb->member_index);
	u64 spare_sectors = le64_to_cpu(sb->spare_sectors);

	if ((le16_to_cpu(sb->role) == DMR_ROLE_DATA) != data || (data != !idx) || idx >= DMR_MAX_MEMBERS) {
		*error = data ? "First device is not the data member of its set" :
			 "Spare device is the data member of its set";
		return -EINVAL;
	}
	if (memcmp(sb->set_uuid, rc->set_uuid, 16)) {
		*error = "Device belongs to another set";
		return -EINVAL;
	}
	if (rc->by_index[idx]) {
		*error = "Two devices claim the same member index";
		return -EINVAL;
	}
	if (le32_to_cpu(sb->block_size) != rc->block_size || le64_to_cpu(sb->data_sectors) != rc->data_sectors ||
	    le32_to_cpu(sb->max_entries) != rc->max_entries || le32_to_cpu(sb->journal_blocks) != rc->journal_blocks) {
		*error = "Member's geometry differs from the data member's";
		return -EINVAL;
	}
	if (le64_to_cpu(sb->member_sectors) > bdev_nr_sectors(m->dev->bdev)) {
		*error = "Member device is smaller than its superblock says";
		return -EINVAL;
	}
	if (le64_to_cpu(sb->generation) > rc->generation)
		rc->generation = le64_to_cpu(sb->generation);
	m->index = idx;
	m->spare_offset = le64_to_cpu(sb->spare_offset);
	m->spare_blocks = min_t(u64, spare_sectors >> rc->block_shift, REMAP_SPARE_BLOCKS_MAX);
	{
		/* Untrusted 64-bit fields: bound them before any arithmetic. */
		u64 md_end = rc->md_offset + le64_to_cpu(sb->md_sectors), size = le64_to_cpu(sb->member_sectors);
		const u64 limit = 1ULL << 56;

		if (size >= limit || m->spare_offset >= limit || spare_sectors >= limit ||
		    rc->data_offset >= limit || rc->data_sectors >= limit ||
		    (spare_sectors && m->spare_offset < md_end) || m->spare_offset + spare_sectors > size ||
		    (data && (rc->data_offset < md_end ||
			      (spare_sectors && m->spare_offset < rc->data_offset + rc->data_sectors)))) {
			*error = "Member's areas overlap or lie outside the member";
			return -EINVAL;
		}
	}
	if (m->spare_blocks) {
		m->spare_map = kvzalloc(BITS_TO_LONGS(m->spare_blocks) * sizeof(long), GFP_KERNEL);
		if (!m->spare_map) {
			*error = "Cannot allocate the spare bitmap";
			return -ENOMEM;
		}
	}
	rc->by_index[idx] = m;
	return 0;
}

/* Every member in the newest member table must be present, and no other. */
static int check_member_table(struct remap_c *rc, struct dmr_superblock_disk *sbs, char **error)
{
	const struct dmr_member_disk *t = (const void *)rc->member_table;
	unsigned int i;

	for (i = 0; i < DMR_MAX_MEMBERS; i++) {
		struct remap_member *m = rc->by_index[i];

		if (le16_to_cpu(t[i].role) == DMR_ROLE_NONE) {
			if (m) {
				*error = "A device is not in the set's member table (removed spare?)";
				return -EINVAL;
			}
			continue;
		}
		if (!m) {
			*error = "A spare member of the set is missing from the table line";
			return -EINVAL;
		}
		if (memcmp(t[i].uuid, sbs[m - rc->members].member_uuid, 16)) {
			*error = "A device's member UUID differs from the set's member table";
			return -EINVAL;
		}
	}
	return 0;
}

/*
 * Construct a remap mapping:
 *   <data_dev> <#spares> [<spare_dev>...] [<#opt_args> [<opt_arg>...]]
 *
 * Optional arguments:
 *   read_retries <n>   reads of a failing block before it counts as unreadable (default 3)
 *   no_auto_remap      errors pass through (counted); nothing is remapped
 *
 * Every member must carry a valid superblock of the same set, the data
 * member first, all spares of the set's member table present, and <len>
 * equal to the set's data length.
 */
static int remap_ctr(struct dm_target *ti, unsigned int argc, char **argv)
{
	static const struct dm_arg _args[] = {
		{0, DMR_MAX_MEMBERS - 1, "Invalid number of spare devices"},
		{0, 3, "Invalid number of optional arguments"},
		{1, REMAP_READ_RETRIES_MAX, "read_retries must be 1-100"},
	};
	struct dm_arg_set as = { .argc = argc, .argv = argv };
	struct dmr_superblock_disk *sbs = NULL;
	struct remap_c *rc;
	const char *path;
	unsigned int nr_spares, nr_opt, i;
	int r;

	if (argc < 2) {
		ti->error = "Expected <data_dev> <#spares> [<spare_dev>...] [<#opt_args> <opt_arg>...]";
		return -EINVAL;
	}
	path = dm_shift_arg(&as);
	r = dm_read_arg(&_args[0], &as, &nr_spares, &ti->error);
	if (r)
		return r;
	if (as.argc < nr_spares) {
		ti->error = "Fewer spare devices than <#spares> says";
		return -EINVAL;
	}
	rc = kzalloc(sizeof(*rc), GFP_KERNEL);
	if (!rc) {
		ti->error = "Cannot allocate context";
		return -ENOMEM;
	}
	rc->ti = ti;
	rc->read_retries = REMAP_READ_RETRIES_DEFAULT;
	rc->read_only = !(dm_table_get_mode(ti->table) & REMAP_MODE_WRITE);
	xa_init(&rc->table);
	xa_init(&rc->retired);
	spin_lock_init(&rc->lock);
	bio_list_init(&rc->deferred);
	INIT_LIST_HEAD(&rc->requests);
	INIT_WORK(&rc->worker, remap_worker);
	rc->members = kcalloc(nr_spares + 1, sizeof(*rc->members), GFP_KERNEL);
	sbs = kvmalloc_array(nr_spares + 1, sizeof(*sbs), GFP_KERNEL);
	rc->md_block = kmalloc(DMR_MD_BLOCK_SIZE, GFP_KERNEL);
	rc->member_table = kvzalloc(DMR_MEMBER_TABLE_BLOCKS * DMR_MD_BLOCK_SIZE, GFP_KERNEL);
	rc->bounce = alloc_page(GFP_KERNEL);
	if (!rc->members || !sbs || !rc->md_block || !rc->member_table || !rc->bounce) {
		ti->error = "Cannot allocate context";
		r = -ENOMEM;
		goto bad;
	}

	for (i = 0; i <= nr_spares; i++) {
		struct remap_member *m = &rc->members[i];

		if (i)
			path = dm_shift_arg(&as);
		r = dm_get_device(ti, path, dm_table_get_mode(ti->table), &m->dev);
		if (r) {
			ti->error = i ? "Cannot open spare device" : "Cannot open data device";
			goto bad;
		}
		rc->nr_members++;
		r = read_member_sb(m->dev, &sbs[i]);
		if (r) {
			ti->error = (char *)sb_error(r);
			goto bad;
		}
		if (!i) {
			r = set_geometry(rc, &sbs[0], &ti->error);
			if (r)
				goto bad;
		}
		r = add_member(rc, m, &sbs[i], !i, &ti->error);
		if (r)
			goto bad;
	}
	if (as.argc) {
		r = dm_read_arg_group(&_args[1], &as, &nr_opt, &ti->error);
		if (r)
			goto bad;
		while (nr_opt--) {
			const char *opt = dm_shift_arg(&as);

			if (!strcasecmp(opt, "no_auto_remap")) {
				rc->no_auto_remap = true;
			} else if (!strcasecmp(opt, "read_retries") && nr_opt) {
				r = dm_read_arg(&_args[2], &as, &rc->read_retries, &ti->error);
				if (r)
					goto bad;
				nr_opt--;
			} else {
				ti->error = "Unknown or incomplete optional argument";
				r = -EINVAL;
				goto bad;
			}
		}
	}
	if (as.argc) {
		ti->error = "Too many arguments";
		r = -EINVAL;
		goto bad;
	}
	if (ti->len != rc->data_sectors) {
		ti->error = "Target length differs from the set's data length";
		r = -EINVAL;
		goto bad;
	}
	if (rc->data_offset + rc->data_sectors > bdev_nr_sectors(rc->members[0].dev->bdev)) {
		ti->error = "Data device is smaller than its superblock says";
		r = -EINVAL;
		goto bad;
	}
	/* Read-only here: another table may still be live on these devices. */
	r = md_load(rc, false, &ti->error);
	if (r)
		goto bad;
	r = check_member_table(rc, sbs, &ti->error);
	if (r)
		goto bad;
	rc->wq = alloc_workqueue("dm-remap", WQ_MEM_RECLAIM, 1);
	if (!rc->wq) {
		ti->error = "Cannot create workqueue";
		r = -ENOMEM;
		goto bad;
	}
	kvfree(sbs);
	ti->private = rc;
	ti->per_io_data_size = sizeof(struct remap_pb);
	ti->num_flush_bios = rc->nr_members;
	ti->flush_supported = true;
	ti->num_discard_bios = 1;
	return 0;

bad:
	kvfree(sbs);
	remap_free(rc);
	return r;
}

static void remap_dtr(struct dm_target *ti)
{
	remap_free(ti->private);
}

/* ---------------------------------------------------------------------------
 * I/O
 */

static int map_data(struct remap_c *rc, struct bio *bio, struct remap_pb *pb)
{
	bio_set_dev(bio, rc->members[0].dev->bdev);
	bio->bi_iter.bi_sector = rc->data_offset + pb->start;
	pb->iter = bio->bi_iter;
	return DM_MAPIO_REMAPPED;
}

static int remap_map(struct dm_target *ti, struct bio *bio)
{
	struct remap_c *rc = ti->private;
	struct remap_pb *pb = dm_per_bio_data(bio, sizeof(*pb));
	unsigned long first, last, index;
	sector_t in_block;
	void *e;

	pb->flags = 0;
	pb->iter.bi_size = 0;
	if (unlikely(bio->bi_opf & REQ_PREFLUSH)) {
		/* Empty flush: one per member, so every member's cache is flushed. */
		bio_set_dev(bio, rc->members[dm_bio_get_target_bio_nr(bio)].dev->bdev);
		return DM_MAPIO_REMAPPED;
	}
	pb->start = dm_target_offset(ti, bio->bi_iter.bi_sector);
	if (likely(xa_empty(&rc->table)) || unlikely(!bio_sectors(bio)))
		return map_data(rc, bio, pb);

	first = pb->start >> rc->block_shift;
	last = (pb->start + bio_sectors(bio) - 1) >> rc->block_shift;
	index = first;
	e = xa_find(&rc->table, &index, last, XA_PRESENT);
	if (!e)
		return map_data(rc, bio, pb);
	if (index > first) {
		/* Up to the first remapped block on the data device; DM sends the rest again. */
		dm_accept_partial_bio(bio, (index << rc->block_shift) - pb->start);
		return map_data(rc, bio, pb);
	}
	in_block = pb->start & ((1 << rc->block_shift) - 1);
	if (last > first)
		dm_accept_partial_bio(bio, (1 << rc->block_shift) - in_block);

	if (entry_state(e) == DMR_ENTRY_REMAPPED) {
		struct remap_member *m = rc->by_index[entry_index(e)];

		if (bio_op(bio) == REQ_OP_DISCARD) {
			/* Discarding a spare block only drops a hint: nothing to send. */
			bio_endio(bio);
			return DM_MAPIO_SUBMITTED;
		}
		bio_set_dev(bio, m->dev->bdev);
		bio->bi_iter.bi_sector = m->spare_offset + ((sector_t)entry_block(e) << rc->block_shift) + in_block;
		pb->iter = bio->bi_iter;
		pb->flags = PB_SPARE;
		return DM_MAPIO_REMAPPED;
	}
	/* Pending: unreadable until written. */
	switch (bio_op(bio)) {
	case REQ_OP_READ:
		atomic64_inc(&rc->read_errors);
		return DM_MAPIO_KILL;
	case REQ_OP_WRITE:
		pb->iter = bio->bi_iter;
		defer_bio(rc, bio);
		return DM_MAPIO_SUBMITTED;
	default:
		bio_endio(bio);
		return DM_MAPIO_SUBMITTED;
	}
}

static int remap_end_io(struct dm_target *ti, struct bio *bio, blk_status_t *error)
{
	struct remap_c *rc = ti->private;
	struct remap_pb *pb = dm_per_bio_data(bio, sizeof(*pb));
	enum req_op op = bio_op(bio);

	if (likely(!*error) || (pb->flags & PB_HANDLED) || (op != REQ_OP_READ && op != REQ_OP_WRITE) ||
	    !pb->iter.bi_size)
		return DM_ENDIO_DONE;
	/*
	 * Only media errors mean a bad block. A timeout, a lost path or an
	 * offline device must not burn spares or mark readable blocks pending;
	 * readahead may fail at will.
	 */
	if ((*error != BLK_STS_IOERR && *error != BLK_STS_MEDIUM) || (bio->bi_opf & REQ_RAHEAD))
		return DM_ENDIO_DONE;
	atomic64_inc(op == REQ_OP_READ ? &rc->read_errors : &rc->write_errors);
	if (rc->no_auto_remap && !(pb->flags & PB_SPARE))
		return DM_ENDIO_DONE;
	/* Retry, find the failing blocks and remap or record them in the worker. */
	bio->bi_iter = pb->iter;
	defer_bio(rc, bio);
	return DM_ENDIO_INCOMPLETE;
}

/* ---------------------------------------------------------------------------
 * Suspend and resume
 */

static void set_suspended(struct dm_target *ti, bool suspended)
{
	struct remap_c *rc = ti->private;

	spin_lock_irq(&rc->lock);
	rc->suspended = suspended;
	spin_unlock_irq(&rc->lock);
}

static void remap_presuspend(struct dm_target *ti)
{
	set_suspended(ti, true);
}

static void remap_resume(struct dm_target *ti)
{
	set_suspended(ti, false);
}

static void remap_postsuspend(struct dm_target *ti)
{
	struct remap_c *rc = ti->private;

	/* Every deferred bio finished and every commit is durable. */
	flush_workqueue(rc->wq);
}

static int remap_preresume(struct dm_target *ti)
{
	struct remap_c *rc = ti->private;
	char *error = NULL;
	unsigned int noio;
	int r;

	/*
	 * A table replaced by this one has committed its last changes in its
	 * postsuspend: read the state again, now that nothing else writes it,
	 * and bring members that are behind up to date.
	 */
	flush_workqueue(rc->wq);
	/* Suspended: reclaim must not write back through this device. */
	noio = memalloc_noio_save();
	r = md_load(rc, !rc->read_only, &error);
	memalloc_noio_restore(noio);
	if (r)
		DMERR("%s: %s", dm_device_name(dm_table_get_md(ti->table)), error);
	return r;
}

/* ---------------------------------------------------------------------------
 * Status and messages
 */

static void remap_status(struct dm_target *ti, status_type_t type, unsigned int status_flags,
			 char *result, unsigned int maxlen)
{
	struct remap_c *rc = ti->private;
	unsigned int sz = 0, i;
	u64 used, total;

	switch (type) {
	case STATUSTYPE_INFO:
		spare_totals(rc, &used, &total);
		DMEMIT("metadata=%s block_size=%u remapped=%d pending=%d spare_used=%llu spare_total=%llu "
		       "read_errors=%llu write_errors=%llu remap_events=%llu healed=%llu exhausted=%d seq=%llu spares=",
		       rc->md_degraded ? "degraded" : "ok", rc->block_size, atomic_read(&rc->nr_remapped),
		       atomic_read(&rc->nr_pending), used, total, atomic64_read(&rc->read_errors),
		       atomic64_read(&rc->write_errors), atomic64_read(&rc->remap_events),
		       atomic64_read(&rc->healed), rc->exhausted, READ_ONCE(rc->seq));
		for (i = 0; i < rc->nr_members; i++)
			DMEMIT("%s%u:%u/%u", i ? "," : "", rc->members[i].index, READ_ONCE(rc->members[i].spare_used),
			       rc->members[i].spare_blocks);
		break;
	case STATUSTYPE_TABLE:
		DMEMIT("%s %u", rc->members[0].dev->name, rc->nr_members - 1);
		for (i = 1; i < rc->nr_members; i++)
			DMEMIT(" %s", rc->members[i].dev->name);
		if (rc->no_auto_remap || rc->read_retries != REMAP_READ_RETRIES_DEFAULT) {
			DMEMIT(" %u", (rc->no_auto_remap ? 1 : 0) + (rc->read_retries != REMAP_READ_RETRIES_DEFAULT ? 2 : 0));
			if (rc->no_auto_remap)
				DMEMIT(" no_auto_remap");
			if (rc->read_retries != REMAP_READ_RETRIES_DEFAULT)
				DMEMIT(" read_retries %u", rc->read_retries);
		}
		break;
	case STATUSTYPE_IMA:
		DMEMIT_TARGET_NAME_VERSION(ti->type);
		DMEMIT(",members=%u,block_size=%u,no_auto_remap=%c,read_retries=%u;", rc->nr_members,
		       rc->block_size, rc->no_auto_remap ? 'y' : 'n', rc->read_retries);
		break;
	}
}

/* list_remaps [<first> [<count>]]: one "block state member:spare" line each. */
static int msg_list(struct remap_c *rc, unsigned int argc, char **argv, char *result, unsigned int maxlen)
{
	unsigned long index = 0, count = 100, n = 0;
	unsigned int sz = 0;
	void *e;

	if (argc > 1 && kstrtoul(argv[1], 10, &index))
		return -EINVAL;
	if (argc > 2 && (kstrtoul(argv[2], 10, &count) || !count))
		return -EINVAL;
	if (argc > 3)
		return -EINVAL;
	rcu_read_lock();
	xa_for_each_start(&rc->table, index, e, index) {
		if (n == count || sz + 64 > maxlen)
			break;
		if (entry_state(e) == DMR_ENTRY_REMAPPED)
			DMEMIT("%lu remapped %u:%u\n", index, entry_index(e), entry_block(e));
		else
			DMEMIT("%lu pending -\n", index);
		n++;
	}
	rcu_read_unlock();
	return 1;
}

static int remap_message(struct dm_target *ti, unsigned int argc, char **argv, char *result,
			 unsigned int maxlen)
{
	struct remap_c *rc = ti->private;
	unsigned int sz = 0, i;

	if (!argc)
		return -EINVAL;
	if (!strcasecmp(argv[0], "help") && argc == 1) {
		DMEMIT("stats\nclear_stats\nspare_stats\nlist_remaps [<first> [<count>]]\nremap <block>\nhelp\n");
		return 1;
	}
	if (!strcasecmp(argv[0], "stats") && argc == 1) {
		remap_status(ti, STATUSTYPE_INFO, 0, result, maxlen);
		return 1;
	}
	if (!strcasecmp(argv[0], "clear_stats") && argc == 1) {
		atomic64_set(&rc->read_errors, 0);
		atomic64_set(&rc->write_errors, 0);
		atomic64_set(&rc->remap_events, 0);
		atomic64_set(&rc->healed, 0);
		return 0;
	}
	if (!strcasecmp(argv[0], "spare_stats") && argc == 1) {
		for (i = 0; i < rc->nr_members; i++) {
			struct remap_member *m = &rc->members[i];
			u32 used = READ_ONCE(m->spare_used);

			DMEMIT("%s index=%u total=%u used=%u free=%u state=%s\n", m->dev->name, m->index,
			       m->spare_blocks, used, m->spare_blocks - used, m->md_failed ? "failed" : "ok");
		}
		return 1;
	}
	if (!strcasecmp(argv[0], "list_remaps"))
		return msg_list(rc, argc, argv, result, maxlen);
	if (!strcasecmp(argv[0], "remap") && argc == 2) {
		struct remap_req req = { .result = 0 };
		unsigned long long blk;

		if (kstrtoull(argv[1], 10, &blk) || blk >= rc->data_blocks) {
			DMWARN("remap: invalid block '%s': the data area has %llu blocks", argv[1], rc->data_blocks);
			return -EINVAL;
		}
		req.block = blk;
		init_completion(&req.done);
		spin_lock_irq(&rc->lock);
		if (rc->suspended) {
			spin_unlock_irq(&rc->lock);
			return -EBUSY;
		}
		list_add_tail(&req.list, &rc->requests);
		spin_unlock_irq(&rc->lock);
		queue_work(rc->wq, &rc->worker);
		wait_for_completion(&req.done);
		if (req.result)
			return req.result;
		DMEMIT("%llu %s", blk, xa_load(&rc->table, blk) &&
		       entry_state(xa_load(&rc->table, blk)) == DMR_ENTRY_REMAPPED ? "remapped" : "pending");
		return 1;
	}
	DMWARN("unrecognised message '%s'", argv[0]);
	return -EINVAL;
}

static int remap_iterate_devices(struct dm_target *ti, iterate_devices_callout_fn fn, void *data)
{
	struct remap_c *rc = ti->private;
	unsigned int i;
	int r = fn(ti, rc->members[0].dev, rc->data_offset, ti->len, data);

	for (i = 0; !r && i < rc->nr_members; i++)
		if (rc->members[i].spare_blocks)
			r = fn(ti, rc->members[i].dev, rc->members[i].spare_offset,
			       (sector_t)rc->members[i].spare_blocks << rc->block_shift, data);
	return r;
}

static void remap_io_hints(struct dm_target *ti, struct queue_limits *limits)
{
	struct remap_c *rc = ti->private;

	/* Every bio covers whole remap blocks: no partial-block remaps, ever. */
	limits->logical_block_size = max_t(unsigned int, limits->logical_block_size, rc->block_size);
	limits->physical_block_size = max_t(unsigned int, limits->physical_block_size, rc->block_size);
	limits->io_min = max_t(unsigned int, limits->io_min, rc->block_size);
}

static struct target_type remap_target = {
	.name = "remap",
	.version = {0, 2, 0},
	.module = THIS_MODULE,
	.ctr = remap_ctr,
	.dtr = remap_dtr,
	.map = remap_map,
	.end_io = remap_end_io,
	.presuspend = remap_presuspend,
	.postsuspend = remap_postsuspend,
	.preresume = remap_preresume,
	.resume = remap_resume,
	.status = remap_status,
	.message = remap_message,
	.iterate_devices = remap_iterate_devices,
	.io_hints = remap_io_hints,
};

static int __init dm_remap_init(void)
{
	int r = dm_register_target(&remap_target);

	if (r < 0)
		DMERR("register failed %d", r);
	return r;
}

static void __exit dm_remap_exit(void)
{
	dm_unregister_target(&remap_target);
}

module_init(dm_remap_init);
module_exit(dm_remap_exit);

MODULE_DESCRIPTION(DM_NAME " bad-block remapping target");
MODULE_LICENSE("GPL");
