// SPDX-License-Identifier: GPL-2.0-or-later
/* The format header must compile as C (the kernel includes it) with its
 * static asserts, and give the same sizes C++ sees. */
#include <dm-remap-format.h>

#include <stdio.h>

int main(void)
{
	if (sizeof(struct dmr_superblock_disk) != 4096 || sizeof(struct dmr_snapshot_disk) != 4096 ||
	    sizeof(struct dmr_journal_disk) != 4096 || sizeof(struct dmr_member_disk) != 256 ||
	    sizeof(struct dmr_entry_disk) != 16 || offsetof(struct dmr_superblock_disk, name) != 160 ||
	    DMR_SLOT_BLOCKS(DMR_MAX_ENTRIES_DEFAULT) != 4101u) {
		fprintf(stderr, "format header sizes differ in C\n");
		return 1;
	}
	return 0;
}
