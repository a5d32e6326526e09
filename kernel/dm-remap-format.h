/* SPDX-License-Identifier: GPL-2.0-only OR LGPL-2.1-or-later */
/*
 * dm-remap on-disk format, version 1.
 *
 * Shared verbatim by the kernel target and by userspace (libbd_remap,
 * dmremapctl); docs/FORMAT.md is the prose specification of this file.
 * Everything is little-endian, packed, and sized/offset-checked at
 * compile time on both sides so the two can never silently disagree.
 *
 * Member layout (byte offsets):
 *   0        superblock copy 0            (4 KiB)
 *   4 KiB    superblock copy 1            (4 KiB)
 *   8 KiB    metadata area: slot 0, slot 1, journal ring; with
 *            DMR_INCOMPAT_MD_MIRROR that whole sequence twice
 *   ...      data area (data member only, 1 MiB aligned)
 *   ...      spare area (internal spare on the data member, or the
 *            whole rest of a spare member)
 */
#ifndef DM_REMAP_FORMAT_H
#define DM_REMAP_FORMAT_H

#ifdef __KERNEL__
#include <linux/types.h>
#include <linux/stddef.h>
#else
#include <linux/types.h>
#include <stddef.h>
#endif

#ifndef __packed
#define __packed __attribute__((packed))
#endif

#ifdef __cplusplus
#define DMR_STATIC_ASSERT(e, m) static_assert(e, m)
#else
#define DMR_STATIC_ASSERT(e, m) _Static_assert(e, m)
#endif

#define DMR_SECTOR_SHIFT	9
#define DMR_MD_BLOCK_SIZE	4096u	/* unit of all metadata I/O */
#define DMR_MD_BLOCK_SECTORS	(DMR_MD_BLOCK_SIZE >> DMR_SECTOR_SHIFT)

/* On-disk bytes "DM-REMAP", "DMR-SNAP", "DMR-JRNL" read as __le64. */
#define DMR_SB_MAGIC		0x50414d45522d4d44ULL
#define DMR_SNAP_MAGIC		0x50414e532d524d44ULL
#define DMR_JOURNAL_MAGIC	0x4c4e524a2d524d44ULL

#define DMR_VERSION_MIN		1u
#define DMR_VERSION_MAX		1u
#define DMR_VERSION		1u

/*
 * Feature flags. Unknown compat flags are ignored, unknown ro_compat
 * flags allow read-only activation only, unknown incompat flags refuse
 * the member. The masks are what we support.
 */
/*
 * Replacing the data disk (dmremapctl replace, docs/REPLACE.md). The new
 * data disk carries the set's UUID and REPLACING while the copy runs, so
 * assembly never starts it; clearing REPLACING, under a generation above
 * the old disk's, is the switch's commit point. Then every member of the
 * old disk's set takes REPLACED, and assembly never starts it again. The
 * kernel ignores both: it loads what the table line names.
 */
#define DMR_COMPAT_REPLACING	0x1u
#define DMR_COMPAT_REPLACED	0x2u
#define DMR_COMPAT_SUPP		(DMR_COMPAT_REPLACING | DMR_COMPAT_REPLACED)
#define DMR_RO_COMPAT_SUPP	0u
/*
 * The metadata area holds two identical copies of slot 0, slot 1 and the
 * journal, one after the other, and every metadata write goes to both: one
 * unreadable sector then loses nothing even on a set of one disk.
 */
#define DMR_INCOMPAT_MD_MIRROR	0x1u
#define DMR_INCOMPAT_SUPP	DMR_INCOMPAT_MD_MIRROR

/* Superblock copies sit at sectors 0 and 8. */
#define DMR_SB_COPIES		2u
#define DMR_SB_SECTOR(copy)	((__u64)(copy) * DMR_MD_BLOCK_SECTORS)
/* The metadata area always starts right after the two superblocks. */
#define DMR_MD_OFFSET_SECTORS	(2 * DMR_MD_BLOCK_SECTORS)

/* User data and spare areas are aligned to 1 MiB. */
#define DMR_AREA_ALIGN_SECTORS	2048u

#define DMR_ROLE_NONE		0u	/* unused member-table slot */
#define DMR_ROLE_DATA		1u
#define DMR_ROLE_SPARE		2u

#define DMR_MAX_MEMBERS		64u	/* index 0 is the data member */
#define DMR_NO_MEMBER		0xffffu
#define DMR_NO_BLOCK		0xffffffffffffffffULL

#define DMR_NAME_LEN		128u	/* = DM_NAME_LEN, NUL included */
#define DMR_IMAGE_PATH_LEN	208u	/* NUL included */

#define DMR_BLOCK_SIZE_MIN	512u
#define DMR_BLOCK_SIZE_MAX	65536u
#define DMR_BLOCK_SIZE_DEFAULT	4096u

/* Entries per 4 KiB block of a snapshot's entry table. */
#define DMR_ENTRIES_PER_BLOCK	256u
#define DMR_MAX_ENTRIES_DEFAULT	1048576u
#define DMR_MAX_ENTRIES_LIMIT	16777216u
#define DMR_JOURNAL_BLOCKS_DEFAULT 256u
#define DMR_JOURNAL_BLOCKS_MIN	16u
#define DMR_JOURNAL_BLOCKS_MAX	65536u
/* 64 member records of 256 bytes. */
#define DMR_MEMBER_TABLE_BLOCKS	4u
/* Per slot: header block, member table, entry table. */
#define DMR_SLOT_BLOCKS(max_entries) \
	(1u + DMR_MEMBER_TABLE_BLOCKS + (max_entries) / DMR_ENTRIES_PER_BLOCK)
/* Blocks of one copy of the metadata area. */
#define DMR_MD_BLOCKS(max_entries, journal_blocks) \
	(2u * DMR_SLOT_BLOCKS(max_entries) + (journal_blocks))
/* Copies of the metadata area; copy c starts c * md_sectors / copies in. */
#define DMR_MD_COPIES(incompat_flags) \
	(((incompat_flags) & DMR_INCOMPAT_MD_MIRROR) ? 2u : 1u)

/* dmr_entry_disk.state */
#define DMR_ENTRY_FREE		0u	/* journal only: delete data_block */
#define DMR_ENTRY_REMAPPED	1u	/* data_block lives at the spare location */
#define DMR_ENTRY_PENDING	2u	/* unreadable; EIO until written */
#define DMR_ENTRY_RETIRED	3u	/* spare location is bad; never reuse */

/*
 * Why a PENDING entry is pending, in its spare_block (spare_index is
 * DMR_NO_MEMBER): the data device could not read it (a read that succeeds
 * later clears it), or its latest data lived on a spare block or member
 * that failed, so the data device holds an older version and only a write
 * clears it.
 */
#define DMR_PENDING_UNREADABLE	0u
#define DMR_PENDING_LOST	1u

/* dmr_member_disk.flags */
#define DMR_MEMBER_F_LOOP_IMAGE	0x1u	/* image_path holds the backing file */
/*
 * Left out of the set: a write or flush to it failed while the set ran.
 * No metadata write reaches it and no entry points into its spare area
 * (those became PENDING_LOST); it may be absent from the table line, and
 * only spare_remove takes it out of the member table.
 */
#define DMR_MEMBER_F_FAILED	0x2u
#define DMR_MEMBER_F_ALL	0x3u

struct dmr_superblock_disk {
	__le64 magic;
	__le32 csum;		/* crc32c of the whole block, this field 0 */
	__le32 version;
	__le32 compat_flags;
	__le32 ro_compat_flags;
	__le32 incompat_flags;
	__le32 block_size;	/* bytes; remap granularity */
	__u8   set_uuid[16];
	__u8   member_uuid[16];
	__le16 role;
	__le16 member_index;
	__le32 sb_copy;		/* 0 or 1 */
	__le64 sb_location;	/* sector of this copy */
	__le64 generation;	/* set configuration generation */
	__le64 ctime;		/* seconds since the epoch */
	__le64 member_sectors;
	__le64 md_offset;	/* sectors */
	__le64 md_sectors;	/* all copies */
	__le32 max_entries;	/* capacity of a snapshot, multiple of 256 */
	__le32 journal_blocks;
	__le64 data_offset;	/* set-wide: data area on member 0, sectors */
	__le64 data_sectors;
	__le64 spare_offset;	/* this member's spare area, sectors */
	__le64 spare_sectors;
	char   name[DMR_NAME_LEN];
	__u8   reserved[3808];
} __packed;

struct dmr_member_disk {
	__u8   uuid[16];
	__le16 role;		/* DMR_ROLE_NONE: slot unused */
	__le16 index;		/* equals the record's position */
	__le32 flags;
	__le64 member_sectors;
	__le64 spare_offset;
	__le64 spare_sectors;
	char   image_path[DMR_IMAGE_PATH_LEN];
} __packed;

struct dmr_entry_disk {
	__le64 data_block;	/* DMR_NO_BLOCK for RETIRED */
	__le32 spare_block;	/* block within the member's spare area */
	__le16 spare_index;	/* member index; DMR_NO_MEMBER if none */
	__le16 state;
} __packed;

/* Block 0 of a slot; the member table and entry table follow it. */
struct dmr_snapshot_disk {
	__le64 magic;
	__le32 csum;		/* crc32c of this block, this field 0 */
	__le32 slot;
	__u8   set_uuid[16];
	__le64 seq;		/* last commit this snapshot contains */
	__le64 generation;
	__le32 nr_entries;
	__le32 entries_csum;	/* crc32c of nr_entries * 16 bytes */
	__le32 members_csum;	/* crc32c of the 16 KiB member table */
	__u8   reserved[4036];
} __packed;

#define DMR_JOURNAL_UPDATES	252u

/* One commit: the record for seq s lives at journal block s % journal_blocks. */
struct dmr_journal_disk {
	__le64 magic;
	__le32 csum;		/* crc32c of the whole block, this field 0 */
	__le32 nr_updates;
	__u8   set_uuid[16];
	__le64 seq;
	__le64 generation;
	__u8   reserved[16];
	struct dmr_entry_disk updates[DMR_JOURNAL_UPDATES];
} __packed;

DMR_STATIC_ASSERT(sizeof(struct dmr_superblock_disk) == DMR_MD_BLOCK_SIZE, "superblock size");
DMR_STATIC_ASSERT(offsetof(struct dmr_superblock_disk, csum) == 8, "sb csum offset");
DMR_STATIC_ASSERT(offsetof(struct dmr_superblock_disk, set_uuid) == 32, "sb set_uuid offset");
DMR_STATIC_ASSERT(offsetof(struct dmr_superblock_disk, role) == 64, "sb role offset");
DMR_STATIC_ASSERT(offsetof(struct dmr_superblock_disk, generation) == 80, "sb generation offset");
DMR_STATIC_ASSERT(offsetof(struct dmr_superblock_disk, max_entries) == 120, "sb max_entries offset");
DMR_STATIC_ASSERT(offsetof(struct dmr_superblock_disk, data_offset) == 128, "sb data_offset offset");
DMR_STATIC_ASSERT(offsetof(struct dmr_superblock_disk, name) == 160, "sb name offset");
DMR_STATIC_ASSERT(sizeof(struct dmr_member_disk) == 256, "member record size");
DMR_STATIC_ASSERT(offsetof(struct dmr_member_disk, image_path) == 48, "member image_path offset");
DMR_STATIC_ASSERT(DMR_MAX_MEMBERS * sizeof(struct dmr_member_disk) ==
		  DMR_MEMBER_TABLE_BLOCKS * DMR_MD_BLOCK_SIZE, "member table size");
DMR_STATIC_ASSERT(sizeof(struct dmr_entry_disk) == 16, "entry size");
DMR_STATIC_ASSERT(DMR_ENTRIES_PER_BLOCK * sizeof(struct dmr_entry_disk) == DMR_MD_BLOCK_SIZE,
		  "entries per block");
DMR_STATIC_ASSERT(sizeof(struct dmr_snapshot_disk) == DMR_MD_BLOCK_SIZE, "snapshot header size");
DMR_STATIC_ASSERT(offsetof(struct dmr_snapshot_disk, seq) == 32, "snapshot seq offset");
DMR_STATIC_ASSERT(offsetof(struct dmr_snapshot_disk, nr_entries) == 48, "snapshot nr_entries offset");
DMR_STATIC_ASSERT(sizeof(struct dmr_journal_disk) == DMR_MD_BLOCK_SIZE, "journal record size");
DMR_STATIC_ASSERT(offsetof(struct dmr_journal_disk, seq) == 32, "journal seq offset");
DMR_STATIC_ASSERT(offsetof(struct dmr_journal_disk, updates) == 64, "journal updates offset");

#endif /* DM_REMAP_FORMAT_H */
