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
 * allocator, the member list and the on-disk metadata are changed only by
 * the worker. Before it changes a block that bios may be reading or
 * writing, the worker marks it busy (new bios for it come to the worker)
 * and waits for the writes already sent down (io_barrier).
 */
#include "dm-remap-format.h"

#include <linux/bio.h>
#include <linux/blkdev.h>
#include <linux/crc32c.h>
#include <linux/delay.h>
#include <linux/device-mapper.h>
#include <linux/dm-io.h>
#include <linux/module.h>
#include <linux/mutex.h>
#include <linux/percpu.h>
#include <linux/sched/mm.h>
#include <linux/slab.h>
#include <linux/timekeeping.h>
#include <linux/uuid.h>
#include <linux/version.h>
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
/*
 * Failed spare writes in a row in one region of a member before a remap
 * moves on to a region 1/16 of the area further, and regions it tries on
 * one member before it moves on to the next member.
 */
#define REMAP_SPARE_TRIES 8
#define REMAP_SPARE_REGIONS 4
/* Tries of an allocation in the worker before it fails (memalloc_retry_wait between). */
#define REMAP_ALLOC_TRIES 50
/* Blocks an evacuation moves per barrier and commit. */
#define REMAP_EVACUATE_BATCH 64
/* Snapshots are streamed to disk through a buffer of this size. */
#define REMAP_MD_CHUNK (16 * DMR_MD_BLOCK_SIZE)

/*
 * Bios sent down, per CPU and epoch: counted up when mapped, and again in
 * unlocks when they come back (on any CPU). io_barrier() waits for an
 * epoch's two sums to meet, as SRCU does, but across contexts.
 */
struct io_count {
	unsigned long locks[2];
	unsigned long unlocks[2];
};

/* A member, by member index; index 0 is the data member. */
struct remap_member {
	struct dm_dev *dev;		/* NULL: no such member, or missing */
	bool missing;			/* in the member table, not in the table line (degraded) */
	/*
	 * Left out of the set (DMR_MEMBER_F_FAILED): nothing is sent to it
	 * any more. Set by the worker, read by map; it may have no device.
	 */
	bool failed;
	bool draining;			/* worker only: being removed, allocate nothing on it */
	bool spare_failing;		/* worker only: blocks of its spare area failed (retired ones exist) */
	u32 alloc_from;			/* worker only: first fit starts here (past a bad zone) */
	u8 uuid[16];
	u64 sb_generation;		/* of its superblock */
	sector_t spare_offset;
	u32 spare_blocks;
	u32 spare_used;			/* worker only; read racily by status */
	u32 live;			/* remapped entries on it; worker only, read racily */
	unsigned long *spare_map;	/* worker only: used or retired blocks */
	int newest_slot;		/* worker only: slot of its newest snapshot */
	unsigned int newest_copy;	/* load only: a copy holding that snapshot */
	u64 snap_seq;			/* seq of its newest snapshot at load */
	bool stale;			/* load only: behind the set, or a copy damaged */
};

/* Updates for one journal record, and the busy blocks they settle. */
struct updates {
	struct dmr_entry_disk u[DMR_JOURNAL_UPDATES];
	u64 busy[DMR_JOURNAL_UPDATES];
	/* Spare blocks taken for these updates: given back if the commit fails. */
	u16 alloc_idx[DMR_JOURNAL_UPDATES];
	u32 alloc_blk[DMR_JOURNAL_UPDATES];
	unsigned int nr, nr_busy, nr_alloc;
	int err;			/* a reservation failed: do not commit */
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
	sector_t md_sectors;		/* all copies */
	unsigned int md_copies;		/* 2 with DMR_INCOMPAT_MD_MIRROR */
	sector_t md_copy_sectors;	/* one copy */
	u32 slot_blocks;
	unsigned int read_retries;
	bool no_auto_remap;
	bool degraded_ok;		/* table option "degraded": spares may be missing */
	bool read_only;			/* table loaded read-only: never write metadata */
	bool resumed;			/* preresume has run: the state in memory is the truth */
	bool md_stale;			/* load found a member behind or a damaged copy */
	bool fail_pending;		/* worker only: members failed since the last membership commit */
	unsigned int nr_failed;		/* worker only: members failed while this table ran */
	bool anchor_failed;		/* worker only: a metadata write to the data member failed everywhere */

	/*
	 * Members by index. Only the worker changes the list, for a message
	 * holding msg_lock (which serialises those messages), and it sets or
	 * clears a member's device under members_lock, which status and
	 * iterate_devices take. The I/O path only follows table entries, which
	 * never name a member that is not there.
	 */
	struct remap_member members[DMR_MAX_MEMBERS];
	struct mutex msg_lock;
	struct mutex members_lock;

	/* data block -> encoded entry; RCU readers, written by the worker. */
	struct xarray table;
	/* (member index << 32 | spare block) of failed spare blocks; worker only. */
	struct xarray retired;
	u8 *member_table;		/* as on disk, 16 KiB; worker only */
	u32 nblocks[DMR_MAX_MEMBERS];	/* spare blocks by index under member_table; worker only */
	u64 failed_mask;		/* members member_table marks failed; worker only */
	void *md_block;			/* 4 KiB scratch for metadata I/O; worker only */
	struct dmr_superblock_disk *sb_scratch;	/* for membership commits on the I/O path; worker only */
	void *md_chunk;			/* REMAP_MD_CHUNK bytes for snapshots; worker only */
	struct page *bounce;		/* one data block; worker only */
	struct updates *up;		/* worker only */
	struct bio_set bs;		/* the worker's own bios, never the caller's pool */
	struct dm_io_client *io_client;	/* metadata I/O */
	struct dm_io_region where[BITS_PER_LONG]; /* md_write's regions; worker only */

	/* Metadata state; worker only (and ctr/preresume, before any I/O). */
	u64 generation;			/* membership generation in force (the data member's) */
	u64 seq;
	u64 snapshot_seq;

	struct io_count __percpu *io;
	unsigned int epoch;		/* written by the worker, read by map */

	atomic_t spare_writes;		/* writes completed on spare devices */
	int flushed_writes;		/* spare_writes when the spares were last flushed */

	/* lock protects deferred, requests and suspended. */
	spinlock_t lock;
	struct bio_list deferred;
	struct list_head requests;	/* from messages, for the worker */
	bool suspended;			/* no new requests for the worker */
	/*
	 * Group commit, worker only: bios served whose updates wait in @up
	 * for one commit, and bios to serve again first (a spare failed
	 * under their data before it was committed).
	 */
	struct bio_list batch, redo;
	bool batch_fua;			/* a bio in @batch asked for FUA */
	int batch_err;			/* an early commit of the group's updates failed */
	u64 dirty;			/* worker only: members it wrote data to since its last commit flush */
	struct workqueue_struct *wq;
	struct work_struct worker;
	struct work_struct uevent;	/* a change uevent, off the I/O path */

	atomic_t nr_remapped;
	atomic_t nr_pending;
	atomic_t nr_retired;
	atomic64_t read_errors;
	atomic64_t write_errors;
	atomic64_t remap_events;
	atomic64_t healed;
	atomic64_t device_errors;	/* failures of a whole device, passed up */
	unsigned long pending_retry;	/* jiffies before which a pending block is not read again */
	bool exhausted;
	bool md_degraded;
	unsigned int spare_level;	/* worker only: last usage threshold crossed */
};

enum remap_req_type { REQ_REMAP, REQ_SPARE_ADD, REQ_SPARE_REMOVE };

/* A message that changes state, carried out by the worker. */
struct remap_req {
	struct list_head list;
	enum remap_req_type type;
	u64 block;			/* REQ_REMAP */
	struct dm_dev *dev;		/* the spare added or removed */
	u16 index;
	bool evacuate;
	const char *image;		/* loop image path to record, or NULL */
	u64 sectors, spare_offset;	/* REQ_SPARE_ADD geometry */
	u32 spare_blocks;
	unsigned long *spare_map;	/* allocated by the message, owned by the worker once used */
	unsigned int moved, lost;	/* evacuation results */
	const char *error;		/* why it failed, for the log */
	int result;
	struct completion done;
};

/* Per-bio data: where the bio went, to reprocess it after an error. */
struct remap_pb {
	struct bvec_iter iter;		/* as submitted, after remapping */
	sector_t start;			/* target-relative start sector */
	unsigned int flags;
	unsigned int counted;		/* 1 + its epoch while counted as sent down */
	unsigned int served;		/* times the worker served it (bounds redo) */
	unsigned int fail_seen;		/* rc->nr_failed when the worker last began serving it */
};

#define PB_SPARE_DEV	0x1	/* went to a spare device, not the data member */
#define PB_HANDLED	0x2	/* the worker has dealt with it */
#define PB_FLUSH	0x4	/* an empty flush */

/*
 * Table entries are xarray value entries: state in bits 0-1, spare member
 * index in bits 2-7, spare block in bits 8-39, busy in bit 40. A busy
 * entry in state FREE stands for a block on the data device.
 */
#define ENTRY_BUSY (1UL << 40)

static inline void *entry_mk(unsigned int state, u16 idx, u32 blk)
{
	return xa_mk_value(state | ((unsigned long)(idx & 0x3f) << 2) | ((unsigned long)blk << 8));
}

static inline unsigned int entry_state(void *e) { return xa_to_value(e) & 3; }
static inline u16 entry_index(void *e) { return (xa_to_value(e) >> 2) & 0x3f; }
static inline u32 entry_block(void *e) { return (xa_to_value(e) >> 8) & 0xffffffff; }
static inline bool entry_busy(void *e) { return xa_to_value(e) & ENTRY_BUSY; }
/* A pending block whose latest data is gone: the data device holds an older version. */
static inline bool entry_lost(void *e)
{
	return entry_state(e) == DMR_ENTRY_PENDING && entry_block(e) == DMR_PENDING_LOST;
}

/* The entry of @blk, or NULL while it lives on the data device. */
static void *entry_get(struct remap_c *rc, u64 blk)
{
	void *e = xa_load(&rc->table, blk);

	return e && entry_state(e) != DMR_ENTRY_FREE ? e : NULL;
}

#define for_each_member(rc, m) \
	for (m = (rc)->members; m < (rc)->members + DMR_MAX_MEMBERS; m++) \
		if (!m->dev) {} else

/* Members there and in the set: those that metadata is read from and written to. */
#define for_each_live(rc, m) \
	for (m = (rc)->members; m < (rc)->members + DMR_MAX_MEMBERS; m++) \
		if (!m->dev || m->failed) {} else

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
static int sync_io(struct remap_c *rc, struct block_device *bdev, sector_t sector, void *buf, size_t len,
		   blk_opf_t opf)
{
	while (len) {
		unsigned int nr = min_t(size_t, DIV_ROUND_UP(len, PAGE_SIZE) + 1, BIO_MAX_VECS);
		struct bio *bio = bio_alloc_bioset(bdev, nr, opf, GFP_NOIO, &rc->bs);
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

/*
 * Metadata addresses are offsets into one copy of the metadata area
 * (sectors); md_sector() places them in a copy.
 */
static sector_t slot_off(struct remap_c *rc, unsigned int slot)
{
	return (sector_t)slot * rc->slot_blocks * DMR_MD_BLOCK_SECTORS;
}

static unsigned int journal_pos(struct remap_c *rc, u64 seq)
{
	return do_div(seq, rc->journal_blocks);
}

static sector_t journal_off(struct remap_c *rc, u64 seq)
{
	return slot_off(rc, 2) + (sector_t)journal_pos(rc, seq) * DMR_MD_BLOCK_SECTORS;
}

static sector_t md_sector(struct remap_c *rc, unsigned int copy, sector_t off)
{
	return rc->md_offset + copy * rc->md_copy_sectors + off;
}

static void md_mem(struct dm_io_request *req, void *buf)
{
	if (is_vmalloc_addr(buf)) {
		req->mem.type = DM_IO_VMA;
		req->mem.ptr.vma = buf;
	} else {
		req->mem.type = DM_IO_KMEM;
		req->mem.ptr.addr = buf;
	}
}

/* One synchronous metadata read of @len bytes at @off in copy @copy of @m. */
static int md_read_copy(struct remap_c *rc, struct remap_member *m, unsigned int copy, sector_t off, void *buf,
			size_t len)
{
	struct dm_io_region where = { m->dev->bdev, md_sector(rc, copy, off), len >> SECTOR_SHIFT };
	struct dm_io_request req = { .bi_opf = REQ_OP_READ | REQ_META, .client = rc->io_client };
	unsigned long bits = 0;

	md_mem(&req, buf);
	return dm_io(&req, 1, &where, &bits, IOPRIO_DEFAULT);
}

/*
 * Reads @len bytes at @off from copy @copy of @m; a 4 KiB block that
 * cannot be read there comes from the other copy. -EIO: a block can be
 * read from no copy. *@fell_back tells that one copy had an unreadable
 * block (redundancy lost, nothing yet); *@bad is the offset of the last
 * such block.
 */
static int md_read(struct remap_c *rc, struct remap_member *m, unsigned int copy, sector_t off, void *buf,
		   size_t len, sector_t *bad, bool *fell_back)
{
	size_t done;

	if (!md_read_copy(rc, m, copy, off, buf, len))
		return 0;
	for (done = 0; done < len; done += DMR_MD_BLOCK_SIZE) {
		sector_t o = off + (done >> SECTOR_SHIFT);
		unsigned int i;
		int r = -EIO;

		for (i = 0; i < rc->md_copies && r; i++)
			r = md_read_copy(rc, m, (copy + i) % rc->md_copies, o, buf + done, DMR_MD_BLOCK_SIZE);
		if (i > 1 || r) {
			*fell_back = true;
			*bad = o;
		}
		if (r)
			return -EIO;
	}
	return 0;
}

/*
 * Writes @len bytes at @off to every copy on each member in @mask at once
 * (a zero @len with REQ_PREFLUSH: one flush per member). Returns the
 * members on which nothing was written: one good copy keeps a member
 * consistent, so a member that lost only one copy is logged, not failed.
 */
static u64 md_write(struct remap_c *rc, u64 mask, sector_t off, void *buf, size_t len, blk_opf_t opf)
{
	unsigned int copies = len ? rc->md_copies : 1, per_call = BITS_PER_LONG / copies;
	struct dm_io_request req = { .bi_opf = opf | REQ_META | REQ_SYNC, .client = rc->io_client };
	u8 idx[BITS_PER_LONG];
	u64 failed = 0;
	unsigned int i = 0;

	md_mem(&req, buf ?: rc->md_block);
	while (i < DMR_MAX_MEMBERS) {
		unsigned long bits = 0;
		unsigned int n = 0, k, c;

		for (; i < DMR_MAX_MEMBERS && n / copies < per_call; i++) {
			if (!(mask & BIT_ULL(i)) || !rc->members[i].dev || rc->members[i].failed)
				continue;
			for (c = 0; c < copies; c++, n++) {
				idx[n] = i;
				rc->where[n].bdev = rc->members[i].dev->bdev;
				rc->where[n].sector = len ? md_sector(rc, c, off) : 0;
				rc->where[n].count = len >> SECTOR_SHIFT;
			}
		}
		if (!n)
			break;
		if (dm_io(&req, n, rc->where, &bits, IOPRIO_DEFAULT) && !bits)
			bits = ~0UL;
		for (k = 0; k < n; k += copies) {
			unsigned long mine = (bits >> k) & ((1UL << copies) - 1);

			if (mine == (1UL << copies) - 1)
				failed |= BIT_ULL(idx[k]);
			else if (mine)
				DMWARN_LIMIT("%s: one copy of the metadata at offset %llu could not be written",
					     rc->members[idx[k]].dev->name, (unsigned long long)off);
		}
	}
	return failed;
}

/* ---------------------------------------------------------------------------
 * Superblocks
 */

/*
 * Reads and checks superblock copy @copy: magic, checksum, version, features,
 * location. -EROFS: valid, with features this module can only read.
 */
static int read_superblock(struct remap_c *rc, struct dm_dev *dev, unsigned int copy,
			   struct dmr_superblock_disk *sb)
{
	int r = sync_io(rc, dev->bdev, DMR_SB_SECTOR(copy), sb, sizeof(*sb), REQ_OP_READ | REQ_META);

	if (r)
		return r;
	if (le64_to_cpu(sb->magic) != DMR_SB_MAGIC)
		return -EINVAL;
	if (block_csum(sb) != le32_to_cpu(sb->csum))
		return -EILSEQ;
	if (le32_to_cpu(sb->version) < DMR_VERSION_MIN || le32_to_cpu(sb->version) > DMR_VERSION_MAX ||
	    (le32_to_cpu(sb->incompat_flags) & ~DMR_INCOMPAT_SUPP))
		return -EPROTONOSUPPORT;
	if (le32_to_cpu(sb->sb_copy) != copy || le64_to_cpu(sb->sb_location) != DMR_SB_SECTOR(copy))
		return -EINVAL;
	if (le32_to_cpu(sb->ro_compat_flags) & ~DMR_RO_COMPAT_SUPP)
		return -EROFS;
	return 0;
}

static bool sb_usable(int r)
{
	return !r || r == -EROFS;
}

/* The valid copy with the higher generation: one damaged copy is survivable. */
static int read_member_sb(struct remap_c *rc, struct dm_dev *dev, struct dmr_superblock_disk *sb)
{
	struct dmr_superblock_disk *other = kmalloc(sizeof(*other), GFP_NOIO);
	int r0, r1;

	if (!other)
		return -ENOMEM;
	r0 = read_superblock(rc, dev, 0, sb);
	r1 = read_superblock(rc, dev, 1, other);
	if (sb_usable(r1) && (!sb_usable(r0) || le64_to_cpu(other->generation) > le64_to_cpu(sb->generation))) {
		memcpy(sb, other, sizeof(*sb));
		r0 = r1;
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
	case -ENOMEM:
		return "Cannot allocate superblock buffer";
	default:
		return "not a dm-remap member (no valid superblock)";
	}
}

/*
 * Writes both copies of @sb, each durable before the next. Copy 0 alone
 * already carries the new generation, so a failed copy 1 fails nothing, but
 * the member has lost its superblock redundancy: the status says so.
 */
static int sb_write(struct remap_c *rc, struct block_device *bdev, struct dmr_superblock_disk *sb)
{
	unsigned int copy;
	int r;

	for (copy = 0; copy < DMR_SB_COPIES; copy++) {
		sb->sb_copy = cpu_to_le32(copy);
		sb->sb_location = cpu_to_le64(DMR_SB_SECTOR(copy));
		sb->csum = cpu_to_le32(block_csum(sb));
		r = sync_io(rc, bdev, DMR_SB_SECTOR(copy), sb, sizeof(*sb),
			    REQ_OP_WRITE | REQ_META | REQ_SYNC | REQ_PREFLUSH | REQ_FUA);
		if (r && copy) {
			DMWARN("%pg: superblock copy 1 could not be written (%d)", bdev, r);
			rc->md_degraded = true;
		} else if (r) {
			return r;
		}
	}
	return 0;
}

/* Brings @m's superblock to the set's generation; @sb is scratch. */
static int sb_set_generation(struct remap_c *rc, struct remap_member *m, struct dmr_superblock_disk *sb)
{
	int r = read_member_sb(rc, m->dev, sb);

	if (!sb_usable(r))
		return r;
	sb->generation = cpu_to_le64(rc->generation);
	r = sb_write(rc, m->dev->bdev, sb);
	if (!r)
		m->sb_generation = rc->generation;
	return r;
}

/* ---------------------------------------------------------------------------
 * Spare allocation (worker only)
 */

static bool spare_mark(struct remap_c *rc, u16 idx, u32 blk)
{
	struct remap_member *m = &rc->members[idx];

	if (!m->spare_map)
		return true;	/* a missing member: nothing allocates there */
	if (blk >= m->spare_blocks || test_and_set_bit(blk, m->spare_map))
		return false;
	m->spare_used++;
	return true;
}

static void spare_release(struct remap_c *rc, u16 idx, u32 blk)
{
	struct remap_member *m = &rc->members[idx];

	if (m->spare_map && blk < m->spare_blocks && test_and_clear_bit(blk, m->spare_map))
		m->spare_used--;
}

static void spare_totals(struct remap_c *rc, u64 *used, u64 *total)
{
	struct remap_member *m;

	*used = *total = 0;
	for_each_live(rc, m) {
		*used += READ_ONCE(m->spare_used);
		*total += m->spare_blocks;
	}
}

/*
 * A device-mapper event (dmsetup wait) and a udev change event on the
 * mapped device. The uevent allocates, so it goes out from the system
 * workqueue, never from the worker: a burst of events becomes one.
 */
static void remap_event(struct remap_c *rc)
{
	dm_table_event(rc->ti->table);
	schedule_work(&rc->uevent);
}

static void remap_uevent(struct work_struct *w)
{
	struct remap_c *rc = container_of(w, struct remap_c, uevent);
	struct mapped_device *md = dm_table_get_md(rc->ti->table);
	char remapped[32], pending[32], exhausted[32], name[DM_NAME_LEN], uuid[DM_UUID_LEN];
	char name_env[sizeof("DM_NAME=") + DM_NAME_LEN], uuid_env[sizeof("DM_UUID=") + DM_UUID_LEN];
	char *envp[] = { "DM_REMAP_EVENT=1", remapped, pending, exhausted, NULL, NULL, NULL };
	unsigned int n = 4;

	/*
	 * Named, so that udev's device-mapper rules need not run dmsetup to
	 * learn who the event is from (DM_NAME unset makes 10-dm.rules ask).
	 */
	if (!dm_copy_name_and_uuid(md, name, uuid)) {
		snprintf(name_env, sizeof(name_env), "DM_NAME=%s", name);
		envp[n++] = name_env;
		if (uuid[0]) {
			snprintf(uuid_env, sizeof(uuid_env), "DM_UUID=%s", uuid);
			envp[n++] = uuid_env;
		}
	}
	snprintf(remapped, sizeof(remapped), "DM_REMAP_REMAPPED=%d", atomic_read(&rc->nr_remapped));
	snprintf(pending, sizeof(pending), "DM_REMAP_PENDING=%d", atomic_read(&rc->nr_pending));
	snprintf(exhausted, sizeof(exhausted), "DM_REMAP_EXHAUSTED=%d", READ_ONCE(rc->exhausted));
	kobject_uevent_env(&disk_to_dev(dm_disk(md))->kobj, KOBJ_CHANGE, envp);
}

/*
 * An event when spare use crosses 80% and 95%, so monitoring hears it
 * early; a spare added lowers the level again.
 */
static void spare_threshold(struct remap_c *rc)
{
	static const unsigned int levels[] = { 95, 80 };
	unsigned int i, level = 0;
	u64 used, total;

	spare_totals(rc, &used, &total);
	for (i = 0; i < ARRAY_SIZE(levels) && !level && total; i++)
		if (used * 100 >= total * levels[i])
			level = levels[i];
	if (level > rc->spare_level) {
		DMWARN("%s: %u%% of spare blocks in use", dm_device_name(dm_table_get_md(rc->ti->table)), level);
		remap_event(rc);
	}
	rc->spare_level = level;
}

/*
 * First fit, the internal spare area first, then spare devices by index;
 * once the failing disk's own spare area has shown bad blocks, spare
 * devices come first and it comes last. Members in @skip are left out.
 */
static int spare_alloc(struct remap_c *rc, u16 *idx, u32 *blk, u64 skip)
{
	bool internal_last = rc->members[0].spare_failing;
	unsigned int n;

	for (n = 0; n < DMR_MAX_MEMBERS; n++) {
		unsigned int i = internal_last ? (n + 1) % DMR_MAX_MEMBERS : n;
		struct remap_member *m = &rc->members[i];
		unsigned long b;

		if (!m->dev || (skip & BIT_ULL(i)) || !m->spare_blocks || m->draining || m->failed ||
		    m->spare_used >= m->spare_blocks)
			continue;
		b = find_next_zero_bit(m->spare_map, m->spare_blocks, m->alloc_from);
		if (b >= m->spare_blocks)
			b = find_first_zero_bit(m->spare_map, m->spare_blocks);
		if (b >= m->spare_blocks)
			continue;
		set_bit(b, m->spare_map);
		m->spare_used++;
		*idx = m - rc->members;
		*blk = b;
		spare_threshold(rc);
		return 0;
	}
	return -ENOSPC;
}

/* ---------------------------------------------------------------------------
 * Waiting for bios in flight (worker only)
 */

static bool io_drained(struct remap_c *rc, unsigned int idx)
{
	unsigned long locks = 0, unlocks = 0;
	int cpu;

	/* Unlocks first: a bio that comes back in between only delays us. */
	for_each_possible_cpu(cpu)
		unlocks += READ_ONCE(per_cpu_ptr(rc->io, cpu)->unlocks[idx]);
	smp_mb();
	for_each_possible_cpu(cpu)
		locks += READ_ONCE(per_cpu_ptr(rc->io, cpu)->locks[idx]);
	return locks == unlocks;
}

/*
 * Returns once every counted bio mapped before the call has come back
 * from the members: every write, and every bio while the table is not
 * empty (reads of data-device blocks with an empty table are not counted;
 * nothing here needs them). Table changes made before the call are seen by
 * every bio it does not wait for: map counts a bio, then (full barrier)
 * reads the table; here the table was written, then (full barriers) the
 * epoch flipped and the counts of both epochs read. A bio whose count this
 * misses therefore reads the new table.
 */
static void io_barrier(struct remap_c *rc)
{
	unsigned int i;

	/*
	 * Twice, so both epochs are drained after the table change: a bio that
	 * read the epoch before a flip counts in the epoch it read, which may
	 * be the current one by then (as in SRCU).
	 */
	for (i = 0; i < 2; i++) {
		unsigned int old = rc->epoch & 1;

		smp_mb();
		WRITE_ONCE(rc->epoch, rc->epoch + 1);
		smp_mb();
		while (!io_drained(rc, old))
			usleep_range(100, 200);
	}
	smp_mb();
}

/*
 * Sends new bios for @blk to the worker and waits for those in flight, so
 * the worker alone touches the block until the updates in @up are
 * committed (upd_flush ends it).
 */
/*
 * Room for @index in @xa, from the worker. Memory pressure is waited out a
 * while (the reclaim it waits for does not need this device: GFP_NOIO)
 * rather than turned into an EIO for a write that could be remapped.
 */
static int xa_room(struct xarray *xa, unsigned long index)
{
	unsigned int i;

	for (i = 0; i < REMAP_ALLOC_TRIES; i++) {
		if (!xa_reserve(xa, index, GFP_NOIO))
			return 0;
		memalloc_retry_wait(GFP_NOIO);
	}
	return -ENOMEM;
}

static int busy_begin(struct remap_c *rc, u64 blk, struct updates *up)
{
	void *e = xa_load(&rc->table, blk);
	int r;

	if (e && entry_busy(e))
		return 0;
	if (WARN_ON_ONCE(up->nr_busy == ARRAY_SIZE(up->busy)))
		return -EBUSY;
	/* Reserved first, the store below allocates nothing. */
	r = e ? 0 : xa_room(&rc->table, blk);
	if (r)
		return r;
	xa_store(&rc->table, blk, xa_mk_value((e ? xa_to_value(e) : DMR_ENTRY_FREE) | ENTRY_BUSY), GFP_NOIO);
	up->busy[up->nr_busy++] = blk;
	io_barrier(rc);
	return 0;
}

static void busy_end(struct remap_c *rc, u64 blk)
{
	void *e = xa_load(&rc->table, blk);

	if (!e || !entry_busy(e))
		return;
	if (entry_state(e) == DMR_ENTRY_FREE)
		xa_erase(&rc->table, blk);
	else
		xa_store(&rc->table, blk, xa_mk_value(xa_to_value(e) & ~ENTRY_BUSY), GFP_NOIO);
}

/* ---------------------------------------------------------------------------
 * Metadata: loading
 */

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

/*
 * Spare blocks of each member index under member table @t (0: no such
 * member); returns the members it marks failed.
 */
static u64 member_blocks(struct remap_c *rc, const u8 *table, u32 *nblocks)
{
	const struct dmr_member_disk *t = (const void *)table;
	unsigned int i;
	u64 failed = 0;

	for (i = 0; i < DMR_MAX_MEMBERS; i++) {
		if (le32_to_cpu(t[i].flags) & DMR_MEMBER_F_FAILED)
			failed |= BIT_ULL(i);
		if (rc->members[i].dev)
			nblocks[i] = rc->members[i].spare_blocks;
		else if (le16_to_cpu(t[i].role) != DMR_ROLE_NONE)
			nblocks[i] = min_t(u64, le64_to_cpu(t[i].spare_sectors) >> rc->block_shift,
					   REMAP_SPARE_BLOCKS_MAX);
		else
			nblocks[i] = 0;
	}
	return failed;
}

/*
 * Checks an entry of a snapshot or journal against the set's geometry.
 * Nothing lives on a @failed member: its entries turned pending when it failed.
 */
static bool entry_valid(struct remap_c *rc, const struct dmr_entry_disk *d, bool journal, const u32 *nblocks,
			u64 failed)
{
	struct entry_fields f = entry_decode(d);
	u32 nb = f.idx < DMR_MAX_MEMBERS ? nblocks[f.idx] : 0;

	switch (f.state) {
	case DMR_ENTRY_FREE:
		return journal && f.blk < rc->data_blocks;
	case DMR_ENTRY_PENDING:
		return f.blk < rc->data_blocks && f.idx == DMR_NO_MEMBER && f.sblk <= DMR_PENDING_LOST;
	case DMR_ENTRY_REMAPPED:
		return f.blk < rc->data_blocks && f.sblk < nb && !(failed & BIT_ULL(f.idx));
	case DMR_ENTRY_RETIRED:
		return f.blk == DMR_NO_BLOCK && f.sblk < nb;
	}
	return false;
}

/* Puts one loaded entry into the in-memory state. */
static int load_entry(struct remap_c *rc, const struct dmr_entry_disk *d)
{
	struct entry_fields f = entry_decode(d);

	if (f.state != DMR_ENTRY_PENDING && !spare_mark(rc, f.idx, f.sblk))
		return -EUCLEAN;	/* a spare block used twice */
	switch (f.state) {
	case DMR_ENTRY_RETIRED:
		rc->members[f.idx].spare_failing = true;
		atomic_inc(&rc->nr_retired);
		return xa_err(xa_store(&rc->retired, (u64)f.idx << 32 | f.sblk, xa_mk_value(1), GFP_NOIO));
	case DMR_ENTRY_REMAPPED:
		atomic_inc(&rc->nr_remapped);
		rc->members[f.idx].live++;
		break;
	default:
		atomic_inc(&rc->nr_pending);
	}
	return xa_err(xa_store(&rc->table, f.blk, entry_mk(f.state, f.idx, f.sblk), GFP_NOIO));
}

/* What loading found wrong on a member, short of an invalid state. */
struct md_damage {
	bool fell_back;			/* a block came from the other copy */
	bool unreadable;		/* a block could be read from no copy */
	sector_t bad;			/* its offset in a copy */
};

/*
 * Reads and checks one snapshot slot of @m completely (header, member
 * table, entries), from copy @copy with unreadable blocks taken from the
 * other copy. Returns its seq, or 0 when the slot is not a valid snapshot
 * of this set. With @load, the entries also go into the table.
 */
static u64 md_read_slot(struct remap_c *rc, struct remap_member *m, unsigned int slot, unsigned int copy,
			bool load, int *err, struct md_damage *dmg)
{
	struct dmr_snapshot_disk *h = rc->md_block;
	sector_t s = slot_off(rc, slot);
	struct dmr_entry_disk *ents = NULL;
	u32 nblocks[DMR_MAX_MEMBERS];
	u64 failed;
	u8 *table = NULL;
	u32 nr, i;
	u64 seq = 0, prev = 0;
	size_t len;

	*err = 0;
	if (md_read(rc, m, copy, s, h, DMR_MD_BLOCK_SIZE, &dmg->bad, &dmg->fell_back)) {
		dmg->unreadable = true;
		return 0;
	}
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

		if (md_read(rc, m, copy, s + DMR_MD_BLOCK_SECTORS, table, DMR_MEMBER_TABLE_BLOCKS * DMR_MD_BLOCK_SIZE,
			    &dmg->bad, &dmg->fell_back) ||
		    (len && md_read(rc, m, copy, s + (1 + DMR_MEMBER_TABLE_BLOCKS) * DMR_MD_BLOCK_SECTORS, ents, len,
				    &dmg->bad, &dmg->fell_back))) {
			dmg->unreadable = true;
			seq = 0;
			goto out;
		}
		if (dmr_csum(table, DMR_MEMBER_TABLE_BLOCKS * DMR_MD_BLOCK_SIZE) != members_csum ||
		    dmr_csum(ents, (size_t)nr * sizeof(*ents)) != entries_csum) {
			seq = 0;
			goto out;
		}
	}
	/* Entries may name members that are missing: their sizes come from this table. */
	failed = member_blocks(rc, table, nblocks);
	for (i = 0; i < nr; i++) {
		u64 key = le64_to_cpu(ents[i].data_block);

		/* Sorted and unique by data block; retired entries last. */
		if (!entry_valid(rc, &ents[i], false, nblocks, failed) || le16_to_cpu(ents[i].state) == DMR_ENTRY_FREE ||
		    (i && key != DMR_NO_BLOCK && key <= prev)) {
			seq = 0;
			goto out;
		}
		prev = key;
	}
	if (!load)
		goto out;
	memcpy(rc->member_table, table, DMR_MEMBER_TABLE_BLOCKS * DMR_MD_BLOCK_SIZE);
	memcpy(rc->nblocks, nblocks, sizeof(nblocks));
	rc->failed_mask = failed;
	for (i = 0; i < nr && !*err; i++)
		*err = load_entry(rc, &ents[i]);
out:
	kvfree(table);
	kvfree(ents);
	return *err ? 0 : seq;
}

/* A valid record of this set and generation for ring position @pos? */
static bool record_valid(struct remap_c *rc, struct dmr_journal_disk *j, unsigned int pos)
{
	return le64_to_cpu(j->magic) == DMR_JOURNAL_MAGIC && block_csum(j) == le32_to_cpu(j->csum) &&
	       !memcmp(j->set_uuid, rc->set_uuid, 16) && le64_to_cpu(j->generation) == rc->generation &&
	       le32_to_cpu(j->nr_updates) <= DMR_JOURNAL_UPDATES && journal_pos(rc, le64_to_cpu(j->seq)) == pos;
}

/*
 * Looks for record @seq in every copy on every member; if it exists, a
 * member without it in every copy is stale. 1: found, copied to md_chunk.
 * 0: absent (the end of the history: nobody is behind for that). -EIO:
 * absent where it could be read, and @*where could read it from no copy,
 * so nobody can tell whether it was committed.
 */
static int md_find_record(struct remap_c *rc, u64 seq, struct remap_member **where)
{
	struct dmr_journal_disk *j = rc->md_block;
	struct remap_member *m;
	bool found = false, unknown = false;
	u64 whole = 0;			/* members holding it in every copy */
	unsigned int c, readable, valid;

	for_each_live(rc, m) {
		readable = valid = 0;
		for (c = 0; c < rc->md_copies; c++) {
			if (md_read_copy(rc, m, c, journal_off(rc, seq), j, DMR_MD_BLOCK_SIZE)) {
				DMWARN_LIMIT("%s: metadata journal block %u of copy %u is unreadable", m->dev->name,
					     journal_pos(rc, seq), c);
				continue;
			}
			readable++;
			if (!record_valid(rc, j, journal_pos(rc, seq)) || le64_to_cpu(j->seq) != seq)
				continue;
			valid++;
			if (!found)
				memcpy(rc->md_chunk, j, DMR_MD_BLOCK_SIZE);
			found = true;
		}
		if (valid == rc->md_copies)
			whole |= BIT_ULL(m - rc->members);
		if (!readable) {
			unknown = true;
			*where = m;
		}
	}
	if (found) {
		for_each_live(rc, m)
			m->stale |= !(whole & BIT_ULL(m - rc->members));
	}
	return found ? 1 : unknown ? -EIO : 0;
}

/*
 * A valid record after @end anywhere means one is missing from the middle
 * of the history (or the newest snapshot is lost): loading the part before
 * the hole would silently drop commits. Blocks that cannot be read are
 * skipped here; md_find_record already refused if the next one is such.
 */
static int md_find_orphan(struct remap_c *rc, u64 end, struct remap_member **where, u64 *seq)
{
	const unsigned int per_chunk = REMAP_MD_CHUNK / DMR_MD_BLOCK_SIZE;
	struct remap_member *m;
	unsigned int c, pos, b, n;

	for_each_live(rc, m) {
		for (c = 0; c < rc->md_copies; c++) {
			for (pos = 0; pos < rc->journal_blocks; pos += n) {
				sector_t off = slot_off(rc, 2) + (sector_t)pos * DMR_MD_BLOCK_SECTORS;
				bool whole;

				n = min(per_chunk, rc->journal_blocks - pos);
				whole = !md_read_copy(rc, m, c, off, rc->md_chunk, n * DMR_MD_BLOCK_SIZE);
				for (b = 0; b < n; b++) {
					struct dmr_journal_disk *j = rc->md_chunk + b * DMR_MD_BLOCK_SIZE;

					if (!whole && md_read_copy(rc, m, c, off + b * DMR_MD_BLOCK_SECTORS, j,
								   DMR_MD_BLOCK_SIZE))
						continue;
					if (record_valid(rc, j, pos + b) && le64_to_cpu(j->seq) > end) {
						*where = m;
						*seq = le64_to_cpu(j->seq);
						return -EUCLEAN;
					}
				}
			}
		}
	}
	return 0;
}

/*
 * Applies one journal update to the in-memory state. @reserved: the spare
 * blocks it names were already taken by the allocator (a commit of ours),
 * not read from disk.
 */
static int apply_update(struct remap_c *rc, const struct dmr_entry_disk *u, bool reserved)
{
	struct entry_fields f = entry_decode(u);
	void *old;

	if (!entry_valid(rc, u, true, rc->nblocks, rc->failed_mask))
		return -EUCLEAN;
	if (f.state == DMR_ENTRY_RETIRED) {
		u64 key = (u64)f.idx << 32 | f.sblk;

		/*
		 * Blocks are marked only by entries and retired locations, so a
		 * marked block that is not retired is the old location of the
		 * entry this record moves.
		 */
		if (xa_load(&rc->retired, key))
			return -EUCLEAN;
		if (!reserved)
			spare_mark(rc, f.idx, f.sblk);
		rc->members[f.idx].spare_failing = true;
		atomic_inc(&rc->nr_retired);
		return xa_err(xa_store(&rc->retired, key, xa_mk_value(1), GFP_NOIO));
	}
	old = entry_get(rc, f.blk);
	if (f.state == DMR_ENTRY_REMAPPED && !reserved && !spare_mark(rc, f.idx, f.sblk))
		return -EUCLEAN;
	if (old && entry_state(old) == DMR_ENTRY_REMAPPED) {
		/* The old location is kept only if a retired entry says so. */
		if (!xa_load(&rc->retired, (u64)entry_index(old) << 32 | entry_block(old)))
			spare_release(rc, entry_index(old), entry_block(old));
		rc->members[entry_index(old)].live--;
		atomic_dec(&rc->nr_remapped);
	} else if (old) {
		atomic_dec(&rc->nr_pending);
	}
	if (f.state == DMR_ENTRY_FREE) {
		if (!old)
			return -EUCLEAN;
		xa_erase(&rc->table, f.blk);
		return 0;
	}
	if (f.state == DMR_ENTRY_REMAPPED) {
		atomic_inc(&rc->nr_remapped);
		rc->members[f.idx].live++;
	} else {
		atomic_inc(&rc->nr_pending);
	}
	return xa_err(xa_store(&rc->table, f.blk, entry_mk(f.state, f.idx, f.sblk), GFP_NOIO));
}

static void md_clear(struct remap_c *rc)
{
	struct remap_member *m;

	xa_destroy(&rc->table);
	xa_destroy(&rc->retired);
	for (m = rc->members; m < rc->members + DMR_MAX_MEMBERS; m++) {
		if (m->spare_map)
			bitmap_zero(m->spare_map, m->spare_blocks);
		m->spare_used = 0;
		m->spare_failing = false;
		m->alloc_from = 0;
		m->live = 0;
	}
	atomic_set(&rc->nr_remapped, 0);
	atomic_set(&rc->nr_pending, 0);
	atomic_set(&rc->nr_retired, 0);
}

/*
 * Every member of the loaded member table must be in the table line, except
 * missing spares when the table says "degraded", and nothing else may be.
 */
static int check_member_table(struct remap_c *rc, char **error)
{
	const struct dmr_member_disk *t = (const void *)rc->member_table;
	unsigned int i;

	for (i = 0; i < DMR_MAX_MEMBERS; i++) {
		struct remap_member *m = &rc->members[i];

		m->missing = false;
		m->failed = le32_to_cpu(t[i].flags) & DMR_MEMBER_F_FAILED;
		if (m->failed && !i) {
			*error = "Metadata marks the data member failed";
			return -EUCLEAN;
		}
		if (le16_to_cpu(t[i].role) == DMR_ROLE_NONE) {
			if (m->dev) {
				*error = "A device is not in the set's member table (removed spare?)";
				return -EINVAL;
			}
			continue;
		}
		if (!m->dev) {
			/* A failed member is out of the set: it need not be there. */
			if (!m->failed && (!rc->degraded_ok || !i)) {
				*error = "A spare member of the set is missing from the table line (\"degraded\" starts without it)";
				return -EINVAL;
			}
			m->missing = !m->failed;
			m->spare_blocks = min_t(u64, le64_to_cpu(t[i].spare_sectors) >> rc->block_shift,
						REMAP_SPARE_BLOCKS_MAX);
			continue;
		}
		if (memcmp(t[i].uuid, m->uuid, 16)) {
			*error = "A device's member UUID differs from the set's member table";
			return -EINVAL;
		}
	}
	return 0;
}

static int md_compact(struct remap_c *rc);
static int md_resync(struct remap_c *rc, char **error);
static int md_zero_journal(struct remap_c *rc, struct remap_member *m);

/* Finds @m's newest valid snapshot over both slots and every copy. */
static int md_newest_slot(struct remap_c *rc, struct remap_member *m, char **error)
{
	u64 got[2][2] = {};
	struct md_damage dmg;
	unsigned int slot, c;
	u64 seq;
	int r;

	m->newest_slot = -1;
	m->snap_seq = 0;
	for (slot = 0; slot < 2; slot++) {
		for (c = 0; c < rc->md_copies; c++) {
			memset(&dmg, 0, sizeof(dmg));
			seq = md_read_slot(rc, m, slot, c, false, &r, &dmg);
			if (r) {
				*error = "Cannot allocate metadata buffers";
				return r;
			}
			if (dmg.fell_back || dmg.unreadable) {
				DMWARN("%s: metadata slot %u: block at sector %llu of copy %u is unreadable%s",
				       m->dev->name, slot, (unsigned long long)md_sector(rc, c, dmg.bad), c,
				       dmg.unreadable ? " in every copy" : "");
				m->stale = true;
			}
			got[slot][c] = seq;
			if (seq > m->snap_seq) {
				m->newest_slot = slot;
				m->newest_copy = c;
				m->snap_seq = seq;
			}
		}
	}
	/* Redundancy is whole only if every copy holds the newest snapshot. */
	for (c = 0; m->newest_slot >= 0 && c < rc->md_copies; c++)
		if (got[m->newest_slot][c] != m->snap_seq)
			m->stale = true;
	return 0;
}

/*
 * Loads the newest state across every copy on every member (docs/FORMAT.md
 * §5): the newest snapshot, then every record after it from whichever copy
 * holds it. A record nobody can read, or one found beyond the end, refuses
 * the load: the history would be shorter than what was acknowledged.
 * Members behind it, or with a damaged copy, are rewritten when @resync.
 */
static int md_load(struct remap_c *rc, bool resync, char **error)
{
	struct remap_member *src = NULL, *m;
	const char *dev = dm_device_name(dm_table_get_md(rc->ti->table));
	struct dmr_journal_disk *j = rc->md_chunk;
	struct md_damage dmg = {};
	u64 best_snap = 0, seq, orphan;
	unsigned int i;
	int r;

	md_clear(rc);
	rc->md_stale = false;
	for_each_member(rc, m) {
		m->stale = false;
		r = md_newest_slot(rc, m, error);
		if (r)
			return r;
		if (m->newest_slot >= 0 && (!src || m->snap_seq > best_snap)) {
			best_snap = m->snap_seq;
			src = m;
		}
	}
	if (!src) {
		*error = "No valid metadata on any member";
		return -EUCLEAN;
	}
	if (!md_read_slot(rc, src, src->newest_slot, src->newest_copy, true, &r, &dmg)) {
		if (r == -EUCLEAN)
			*error = "Metadata snapshot uses a spare block twice (run dmremapctl check)";
		else
			*error = r == -ENOMEM ? "Cannot allocate the remap table" : "Metadata changed while loading";
		return r ? r : -EUCLEAN;
	}
	/* Now failed members are known: their metadata is never read again. */
	r = check_member_table(rc, error);
	if (r)
		return r;
	for (seq = best_snap + 1;; seq++) {
		r = md_find_record(rc, seq, &m);
		if (r == -EIO) {
			DMERR("%s: %s: journal block %u is unreadable in every copy: commit %llu may be there",
			      dev, m->dev->name, journal_pos(rc, seq), (unsigned long long)seq);
			*error = "A metadata journal block is unreadable in every copy: the history cannot be proven complete";
			return r;
		}
		if (!r)
			break;
		for (i = 0; i < le32_to_cpu(j->nr_updates); i++) {
			r = apply_update(rc, &j->updates[i], false);
			if (r) {
				DMERR("%s: journal record %llu is inconsistent", dev, (unsigned long long)seq);
				*error = "Metadata journal record is inconsistent (run dmremapctl check)";
				return r;
			}
		}
	}
	rc->seq = seq - 1;
	rc->snapshot_seq = best_snap;
	if (md_find_orphan(rc, rc->seq, &m, &orphan)) {
		DMERR("%s: %s: journal record %llu found beyond the end of the history at %llu",
		      dev, m->dev->name, (unsigned long long)orphan, (unsigned long long)rc->seq);
		*error = "Metadata journal has a hole: a valid record lies beyond the end of the history";
		return -EUCLEAN;
	}
	/*
	 * Behind: an older snapshot (a crash during compaction: its ring still
	 * needs records the next commits would overwrite), a missing record, a
	 * damaged copy, or a superblock of an older generation.
	 */
	for_each_live(rc, m)
		rc->md_stale |= m->stale || m->snap_seq != best_snap || m->sb_generation != rc->generation;
	if ((u64)atomic_read(&rc->nr_remapped) + atomic_read(&rc->nr_pending) + atomic_read(&rc->nr_retired) >
	    rc->max_entries) {
		*error = "Metadata holds more entries than its capacity";
		return -EUCLEAN;
	}
	return resync && rc->md_stale ? md_resync(rc, error) : 0;
}

/* ---------------------------------------------------------------------------
 * Metadata: commits (worker only)
 */

static int md_config_commit(struct remap_c *rc, struct dmr_superblock_disk *sb);

/*
 * Leaves spare @m out of the set from now on (nothing more is sent to it);
 * fail_commit() records that. The data member cannot be left out: once its
 * metadata cannot be written anywhere, commits go on on the spares alone.
 */
static void member_fail(struct remap_c *rc, struct remap_member *m, const char *why)
{
	const char *dev = dm_device_name(dm_table_get_md(rc->ti->table));

	if (m == rc->members) {
		if (!rc->anchor_failed)
			DMERR("%s: %s: %s: the data member's metadata is no longer written", dev, m->dev->name, why);
		rc->anchor_failed = true;
		rc->md_degraded = true;
		return;
	}
	if (m->failed)
		return;
	DMERR("%s: %s: %s: left out of the set; its blocks read EIO until written", dev, m->dev->name, why);
	WRITE_ONCE(m->failed, true);
	rc->fail_pending = true;
	rc->nr_failed++;
}

/*
 * Records the members failed since the last membership commit: every block
 * that lived on one becomes pending (lost: the data device holds an older
 * version), and the member table marks it failed, under a new generation
 * on the members that remain (which raises the event). Until this is
 * durable nothing may count as flushed: after a power loss those blocks
 * would read their old data.
 */
static int fail_commit(struct remap_c *rc)
{
	struct dmr_member_disk *t = (void *)rc->member_table;
	unsigned long key;
	unsigned int i;
	void *e;
	int r = 0;

	while (rc->fail_pending && !r) {
		rc->fail_pending = false;
		xa_for_each(&rc->table, key, e) {
			struct remap_member *m = &rc->members[entry_index(e)];

			if (entry_state(e) != DMR_ENTRY_REMAPPED || !m->failed)
				continue;
			m->live--;
			atomic_dec(&rc->nr_remapped);
			atomic_inc(&rc->nr_pending);
			/* Replaces a present entry: allocates nothing. */
			xa_store(&rc->table, key,
				 xa_mk_value(xa_to_value(entry_mk(DMR_ENTRY_PENDING, 0, DMR_PENDING_LOST)) |
					     (xa_to_value(e) & ENTRY_BUSY)), GFP_NOIO);
		}
		for (i = 1; i < DMR_MAX_MEMBERS; i++)
			if (rc->members[i].failed && le16_to_cpu(t[i].role) != DMR_ROLE_NONE)
				t[i].flags |= cpu_to_le32(DMR_MEMBER_F_FAILED);
		r = md_config_commit(rc, rc->sb_scratch);
	}
	/* Tried again before the next commit. */
	if (r)
		rc->fail_pending = true;
	return r;
}

/* Entries of a snapshot on their way to one member, a chunk at a time. */
struct snap_stream {
	struct remap_c *rc;
	u64 mask;			/* the member, as md_write wants it */
	sector_t off;			/* where the next chunk goes */
	unsigned int fill;		/* entries in the chunk buffer */
	u32 n;				/* entries streamed */
	u32 crc;
	int err;
};

static void stream_write(struct snap_stream *st)
{
	struct remap_c *rc = st->rc;
	size_t len = (size_t)st->fill * sizeof(struct dmr_entry_disk);

	if (!st->fill || st->err)
		return;
	st->crc = crc32c(st->crc, rc->md_chunk, len);
	memset(rc->md_chunk + len, 0, round_up(len, DMR_MD_BLOCK_SIZE) - len);
	len = round_up(len, DMR_MD_BLOCK_SIZE);
	st->err = md_write(rc, st->mask, st->off, rc->md_chunk, len, REQ_OP_WRITE) ? -EIO : 0;
	st->off += len >> SECTOR_SHIFT;
	st->fill = 0;
}

static void stream_add(struct snap_stream *st, u64 blk, unsigned int state, u16 idx, u32 sblk)
{
	struct dmr_entry_disk *d = (struct dmr_entry_disk *)st->rc->md_chunk + st->fill;

	d->data_block = cpu_to_le64(blk);
	d->state = cpu_to_le16(state);
	d->spare_index = cpu_to_le16(idx);
	d->spare_block = cpu_to_le32(sblk);
	st->n++;
	if (++st->fill == REMAP_MD_CHUNK / sizeof(*d))
		stream_write(st);
}

/* Writes a snapshot of the current state into @m's other slot: body, then header. */
static int md_snapshot(struct remap_c *rc, struct remap_member *m)
{
	const struct dmr_member_disk *t = (const void *)rc->member_table;
	struct dmr_snapshot_disk *h = rc->md_block;
	unsigned int slot = m->newest_slot == 0 ? 1 : 0;
	sector_t s = slot_off(rc, slot);
	u64 mask = BIT_ULL(m - rc->members);
	struct snap_stream st = { .rc = rc, .mask = mask, .crc = ~0U,
				  .off = s + (1 + DMR_MEMBER_TABLE_BLOCKS) * DMR_MD_BLOCK_SECTORS };
	unsigned long key;
	void *e;

	if (md_write(rc, mask, s + DMR_MD_BLOCK_SECTORS, rc->member_table, DMR_MEMBER_TABLE_BLOCKS * DMR_MD_BLOCK_SIZE,
		     REQ_OP_WRITE))
		return -EIO;
	xa_for_each(&rc->table, key, e) {
		if (entry_state(e) == DMR_ENTRY_REMAPPED)
			stream_add(&st, key, DMR_ENTRY_REMAPPED, entry_index(e), entry_block(e));
		else if (entry_state(e) == DMR_ENTRY_PENDING)
			stream_add(&st, key, DMR_ENTRY_PENDING, DMR_NO_MEMBER, entry_block(e));
	}
	/* Retired blocks of a member leaving the set leave with it. */
	xa_for_each(&rc->retired, key, e)
		if (le16_to_cpu(t[key >> 32].role) != DMR_ROLE_NONE)
			stream_add(&st, DMR_NO_BLOCK, DMR_ENTRY_RETIRED, key >> 32, key & 0xffffffff);
	stream_write(&st);
	if (st.err)
		return st.err;
	memset(h, 0, sizeof(*h));
	h->magic = cpu_to_le64(DMR_SNAP_MAGIC);
	h->slot = cpu_to_le32(slot);
	memcpy(h->set_uuid, rc->set_uuid, 16);
	h->seq = cpu_to_le64(rc->seq);
	h->generation = cpu_to_le64(rc->generation);
	h->nr_entries = cpu_to_le32(st.n);
	h->entries_csum = cpu_to_le32(~st.crc);
	h->members_csum = cpu_to_le32(dmr_csum(rc->member_table, DMR_MEMBER_TABLE_BLOCKS * DMR_MD_BLOCK_SIZE));
	h->csum = cpu_to_le32(block_csum(h));
	/* The body durable before the header: a torn snapshot is an invalid one. */
	if (md_write(rc, mask, s, h, DMR_MD_BLOCK_SIZE, REQ_OP_WRITE | REQ_PREFLUSH | REQ_FUA))
		return -EIO;
	m->newest_slot = slot;
	return 0;
}

/*
 * Writes a snapshot of the current state into every member's other slot,
 * the data member last (a membership change relies on that order).
 */
static int md_compact(struct remap_c *rc)
{
	unsigned int ok = 0;
	int i;

	for (i = DMR_MAX_MEMBERS - 1; i >= 0; i--) {
		struct remap_member *m = &rc->members[i];

		if (!m->dev || m->failed || (!i && rc->anchor_failed))
			continue;
		if (md_snapshot(rc, m)) {
			member_fail(rc, m, "metadata snapshot write failed");
			continue;
		}
		ok++;
	}
	if (!ok)
		return -EIO;
	rc->snapshot_seq = rc->seq;
	return 0;
}

/*
 * A fresh snapshot everywhere, into every copy: no member stays behind,
 * and a damaged copy is whole again.
 */
static int md_resync(struct remap_c *rc, char **error)
{
	struct remap_member *m;
	int r;

	r = md_compact(rc);
	if (r) {
		*error = "Cannot bring stale members up to date";
		return r;
	}
	rc->md_stale = false;
	for_each_live(rc, m) {
		if (m->sb_generation == rc->generation)
			continue;
		/*
		 * Back from an older generation (a degraded start went on
		 * without it): its ring may hold another history's records past
		 * the current seq. The snapshot just written holds everything,
		 * so they go, lest they ever pass for ours.
		 */
		if (md_zero_journal(rc, m) || sb_set_generation(rc, m, rc->sb_scratch))
			member_fail(rc, m, "superblock write failed");
	}
	return 0;
}

/*
 * Flushes the members in @mask at once. A
 * spare whose flush fails is left out of the set, and that is made durable
 * before the flush counts: what it acknowledged since its last flush may be
 * gone, so its blocks must read EIO, never an older version. Only the data
 * member's own failure fails the flush.
 */
static int flush_members(struct remap_c *rc, u64 mask)
{
	u64 failed = mask ? md_write(rc, mask, 0, NULL, 0, REQ_OP_WRITE | REQ_PREFLUSH) : 0;
	struct remap_member *m;

	if (failed & 1)
		return -EIO;
	for_each_live(rc, m)
		if (failed & BIT_ULL(m - rc->members))
			member_fail(rc, m, "flush failed");
	return fail_commit(rc);
}

/*
 * One durable commit of up to 252 updates: every member is flushed (so
 * spare data written before it is stable first), then the record goes to
 * every copy on every member at once, FUA. Applied to the in-memory table
 * only once it is durable. -EAGAIN: a spare this commit put data on failed
 * its flush; nothing was committed, and the caller places the data again.
 */
static int md_commit(struct remap_c *rc, struct dmr_entry_disk *u, unsigned int nr)
{
	struct dmr_journal_disk *j = rc->md_block;
	u64 seq, mask = 0, failed;
	unsigned int i;
	int r;

	if (!nr)
		return 0;
	if (rc->read_only)
		return -EROFS;
	/* Members that failed under the I/O since the last commit. */
	r = fail_commit(rc);
	if (r)
		return r;
	if (rc->seq + 1 - rc->snapshot_seq > rc->journal_blocks) {
		r = md_compact(rc);
		if (r)
			return r;
	}
	/*
	 * A preflush reaches only the member it is sent to: make the data the
	 * worker wrote for this commit (spare blocks, blocks healed in place)
	 * stable on each member it went to before any record can point at it.
	 */
	r = flush_members(rc, rc->dirty);
	if (r)
		return r;
	rc->dirty = 0;
	for (i = 0; i < nr; i++)
		if (le16_to_cpu(u[i].state) == DMR_ENTRY_REMAPPED && rc->members[le16_to_cpu(u[i].spare_index)].failed)
			return -EAGAIN;
	seq = rc->seq + 1;
	memset(j, 0, sizeof(*j));
	j->magic = cpu_to_le64(DMR_JOURNAL_MAGIC);
	j->nr_updates = cpu_to_le32(nr);
	memcpy(j->set_uuid, rc->set_uuid, 16);
	j->seq = cpu_to_le64(seq);
	j->generation = cpu_to_le64(rc->generation);
	memcpy(j->updates, u, nr * sizeof(*u));
	j->csum = cpu_to_le32(block_csum(j));
	for (i = 0; i < DMR_MAX_MEMBERS; i++)
		if (rc->members[i].dev && !rc->members[i].failed && (i || !rc->anchor_failed))
			mask |= BIT_ULL(i);
	/* Just flushed: FUA alone makes the record durable after the data. */
	failed = md_write(rc, mask, journal_off(rc, seq), j, DMR_MD_BLOCK_SIZE, REQ_OP_WRITE | REQ_FUA);
	for (i = 0; i < DMR_MAX_MEMBERS; i++)
		if (failed & BIT_ULL(i))
			member_fail(rc, &rc->members[i], "metadata journal write failed");
	if (failed == mask)
		return -EIO;
	rc->seq = seq;
	for (i = 0; i < nr; i++) {
		/* Cannot fail: every slot was reserved before the record was written. */
		r = apply_update(rc, &u[i], true);
		if (WARN_ON_ONCE(r))
			return r;
	}
	/*
	 * Durable already. A member lost on the way is recorded now (or
	 * before the next commit), and that commit's event is this one's too.
	 */
	if (!rc->fail_pending || fail_commit(rc))
		remap_event(rc);
	return 0;
}

/*
 * A membership change, after the member table in memory was edited: a
 * snapshot under the next generation on every member, the data member
 * last; then the data member's superblock takes that generation, which is
 * the commit point (loading trusts the data member's generation only), and
 * the other superblocks follow. Before the commit point the old generation,
 * and with it the old member table, stays in force. @sb is scratch.
 */
static int md_config_commit(struct remap_c *rc, struct dmr_superblock_disk *sb)
{
	u64 snapshot_seq = rc->snapshot_seq;
	int slots[DMR_MAX_MEMBERS];
	struct remap_member *m;
	int i, r;

	for (i = 0; i < DMR_MAX_MEMBERS; i++)
		slots[i] = rc->members[i].newest_slot;
	rc->generation++;
	rc->seq++;
	/* The commit point is the data member's superblock: its snapshot must be there. */
	r = rc->anchor_failed ? -EIO : md_compact(rc);
	if (!r && rc->anchor_failed)
		r = -EIO;
	if (!r)
		r = sb_set_generation(rc, &rc->members[0], sb);
	if (r) {
		rc->generation--;
		rc->seq--;
		rc->snapshot_seq = snapshot_seq;
		for (i = 0; i < DMR_MAX_MEMBERS; i++)
			rc->members[i].newest_slot = slots[i];
		return r;
	}
	for_each_live(rc, m)
		if (!m->draining && m->sb_generation != rc->generation && sb_set_generation(rc, m, sb))
			member_fail(rc, m, "superblock write failed");
	rc->failed_mask = member_blocks(rc, rc->member_table, rc->nblocks);
	remap_event(rc);
	return 0;
}

/* ---------------------------------------------------------------------------
 * The worker: everything that is not the fast path
 */

static void upd_add(struct remap_c *rc, struct updates *up, u64 blk, unsigned int state, u16 idx, u32 sblk)
{
	struct dmr_entry_disk *d = &up->u[up->nr++];

	d->data_block = cpu_to_le64(blk);
	d->state = cpu_to_le16(state);
	d->spare_index = cpu_to_le16(idx);
	d->spare_block = cpu_to_le32(sblk);
	/* Room in memory now: once the record is durable, applying it must not fail. */
	if (state == DMR_ENTRY_RETIRED) {
		if (xa_room(&rc->retired, (u64)idx << 32 | sblk))
			up->err = -ENOMEM;
	} else if (xa_room(&rc->table, blk)) {
		up->err = -ENOMEM;
	}
}

/* Commits the queued updates and ends the busy blocks they settle. */
static int upd_flush(struct remap_c *rc, struct updates *up)
{
	int r = up->err ?: md_commit(rc, up->u, up->nr);
	unsigned int i;

	if (r) {
		for (i = 0; i < up->nr; i++) {
			struct entry_fields f = entry_decode(&up->u[i]);

			if (f.state == DMR_ENTRY_RETIRED)
				xa_release(&rc->retired, (u64)f.idx << 32 | f.sblk);
			else
				xa_release(&rc->table, f.blk);
		}
		/* Nothing durable names them: spare_used and its thresholds stay true. */
		for (i = 0; i < up->nr_alloc; i++)
			spare_release(rc, up->alloc_idx[i], up->alloc_blk[i]);
	}
	up->nr_alloc = 0;
	for (i = 0; i < up->nr_busy; i++)
		busy_end(rc, up->busy[i]);
	up->nr = up->nr_busy = 0;
	up->err = 0;
	return r;
}

/*
 * Commits early when a record is nearly full. Bios of the group whose
 * updates went with a failed commit share its fate: batch_commit() sees it.
 */
static int upd_room(struct remap_c *rc, struct updates *up)
{
	int r = up->nr >= DMR_JOURNAL_UPDATES - 4 || up->nr_busy >= ARRAY_SIZE(up->busy) - 1 ? upd_flush(rc, up) : 0;

	if (r && !rc->batch_err)
		rc->batch_err = r;
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

/*
 * A spare device added online may cache writes while the mapped device,
 * set up before it, says it has no cache: then no flush ever comes, and
 * writes to it must be durable by themselves.
 */
static blk_opf_t spare_fua(struct remap_c *rc)
{
	return bdev_write_cache(dm_disk(dm_table_get_md(rc->ti->table))->part0) ? 0 : REQ_FUA;
}

/* Synchronous I/O of one block at spare location @idx:@sblk. */
static int spare_io(struct remap_c *rc, u16 idx, u32 sblk, void *buf, blk_opf_t opf)
{
	struct remap_member *m = &rc->members[idx];
	int r;

	if (idx && op_is_write(opf))
		opf |= spare_fua(rc);
	r = sync_io(rc, m->dev->bdev, m->spare_offset + ((sector_t)sblk << rc->block_shift), buf, rc->block_size,
		    opf);

	/* The next flush, and the next commit's, must reach this device. */
	if (!r && op_is_write(opf)) {
		rc->dirty |= BIT_ULL(idx);
		if (idx)
			atomic_inc(&rc->spare_writes);
	}
	return r;
}

static int data_io(struct remap_c *rc, u64 blk, void *buf, blk_opf_t opf)
{
	int r = sync_io(rc, rc->members[0].dev->bdev, data_sector(rc, blk), buf, rc->block_size, opf);

	if (!r && op_is_write(opf))
		rc->dirty |= 1;
	return r;
}

/* Reads block @blk from where it lives now (@e: its entry, or NULL). */
static int read_at(struct remap_c *rc, u64 blk, void *e, void *buf)
{
	return e ? spare_io(rc, entry_index(e), entry_block(e), buf, REQ_OP_READ) : data_io(rc, blk, buf, REQ_OP_READ);
}

/* Whether @extra more entries (beyond those queued in @up) fit in a snapshot. */
/*
 * What a failed data or spare I/O means. Only the medium failing at one
 * place makes a block bad. SCSI reports a timeout, a lost link or I/O to
 * an offline device as BLK_STS_IOERR as well, so an I/O error counts as
 * the medium's only while the device still reads its superblock; any
 * other status (timeout, transport, offline, no resources) never does.
 */
static bool media_errno(int r)
{
	return r == -ENODATA || r == -EIO || r == -EILSEQ;	/* MEDIUM, IOERR, PROTECTION */
}

static bool member_alive(struct remap_c *rc, struct remap_member *m)
{
	unsigned int copy;

	for (copy = 0; copy < DMR_SB_COPIES; copy++)
		if (!sync_io(rc, m->dev->bdev, DMR_SB_SECTOR(copy), rc->md_block, DMR_MD_BLOCK_SIZE,
			     REQ_OP_READ | REQ_META))
			return true;
	return false;
}

/* True when I/O on @m failed with @r because the device did, not its medium: pass it up. */
static bool device_failure(struct remap_c *rc, struct remap_member *m, int r)
{
	if (media_errno(r) && member_alive(rc, m))
		return false;
	atomic64_inc(&rc->device_errors);
	DMWARN_LIMIT("%s: I/O failed (%d) and the device does not answer: passed up, nothing remapped",
		     m->dev->name, r);
	return true;
}

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
	remap_event(rc);
}

#define REMAP_RETIRE_OLD	0x1	/* the old spare location failed */
#define REMAP_COUNT		0x2	/* a remap event (not an evacuation) */

/*
 * Puts the data of block @blk (in @buf) on a fresh spare block; @old is its
 * entry, if any. Updates are queued in @up.
 */
static int remap_block(struct remap_c *rc, u64 blk, void *old, void *buf, struct updates *up, unsigned int flags)
{
	unsigned int failed = 0;
	u16 idx, last = DMR_NO_MEMBER;
	u8 regions[DMR_MAX_MEMBERS] = {};
	u64 skip = 0;
	u32 sblk;
	int r;

	for (;;) {
		/* The new entry, the old location retired, and a failed spare block. */
		/* An evacuation that finds no room fails alone; writes still have spares. */
		if (!md_room(rc, up, 3)) {
			if (flags & REMAP_COUNT)
				set_exhausted(rc, "metadata is full");
			return -ENOSPC;
		}
		if (spare_alloc(rc, &idx, &sblk, skip)) {
			/* Members given up on for this block may still have room: not exhausted. */
			if (skip)
				return -EIO;
			if (flags & REMAP_COUNT)
				set_exhausted(rc, "spare blocks exhausted");
			return -ENOSPC;
		}
		r = spare_io(rc, idx, sblk, buf, REQ_OP_WRITE);
		if (r && device_failure(rc, &rc->members[idx], r)) {
			/* The block is not to blame: give it back. A spare device that died is left out. */
			spare_release(rc, idx, sblk);
			if (!idx)
				return r;
			member_fail(rc, &rc->members[idx], "write failed and the device does not answer");
			continue;
		}
		/* One update (remapped or retired) names it: room is there. */
		up->alloc_idx[up->nr_alloc] = idx;
		up->alloc_blk[up->nr_alloc++] = sblk;
		if (!r)
			break;
		/* This spare block is bad too: retire it (it stays taken), try the next. */
		upd_add(rc, up, DMR_NO_BLOCK, DMR_ENTRY_RETIRED, idx, sblk);
		rc->members[idx].spare_failing = true;
		if (idx != last)
			failed = 0;
		last = idx;
		if (++failed == REMAP_SPARE_TRIES) {
			struct remap_member *m = &rc->members[idx];

			/* A bad zone: past it. An area failing everywhere: another member. */
			failed = 0;
			m->alloc_from = (sblk + max_t(u32, m->spare_blocks / 16, 1)) % m->spare_blocks;
			if (++regions[idx] == REMAP_SPARE_REGIONS)
				skip |= BIT_ULL(idx);
		}
		r = upd_room(rc, up);
		if (r)
			return r;
	}
	/* The old location is retired in the same record that replaces it. */
	if ((flags & REMAP_RETIRE_OLD) && old && entry_state(old) == DMR_ENTRY_REMAPPED)
		upd_add(rc, up, DMR_NO_BLOCK, DMR_ENTRY_RETIRED, entry_index(old), entry_block(old));
	upd_add(rc, up, blk, DMR_ENTRY_REMAPPED, idx, sblk);
	if (flags & REMAP_COUNT)
		atomic64_inc(&rc->remap_events);
	return 0;
}

/* Writes @buf as block @blk wherever it belongs now, remapping on failure. */
static int write_block(struct remap_c *rc, u64 blk, void *buf, struct updates *up)
{
	void *e = entry_get(rc, blk);

	int r;

	if (e && entry_state(e) == DMR_ENTRY_REMAPPED && rc->members[entry_index(e)].dev &&
	    !rc->members[entry_index(e)].failed) {
		struct remap_member *m = &rc->members[entry_index(e)];

		r = spare_io(rc, entry_index(e), entry_block(e), buf, REQ_OP_WRITE);
		if (!r)
			return 0;
		if (rc->no_auto_remap)
			return -EIO;
		/* A whole-block write needs nothing from a dead spare: it goes elsewhere. */
		if (device_failure(rc, m, r)) {
			if (!entry_index(e))
				return r;
			member_fail(rc, m, "write failed and the device does not answer");
			return remap_block(rc, blk, e, buf, up, REMAP_COUNT);
		}
		return remap_block(rc, blk, e, buf, up, REMAP_RETIRE_OLD | REMAP_COUNT);
	}
	/*
	 * Pending, or on a missing or failed spare (a whole-block write needs
	 * nothing from it): drives reallocate a sector when it is written, so
	 * try in place first.
	 */
	r = data_io(rc, blk, buf, REQ_OP_WRITE);
	/* The device answers: once more, as the failure may have been its glitch. */
	if (r && !device_failure(rc, rc->members, r))
		r = data_io(rc, blk, buf, REQ_OP_WRITE);
	else if (r)
		return r;
	if (!r) {
		if (e) {
			upd_add(rc, up, blk, DMR_ENTRY_FREE, DMR_NO_MEMBER, 0);
			atomic64_inc(&rc->healed);
		}
		return 0;
	}
	/* A write to a pending block came here from map, not through end_io: count it here. */
	if (e)
		atomic64_inc(&rc->write_errors);
	if (rc->no_auto_remap)
		return -EIO;
	return remap_block(rc, blk, e, buf, up, REMAP_COUNT);
}

/* Reads block @blk into @buf with retries; records it as pending if it cannot. */
static int read_block(struct remap_c *rc, u64 blk, void *buf, struct updates *up)
{
	void *e = entry_get(rc, blk);
	unsigned int i;
	int r = 0;

	if (e && entry_state(e) == DMR_ENTRY_PENDING) {
		/*
		 * Let through by map's rate limit: a block that reads again is
		 * healed, unless the data device holds only an older version.
		 */
		if (entry_lost(e) || data_io(rc, blk, buf, REQ_OP_READ)) {
			atomic64_inc(&rc->read_errors);
			return -EIO;
		}
		upd_add(rc, up, blk, DMR_ENTRY_FREE, DMR_NO_MEMBER, 0);
		atomic64_inc(&rc->healed);
		return 0;
	}
	/* On a missing spare: reported, kept for its return. On a failed one: it is lost. */
	if (e && (!rc->members[entry_index(e)].dev || rc->members[entry_index(e)].failed))
		return -EIO;
	for (i = 0; i < rc->read_retries; i++) {
		r = read_at(rc, blk, e, buf);
		if (!r)
			return 0;
	}
	if (rc->no_auto_remap || !md_room(rc, up, 2))
		return -EIO;
	/* A device that fails as a whole has not lost this block: nothing is recorded. */
	if (device_failure(rc, e ? &rc->members[entry_index(e)] : rc->members, r))
		return -EIO;
	/* A write racing with the failed reads may have rewritten the block: once more, alone. */
	if (busy_begin(rc, blk, up))
		return -EIO;
	if (!read_at(rc, blk, e, buf))
		return 0;
	/* A lost spare block: retire it, the data is gone. */
	if (e)
		upd_add(rc, up, DMR_NO_BLOCK, DMR_ENTRY_RETIRED, entry_index(e), entry_block(e));
	upd_add(rc, up, blk, DMR_ENTRY_PENDING, DMR_NO_MEMBER, e ? DMR_PENDING_LOST : DMR_PENDING_UNREADABLE);
	return -EIO;
}

/* An empty flush that reached the data member: now the spare devices. */
static void process_flush(struct remap_c *rc, struct bio *bio)
{
	int n = atomic_read(&rc->spare_writes);

	if (!flush_members(rc, ~1ULL))
		WRITE_ONCE(rc->flushed_writes, n);
	else
		bio->bi_status = BLK_STS_IOERR;
	bio_endio(bio);
}

/*
 * Ends the group: one commit for the updates of every bio in it, then each
 * completes (failed if the commit did). A spare that failed under their
 * data before it was durable sends them all to be served again.
 */
static int batch_commit(struct remap_c *rc)
{
	int r = upd_flush(rc, rc->up);
	struct bio *bio;

	if (r != -EAGAIN && rc->batch_err)
		r = rc->batch_err;
	rc->batch_err = 0;

	/* The worker's own writes carry no FUA: honour the callers' now. */
	if (!r && rc->batch_fua && flush_members(rc, ~0ULL))
		r = -EIO;
	rc->batch_fua = false;
	while ((bio = bio_list_pop(&rc->batch))) {
		struct remap_pb *pb = dm_per_bio_data(bio, sizeof(*pb));

		/*
		 * Blocks a write put on a spare that failed since read EIO now:
		 * such a write is served again, a bounded number of times.
		 */
		if ((r == -EAGAIN || (rc->nr_failed != pb->fail_seen && bio_op(bio) == REQ_OP_WRITE)) &&
		    pb->served < DMR_MAX_MEMBERS) {
			bio->bi_status = BLK_STS_OK;
			bio_list_add(&rc->redo, bio);
			continue;
		}
		if (r)
			bio->bi_status = BLK_STS_IOERR;
		bio_endio(bio);
	}
	return r;
}

/* Whether the group's updates name a block of @bio: they must be in force before it is served. */
static bool batch_touches(struct remap_c *rc, u64 first, unsigned int n)
{
	struct updates *up = rc->up;
	unsigned int i;

	for (i = 0; i < up->nr; i++)
		if (le64_to_cpu(up->u[i].data_block) - first < n)
			return true;
	for (i = 0; i < up->nr_busy; i++)
		if (up->busy[i] - first < n)
			return true;
	return false;
}

/* Room in the record for one more block (a new entry, a retired one and a failed spare block)? */
static bool batch_full(struct remap_c *rc)
{
	struct updates *up = rc->up;

	return up->nr >= DMR_JOURNAL_UPDATES - 4 || up->nr_busy >= ARRAY_SIZE(up->busy) - 1;
}

/* Serves @bio block by block into the group; it completes with the group's commit. */
static void process_bio(struct remap_c *rc, struct bio *bio)
{
	struct remap_pb *pb = dm_per_bio_data(bio, sizeof(*pb));
	struct updates *up = rc->up;
	struct bvec_iter it = pb->iter;
	u64 blk = pb->start >> rc->block_shift;
	unsigned int nblocks = pb->iter.bi_size >> (SECTOR_SHIFT + rc->block_shift), i;
	void *buf = page_address(rc->bounce);
	bool write = bio_op(bio) == REQ_OP_WRITE;

	pb->flags |= PB_HANDLED;
	pb->served++;
	pb->fail_seen = rc->nr_failed;
	if (pb->flags & PB_FLUSH)
		return process_flush(rc, bio);
	if (bio_op(bio) != REQ_OP_READ && !write) {
		/* A discard of a busy block: only a hint. */
		bio_endio(bio);
		return;
	}
	if (batch_touches(rc, blk, nblocks) && batch_commit(rc) == -EAGAIN) {
		bio_list_add(&rc->redo, bio);
		return;
	}
	for (i = 0; i < nblocks; i++, blk++) {
		int r;

		if (batch_full(rc)) {
			/*
			 * This bio's blocks so far go with the group: so does its
			 * fate, and a spare that failed may have had some of them.
			 */
			r = batch_commit(rc);
			if ((r == -EAGAIN || (write && rc->nr_failed != pb->fail_seen)) && pb->served < DMR_MAX_MEMBERS) {
				bio->bi_status = BLK_STS_OK;
				bio_list_add(&rc->redo, bio);
				return;
			}
			if (r)
				bio->bi_status = BLK_STS_IOERR;
		}
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
			bio->bi_status = BLK_STS_IOERR;
	}
	/* Acknowledged only once its remaps are durable: with the group. */
	rc->batch_fua |= write && (bio->bi_opf & REQ_FUA);
	bio_list_add(&rc->batch, bio);
}

/*
 * Serves every bio deferred so far, then commits once for all of them:
 * when many blocks fail at once, a commit (a flush of every member and a
 * record) is paid per 248 updates, not per bio. Bios to serve again come
 * first; nothing is left waiting when this returns.
 */
static void process_deferred(struct remap_c *rc)
{
	struct bio_list bios;
	struct bio *bio;

	bio_list_init(&bios);
	spin_lock_irq(&rc->lock);
	bio_list_merge(&bios, &rc->deferred);
	bio_list_init(&rc->deferred);
	spin_unlock_irq(&rc->lock);
	/* From remap_now or an evacuation, which saw it themselves. */
	rc->batch_err = 0;
	for (;;) {
		bio = bio_list_pop(&rc->redo) ?: bio_list_pop(&bios);
		if (!bio) {
			if (bio_list_empty(&rc->batch) && !rc->up->nr)
				break;
			batch_commit(rc);
			continue;
		}
		process_bio(rc, bio);
	}
}

/*
 * Proactive remap of one block (message "remap"): its current data goes to
 * a new spare block if it can be read, else it becomes pending.
 */
static int remap_now(struct remap_c *rc, u64 blk)
{
	struct updates *up = rc->up;
	void *buf = page_address(rc->bounce);
	int r;

	if (entry_get(rc, blk))
		return 0;	/* already off the data device */
	if (rc->read_only)
		return -EROFS;
	/* No write to it may land on the data device after the copy. */
	r = busy_begin(rc, blk, up);
	if (r)
		return r;
	r = read_block(rc, blk, buf, up);
	if (!r)
		r = remap_block(rc, blk, NULL, buf, up, REMAP_COUNT);
	else if (up->nr)
		r = 0;	/* unreadable: recorded as pending */
	if (upd_flush(rc, up) && !r)
		r = -EIO;
	return r;
}

/* Moves every block living on spare @x elsewhere, a batch per barrier. */
static int evacuate(struct remap_c *rc, struct remap_member *x, struct remap_req *req)
{
	u16 xi = x - rc->members;
	void *buf = page_address(rc->bounce);
	struct updates *up = rc->up;
	u64 batch[REMAP_EVACUATE_BATCH];
	int r = 0;

	while (x->live && !r) {
		unsigned long key;

		/* A suspend waits for the worker: do not make it wait for all of this. */
		if (READ_ONCE(rc->suspended))
			return -EINTR;
		unsigned int n = 0, i, tries;
		void *e;

		xa_for_each(&rc->table, key, e) {
			if (entry_state(e) != DMR_ENTRY_REMAPPED || entry_index(e) != xi)
				continue;
			xa_store(&rc->table, key, xa_mk_value(xa_to_value(e) | ENTRY_BUSY), GFP_NOIO);
			batch[n++] = key;
			if (n == REMAP_EVACUATE_BATCH)
				break;
		}
		if (WARN_ON_ONCE(!n))
			return -EUCLEAN;
		io_barrier(rc);
		for (i = 0; i < n && !r; i++) {
			e = entry_get(rc, batch[i]);
			/* x failed under a commit of this batch: its blocks are lost already, read nothing. */
			if (!e || entry_state(e) != DMR_ENTRY_REMAPPED || entry_index(e) != xi)
				continue;
			for (tries = 0; tries < rc->read_retries; tries++)
				if (!read_at(rc, batch[i], e, buf))
					break;
			if (tries < rc->read_retries) {
				r = remap_block(rc, batch[i], e, buf, up, 0);
				req->moved += !r;
			} else {
				/* Unreadable where it lives: the data is gone. */
				upd_add(rc, up, batch[i], DMR_ENTRY_PENDING, DMR_NO_MEMBER, DMR_PENDING_LOST);
				req->lost++;
			}
			r = r ?: upd_room(rc, up);
		}
		r = upd_flush(rc, up) ?: r;
		for (i = 0; i < n; i++)
			busy_end(rc, batch[i]);
		/* Failed writes wait for the worker: serve them between batches. */
		process_deferred(rc);
	}
	return r;
}

/* Zeroes @m's journal ring in every copy. */
static int md_zero_journal(struct remap_c *rc, struct remap_member *m)
{
	unsigned int c;
	int r = 0;

	for (c = 0; c < rc->md_copies && !r; c++)
		r = blkdev_issue_zeroout(m->dev->bdev, md_sector(rc, c, slot_off(rc, 2)),
					 (sector_t)rc->journal_blocks * DMR_MD_BLOCK_SECTORS, GFP_NOIO, 0);
	return r;
}

/* Zeroes what a former life of a new member could leave: slot headers and the journal, every copy. */
static int md_wipe(struct remap_c *rc, struct remap_member *m)
{
	struct block_device *bdev = m->dev->bdev;
	unsigned int c;
	int r = 0;

	for (c = 0; c < rc->md_copies && !r; c++)
		r = blkdev_issue_zeroout(bdev, md_sector(rc, c, slot_off(rc, 0)), DMR_MD_BLOCK_SECTORS, GFP_NOIO, 0) ?:
		    blkdev_issue_zeroout(bdev, md_sector(rc, c, slot_off(rc, 1)), DMR_MD_BLOCK_SECTORS, GFP_NOIO, 0);
	return r ?: md_zero_journal(rc, m);
}

/*
 * spare_add: the device gets superblocks of this set (the new generation)
 * and empty metadata, then the new member table is committed everywhere.
 */
static int do_spare_add(struct remap_c *rc, struct remap_req *req)
{
	struct dmr_member_disk *t = (void *)rc->member_table, saved;
	struct dmr_superblock_disk *sb;
	struct remap_member *m;
	unsigned int idx;
	int r;

	for (idx = 1; idx < DMR_MAX_MEMBERS; idx++)
		if (le16_to_cpu(t[idx].role) == DMR_ROLE_NONE && !rc->members[idx].dev && !rc->members[idx].missing)
			break;
	if (idx == DMR_MAX_MEMBERS) {
		req->error = "the set has the most spares it can have";
		return -ENOSPC;
	}
	sb = kmalloc(sizeof(*sb), GFP_NOIO);
	if (!sb)
		return -ENOMEM;
	r = read_member_sb(rc, rc->members[0].dev, sb);
	if (!sb_usable(r)) {
		req->error = "cannot read the data member's superblock";
		goto out;
	}
	/* The data member's superblock, made this spare's. */
	sb->role = cpu_to_le16(DMR_ROLE_SPARE);
	sb->member_index = cpu_to_le16(idx);
	generate_random_uuid(sb->member_uuid);
	sb->generation = cpu_to_le64(rc->generation + 1);
	sb->ctime = cpu_to_le64(ktime_get_real_seconds());
	sb->member_sectors = cpu_to_le64(req->sectors);
	sb->spare_offset = cpu_to_le64(req->spare_offset);
	sb->spare_sectors = cpu_to_le64((u64)req->spare_blocks << rc->block_shift);

	m = &rc->members[idx];
	mutex_lock(&rc->members_lock);
	memset(m, 0, sizeof(*m));
	m->dev = req->dev;
	memcpy(m->uuid, sb->member_uuid, 16);
	m->spare_offset = req->spare_offset;
	m->spare_blocks = req->spare_blocks;
	m->spare_map = req->spare_map;
	m->newest_slot = -1;
	m->sb_generation = rc->generation + 1;
	/* Nothing allocates on it before it is in the member table. */
	m->draining = true;
	mutex_unlock(&rc->members_lock);
	r = md_wipe(rc, m) ?: sb_write(rc, m->dev->bdev, sb);
	if (r) {
		req->error = "cannot write the new spare's superblocks";
		goto undo;
	}
	saved = t[idx];
	memset(&t[idx], 0, sizeof(t[idx]));
	memcpy(t[idx].uuid, m->uuid, 16);
	t[idx].role = cpu_to_le16(DMR_ROLE_SPARE);
	t[idx].index = cpu_to_le16(idx);
	t[idx].member_sectors = cpu_to_le64(req->sectors);
	t[idx].spare_offset = cpu_to_le64(m->spare_offset);
	t[idx].spare_sectors = sb->spare_sectors;
	if (req->image) {
		t[idx].flags = cpu_to_le32(DMR_MEMBER_F_LOOP_IMAGE);
		strscpy(t[idx].image_path, req->image, sizeof(t[idx].image_path));
	}
	m->draining = false;
	r = md_config_commit(rc, sb);
	if (r) {
		t[idx] = saved;
		req->error = "cannot commit the new member table";
		goto undo;
	}
	req->spare_map = NULL;
	req->index = idx;
	rc->exhausted = false;
	spare_threshold(rc);
	goto out;
undo:
	mutex_lock(&rc->members_lock);
	memset(m, 0, sizeof(*m));
	m->newest_slot = -1;
	mutex_unlock(&rc->members_lock);
	rc->failed_mask = member_blocks(rc, rc->member_table, rc->nblocks);
out:
	kfree(sb);
	return r;
}

/*
 * spare_remove: refused while blocks live on the spare unless evacuating;
 * then the member table without it is committed, its superblocks are
 * wiped, and once no bio can still be on its way to it, it is let go.
 */
static int do_spare_remove(struct remap_c *rc, struct remap_req *req)
{
	struct dmr_member_disk *t = (void *)rc->member_table, saved;
	struct remap_member *m = &rc->members[req->index];
	struct dmr_superblock_disk *sb;
	unsigned long key;
	void *e;
	int r;

	if (m->live && (!req->evacuate || !m->dev)) {
		req->error = m->dev ? "blocks live on it; \"spare_remove <dev> evacuate\" moves them first" :
			     "blocks live on it and it is missing: load a table with it to evacuate it";
		return -EBUSY;
	}
	m->draining = true;
	r = evacuate(rc, m, req);
	if (r || m->live) {
		m->draining = false;
		req->error = r == -ENOSPC ? "no room for its blocks on the other spares" :
			     r == -EINTR ? "interrupted by a suspend; run it again" : "evacuation failed";
		return r ?: -EIO;
	}
	sb = kmalloc(sizeof(*sb), GFP_NOIO);
	if (!sb) {
		m->draining = false;
		return -ENOMEM;
	}
	saved = t[req->index];
	memset(&t[req->index], 0, sizeof(saved));
	r = md_config_commit(rc, sb);
	if (r) {
		t[req->index] = saved;
		m->draining = false;
		req->error = "cannot commit the new member table";
		kfree(sb);
		return r;
	}
	xa_for_each(&rc->retired, key, e)
		if (key >> 32 == req->index) {
			xa_erase(&rc->retired, key);
			atomic_dec(&rc->nr_retired);
		}
	/*
	 * No longer a member: nothing on it may pass for one. A failed member
	 * is not written (it may hang); its generation is behind for good.
	 */
	memset(sb, 0, sizeof(*sb));
	if (m->dev && !m->failed &&
	    (sync_io(rc, m->dev->bdev, DMR_SB_SECTOR(0), sb, sizeof(*sb), REQ_OP_WRITE | REQ_SYNC | REQ_FUA) ||
	     sync_io(rc, m->dev->bdev, DMR_SB_SECTOR(1), sb, sizeof(*sb), REQ_OP_WRITE | REQ_SYNC | REQ_FUA)))
		DMWARN("%s: cannot wipe the removed spare's superblocks", m->dev->name);
	kfree(sb);
	/* Flushes and reads that looked it up before the commit. */
	io_barrier(rc);
	req->dev = m->dev;
	kvfree(m->spare_map);
	mutex_lock(&rc->members_lock);
	memset(m, 0, sizeof(*m));
	m->newest_slot = -1;
	mutex_unlock(&rc->members_lock);
	rc->failed_mask = member_blocks(rc, rc->member_table, rc->nblocks);
	spare_threshold(rc);
	return 0;
}

static void remap_worker(struct work_struct *w)
{
	struct remap_c *rc = container_of(w, struct remap_c, worker);

	process_deferred(rc);
	for (;;) {
		struct remap_req *req;

		spin_lock_irq(&rc->lock);
		req = list_first_entry_or_null(&rc->requests, struct remap_req, list);
		if (req)
			list_del(&req->list);
		spin_unlock_irq(&rc->lock);
		if (!req)
			break;
		switch (req->type) {
		case REQ_REMAP:
			req->result = remap_now(rc, req->block);
			break;
		case REQ_SPARE_ADD:
			req->result = do_spare_add(rc, req);
			break;
		case REQ_SPARE_REMOVE:
			req->result = do_spare_remove(rc, req);
			break;
		}
		complete(&req->done);
		process_deferred(rc);
	}
	if (rc->read_only)
		return;
	/*
	 * Idle with the ring half used: compact now, so that a commit a bio
	 * waits for seldom finds the ring full and has to compact first.
	 */
	if (rc->seq - rc->snapshot_seq > rc->journal_blocks / 2 && bio_list_empty(&rc->deferred) &&
	    md_compact(rc))
		DMERR_LIMIT("%s: compaction failed", dm_device_name(dm_table_get_md(rc->ti->table)));
	/* A spare that failed where nothing was committed since (or in that compaction). */
	if (rc->fail_pending)
		fail_commit(rc);
}

static void defer_bio(struct remap_c *rc, struct bio *bio)
{
	unsigned long flags;

	spin_lock_irqsave(&rc->lock, flags);
	bio_list_add(&rc->deferred, bio);
	spin_unlock_irqrestore(&rc->lock, flags);
	queue_work(rc->wq, &rc->worker);
}

/* Hands a request to the worker and waits for it; refused while suspended. */
static int submit_req(struct remap_c *rc, struct remap_req *req)
{
	init_completion(&req->done);
	spin_lock_irq(&rc->lock);
	if (rc->suspended) {
		spin_unlock_irq(&rc->lock);
		req->error = "the device is suspended";
		return -EBUSY;
	}
	list_add_tail(&req->list, &rc->requests);
	spin_unlock_irq(&rc->lock);
	queue_work(rc->wq, &rc->worker);
	wait_for_completion(&req->done);
	return req->result;
}

/* ---------------------------------------------------------------------------
 * Constructor and destructor
 */

static void remap_free(struct remap_c *rc)
{
	struct remap_member *m;

	if (rc->wq)
		destroy_workqueue(rc->wq);
	cancel_work_sync(&rc->uevent);
	free_percpu(rc->io);
	xa_destroy(&rc->table);
	xa_destroy(&rc->retired);
	for (m = rc->members; m < rc->members + DMR_MAX_MEMBERS; m++) {
		kvfree(m->spare_map);
		if (m->dev)
			dm_put_device(rc->ti, m->dev);
	}
	bioset_exit(&rc->bs);
	if (!IS_ERR_OR_NULL(rc->io_client))
		dm_io_client_destroy(rc->io_client);
	if (rc->bounce)
		__free_page(rc->bounce);
	kfree(rc->up);
	kfree(rc->md_block);
	kfree(rc->sb_scratch);
	kvfree(rc->md_chunk);
	kvfree(rc->member_table);
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
	rc->md_sectors = le64_to_cpu(sb->md_sectors);
	rc->md_copies = DMR_MD_COPIES(le32_to_cpu(sb->incompat_flags));
	rc->md_copy_sectors = (u64)DMR_MD_BLOCKS(rc->max_entries, rc->journal_blocks) * DMR_MD_BLOCK_SECTORS;
	rc->generation = le64_to_cpu(sb->generation);
	if (rc->md_offset != DMR_MD_OFFSET_SECTORS || !rc->max_entries || rc->max_entries % DMR_ENTRIES_PER_BLOCK ||
	    rc->max_entries > DMR_MAX_ENTRIES_LIMIT || rc->journal_blocks < DMR_JOURNAL_BLOCKS_MIN ||
	    rc->journal_blocks > DMR_JOURNAL_BLOCKS_MAX ||
	    rc->md_sectors != rc->md_copies * rc->md_copy_sectors) {
		*error = "Invalid metadata geometry in the data member's superblock";
		return -EINVAL;
	}
	rc->slot_blocks = DMR_SLOT_BLOCKS(rc->max_entries);
	return 0;
}

/* Identifies a member against the data member and takes its place by index. */
static int add_member(struct remap_c *rc, struct dm_dev *dev, struct dmr_superblock_disk *sb, bool data,
		      char **error)
{
	u16 idx = le16_to_cpu(sb->member_index);
	u64 spare_sectors = le64_to_cpu(sb->spare_sectors), spare_offset = le64_to_cpu(sb->spare_offset);
	/* Untrusted 64-bit fields: bound them before any arithmetic. */
	u64 md_end = rc->md_offset + rc->md_sectors, size = le64_to_cpu(sb->member_sectors);
	const u64 limit = 1ULL << 56;
	struct remap_member *m;

	if ((le16_to_cpu(sb->role) == DMR_ROLE_DATA) != data || (data != !idx) || idx >= DMR_MAX_MEMBERS) {
		*error = data ? "First device is not the data member of its set" :
			 "Spare device is the data member of its set";
		return -EINVAL;
	}
	if (memcmp(sb->set_uuid, rc->set_uuid, 16)) {
		*error = "Device belongs to another set";
		return -EINVAL;
	}
	if (rc->members[idx].dev) {
		*error = "Two devices claim the same member index";
		return -EINVAL;
	}
	if (le32_to_cpu(sb->block_size) != rc->block_size || le64_to_cpu(sb->data_sectors) != rc->data_sectors ||
	    le32_to_cpu(sb->max_entries) != rc->max_entries || le32_to_cpu(sb->journal_blocks) != rc->journal_blocks ||
	    DMR_MD_COPIES(le32_to_cpu(sb->incompat_flags)) != rc->md_copies) {
		*error = "Member's geometry differs from the data member's";
		return -EINVAL;
	}
	if (le64_to_cpu(sb->generation) > rc->generation) {
		*error = "Spare is from an unfinished membership change (not in the set)";
		return -EINVAL;
	}
	if (size > bdev_nr_sectors(dev->bdev)) {
		*error = "Member device is smaller than its superblock says";
		return -EINVAL;
	}
	if (bdev_logical_block_size(dev->bdev) > rc->block_size) {
		*error = "Member's logical block size is larger than the set's block size";
		return -EINVAL;
	}
	if ((spare_offset | (data ? rc->data_offset | rc->data_sectors : 0)) & ((1U << rc->block_shift) - 1)) {
		*error = "Member's areas are not aligned to the block size";
		return -EINVAL;
	}
	if (size >= limit || spare_offset >= limit || spare_sectors >= limit || rc->data_offset >= limit ||
	    rc->data_sectors >= limit || (spare_sectors && spare_offset < md_end) || spare_offset + spare_sectors > size ||
	    (data && (rc->data_offset < md_end ||
		      (spare_sectors && spare_offset < rc->data_offset + rc->data_sectors)))) {
		*error = "Member's areas overlap or lie outside the member";
		return -EINVAL;
	}
	m = &rc->members[idx];
	m->spare_offset = spare_offset;
	m->spare_blocks = min_t(u64, spare_sectors >> rc->block_shift, REMAP_SPARE_BLOCKS_MAX);
	m->sb_generation = le64_to_cpu(sb->generation);
	memcpy(m->uuid, sb->member_uuid, 16);
	if (m->spare_blocks) {
		m->spare_map = kvzalloc(BITS_TO_LONGS(m->spare_blocks) * sizeof(long), GFP_KERNEL);
		if (!m->spare_map) {
			*error = "Cannot allocate the spare bitmap";
			return -ENOMEM;
		}
	}
	m->dev = dev;
	return 0;
}

/*
 * Construct a remap mapping:
 *   <data_dev> <#spares> [<spare_dev>...] [<#opt_args> [<opt_arg>...]]
 *
 * Optional arguments:
 *   read_retries <n>   reads of a failing block before it counts as unreadable (default 3)
 *   no_auto_remap      errors pass through (counted); nothing is remapped
 *   degraded           spares of the member table may be missing from the line
 *
 * Every member must carry a valid superblock of the same set, the data
 * member first, all spares of the set's member table present (unless
 * degraded), and <len> equal to the set's data length.
 */
static int remap_ctr(struct dm_target *ti, unsigned int argc, char **argv)
{
	static const struct dm_arg _args[] = {
		{0, DMR_MAX_MEMBERS - 1, "Invalid number of spare devices"},
		{0, 4, "Invalid number of optional arguments"},
		{1, REMAP_READ_RETRIES_MAX, "read_retries must be 1-100"},
	};
	struct dm_arg_set as = { .argc = argc, .argv = argv };
	struct dmr_superblock_disk *sb = NULL;
	bool ro_features = false;
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
	mutex_init(&rc->msg_lock);
	mutex_init(&rc->members_lock);
	spin_lock_init(&rc->lock);
	bio_list_init(&rc->deferred);
	bio_list_init(&rc->batch);
	bio_list_init(&rc->redo);
	INIT_LIST_HEAD(&rc->requests);
	INIT_WORK(&rc->worker, remap_worker);
	INIT_WORK(&rc->uevent, remap_uevent);
	for (i = 0; i < DMR_MAX_MEMBERS; i++)
		rc->members[i].newest_slot = -1;
	sb = kmalloc(sizeof(*sb), GFP_KERNEL);
	rc->md_block = kmalloc(DMR_MD_BLOCK_SIZE, GFP_KERNEL);
	rc->sb_scratch = kmalloc(sizeof(*rc->sb_scratch), GFP_KERNEL);
	rc->md_chunk = kvmalloc(REMAP_MD_CHUNK, GFP_KERNEL);
	rc->member_table = kvzalloc(DMR_MEMBER_TABLE_BLOCKS * DMR_MD_BLOCK_SIZE, GFP_KERNEL);
	rc->up = kzalloc(sizeof(*rc->up), GFP_KERNEL);
	rc->bounce = alloc_page(GFP_KERNEL);
	rc->io_client = dm_io_client_create();
	if (!sb || !rc->md_block || !rc->sb_scratch || !rc->md_chunk || !rc->member_table || !rc->up || !rc->bounce || IS_ERR(rc->io_client) ||
	    bioset_init(&rc->bs, 4, 0, BIOSET_NEED_BVECS) || !(rc->io = alloc_percpu(struct io_count))) {
		ti->error = "Cannot allocate context";
		r = -ENOMEM;
		goto bad;
	}

	for (i = 0; i <= nr_spares; i++) {
		struct dm_dev *dev;

		if (i)
			path = dm_shift_arg(&as);
		r = dm_get_device(ti, path, dm_table_get_mode(ti->table), &dev);
		if (r) {
			ti->error = i ? "Cannot open spare device" : "Cannot open data device";
			goto bad;
		}
		r = read_member_sb(rc, dev, sb);
		ro_features |= r == -EROFS;
		if (!sb_usable(r)) {
			ti->error = (char *)sb_error(r);
		} else {
			r = i ? 0 : set_geometry(rc, sb, &ti->error);
			if (!r)
				r = add_member(rc, dev, sb, !i, &ti->error);
		}
		if (r) {
			dm_put_device(ti, dev);
			r = r == -EROFS ? -EINVAL : r;
			goto bad;
		}
	}
	if (as.argc) {
		r = dm_read_arg_group(&_args[1], &as, &nr_opt, &ti->error);
		if (r)
			goto bad;
		while (nr_opt--) {
			const char *opt = dm_shift_arg(&as);

			if (!strcasecmp(opt, "no_auto_remap")) {
				rc->no_auto_remap = true;
			} else if (!strcasecmp(opt, "degraded")) {
				rc->degraded_ok = true;
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
	if (ro_features && !rc->read_only) {
		ti->error = "A member has features this module can only read: load the table read-only";
		r = -EROFS;
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
	rc->wq = alloc_workqueue("dm-remap", WQ_MEM_RECLAIM, 1);
	if (!rc->wq) {
		ti->error = "Cannot create workqueue";
		r = -ENOMEM;
		goto bad;
	}
	kfree(sb);
	ti->private = rc;
	ti->per_io_data_size = sizeof(struct remap_pb);
	/*
	 * Discards go to the data device alone (on a spare block they only
	 * drop a hint): a spare device without discard must not turn them off.
	 */
	ti->discards_supported = bdev_max_discard_sectors(rc->members[0].dev->bdev) > 0;
	/* One, to the data member; the worker passes it on to spare devices written since the last. */
	ti->num_flush_bios = 1;
	ti->flush_supported = true;
	ti->num_discard_bios = 1;
	return 0;

bad:
	kfree(sb);
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

static int map_bio(struct remap_c *rc, struct bio *bio, struct remap_pb *pb)
{
	unsigned long first, last, index;
	struct remap_member *m;
	sector_t in_block;
	void *e;

	if (unlikely(bio->bi_opf & REQ_PREFLUSH)) {
		/* An empty flush: the data member now, spare devices from end_io. */
		bio_set_dev(bio, rc->members[0].dev->bdev);
		pb->iter.bi_size = 0;
		pb->flags = PB_FLUSH;
		return DM_MAPIO_REMAPPED;
	}
	pb->start = dm_target_offset(rc->ti, bio->bi_iter.bi_sector);
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

	if (unlikely(entry_busy(e)) && bio_op(bio) != REQ_OP_DISCARD) {
		/* The worker is moving it: it serves the bio once done. */
		pb->iter = bio->bi_iter;
		defer_bio(rc, bio);
		return DM_MAPIO_SUBMITTED;
	}
	switch (entry_state(e)) {
	case DMR_ENTRY_REMAPPED:
		m = &rc->members[entry_index(e)];
		if (bio_op(bio) == REQ_OP_DISCARD)
			break;	/* discarding a spare block only drops a hint */
		if (unlikely(!m->dev || READ_ONCE(m->failed))) {
			/* On a missing or failed spare: unreadable, a write goes elsewhere. */
			if (bio_op(bio) == REQ_OP_READ) {
				atomic64_inc(&rc->read_errors);
				return DM_MAPIO_KILL;
			}
			pb->iter = bio->bi_iter;
			defer_bio(rc, bio);
			return DM_MAPIO_SUBMITTED;
		}
		bio_set_dev(bio, m->dev->bdev);
		bio->bi_iter.bi_sector = m->spare_offset + ((sector_t)entry_block(e) << rc->block_shift) + in_block;
		pb->iter = bio->bi_iter;
		if (entry_index(e)) {
			pb->flags = PB_SPARE_DEV;
			if (op_is_write(bio_op(bio)))
				bio->bi_opf |= spare_fua(rc);
		}
		return DM_MAPIO_REMAPPED;
	case DMR_ENTRY_PENDING:
		/*
		 * Unreadable until written, or until it reads again: the worker
		 * tries the device for it, at most ten times a second.
		 */
		if (bio_op(bio) == REQ_OP_READ) {
			unsigned long next = READ_ONCE(rc->pending_retry);

			if (!entry_lost(e) && time_after_eq(jiffies, next) && cmpxchg(&rc->pending_retry, next, jiffies + HZ / 10) == next) {
				pb->iter = bio->bi_iter;
				defer_bio(rc, bio);
				return DM_MAPIO_SUBMITTED;
			}
			atomic64_inc(&rc->read_errors);
			return DM_MAPIO_KILL;
		}
		if (bio_op(bio) == REQ_OP_WRITE) {
			pb->iter = bio->bi_iter;
			defer_bio(rc, bio);
			return DM_MAPIO_SUBMITTED;
		}
		break;
	default:
		/* A discard of a busy block on the data device. */
		break;
	}
	bio_endio(bio);
	return DM_MAPIO_SUBMITTED;
}

static int remap_map(struct dm_target *ti, struct bio *bio)
{
	struct remap_c *rc = ti->private;
	struct remap_pb *pb = dm_per_bio_data(bio, sizeof(*pb));
	unsigned int idx = READ_ONCE(rc->epoch) & 1;
	int r;

	pb->flags = 0;
	pb->counted = 0;
	pb->served = 0;
	/*
	 * A read of a data-device block needs no count: nothing the worker
	 * does makes it return wrong data (io_barrier() waits for writes to a
	 * block it changes, and for anything sent to a spare device).
	 */
	if (likely(bio_op(bio) == REQ_OP_READ) && likely(xa_empty(&rc->table))) {
		pb->start = dm_target_offset(ti, bio->bi_iter.bi_sector);
		return map_data(rc, bio, pb);
	}
	/* Counted before the table is read: see io_barrier(). */
	this_cpu_inc(rc->io->locks[idx]);
	smp_mb();
	r = map_bio(rc, bio, pb);
	if (r == DM_MAPIO_REMAPPED)
		pb->counted = idx + 1;
	else	/* deferred to the worker, or completed here: @pb may be gone */
		this_cpu_inc(rc->io->unlocks[idx]);
	return r;
}

/* Errors, flushes and writes to spare devices. */
static noinline int end_io_slow(struct remap_c *rc, struct bio *bio, struct remap_pb *pb, blk_status_t *error)
{
	enum req_op op = bio_op(bio);

	/* The worker completes it again later: count it back only once. */
	pb->counted = 0;
	if ((pb->flags & (PB_FLUSH | PB_SPARE_DEV)) && !(pb->flags & PB_HANDLED)) {
		if ((pb->flags & PB_SPARE_DEV) && !*error && op_is_write(op))
			atomic_inc(&rc->spare_writes);
		if ((pb->flags & PB_FLUSH) && !*error &&
		    atomic_read(&rc->spare_writes) != READ_ONCE(rc->flushed_writes)) {
			defer_bio(rc, bio);
			return DM_ENDIO_INCOMPLETE;
		}
	}
	if (!*error || (pb->flags & PB_HANDLED) || (op != REQ_OP_READ && op != REQ_OP_WRITE) || !pb->iter.bi_size)
		return DM_ENDIO_DONE;
	/*
	 * Only media errors mean a bad block. A timeout, a lost path or an
	 * offline device must not burn spares or mark readable blocks pending;
	 * readahead may fail at will. An I/O error may be either: the worker
	 * asks the device (device_failure()).
	 */
	if (bio->bi_opf & REQ_RAHEAD)
		return DM_ENDIO_DONE;
	if (*error != BLK_STS_IOERR && *error != BLK_STS_MEDIUM && *error != BLK_STS_PROTECTION) {
		atomic64_inc(&rc->device_errors);
		return DM_ENDIO_DONE;
	}
	atomic64_inc(op == REQ_OP_READ ? &rc->read_errors : &rc->write_errors);
	if (rc->no_auto_remap)
		return DM_ENDIO_DONE;
	/* Retry, find the failing blocks and remap or record them in the worker. */
	bio->bi_iter = pb->iter;
	bio->bi_status = BLK_STS_OK;
	defer_bio(rc, bio);
	return DM_ENDIO_INCOMPLETE;
}

static int remap_end_io(struct dm_target *ti, struct bio *bio, blk_status_t *error)
{
	struct remap_c *rc = ti->private;
	struct remap_pb *pb = dm_per_bio_data(bio, sizeof(*pb));

	if (pb->counted)
		this_cpu_inc(rc->io->unlocks[pb->counted - 1]);
	if (likely(!*error) && likely(!(pb->flags & (PB_FLUSH | PB_SPARE_DEV))))
		return DM_ENDIO_DONE;
	return end_io_slow(rc, bio, pb, error);
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

/*
 * The table this one replaces may have changed the membership after this
 * one was loaded (a spare failed, a degraded start): take the generation
 * in force from the superblocks again, so that the load that follows
 * reads the member table that goes with it. A member that no longer
 * answers keeps what the constructor read; the load leaves it out if the
 * set marked it failed.
 */
static int reread_generation(struct remap_c *rc, bool *moved, char **error)
{
	struct dmr_superblock_disk *sb = kmalloc(sizeof(*sb), GFP_NOIO);
	struct remap_member *m;
	int r = 0;

	if (!sb)
		return -ENOMEM;
	*moved = false;
	for_each_member(rc, m) {
		if (!sb_usable(read_member_sb(rc, m->dev, sb))) {
			if (m == rc->members) {
				*error = "Cannot read the data member's superblock";
				r = -EIO;
				break;
			}
			continue;
		}
		m->sb_generation = le64_to_cpu(sb->generation);
		if (m == rc->members && m->sb_generation != rc->generation) {
			rc->generation = m->sb_generation;
			*moved = true;
		}
	}
	kfree(sb);
	return r;
}

/*
 * Did a table replaced by this one commit after this one loaded? Every
 * commit after seq writes record seq + 1's ring block, and any later one
 * there has a higher seq; a compaction is always followed by a record.
 */
static bool md_moved_on(struct remap_c *rc)
{
	struct dmr_journal_disk *j = rc->md_block;
	struct remap_member *m;
	unsigned int c;

	for_each_live(rc, m)
		for (c = 0; c < rc->md_copies; c++)
			if (!md_read_copy(rc, m, c, journal_off(rc, rc->seq + 1), j, DMR_MD_BLOCK_SIZE) &&
			    record_valid(rc, j, journal_pos(rc, rc->seq + 1)) && le64_to_cpu(j->seq) > rc->seq)
				return true;
	return false;
}

/*
 * A start without some spares opens a new generation before anything is
 * written: a spare that comes back later carries an older one, so its
 * metadata, however long its history, is never read, only overwritten. A
 * failure here is logged, not fatal: the device must not stay suspended.
 */
static void degraded_start(struct remap_c *rc)
{
	struct remap_member *m;

	for (m = rc->members; m < rc->members + DMR_MAX_MEMBERS; m++)
		if (m->missing)
			break;
	if (m != rc->members + DMR_MAX_MEMBERS && md_config_commit(rc, rc->sb_scratch))
		DMERR("%s: cannot open a new generation for a degraded start",
		      dm_device_name(dm_table_get_md(rc->ti->table)));
}

static int remap_preresume(struct dm_target *ti)
{
	struct remap_c *rc = ti->private;
	char *error = NULL;
	unsigned int noio;
	bool moved;
	int r;

	/*
	 * Once this table has run, its state in memory is the truth: a resume
	 * reads nothing, so it cannot fail and leave the device suspended.
	 */
	flush_workqueue(rc->wq);
	if (rc->resumed)
		return 0;
	/* Suspended: reclaim must not write back through this device. */
	noio = memalloc_noio_save();
	r = reread_generation(rc, &moved, &error);
	if (!r && (moved || md_moved_on(rc))) {
		/* The table this one replaces committed since: read it all again. */
		r = md_load(rc, !rc->read_only, &error);
		if (r == -EINVAL && moved) {
			/* The line names members that the set no longer has, or lacks one it gained. */
			error = "The set's members changed after this table was loaded: load it again";
			r = -ESTALE;
		}
	} else if (!r && !rc->read_only) {
		/* Loaded in the constructor, read-only: now bring members behind up to date. */
		if (rc->md_stale && md_resync(rc, &error))
			DMERR("%s: %s", dm_device_name(dm_table_get_md(ti->table)), error);
	}
	if (!r && !rc->read_only) {
		degraded_start(rc);
		/* A member that failed bringing the others up to date. */
		if (rc->fail_pending)
			fail_commit(rc);
	}
	memalloc_noio_restore(noio);
	if (r)
		DMERR("%s: %s", dm_device_name(dm_table_get_md(ti->table)), error);
	else
		rc->resumed = true;
	return r;
}

/* ---------------------------------------------------------------------------
 * Status and messages
 */

static void remap_status(struct dm_target *ti, status_type_t type, unsigned int status_flags,
			 char *result, unsigned int maxlen)
{
	struct remap_c *rc = ti->private;
	unsigned int sz = 0, nr_spares = 0, unavailable = 0, missing = 0;
	struct remap_member *m;
	bool first = true;
	u64 used, total;

	mutex_lock(&rc->members_lock);
	for (m = rc->members; m < rc->members + DMR_MAX_MEMBERS; m++) {
		nr_spares += m->dev && m != rc->members;
		missing += m->missing;
		unavailable += m->missing ? READ_ONCE(m->live) : 0;
	}
	switch (type) {
	case STATUSTYPE_INFO:
		spare_totals(rc, &used, &total);
		DMEMIT("metadata=%s block_size=%u remapped=%d pending=%d spare_used=%llu spare_total=%llu "
		       "read_errors=%llu write_errors=%llu remap_events=%llu healed=%llu device_errors=%llu exhausted=%d degraded=%d "
		       "unavailable=%u seq=%llu spares=",
		       rc->md_degraded ? "degraded" : "ok", rc->block_size, atomic_read(&rc->nr_remapped),
		       atomic_read(&rc->nr_pending), used, total, atomic64_read(&rc->read_errors),
		       atomic64_read(&rc->write_errors), atomic64_read(&rc->remap_events),
		       atomic64_read(&rc->healed), atomic64_read(&rc->device_errors), rc->exhausted, missing > 0,
		       unavailable, READ_ONCE(rc->seq));
		for (m = rc->members; m < rc->members + DMR_MAX_MEMBERS; m++) {
			if (m->dev)
				DMEMIT("%s%u:%u/%u", first ? "" : ",", (unsigned int)(m - rc->members),
				       READ_ONCE(m->spare_used), m->spare_blocks);
			else if (m->missing || m->failed)
				DMEMIT("%s%u:missing", first ? "" : ",", (unsigned int)(m - rc->members));
			else
				continue;
			first = false;
		}
		DMEMIT(" members=");
		first = true;
		for (m = rc->members; m < rc->members + DMR_MAX_MEMBERS; m++) {
			if (!m->dev && !m->missing && !m->failed)
				continue;
			DMEMIT("%s%u:%s", first ? "" : ",", (unsigned int)(m - rc->members),
			       READ_ONCE(m->failed) ? "failed" : m->missing ? "missing" : "ok");
			first = false;
		}
		break;
	case STATUSTYPE_TABLE:
		DMEMIT("%s %u", rc->members[0].dev->name, nr_spares);
		for (m = rc->members + 1; m < rc->members + DMR_MAX_MEMBERS; m++)
			if (m->dev)
				DMEMIT(" %s", m->dev->name);
		if (rc->no_auto_remap || rc->degraded_ok || rc->read_retries != REMAP_READ_RETRIES_DEFAULT) {
			DMEMIT(" %u", rc->no_auto_remap + rc->degraded_ok +
			       (rc->read_retries != REMAP_READ_RETRIES_DEFAULT ? 2 : 0));
			if (rc->no_auto_remap)
				DMEMIT(" no_auto_remap");
			if (rc->degraded_ok)
				DMEMIT(" degraded");
			if (rc->read_retries != REMAP_READ_RETRIES_DEFAULT)
				DMEMIT(" read_retries %u", rc->read_retries);
		}
		break;
	case STATUSTYPE_IMA:
		DMEMIT_TARGET_NAME_VERSION(ti->type);
		DMEMIT(",spares=%u,block_size=%u,no_auto_remap=%c,degraded=%c,read_retries=%u;", nr_spares,
		       rc->block_size, rc->no_auto_remap ? 'y' : 'n', rc->degraded_ok ? 'y' : 'n', rc->read_retries);
		break;
	}
	mutex_unlock(&rc->members_lock);
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
		/*
		 * A line cut short fills the buffer: device-mapper then reports
		 * DM_BUFFER_FULL_FLAG, and libdevmapper asks again with more room.
		 */
		if (n == count || sz + 1 >= maxlen)
			break;
		if (entry_state(e) == DMR_ENTRY_REMAPPED)
			DMEMIT("%lu remapped %u:%u%s\n", index, entry_index(e), entry_block(e),
			       rc->members[entry_index(e)].missing ? " missing" : "");
		else if (entry_state(e) == DMR_ENTRY_PENDING)
			DMEMIT("%lu pending -%s\n", index, entry_lost(e) ? " lost" : "");
		else
			continue;
		n++;
	}
	rcu_read_unlock();
	return 1;
}

static int msg_spare_stats(struct remap_c *rc, char *result, unsigned int maxlen)
{
	unsigned int sz = 0;
	struct remap_member *m;

	mutex_lock(&rc->members_lock);
	for (m = rc->members; m < rc->members + DMR_MAX_MEMBERS; m++) {
		u32 used = READ_ONCE(m->spare_used);

		if (m->dev)
			DMEMIT("%s index=%u total=%u used=%u free=%u live=%u state=%s\n", m->dev->name,
			       (unsigned int)(m - rc->members), m->spare_blocks, used, m->spare_blocks - used,
			       READ_ONCE(m->live), READ_ONCE(m->failed) ? "failed" : "ok");
		else if (m->missing || m->failed)
			DMEMIT("- index=%u total=%u used=- free=- live=%u state=%s\n", (unsigned int)(m - rc->members),
			       m->spare_blocks, READ_ONCE(m->live), m->missing ? "missing" : "failed");
	}
	mutex_unlock(&rc->members_lock);
	return 1;
}

/* A device given as a path or as major:minor. */
static int parse_dev(const char *s, dev_t *devt)
{
	unsigned int maj, min;
	char dummy;

	if (sscanf(s, "%u:%u%c", &maj, &min, &dummy) == 2) {
		*devt = MKDEV(maj, min);
		return MAJOR(*devt) == maj && MINOR(*devt) == min ? 0 : -EINVAL;
	}
	return lookup_bdev(s, devt);
}

/* The device a membership message names, on a table that may change. */
static int msg_device(struct remap_c *rc, const char *verb, const char *arg, dev_t *devt)
{
	const char *name = dm_device_name(dm_table_get_md(rc->ti->table));
	int r;

	if (rc->read_only) {
		DMWARN("%s: %s: the table is read-only", name, verb);
		return -EROFS;
	}
	r = parse_dev(arg, devt);
	if (r)
		DMWARN("%s: %s: no block device '%s'", name, verb, arg);
	return r;
}

/*
 * Whether anything else holds the device: a filesystem, another device
 * (dm, md, bcache), an exclusive opener. The table's own exclusive open
 * does not tell, as every device-mapper table shares one holder.
 */
static int claim_check(dev_t devt, void *holder)
{
#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 10, 0)
	struct file *f = bdev_file_open_by_dev(devt, BLK_OPEN_READ | BLK_OPEN_WRITE, holder, NULL);

	if (IS_ERR(f))
		return PTR_ERR(f);
	bdev_fput(f);
#elif LINUX_VERSION_CODE < KERNEL_VERSION(6, 5, 0)
	struct block_device *b = blkdev_get_by_dev(devt, FMODE_READ | FMODE_WRITE | FMODE_EXCL, holder);

	if (IS_ERR(b))
		return PTR_ERR(b);
	blkdev_put(b, FMODE_READ | FMODE_WRITE | FMODE_EXCL);
#endif
	return 0;
}

/* spare_add <dev> [<image path>] */
static int msg_spare_add(struct remap_c *rc, unsigned int argc, char **argv, char *result, unsigned int maxlen)
{
	struct dm_target *ti = rc->ti;
	const char *name = dm_device_name(dm_table_get_md(ti->table));
	struct remap_req req = { .type = REQ_SPARE_ADD, .image = argc > 2 ? argv[2] : NULL };
	struct dmr_superblock_disk *sb = NULL;
	struct remap_member *m;
	unsigned int sz = 0;
	char devname[24];
	u64 size, area;
	dev_t devt;
	int r;

	if (argc < 2 || argc > 3)
		return -EINVAL;
	if (req.image && strlen(req.image) >= DMR_IMAGE_PATH_LEN) {
		DMWARN("%s: spare_add: image path longer than %u bytes", name, DMR_IMAGE_PATH_LEN - 1);
		return -ENAMETOOLONG;
	}
	r = msg_device(rc, "spare_add", argv[1], &devt);
	if (r)
		return r;
	mutex_lock(&rc->msg_lock);
	for_each_member(rc, m)
		if (m->dev->bdev->bd_dev == devt) {
			DMWARN("%s: spare_add: %s is already member %u of this set", name, argv[1],
			       (unsigned int)(m - rc->members));
			r = -EEXIST;
			goto out;
		}
	r = claim_check(devt, rc);
	if (r) {
		DMWARN("%s: spare_add: %s is in use (mounted, part of another device or opened exclusively)", name,
		       argv[1]);
		goto out;
	}
	/* By number: the device checked is the device opened. */
	snprintf(devname, sizeof(devname), "%u:%u", MAJOR(devt), MINOR(devt));
	r = dm_get_device(ti, devname, dm_table_get_mode(ti->table), &req.dev);
	if (r) {
		DMWARN("%s: spare_add: cannot open %s", name, argv[1]);
		goto out;
	}
	size = bdev_nr_sectors(req.dev->bdev);
	area = round_up(rc->md_offset + rc->md_sectors, DMR_AREA_ALIGN_SECTORS);
	if (bdev_logical_block_size(req.dev->bdev) > rc->block_size) {
		DMWARN("%s: spare_add: %s has a logical block size above the set's block size %u", name, argv[1],
		       rc->block_size);
		r = -EINVAL;
		goto out;
	}
	if (size < area + DMR_AREA_ALIGN_SECTORS) {
		DMWARN("%s: spare_add: %s is too small: %llu sectors, needs %llu", name, argv[1], size,
		       area + DMR_AREA_ALIGN_SECTORS);
		r = -ENOSPC;
		goto out;
	}
	sb = kmalloc(sizeof(*sb), GFP_KERNEL);
	if (!sb) {
		r = -ENOMEM;
		goto out;
	}
	r = read_member_sb(rc, req.dev, sb);
	if (sb_usable(r) && memcmp(sb->set_uuid, rc->set_uuid, 16)) {
		DMWARN("%s: spare_add: %s belongs to another dm-remap set (%.*s)", name, argv[1],
		       (int)sizeof(sb->name), sb->name);
		r = -EEXIST;
		goto out;
	}
	for (m = rc->members; sb_usable(r) && m < rc->members + DMR_MAX_MEMBERS; m++)
		if (m->missing && !memcmp(m->uuid, sb->member_uuid, 16)) {
			DMWARN("%s: spare_add: %s is missing member %u of this set: load a table with it instead",
			       name, argv[1], (unsigned int)(m - rc->members));
			r = -EEXIST;
			goto out;
		}
	req.sectors = size;
	req.spare_offset = area;
	req.spare_blocks = min_t(u64, (size - area) >> rc->block_shift, REMAP_SPARE_BLOCKS_MAX);
	req.spare_map = kvzalloc(BITS_TO_LONGS(req.spare_blocks) * sizeof(long), GFP_KERNEL);
	if (!req.spare_map) {
		r = -ENOMEM;
		goto out;
	}
	r = submit_req(rc, &req);
	if (r) {
		DMWARN("%s: spare_add: %s: %s", name, argv[1], req.error ?: "failed");
		goto out;
	}
	DMINFO("%s: spare %s added as member %u with %u spare blocks", name, req.dev->name, req.index,
	       req.spare_blocks);
	DMEMIT("%s index=%u blocks=%u", req.dev->name, req.index, req.spare_blocks);
	r = 1;
out:
	if (r != 1 && req.dev)
		dm_put_device(ti, req.dev);
	kvfree(req.spare_map);
	kfree(sb);
	mutex_unlock(&rc->msg_lock);
	return r;
}

/* spare_remove <dev> [evacuate] */
static int msg_spare_remove(struct remap_c *rc, unsigned int argc, char **argv, char *result,
			    unsigned int maxlen)
{
	const char *name = dm_device_name(dm_table_get_md(rc->ti->table));
	struct remap_req req = { .type = REQ_SPARE_REMOVE };
	struct remap_member *m;
	unsigned int sz = 0;
	dev_t devt;
	int r;

	if (argc < 2 || argc > 3 || (argc == 3 && strcasecmp(argv[2], "evacuate")))
		return -EINVAL;
	req.evacuate = argc == 3;
	if (!strncmp(argv[1], "index=", 6)) {
		/* A member that is not in the table line (missing or failed) has no device to name. */
		if (kstrtou16(argv[1] + 6, 10, &req.index) || !req.index || req.index >= DMR_MAX_MEMBERS)
			return -EINVAL;
		if (rc->read_only)
			return -EROFS;
	} else {
		r = msg_device(rc, "spare_remove", argv[1], &devt);
		if (r)
			return r;
	}
	mutex_lock(&rc->msg_lock);
	r = -ENODEV;
	for (m = rc->members + 1; req.index && m < rc->members + DMR_MAX_MEMBERS; m++)
		if (m - rc->members == req.index && (m->dev || m->missing || m->failed))
			r = 0;
	for_each_member(rc, m)
		if (!req.index && m->dev->bdev->bd_dev == devt) {
			r = m == rc->members ? -EINVAL : 0;
			break;
		}
	if (r) {
		DMWARN("%s: spare_remove: %s is %s", name, argv[1],
		       r == -EINVAL ? "the data member" : "not a spare of this set");
		goto out;
	}
	if (!req.index)
		req.index = m - rc->members;
	r = submit_req(rc, &req);
	if (r) {
		DMWARN("%s: spare_remove: %s: %s (moved %u, lost %u)", name, argv[1], req.error ?: "failed",
		       req.moved, req.lost);
		goto out;
	}
	DMINFO("%s: spare %s removed; %u blocks moved, %u unreadable", name, req.dev ? req.dev->name : argv[1],
	       req.moved, req.lost);
	DMEMIT("%s removed moved=%u lost=%u", req.dev ? req.dev->name : argv[1], req.moved, req.lost);
	if (req.dev)
		dm_put_device(rc->ti, req.dev);
	r = 1;
out:
	mutex_unlock(&rc->msg_lock);
	return r;
}

static int remap_message(struct dm_target *ti, unsigned int argc, char **argv, char *result,
			 unsigned int maxlen)
{
	struct remap_c *rc = ti->private;
	unsigned int sz = 0;

	if (!argc)
		return -EINVAL;
	if (!strcasecmp(argv[0], "help") && argc == 1) {
		DMEMIT("stats\nclear_stats\nspare_stats\nlist_remaps [<first> [<count>]]\nremap <block>\n"
		       "spare_add <dev> [<image path>]\nspare_remove <dev> [evacuate]\nhelp\n");
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
		atomic64_set(&rc->device_errors, 0);
		return 0;
	}
	if (!strcasecmp(argv[0], "spare_stats") && argc == 1)
		return msg_spare_stats(rc, result, maxlen);
	if (!strcasecmp(argv[0], "list_remaps"))
		return msg_list(rc, argc, argv, result, maxlen);
	if (!strcasecmp(argv[0], "spare_add"))
		return msg_spare_add(rc, argc, argv, result, maxlen);
	if (!strcasecmp(argv[0], "spare_remove"))
		return msg_spare_remove(rc, argc, argv, result, maxlen);
	if (!strcasecmp(argv[0], "remap") && argc == 2) {
		struct remap_req req = { .type = REQ_REMAP };
		unsigned long long blk;
		void *e;
		int r;

		if (kstrtoull(argv[1], 10, &blk) || blk >= rc->data_blocks) {
			DMWARN("remap: invalid block '%s': the data area has %llu blocks", argv[1], rc->data_blocks);
			return -EINVAL;
		}
		req.block = blk;
		r = submit_req(rc, &req);
		if (r) {
			DMWARN("remap %llu: %s", blk, req.error ?: "failed");
			return r;
		}
		e = xa_load(&rc->table, blk);
		DMEMIT("%llu %s", blk, e && entry_state(e) == DMR_ENTRY_REMAPPED ? "remapped" : "pending");
		return 1;
	}
	DMWARN("unrecognised message '%s'", argv[0]);
	return -EINVAL;
}

static int remap_iterate_devices(struct dm_target *ti, iterate_devices_callout_fn fn, void *data)
{
	struct remap_c *rc = ti->private;
	struct remap_member *m;
	int r;

	mutex_lock(&rc->members_lock);
	r = fn(ti, rc->members[0].dev, rc->data_offset, ti->len, data);
	for_each_member(rc, m)
		if (!r && m->spare_blocks)
			r = fn(ti, m->dev, m->spare_offset, (sector_t)m->spare_blocks << rc->block_shift, data);
	mutex_unlock(&rc->members_lock);
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
	.version = {0, 3, 0},
	.module = THIS_MODULE,
	.ctr = remap_ctr,
	.dtr = remap_dtr,
	.map = remap_map,
	.end_io = remap_end_io,
	.presuspend = remap_presuspend,
	.presuspend_undo = remap_resume,
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
	int r;

	/* Table entries pack 40 bits into an xarray value. */
	BUILD_BUG_ON(BITS_PER_LONG < 64);
	r = dm_register_target(&remap_target);

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
