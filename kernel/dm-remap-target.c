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
#include "dm-remap.h"
#include "dm-remap-metadata.h"

/* ---------------------------------------------------------------------------
 * Spare allocation (worker only)
 */

bool spare_mark(struct remap_c *rc, u16 idx, u32 blk)
{
	struct remap_member *m = &rc->members[idx];

	if (!m->spare_map)
		return true;	/* a missing member: nothing allocates there */
	if (blk >= m->spare_blocks || test_and_set_bit(blk, m->spare_map))
		return false;
	m->spare_used++;
	return true;
}

void spare_release(struct remap_c *rc, u16 idx, u32 blk)
{
	struct remap_member *m = &rc->members[idx];

	if (m->spare_map && blk < m->spare_blocks && test_and_clear_bit(blk, m->spare_map)) {
		m->spare_used--;
		m->first_free = min(m->first_free, blk);
	}
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
void remap_event(struct remap_c *rc)
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
		unsigned long b, from;

		if (!m->dev || (skip & BIT_ULL(i)) || !m->spare_blocks || m->draining || m->failed ||
		    m->spare_used >= m->spare_blocks)
			continue;
		/*
		 * Not from block 0 each time: with 1M blocks taken that scan of
		 * 16k words was 8% of a remapping write's time.
		 */
		from = max(m->alloc_from, m->first_free);
		b = find_next_zero_bit(m->spare_map, m->spare_blocks, from);
		if (b >= m->spare_blocks) {
			from = m->first_free;
			b = find_next_zero_bit(m->spare_map, m->spare_blocks, from);
		}
		if (b >= m->spare_blocks)
			continue;
		set_bit(b, m->spare_map);
		/* The search from first_free found everything before @b taken. */
		if (from == m->first_free)
			m->first_free = b + 1;
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
	void *e = xa_load(rc->table, blk);
	int r;

	if (e && entry_busy(e))
		return 0;
	if (WARN_ON_ONCE(up->nr_busy == ARRAY_SIZE(up->busy)))
		return -EBUSY;
	/* Reserved first, the store below allocates nothing. */
	r = e ? 0 : xa_room(rc->table, blk);
	if (r)
		return r;
	xa_store(rc->table, blk, xa_mk_value((e ? xa_to_value(e) : DMR_ENTRY_FREE) | ENTRY_BUSY), GFP_NOIO);
	up->busy[up->nr_busy++] = blk;
	io_barrier(rc);
	return 0;
}

static void busy_end(struct remap_c *rc, u64 blk)
{
	void *e = xa_load(rc->table, blk);

	if (!e || !entry_busy(e))
		return;
	if (entry_state(e) == DMR_ENTRY_FREE)
		xa_erase(rc->table, blk);
	else
		xa_store(rc->table, blk, xa_mk_value(xa_to_value(e) & ~ENTRY_BUSY), GFP_NOIO);
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
		if (xa_room(rc->retired, (u64)idx << 32 | sblk))
			up->err = -ENOMEM;
	} else if (xa_room(rc->table, blk)) {
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
				xa_release(rc->retired, (u64)f.idx << 32 | f.sblk);
			else
				xa_release(rc->table, f.blk);
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

/*
 * Synchronous I/O of the worker on data and spare blocks, on a buffer from
 * kmalloc, kvmalloc or a page. Not dm-io: it reduces every failure to EIO,
 * and the worker must tell a medium error from a device that timed out.
 */
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
	if (flags & REMAP_COUNT) {
		atomic64_inc(&rc->remap_events);
		DMWARN_LIMIT("%s: block %llu (sector %llu of %s) failed a write: remapped to block %u of member %u",
			     dm_device_name(dm_table_get_md(rc->ti->table)), (unsigned long long)blk,
			     (unsigned long long)data_sector(rc, blk), rc->members[0].dev->name, sblk, idx);
	}
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
	DMWARN_LIMIT("%s: block %llu (sector %llu of %s) is unreadable: pending until written",
		     dm_device_name(dm_table_get_md(rc->ti->table)), (unsigned long long)blk,
		     (unsigned long long)data_sector(rc, blk), rc->members[0].dev->name);
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

		xa_for_each(rc->table, key, e) {
			if (entry_state(e) != DMR_ENTRY_REMAPPED || entry_index(e) != xi)
				continue;
			xa_store(rc->table, key, xa_mk_value(xa_to_value(e) | ENTRY_BUSY), GFP_NOIO);
			batch[n++] = key;
			if (n == REMAP_EVACUATE_BATCH)
				break;
		}
		if (WARN_ON_ONCE(!n))
			return -EUCLEAN;
		io_barrier(rc);
		for (i = 0; i < n && !r; i++) {
			/*
			 * Each block, not each batch: a suspend (a canceled
			 * job) waits for one block's move at most, never for
			 * the rest of a batch.
			 */
			if (READ_ONCE(rc->suspended)) {
				r = -EINTR;
				break;
			}
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
	sb = sb_alloc(GFP_NOIO);
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
	sb->generation = cpu_to_le64(rc->md.generation + 1);
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
	m->sb_generation = rc->md.generation + 1;
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
	rc->md.failed_mask = member_blocks(rc, rc->member_table, rc->md.nblocks);
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
	sb = sb_alloc(GFP_NOIO);
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
	xa_for_each(rc->retired, key, e)
		if (key >> 32 == req->index) {
			xa_erase(rc->retired, key);
			atomic_dec(&rc->nr_retired);
		}
	/*
	 * No longer a member: nothing on it may pass for one. A failed member
	 * is not written (it may hang); its generation is behind for good.
	 */
	memset(sb, 0, sizeof(*sb));
	if (m->dev && !m->failed &&
	    (sb_io(rc, m->dev->bdev, 0, sb, REQ_OP_WRITE | REQ_SYNC | REQ_FUA) ||
	     sb_io(rc, m->dev->bdev, 1, sb, REQ_OP_WRITE | REQ_SYNC | REQ_FUA)))
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
	rc->md.failed_mask = member_blocks(rc, rc->member_table, rc->md.nblocks);
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
	if (rc->md.seq - rc->md.snapshot_seq > rc->journal_blocks / 2 && bio_list_empty(&rc->deferred) &&
	    md_compact(rc))
		DMERR_LIMIT("%s: compaction failed", dm_device_name(dm_table_get_md(rc->ti->table)));
	/* A spare that failed where nothing was committed since (or in that compaction). */
	if (rc->md.fail_pending)
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

/* Every constructed table, to find the one a new table replaces (take_over()). */
static LIST_HEAD(remap_tables);
static DEFINE_MUTEX(remap_tables_lock);

static void remap_free(struct remap_c *rc)
{
	struct remap_member *m;

	mutex_lock(&remap_tables_lock);
	list_del(&rc->tables);
	mutex_unlock(&remap_tables_lock);
	if (rc->wq)
		destroy_workqueue(rc->wq);
	cancel_work_sync(&rc->uevent);
	free_percpu(rc->io);
	if (rc->table)
		xa_destroy(rc->table);
	if (rc->retired)
		xa_destroy(rc->retired);
	kfree(rc->table);
	kfree(rc->retired);
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
	rc->md.generation = le64_to_cpu(sb->generation);
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
	if (le64_to_cpu(sb->generation) > rc->md.generation) {
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
	/* Until its first resume: a message must not reach the worker before then. */
	rc->suspended = true;
	/* Spare devices may hold writes of the table this one replaces, unflushed. */
	atomic_set(&rc->spare_writes, 1);
	INIT_LIST_HEAD(&rc->tables);
	/* Before anything can fail: remap_free cancels the works. */
	mutex_init(&rc->msg_lock);
	mutex_init(&rc->members_lock);
	spin_lock_init(&rc->lock);
	bio_list_init(&rc->deferred);
	bio_list_init(&rc->batch);
	bio_list_init(&rc->redo);
	INIT_LIST_HEAD(&rc->requests);
	INIT_WORK(&rc->worker, remap_worker);
	INIT_WORK(&rc->uevent, remap_uevent);
	rc->table = kmalloc(sizeof(*rc->table), GFP_KERNEL);
	if (rc->table)
		xa_init(rc->table);
	rc->retired = kmalloc(sizeof(*rc->retired), GFP_KERNEL);
	if (rc->retired)
		xa_init(rc->retired);
	if (!rc->table || !rc->retired) {
		ti->error = "Cannot allocate the remap table";
		r = -ENOMEM;
		goto bad;
	}
	for (i = 0; i < DMR_MAX_MEMBERS; i++)
		rc->members[i].newest_slot = -1;
	sb = sb_alloc(GFP_KERNEL);
	rc->md_block = kmalloc(DMR_MD_BLOCK_SIZE, GFP_KERNEL);
	rc->sb_scratch = sb_alloc(GFP_KERNEL);
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
	mutex_lock(&remap_tables_lock);
	list_add(&rc->tables, &remap_tables);
	mutex_unlock(&remap_tables_lock);
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

/*
 * How many blocks from @first (entry @e) up to @last one clone may take:
 * a run whose spare blocks follow each other on one live member. Split
 * per block, a 1M I/O on remapped blocks ran at a third of the spare
 * device's speed (docs/PERFORMANCE.md). Anything else is one block: the
 * worker, a kill or the data device take it alone. Reading the run is as
 * safe as reading @e: the bio is counted, so io_barrier() waits for it
 * before the worker changes any of these entries.
 */
static unsigned long spare_run(struct remap_c *rc, struct bio *bio, void *e, unsigned long first,
			       unsigned long last)
{
	XA_STATE(xas, rc->table, first);
	struct remap_member *m = &rc->members[entry_index(e)];
	unsigned long n = 1;
	void *x;

	if (entry_state(e) != DMR_ENTRY_REMAPPED || entry_busy(e) || bio_op(bio) == REQ_OP_DISCARD ||
	    !m->dev || READ_ONCE(m->failed))
		return 1;
	rcu_read_lock();
	xas_load(&xas);
	for (; first + n <= last; n++) {
		x = xas_next(&xas);
		/* The same state and member, the next spare block; not busy (a carry out of the block lands there). */
		if (!xa_is_value(x) || xa_to_value(x) != xa_to_value(e) + (n << 8) || entry_busy(x))
			break;
	}
	rcu_read_unlock();
	return n;
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
	if (likely(xa_empty(rc->table)) || unlikely(!bio_sectors(bio)))
		return map_data(rc, bio, pb);

	first = pb->start >> rc->block_shift;
	last = (pb->start + bio_sectors(bio) - 1) >> rc->block_shift;
	index = first;
	e = xa_find(rc->table, &index, last, XA_PRESENT);
	if (!e)
		return map_data(rc, bio, pb);
	if (index > first) {
		/* Up to the first remapped block on the data device; DM sends the rest again. */
		dm_accept_partial_bio(bio, (index << rc->block_shift) - pb->start);
		return map_data(rc, bio, pb);
	}
	in_block = pb->start & ((1 << rc->block_shift) - 1);
	if (last > first)
		dm_accept_partial_bio(bio, (spare_run(rc, bio, e, first, last) << rc->block_shift) - in_block);

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
	if (likely(bio_op(bio) == REQ_OP_READ) && likely(xa_empty(rc->table))) {
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
 * The table this one replaces on the same device, if it ran and holds the
 * same set with the same members: device-mapper has suspended it and swapped
 * this one in, and destroys it once this resume is over. Caller holds
 * remap_tables_lock.
 */
static struct remap_c *replaced_table(struct remap_c *rc)
{
	struct mapped_device *md = dm_table_get_md(rc->ti->table);
	struct remap_c *old;
	unsigned int i;

	list_for_each_entry(old, &remap_tables, tables) {
		if (old == rc || dm_table_get_md(old->ti->table) != md || !old->resumed ||
		    !READ_ONCE(old->suspended))
			continue;
		if (memcmp(old->set_uuid, rc->set_uuid, sizeof(rc->set_uuid)) || old->read_only != rc->read_only ||
		    old->block_size != rc->block_size || old->data_offset != rc->data_offset ||
		    old->data_sectors != rc->data_sectors || old->max_entries != rc->max_entries ||
		    old->md_offset != rc->md_offset || old->md_copy_sectors != rc->md_copy_sectors)
			return NULL;
		for (i = 0; i < DMR_MAX_MEMBERS; i++) {
			struct remap_member *o = &old->members[i], *n = &rc->members[i];

			if (!o->dev != !n->dev || (o->dev && o->dev->bdev != n->dev->bdev) || o->missing != n->missing ||
			    o->spare_offset != n->spare_offset || o->spare_blocks != n->spare_blocks)
				return NULL;
		}
		return old;
	}
	return NULL;
}

/*
 * Takes over the state of the table this one replaces: all its commits are
 * durable, so it is what the disk says, or newer than what a read can prove
 * (its metadata may have become unreadable since). No I/O and no allocation:
 * a resume that takes over cannot fail. @old gets this table's state, which
 * its destructor frees.
 */
static bool take_over(struct remap_c *rc)
{
	struct remap_c *old;
	unsigned int i;

	mutex_lock(&remap_tables_lock);
	old = replaced_table(rc);
	if (!old) {
		mutex_unlock(&remap_tables_lock);
		return false;
	}
	mutex_lock(&rc->members_lock);
	for (i = 0; i < DMR_MAX_MEMBERS; i++) {
		struct remap_member *o = &old->members[i], *n = &rc->members[i];

		swap(*o, *n);
		/* Each table keeps the devices it holds a reference on. */
		swap(o->dev, n->dev);
	}
	swap(rc->table, old->table);
	swap(rc->retired, old->retired);
	swap(rc->member_table, old->member_table);
	rc->md = old->md;
	rc->exhausted = old->exhausted;
	rc->spare_level = old->spare_level;
	rc->pending_retry = old->pending_retry;
	rc->dirty |= old->dirty;
	atomic_set(&rc->spare_writes, atomic_read(&old->spare_writes));
	rc->flushed_writes = old->flushed_writes;
	atomic_set(&rc->nr_remapped, atomic_read(&old->nr_remapped));
	atomic_set(&rc->nr_pending, atomic_read(&old->nr_pending));
	atomic_set(&rc->nr_retired, atomic_read(&old->nr_retired));
	/* The error and event counters count for each table: they start at zero. */
	/* @old must not offer its state to another table. */
	old->resumed = false;
	mutex_unlock(&rc->members_lock);
	mutex_unlock(&remap_tables_lock);
	/* list_remaps may still walk the table this one loaded, which @old now frees. */
	synchronize_rcu();
	return true;
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
	if (take_over(rc)) {
		/* Failed members its last commit could not record yet. */
		if (!rc->read_only && rc->md.fail_pending)
			fail_commit(rc);
		memalloc_noio_restore(noio);
		rc->resumed = true;
		return 0;
	}
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
		if (rc->md.stale && md_resync(rc, &error))
			DMERR("%s: %s", dm_device_name(dm_table_get_md(ti->table)), error);
	}
	if (!r && !rc->read_only) {
		degraded_start(rc);
		/* A member that failed bringing the others up to date. */
		if (rc->md.fail_pending)
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
		       rc->md.degraded ? "degraded" : "ok", rc->block_size, atomic_read(&rc->nr_remapped),
		       atomic_read(&rc->nr_pending), used, total, atomic64_read(&rc->read_errors),
		       atomic64_read(&rc->write_errors), atomic64_read(&rc->remap_events),
		       atomic64_read(&rc->healed), atomic64_read(&rc->device_errors), rc->exhausted, missing > 0,
		       unavailable, READ_ONCE(rc->md.seq));
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
	xa_for_each_start(rc->table, index, e, index) {
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

/*
 * The member's superblocks were written from here, which udev's inotify
 * watch does not see (no close after a write): a change uevent has it
 * probe the device again, so its database follows (a member now, or no
 * longer), without userspace needing write access to sysfs.
 */
static void member_changed(struct dm_dev *dev)
{
	kobject_uevent(bdev_kobj(dev->bdev), KOBJ_CHANGE);
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
	sb = sb_alloc(GFP_KERNEL);
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
	member_changed(req.dev);
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
	if (req.dev) {
		member_changed(req.dev);
		dm_put_device(rc->ti, req.dev);
	}
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
		e = xa_load(rc->table, blk);
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
