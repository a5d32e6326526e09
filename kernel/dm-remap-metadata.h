/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * What the target calls in dm-remap-metadata.c. Commits and membership
 * changes run in the worker only; loading in the constructor or the first
 * resume, before the worker runs.
 */
#ifndef DM_REMAP_METADATA_H
#define DM_REMAP_METADATA_H

#include "dm-remap.h"

/* An on-disk entry in host order. */
struct entry_fields {
	unsigned int state;
	u64 blk;
	u16 idx;
	u32 sblk;
};

void degraded_start(struct remap_c *rc);
struct entry_fields entry_decode(const struct dmr_entry_disk *d);
int fail_commit(struct remap_c *rc);
int flush_members(struct remap_c *rc, u64 mask);
int md_commit(struct remap_c *rc, struct dmr_entry_disk *u, unsigned int nr);
int md_compact(struct remap_c *rc);
int md_config_commit(struct remap_c *rc, struct dmr_superblock_disk *sb);
int md_load(struct remap_c *rc, bool resync, char **error);
bool md_moved_on(struct remap_c *rc);
int md_resync(struct remap_c *rc, char **error);
int md_wipe(struct remap_c *rc, struct remap_member *m);
u64 member_blocks(struct remap_c *rc, const u8 *table, u32 *nblocks);
void member_fail(struct remap_c *rc, struct remap_member *m, const char *why);
/* A superblock buffer with the scratch room read_member_sb needs. */
static inline struct dmr_superblock_disk *sb_alloc(gfp_t gfp)
{
	return kmalloc_array(2, sizeof(struct dmr_superblock_disk), gfp);
}
int read_member_sb(struct remap_c *rc, struct dm_dev *dev, struct dmr_superblock_disk *sb);
int reread_generation(struct remap_c *rc, bool *moved, char **error);
const char *sb_error(int r);
bool sb_usable(int r);
int sb_write(struct remap_c *rc, struct block_device *bdev, struct dmr_superblock_disk *sb);
int sb_io(struct remap_c *rc, struct block_device *bdev, unsigned int copy, void *sb, blk_opf_t opf);

#endif /* DM_REMAP_METADATA_H */
