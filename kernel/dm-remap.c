// SPDX-License-Identifier: GPL-2.0-only
/*
 * dm-remap: bad-block remapping onto spare blocks.
 *
 * This first version identifies and validates the members of a set
 * (formatted by dmremapctl format, on-disk format in dm-remap-format.h)
 * and maps I/O straight to the data area. Remapping, the metadata journal
 * and the messages are not implemented yet.
 */
#include "dm-remap-format.h"

#include <linux/bio.h>
#include <linux/blkdev.h>
#include <linux/crc32c.h>
#include <linux/device-mapper.h>
#include <linux/module.h>
#include <linux/slab.h>

#define DM_MSG_PREFIX "remap"

struct remap_member {
	struct dm_dev *dev;
	struct dmr_superblock_disk sb;	/* validated copy, disk byte order */
};

struct remap_c {
	struct dm_target *ti;
	sector_t data_offset;
	sector_t data_sectors;
	unsigned int block_size;
	unsigned int nr_members;	/* data member + spares */
	struct remap_member members[];
};

/*
 * Reads superblock copy @copy of @dev into @sb and checks magic, checksum,
 * version, features and location. Returns 0 or a negative errno.
 */
static int read_superblock(struct dm_dev *dev, unsigned int copy, struct dmr_superblock_disk *sb)
{
	struct page *page;
	struct bio *bio;
	u32 csum;
	int r;

	page = alloc_page(GFP_KERNEL);
	if (!page)
		return -ENOMEM;
	bio = bio_alloc(dev->bdev, 1, REQ_OP_READ | REQ_SYNC | REQ_META, GFP_KERNEL);
	bio->bi_iter.bi_sector = DMR_SB_SECTOR(copy);
	__bio_add_page(bio, page, DMR_MD_BLOCK_SIZE, 0);
	r = submit_bio_wait(bio);
	bio_put(bio);
	if (!r)
		memcpy(sb, page_address(page), sizeof(*sb));
	__free_page(page);
	if (r)
		return r;

	if (le64_to_cpu(sb->magic) != DMR_SB_MAGIC)
		return -EINVAL;
	csum = le32_to_cpu(sb->csum);
	sb->csum = 0;
	if (~crc32c(~0U, sb, sizeof(*sb)) != csum)
		return -EILSEQ;
	sb->csum = cpu_to_le32(csum);
	if (le32_to_cpu(sb->version) < DMR_VERSION_MIN || le32_to_cpu(sb->version) > DMR_VERSION_MAX ||
	    (le32_to_cpu(sb->incompat_flags) & ~DMR_INCOMPAT_SUPP))
		return -EPROTONOSUPPORT;
	if (le32_to_cpu(sb->sb_copy) != copy || le64_to_cpu(sb->sb_location) != DMR_SB_SECTOR(copy))
		return -EINVAL;
	return 0;
}

/* The valid copy with the higher generation; either copy may be damaged. */
static int read_member(struct dm_dev *dev, struct dmr_superblock_disk *sb)
{
	struct dmr_superblock_disk *other;
	int r0, r1;

	other = kmalloc(sizeof(*other), GFP_KERNEL);
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

/*
 * Construct a remap mapping:
 *   <data_dev> <#spares> [<spare_dev>...] [<#opt_args> [<opt_arg>...]]
 *
 * Every member must carry a valid superblock of the same set; the data
 * member comes first, <len> must equal the set's data length. No optional
 * arguments are defined yet.
 */
static int remap_ctr(struct dm_target *ti, unsigned int argc, char **argv)
{
	static const struct dm_arg _args[] = {
		{0, DMR_MAX_MEMBERS - 1, "Invalid number of spare devices"},
		{0, 0, "Invalid number of optional arguments"},
	};
	struct dm_arg_set as = { .argc = argc, .argv = argv };
	struct remap_c *rc;
	const char *path;
	unsigned int nr_spares, nr_opt, i;
	int r;

	if (argc < 2) {
		ti->error = "Expected <data_dev> <#spares> [<spare_dev>...]";
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
	rc = kzalloc(struct_size(rc, members, nr_spares + 1), GFP_KERNEL);
	if (!rc) {
		ti->error = "Cannot allocate context";
		return -ENOMEM;
	}
	rc->ti = ti;

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
		r = read_member(m->dev, &m->sb);
		if (r) {
			ti->error = r == -EILSEQ ? "Member superblock checksum mismatch" :
				    r == -EPROTONOSUPPORT ? "Member format version or features not supported" :
				    "Device is not a dm-remap member (no valid superblock)";
			goto bad;
		}
		if ((le16_to_cpu(m->sb.role) == DMR_ROLE_DATA) != !i) {
			ti->error = i ? "Spare device is the data member of its set" :
				    "First device is not the data member of its set";
			r = -EINVAL;
			goto bad;
		}
		if (i && memcmp(m->sb.set_uuid, rc->members[0].sb.set_uuid, sizeof(m->sb.set_uuid))) {
			ti->error = "Spare device belongs to another set";
			r = -EINVAL;
			goto bad;
		}
	}
	if (as.argc) {
		r = dm_read_arg_group(&_args[1], &as, &nr_opt, &ti->error);
		if (r)
			goto bad;
	}

	rc->data_offset = le64_to_cpu(rc->members[0].sb.data_offset);
	rc->data_sectors = le64_to_cpu(rc->members[0].sb.data_sectors);
	rc->block_size = le32_to_cpu(rc->members[0].sb.block_size);
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
	ti->private = rc;
	ti->num_flush_bios = 1;
	ti->num_discard_bios = 1;
	return 0;

bad:
	while (rc->nr_members)
		dm_put_device(ti, rc->members[--rc->nr_members].dev);
	kfree(rc);
	return r;
}

static void remap_dtr(struct dm_target *ti)
{
	struct remap_c *rc = ti->private;

	while (rc->nr_members)
		dm_put_device(ti, rc->members[--rc->nr_members].dev);
	kfree(rc);
}

static int remap_map(struct dm_target *ti, struct bio *bio)
{
	struct remap_c *rc = ti->private;

	bio_set_dev(bio, rc->members[0].dev->bdev);
	if (bio_sectors(bio) || op_is_zone_mgmt(bio_op(bio)))
		bio->bi_iter.bi_sector = rc->data_offset + dm_target_offset(ti, bio->bi_iter.bi_sector);
	return DM_MAPIO_REMAPPED;
}

static void remap_status(struct dm_target *ti, status_type_t type, unsigned int status_flags,
			 char *result, unsigned int maxlen)
{
	struct remap_c *rc = ti->private;
	unsigned int sz = 0, i;

	switch (type) {
	case STATUSTYPE_INFO:
		DMEMIT("block_size=%u members=%u remapped=0 pending=0", rc->block_size, rc->nr_members);
		break;
	case STATUSTYPE_TABLE:
		DMEMIT("%s %u", rc->members[0].dev->name, rc->nr_members - 1);
		for (i = 1; i < rc->nr_members; i++)
			DMEMIT(" %s", rc->members[i].dev->name);
		break;
	case STATUSTYPE_IMA:
		*result = '\0';
		break;
	}
}

static int remap_iterate_devices(struct dm_target *ti, iterate_devices_callout_fn fn, void *data)
{
	struct remap_c *rc = ti->private;

	return fn(ti, rc->members[0].dev, rc->data_offset, ti->len, data);
}

static struct target_type remap_target = {
	.name = "remap",
	.version = {0, 1, 0},
	.module = THIS_MODULE,
	.ctr = remap_ctr,
	.dtr = remap_dtr,
	.map = remap_map,
	.status = remap_status,
	.iterate_devices = remap_iterate_devices,
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
