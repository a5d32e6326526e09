/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * dm-remap's shared state: the target context, its members and the remap
 * table entries, used by the target (dm-remap-target.c) and its metadata
 * (dm-remap-metadata.c). Private to the module.
 */
#ifndef DM_REMAP_H
#define DM_REMAP_H

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
	u32 first_free;			/* worker only: every spare block below it is taken */
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

/*
 * The set's metadata as this table knows it, beside the member table: all
 * of it passes to a table that replaces this one at its first resume
 * (take_over()), so a field added here cannot be forgotten there. Worker
 * only (and the constructor and first resume, before any I/O).
 */
struct remap_md_state {
	u64 generation;			/* membership generation in force (the data member's) */
	u64 seq;			/* of the last record */
	u64 snapshot_seq;		/* of the newest snapshot */
	u64 failed_mask;		/* members member_table marks failed */
	u32 nblocks[DMR_MAX_MEMBERS];	/* spare blocks by index under member_table */
	bool stale;			/* load found a member behind or a damaged copy */
	bool degraded;			/* a metadata copy cannot be written: status metadata=degraded */
	bool fail_pending;		/* members failed since the last membership commit */
	bool anchor_failed;		/* a metadata write to the data member failed everywhere */
};

struct remap_c {
	struct dm_target *ti;
	struct list_head tables;	/* in remap_tables, under remap_tables_lock */

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
	unsigned int nr_failed;		/* worker only: members failed while this table ran */

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

	/*
	 * data block -> encoded entry; RCU readers, written by the worker.
	 * Pointers, not embedded: a table that replaces this one takes them
	 * over at its first resume (take_over()).
	 */
	struct xarray *table;
	/* (member index << 32 | spare block) of failed spare blocks; worker only. */
	struct xarray *retired;
	u8 *member_table;		/* as on disk, 16 KiB; worker only */
	void *md_block;			/* 4 KiB scratch for metadata I/O; worker only */
	struct dmr_superblock_disk *sb_scratch;	/* two, for membership commits and the first resume; worker only */
	void *md_chunk;			/* REMAP_MD_CHUNK bytes for snapshots; worker only */
	struct page *bounce;		/* one data block; worker only */
	struct updates *up;		/* worker only */
	struct bio_set bs;		/* the worker's own bios, never the caller's pool */
	struct dm_io_client *io_client;	/* metadata I/O */
	struct dm_io_region where[BITS_PER_LONG]; /* md_write's regions; worker only */

	struct remap_md_state md;

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
static inline void *entry_get(struct remap_c *rc, u64 blk)
{
	void *e = xa_load(rc->table, blk);

	return e && entry_state(e) != DMR_ENTRY_FREE ? e : NULL;
}

#define for_each_member(rc, m) \
	for (m = (rc)->members; m < (rc)->members + DMR_MAX_MEMBERS; m++) \
		if (!m->dev) {} else

/* Members there and in the set: those that metadata is read from and written to. */
#define for_each_live(rc, m) \
	for (m = (rc)->members; m < (rc)->members + DMR_MAX_MEMBERS; m++) \
		if (!m->dev || m->failed) {} else

/* In dm-remap-target.c, for the metadata code: spare accounting and events. */
bool spare_mark(struct remap_c *rc, u16 idx, u32 blk);
void spare_release(struct remap_c *rc, u16 idx, u32 blk);
void remap_event(struct remap_c *rc);

#endif /* DM_REMAP_H */
