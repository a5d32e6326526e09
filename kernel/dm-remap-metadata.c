// SPDX-License-Identifier: GPL-2.0-only
/*
 * dm-remap metadata: superblocks, the mirrored snapshot slots and journal
 * ring of every member, loading the newest complete state, commits,
 * compaction, membership changes and failed members (docs/FORMAT.md). The
 * target calls it from its constructor, its worker and its first resume
 * only, so metadata is read and written from one context at a time.
 */
#include "dm-remap.h"
#include "dm-remap-metadata.h"

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

/* Superblock copy @copy of @bdev, through dm-io like all metadata I/O. */
int sb_io(struct remap_c *rc, struct block_device *bdev, unsigned int copy, void *sb, blk_opf_t opf)
{
	struct dm_io_region where = { bdev, DMR_SB_SECTOR(copy), DMR_MD_BLOCK_SECTORS };
	struct dm_io_request req = { .bi_opf = opf, .client = rc->io_client };
	unsigned long bits = 0;

	md_mem(&req, sb);
	return dm_io(&req, 1, &where, &bits, IOPRIO_DEFAULT);
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
	int r = sb_io(rc, dev->bdev, copy, sb, REQ_OP_READ | REQ_META);

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

bool sb_usable(int r)
{
	return !r || r == -EROFS;
}

/*
 * The valid copy with the higher generation: one damaged copy is survivable.
 * @sb has room for two superblocks (sb_alloc), the second is scratch: a
 * resume reads superblocks, and must not fail for want of memory.
 */
int read_member_sb(struct remap_c *rc, struct dm_dev *dev, struct dmr_superblock_disk *sb)
{
	struct dmr_superblock_disk *other = sb + 1;
	int r0, r1;

	r0 = read_superblock(rc, dev, 0, sb);
	r1 = read_superblock(rc, dev, 1, other);
	if (sb_usable(r1) && (!sb_usable(r0) || le64_to_cpu(other->generation) > le64_to_cpu(sb->generation))) {
		memcpy(sb, other, sizeof(*sb));
		r0 = r1;
	}
	return r0;
}

const char *sb_error(int r)
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
int sb_write(struct remap_c *rc, struct block_device *bdev, struct dmr_superblock_disk *sb)
{
	unsigned int copy;
	int r;

	for (copy = 0; copy < DMR_SB_COPIES; copy++) {
		sb->sb_copy = cpu_to_le32(copy);
		sb->sb_location = cpu_to_le64(DMR_SB_SECTOR(copy));
		sb->csum = cpu_to_le32(block_csum(sb));
		r = sb_io(rc, bdev, copy, sb, REQ_OP_WRITE | REQ_META | REQ_SYNC | REQ_PREFLUSH | REQ_FUA);
		if (r && copy) {
			DMWARN("%pg: superblock copy 1 could not be written (%d)", bdev, r);
			rc->md.degraded = true;
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
	sb->generation = cpu_to_le64(rc->md.generation);
	r = sb_write(rc, m->dev->bdev, sb);
	if (!r)
		m->sb_generation = rc->md.generation;
	return r;
}

/* ---------------------------------------------------------------------------
 * Metadata: loading
 */

struct entry_fields entry_decode(const struct dmr_entry_disk *d)
{
	return (struct entry_fields){ le16_to_cpu(d->state), le64_to_cpu(d->data_block),
				      le16_to_cpu(d->spare_index), le32_to_cpu(d->spare_block) };
}

/*
 * Spare blocks of each member index under member table @t (0: no such
 * member); returns the members it marks failed.
 */
u64 member_blocks(struct remap_c *rc, const u8 *table, u32 *nblocks)
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
		return xa_err(xa_store(rc->retired, (u64)f.idx << 32 | f.sblk, xa_mk_value(1), GFP_NOIO));
	case DMR_ENTRY_REMAPPED:
		atomic_inc(&rc->nr_remapped);
		rc->members[f.idx].live++;
		break;
	default:
		atomic_inc(&rc->nr_pending);
	}
	return xa_err(xa_store(rc->table, f.blk, entry_mk(f.state, f.idx, f.sblk), GFP_NOIO));
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
	    le64_to_cpu(h->generation) != rc->md.generation || le32_to_cpu(h->nr_entries) > rc->max_entries)
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
	memcpy(rc->md.nblocks, nblocks, sizeof(nblocks));
	rc->md.failed_mask = failed;
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
	       !memcmp(j->set_uuid, rc->set_uuid, 16) && le64_to_cpu(j->generation) == rc->md.generation &&
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

	if (!entry_valid(rc, u, true, rc->md.nblocks, rc->md.failed_mask))
		return -EUCLEAN;
	if (f.state == DMR_ENTRY_RETIRED) {
		u64 key = (u64)f.idx << 32 | f.sblk;

		/*
		 * Blocks are marked only by entries and retired locations, so a
		 * marked block that is not retired is the old location of the
		 * entry this record moves.
		 */
		if (xa_load(rc->retired, key))
			return -EUCLEAN;
		if (!reserved)
			spare_mark(rc, f.idx, f.sblk);
		rc->members[f.idx].spare_failing = true;
		atomic_inc(&rc->nr_retired);
		return xa_err(xa_store(rc->retired, key, xa_mk_value(1), GFP_NOIO));
	}
	old = entry_get(rc, f.blk);
	if (f.state == DMR_ENTRY_REMAPPED && !reserved && !spare_mark(rc, f.idx, f.sblk))
		return -EUCLEAN;
	if (old && entry_state(old) == DMR_ENTRY_REMAPPED) {
		/* The old location is kept only if a retired entry says so. */
		if (!xa_load(rc->retired, (u64)entry_index(old) << 32 | entry_block(old)))
			spare_release(rc, entry_index(old), entry_block(old));
		rc->members[entry_index(old)].live--;
		atomic_dec(&rc->nr_remapped);
	} else if (old) {
		atomic_dec(&rc->nr_pending);
	}
	if (f.state == DMR_ENTRY_FREE) {
		if (!old)
			return -EUCLEAN;
		xa_erase(rc->table, f.blk);
		return 0;
	}
	if (f.state == DMR_ENTRY_REMAPPED) {
		atomic_inc(&rc->nr_remapped);
		rc->members[f.idx].live++;
	} else {
		atomic_inc(&rc->nr_pending);
	}
	return xa_err(xa_store(rc->table, f.blk, entry_mk(f.state, f.idx, f.sblk), GFP_NOIO));
}

static void md_clear(struct remap_c *rc)
{
	struct remap_member *m;

	xa_destroy(rc->table);
	xa_destroy(rc->retired);
	for (m = rc->members; m < rc->members + DMR_MAX_MEMBERS; m++) {
		if (m->spare_map)
			bitmap_zero(m->spare_map, m->spare_blocks);
		m->spare_used = 0;
		m->spare_failing = false;
		m->alloc_from = 0;
		m->first_free = 0;
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
		/* A flag this module does not know may mean "do not use" (as F_FAILED does). */
		if (le32_to_cpu(t[i].flags) & ~DMR_MEMBER_F_ALL) {
			*error = "The member table has flags this module does not know";
			return -EPROTONOSUPPORT;
		}
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
int md_load(struct remap_c *rc, bool resync, char **error)
{
	struct remap_member *src = NULL, *m;
	const char *dev = dm_device_name(dm_table_get_md(rc->ti->table));
	struct dmr_journal_disk *j = rc->md_chunk;
	struct md_damage dmg = {};
	u64 best_snap = 0, seq, orphan;
	unsigned int i;
	int r;

	md_clear(rc);
	rc->md.stale = false;
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
	rc->md.seq = seq - 1;
	rc->md.snapshot_seq = best_snap;
	if (md_find_orphan(rc, rc->md.seq, &m, &orphan)) {
		DMERR("%s: %s: journal record %llu found beyond the end of the history at %llu",
		      dev, m->dev->name, (unsigned long long)orphan, (unsigned long long)rc->md.seq);
		*error = "Metadata journal has a hole: a valid record lies beyond the end of the history";
		return -EUCLEAN;
	}
	/*
	 * Behind: an older snapshot (a crash during compaction: its ring still
	 * needs records the next commits would overwrite), a missing record, a
	 * damaged copy, or a superblock of an older generation.
	 */
	for_each_live(rc, m)
		rc->md.stale |= m->stale || m->snap_seq != best_snap || m->sb_generation != rc->md.generation;
	if ((u64)atomic_read(&rc->nr_remapped) + atomic_read(&rc->nr_pending) + atomic_read(&rc->nr_retired) >
	    rc->max_entries) {
		*error = "Metadata holds more entries than its capacity";
		return -EUCLEAN;
	}
	return resync && rc->md.stale ? md_resync(rc, error) : 0;
}

/* ---------------------------------------------------------------------------
 * Metadata: commits (worker only)
 */

/*
 * Leaves spare @m out of the set from now on (nothing more is sent to it);
 * fail_commit() records that. The data member cannot be left out: once its
 * metadata cannot be written anywhere, commits go on on the spares alone,
 * until a compaction (the next membership change at the latest) writes it
 * whole again.
 */
void member_fail(struct remap_c *rc, struct remap_member *m, const char *why)
{
	const char *dev = dm_device_name(dm_table_get_md(rc->ti->table));

	if (m == rc->members) {
		if (!rc->md.anchor_failed)
			DMERR("%s: %s: %s: the data member's metadata is no longer written", dev, m->dev->name, why);
		rc->md.anchor_failed = true;
		rc->md.degraded = true;
		return;
	}
	if (m->failed)
		return;
	DMERR("%s: %s: %s: left out of the set; its blocks read EIO until written", dev, m->dev->name, why);
	WRITE_ONCE(m->failed, true);
	rc->md.fail_pending = true;
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
int fail_commit(struct remap_c *rc)
{
	struct dmr_member_disk *t = (void *)rc->member_table;
	unsigned long key;
	unsigned int i;
	void *e;
	int r = 0;

	while (rc->md.fail_pending && !r) {
		rc->md.fail_pending = false;
		xa_for_each(rc->table, key, e) {
			struct remap_member *m = &rc->members[entry_index(e)];

			if (entry_state(e) != DMR_ENTRY_REMAPPED || !m->failed)
				continue;
			m->live--;
			atomic_dec(&rc->nr_remapped);
			atomic_inc(&rc->nr_pending);
			/* Replaces a present entry: allocates nothing. */
			xa_store(rc->table, key,
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
		rc->md.fail_pending = true;
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

/* Adds an entry to the chunk; true when the chunk is full and must be written. */
static bool stream_add(struct snap_stream *st, u64 blk, unsigned int state, u16 idx, u32 sblk)
{
	struct dmr_entry_disk *d = (struct dmr_entry_disk *)st->rc->md_chunk + st->fill;

	d->data_block = cpu_to_le64(blk);
	d->state = cpu_to_le16(state);
	d->spare_index = cpu_to_le16(idx);
	d->spare_block = cpu_to_le32(sblk);
	st->n++;
	return ++st->fill == REMAP_MD_CHUNK / sizeof(*d);
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
	XA_STATE(xas, rc->table, 0);
	unsigned long key;
	bool full;
	void *e;

	if (md_write(rc, mask, s + DMR_MD_BLOCK_SECTORS, rc->member_table, DMR_MEMBER_TABLE_BLOCKS * DMR_MD_BLOCK_SIZE,
		     REQ_OP_WRITE))
		return -EIO;
	/*
	 * One walk of the table: xa_for_each() starts again from the root for
	 * every entry, which was two thirds of a compaction's time at 1M
	 * remaps (docs/PERFORMANCE.md). Only this worker changes the table,
	 * so pausing the walk while a chunk is written misses nothing.
	 */
	rcu_read_lock();
	xas_for_each(&xas, e, ULONG_MAX) {
		if (xas_retry(&xas, e))
			continue;
		if (entry_state(e) == DMR_ENTRY_REMAPPED)
			full = stream_add(&st, xas.xa_index, DMR_ENTRY_REMAPPED, entry_index(e), entry_block(e));
		else if (entry_state(e) == DMR_ENTRY_PENDING)
			full = stream_add(&st, xas.xa_index, DMR_ENTRY_PENDING, DMR_NO_MEMBER, entry_block(e));
		else
			continue;
		if (full) {
			xas_pause(&xas);
			rcu_read_unlock();
			stream_write(&st);
			cond_resched();
			rcu_read_lock();
		}
	}
	rcu_read_unlock();
	/* Retired blocks of a member leaving the set leave with it. */
	xa_for_each(rc->retired, key, e)
		if (le16_to_cpu(t[key >> 32].role) != DMR_ROLE_NONE &&
		    stream_add(&st, DMR_NO_BLOCK, DMR_ENTRY_RETIRED, key >> 32, key & 0xffffffff))
			stream_write(&st);
	stream_write(&st);
	if (st.err)
		return st.err;
	memset(h, 0, sizeof(*h));
	h->magic = cpu_to_le64(DMR_SNAP_MAGIC);
	h->slot = cpu_to_le32(slot);
	memcpy(h->set_uuid, rc->set_uuid, 16);
	h->seq = cpu_to_le64(rc->md.seq);
	h->generation = cpu_to_le64(rc->md.generation);
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
int md_compact(struct remap_c *rc)
{
	unsigned int ok = 0;
	int i;

	for (i = DMR_MAX_MEMBERS - 1; i >= 0; i--) {
		struct remap_member *m = &rc->members[i];

		if (!m->dev || m->failed)
			continue;
		if (md_snapshot(rc, m)) {
			member_fail(rc, m, "metadata snapshot write failed");
			continue;
		}
		if (!i && rc->md.anchor_failed) {
			/*
			 * A data member whose metadata writes failed for a while
			 * (a reset, a cable) is whole again: this snapshot holds
			 * all that the records it missed did.
			 */
			rc->md.anchor_failed = false;
			DMINFO("%s: %s: the data member's metadata is written again",
			       dm_device_name(dm_table_get_md(rc->ti->table)), m->dev->name);
		}
		ok++;
	}
	if (!ok)
		return -EIO;
	rc->md.snapshot_seq = rc->md.seq;
	return 0;
}

/*
 * A fresh snapshot everywhere, into every copy: no member stays behind,
 * and a damaged copy is whole again.
 */
int md_resync(struct remap_c *rc, char **error)
{
	struct remap_member *m;
	int r;

	r = md_compact(rc);
	if (r) {
		*error = "Cannot bring stale members up to date";
		return r;
	}
	rc->md.stale = false;
	for_each_live(rc, m) {
		if (m->sb_generation == rc->md.generation)
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
int flush_members(struct remap_c *rc, u64 mask)
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
int md_commit(struct remap_c *rc, struct dmr_entry_disk *u, unsigned int nr)
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
	if (rc->md.seq + 1 - rc->md.snapshot_seq > rc->journal_blocks) {
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
	seq = rc->md.seq + 1;
	memset(j, 0, sizeof(*j));
	j->magic = cpu_to_le64(DMR_JOURNAL_MAGIC);
	j->nr_updates = cpu_to_le32(nr);
	memcpy(j->set_uuid, rc->set_uuid, 16);
	j->seq = cpu_to_le64(seq);
	j->generation = cpu_to_le64(rc->md.generation);
	memcpy(j->updates, u, nr * sizeof(*u));
	j->csum = cpu_to_le32(block_csum(j));
	for (i = 0; i < DMR_MAX_MEMBERS; i++)
		if (rc->members[i].dev && !rc->members[i].failed && (i || !rc->md.anchor_failed))
			mask |= BIT_ULL(i);
	/* Just flushed: FUA alone makes the record durable after the data. */
	failed = md_write(rc, mask, journal_off(rc, seq), j, DMR_MD_BLOCK_SIZE, REQ_OP_WRITE | REQ_FUA);
	for (i = 0; i < DMR_MAX_MEMBERS; i++)
		if (failed & BIT_ULL(i))
			member_fail(rc, &rc->members[i], "metadata journal write failed");
	if (failed == mask)
		return -EIO;
	rc->md.seq = seq;
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
	if (!rc->md.fail_pending || fail_commit(rc))
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
int md_config_commit(struct remap_c *rc, struct dmr_superblock_disk *sb)
{
	u64 snapshot_seq = rc->md.snapshot_seq;
	int slots[DMR_MAX_MEMBERS];
	struct remap_member *m;
	int i, r;

	for (i = 0; i < DMR_MAX_MEMBERS; i++)
		slots[i] = rc->members[i].newest_slot;
	rc->md.generation++;
	rc->md.seq++;
	/* The commit point is the data member's superblock: its snapshot must be there. */
	r = md_compact(rc);
	if (!r && rc->md.anchor_failed)
		r = -EIO;
	if (!r)
		r = sb_set_generation(rc, &rc->members[0], sb);
	if (r) {
		rc->md.generation--;
		rc->md.seq--;
		rc->md.snapshot_seq = snapshot_seq;
		for (i = 0; i < DMR_MAX_MEMBERS; i++)
			rc->members[i].newest_slot = slots[i];
		return r;
	}
	for_each_live(rc, m)
		if (!m->draining && m->sb_generation != rc->md.generation && sb_set_generation(rc, m, sb))
			member_fail(rc, m, "superblock write failed");
	rc->md.failed_mask = member_blocks(rc, rc->member_table, rc->md.nblocks);
	remap_event(rc);
	return 0;
}

/*
 * Metadata blocks stay allocated when zeroed: on a loop device over an image
 * (or thin storage) an unmap punches a hole, and the next commit into it
 * could then fail for want of room exactly while the disk is dying.
 */
#define MD_ZERO_FLAGS	BLKDEV_ZERO_NOUNMAP

/* Zeroes @m's journal ring in every copy. */
static int md_zero_journal(struct remap_c *rc, struct remap_member *m)
{
	unsigned int c;
	int r = 0;

	for (c = 0; c < rc->md_copies && !r; c++)
		r = blkdev_issue_zeroout(m->dev->bdev, md_sector(rc, c, slot_off(rc, 2)),
					 (sector_t)rc->journal_blocks * DMR_MD_BLOCK_SECTORS, GFP_NOIO, MD_ZERO_FLAGS);
	return r;
}

/* Zeroes what a former life of a new member could leave: slot headers and the journal, every copy. */
int md_wipe(struct remap_c *rc, struct remap_member *m)
{
	struct block_device *bdev = m->dev->bdev;
	unsigned int c;
	int r = 0;

	for (c = 0; c < rc->md_copies && !r; c++)
		r = blkdev_issue_zeroout(bdev, md_sector(rc, c, slot_off(rc, 0)), DMR_MD_BLOCK_SECTORS, GFP_NOIO,
					 MD_ZERO_FLAGS) ?:
		    blkdev_issue_zeroout(bdev, md_sector(rc, c, slot_off(rc, 1)), DMR_MD_BLOCK_SECTORS, GFP_NOIO,
					 MD_ZERO_FLAGS);
	return r ?: md_zero_journal(rc, m);
}

/*
 * The table this one replaces may have changed the membership after this
 * one was loaded (a spare failed, a degraded start): take the generation
 * in force from the superblocks again, so that the load that follows
 * reads the member table that goes with it. A member that no longer
 * answers keeps what the constructor read; the load leaves it out if the
 * set marked it failed.
 */
int reread_generation(struct remap_c *rc, bool *moved, char **error)
{
	struct dmr_superblock_disk *sb = rc->sb_scratch;
	struct remap_member *m;
	int r = 0;

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
		if (m != rc->members)
			continue;
		/* Unchanged: what the constructor read of the spares still holds. */
		if (m->sb_generation == rc->md.generation)
			break;
		rc->md.generation = m->sb_generation;
		*moved = true;
	}
	return r;
}

/*
 * Did a table replaced by this one commit after this one loaded? Every
 * commit after seq writes record seq + 1's ring block, and any later one
 * there has a higher seq; a compaction is always followed by a record.
 */
bool md_moved_on(struct remap_c *rc)
{
	struct dmr_journal_disk *j = rc->md_block;
	struct remap_member *m;
	unsigned int c;

	for_each_live(rc, m)
		for (c = 0; c < rc->md_copies; c++)
			/* Unreadable: it may hold a commit, so read it all again and let the load decide. */
			if (md_read_copy(rc, m, c, journal_off(rc, rc->md.seq + 1), j, DMR_MD_BLOCK_SIZE) ||
			    (record_valid(rc, j, journal_pos(rc, rc->md.seq + 1)) && le64_to_cpu(j->seq) > rc->md.seq))
				return true;
	return false;
}

/*
 * A start without some spares opens a new generation before anything is
 * written: a spare that comes back later carries an older one, so its
 * metadata, however long its history, is never read, only overwritten. A
 * failure here is logged, not fatal: the device must not stay suspended.
 */
void degraded_start(struct remap_c *rc)
{
	struct remap_member *m;

	for (m = rc->members; m < rc->members + DMR_MAX_MEMBERS; m++)
		if (m->missing)
			break;
	if (m != rc->members + DMR_MAX_MEMBERS && md_config_commit(rc, rc->sb_scratch))
		DMERR("%s: cannot open a new generation for a degraded start",
		      dm_device_name(dm_table_get_md(rc->ti->table)));
}
