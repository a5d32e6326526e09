// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * libbd_remap: dm-remap sets for C and GObject consumers, in libblockdev's
 * conventions (error quark, tech/mode query, boxed types, GError last).
 *
 * Ownership follows libblockdev: returned strings are freed with g_free(),
 * structures with their bd_remap_*_free(), NULL-terminated arrays by freeing
 * each element and then the array. An empty list is an array holding only
 * the terminating NULL; NULL means an error was set.
 */
#ifndef BD_REMAP
#define BD_REMAP

#include <glib.h>
#include <glib-object.h>

G_BEGIN_DECLS

/* BDExtraArg (key/value options) from libblockdev's utils (pkg-config
 * blockdev-utils); that header declares no C linkage of its own. */
#include <blockdev/extra_arg.h>

GQuark bd_remap_error_quark (void);
#define BD_REMAP_ERROR bd_remap_error_quark ()

/**
 * BDRemapError:
 * One code per dmremap::Error::Code of the C++ library, then TECH_UNAVAIL.
 */
typedef enum {
    BD_REMAP_ERROR_FAILED,        /* anything without a better code */
    BD_REMAP_ERROR_INVAL,         /* malformed or missing argument */
    BD_REMAP_ERROR_NOT_FOUND,     /* device, member or file missing */
    BD_REMAP_ERROR_IO,            /* read, write or flush failed */
    BD_REMAP_ERROR_BUSY,          /* mounted, open elsewhere, exclusive open refused */
    BD_REMAP_ERROR_EXISTS,        /* would overwrite a signature or another set */
    BD_REMAP_ERROR_CORRUPT,       /* metadata damaged beyond what loading tolerates */
    BD_REMAP_ERROR_NO_SPACE,      /* too small, capacity exhausted */
    BD_REMAP_ERROR_TECH_UNAVAIL,  /* device-mapper or the remap target missing */
} BDRemapError;

typedef enum {
    BD_REMAP_TECH_REMAP = 0,
} BDRemapTech;

typedef enum {
    BD_REMAP_TECH_MODE_CREATE   = 1 << 0,
    BD_REMAP_TECH_MODE_MODIFY   = 1 << 1,
    BD_REMAP_TECH_MODE_QUERY    = 1 << 2,
    BD_REMAP_TECH_MODE_ACTIVATE = 1 << 3,
} BDRemapTechMode;

/**
 * bd_remap_is_tech_avail:
 * @tech: the queried tech
 * @mode: a bit mask of #BDRemapTechMode
 * @error: (out) (optional): where the missing piece is named
 *
 * QUERY needs nothing (reading superblocks works on any file). CREATE,
 * MODIFY and ACTIVATE need /dev/mapper/control and the "remap" target
 * (module loaded or installed for the running kernel).
 *
 * Returns: whether @tech is available in every mode of @mode
 */
gboolean bd_remap_is_tech_avail (BDRemapTech tech, guint64 mode, GError **error);

/**
 * BDRemapSpare:
 * One member's spare area, as the target's "spare_stats" reports it.
 * @device: major:minor of the member, NULL when it is missing
 * @index: member index (0 is the data member's internal spare)
 * @total: spare blocks on the member
 * @used: blocks in use or retired; -1 when unknown (member missing)
 * @free: blocks still free; -1 when unknown (member missing)
 * @live: remapped blocks currently living on the member
 * @state: "ok", "failed" or "missing"
 */
typedef struct BDRemapSpare {
    gchar *device;
    guint index;
    guint64 total;
    gint64 used;
    gint64 free;
    guint64 live;
    gchar *state;
} BDRemapSpare;

BDRemapSpare *bd_remap_spare_copy (BDRemapSpare *spare);
void bd_remap_spare_free (BDRemapSpare *spare);
GType bd_remap_spare_get_type (void);
#define BD_REMAP_TYPE_SPARE (bd_remap_spare_get_type ())

/**
 * BDRemapDeviceStatus:
 * An active dm-remap device.
 * @name: device-mapper name
 * @uuid: device-mapper UUID ("REMAP-<set uuid>", may be empty)
 * @device: kernel device node, /dev/dm-N
 * @state: "active", "suspended", "degraded" or "spare-exhausted"
 * @metadata_ok: FALSE once a metadata write failed on some member
 * @block_size: remap block size in bytes
 * @remapped: blocks living on spares
 * @pending: unreadable blocks waiting for a write
 * @unavailable: remapped blocks on missing spares
 * @spare_used: spare blocks in use or retired, all members
 * @spare_total: spare blocks, all members
 * @read_errors: read errors seen by the target
 * @write_errors: write errors seen by the target
 * @remap_events: remaps made
 * @healed: pending blocks cured by a write
 * @exhausted: no free spare block left
 * @degraded: started without a spare member
 * @seq: last committed metadata sequence number
 * @spares: (array zero-terminated=1): every member's spare area, index order
 */
typedef struct BDRemapDeviceStatus {
    gchar *name;
    gchar *uuid;
    gchar *device;
    gchar *state;
    gboolean metadata_ok;
    guint32 block_size;
    guint64 remapped;
    guint64 pending;
    guint64 unavailable;
    guint64 spare_used;
    guint64 spare_total;
    guint64 read_errors;
    guint64 write_errors;
    guint64 remap_events;
    guint64 healed;
    gboolean exhausted;
    gboolean degraded;
    guint64 seq;
    BDRemapSpare **spares;
} BDRemapDeviceStatus;

BDRemapDeviceStatus *bd_remap_device_status_copy (BDRemapDeviceStatus *status);
void bd_remap_device_status_free (BDRemapDeviceStatus *status);
GType bd_remap_device_status_get_type (void);
#define BD_REMAP_TYPE_DEVICE_STATUS (bd_remap_device_status_get_type ())

/**
 * BDRemapEntry:
 * One entry of the remap table.
 * @block: data block (in remap blocks)
 * @pending: unreadable, waiting for a write; @member and @spare_block unset
 * @member: index of the member holding the block
 * @spare_block: block within that member's spare area
 * @on_missing: the holding member is missing, the block reads as EIO
 */
typedef struct BDRemapEntry {
    guint64 block;
    gboolean pending;
    guint member;
    guint32 spare_block;
    gboolean on_missing;
} BDRemapEntry;

BDRemapEntry *bd_remap_entry_copy (BDRemapEntry *entry);
void bd_remap_entry_free (BDRemapEntry *entry);
GType bd_remap_entry_get_type (void);
#define BD_REMAP_TYPE_ENTRY (bd_remap_entry_get_type ())

/**
 * BDRemapMember:
 * A block device (or image) carrying a dm-remap superblock.
 * @devnode: the device node or path read
 * @set_uuid: UUID of the set
 * @member_uuid: UUID of this member
 * @set_name: the set's name (the default device name)
 * @role: "data" or "spare"
 * @index: member index, 0 for the data member
 * @generation: membership generation in the superblock
 * @active: name of the active device using it, NULL when none; filled in
 *   by bd_remap_find_members(), while bd_remap_probe() reads only the
 *   superblocks and may leave it NULL
 */
typedef struct BDRemapMember {
    gchar *devnode;
    gchar *set_uuid;
    gchar *member_uuid;
    gchar *set_name;
    gchar *role;
    guint index;
    guint64 generation;
    gchar *active;
} BDRemapMember;

BDRemapMember *bd_remap_member_copy (BDRemapMember *member);
void bd_remap_member_free (BDRemapMember *member);
GType bd_remap_member_get_type (void);
#define BD_REMAP_TYPE_MEMBER (bd_remap_member_get_type ())

/**
 * bd_remap_create:
 * @name: (nullable): the set's name; NULL: "remap-" + the UUID's first 8 hex digits
 * @data_dev: the data device
 * @spare_devs: (nullable) (array zero-terminated=1): spare devices
 * @block_size: remap block size in bytes, 0 for the default (4096)
 * @force: overwrite signatures and old members (never a device in use)
 *
 * Formats the set and activates it.
 *
 * Returns: (transfer full): the device-mapper name, NULL on error
 */
gchar *bd_remap_create (const gchar *name, const gchar *data_dev, const gchar **spare_devs,
                        guint32 block_size, gboolean force, GError **error);

/**
 * bd_remap_create_full:
 * @data_dev: the data device
 * @spare_devs: (nullable) (array zero-terminated=1): spare devices
 * @options: (nullable) (array zero-terminated=1): options, each a key and a
 *   value (bd_extra_arg_new()); NULL or an empty list for the defaults
 * @error: (out) (optional): place to store error (if any)
 *
 * Formats the set and activates it, like bd_remap_create() with more
 * choices. Keys (each at most once; a flag's value is "", "true", "yes",
 * "1", "false", "no" or "0"):
 *
 * - "name": the set's name, which is also the device-mapper name;
 *   default "remap-" + the UUID's first 8 hex digits
 * - "block-size": remap block size in bytes, a power of two from 512 to
 *   65536; default 4096
 * - "internal-spare": spare area on the data device, in bytes ("8388608")
 *   or in percent of the device, 0 to 50 ("2%"); default 1% clamped to
 *   [4 MiB, 1 GiB]
 * - "max-remaps": remap table capacity in entries, 256 to the format's
 *   limit; default 1048576
 * - "uuid": the set's UUID (8-4-4-4-12 hex, not nil); default random.
 *   Refused when an active set or another device carries it
 * - "force": flag; overwrite signatures and old members (never a device
 *   in use)
 *
 * An unknown key, a key given twice (also "internal-spare" once in bytes
 * and once in percent) or a bad value is %BD_REMAP_ERROR_INVAL naming the
 * key and the value, reported before any device is looked at.
 *
 * Returns: (transfer full): the device-mapper name, NULL on error
 */
gchar *bd_remap_create_full (const gchar *data_dev, const gchar **spare_devs, const BDExtraArg **options,
                             GError **error);

/**
 * bd_remap_assemble:
 * @members: (array zero-terminated=1): members in any order; missing ones are looked up
 * @degraded: start without missing spares
 *
 * Returns: (transfer full): the device-mapper name, NULL on error
 */
gchar *bd_remap_assemble (const gchar **members, gboolean degraded, GError **error);

/**
 * bd_remap_assemble_uuid:
 * @uuid: the set's UUID
 * @degraded: start without missing spares
 *
 * Returns: (transfer full): the device-mapper name, NULL on error
 */
gchar *bd_remap_assemble_uuid (const gchar *uuid, gboolean degraded, GError **error);

/**
 * bd_remap_assemble_full:
 * @members: (nullable) (array zero-terminated=1): members in any order;
 *   missing ones are looked up. NULL or empty when the "uuid" option names the set
 * @options: (nullable) (array zero-terminated=1): options, each a key and a
 *   value (bd_extra_arg_new()); NULL or an empty list for the defaults
 * @error: (out) (optional): place to store error (if any)
 *
 * Activates a set, like bd_remap_assemble() and bd_remap_assemble_uuid().
 * Keys (each at most once; flags as for bd_remap_create_full()):
 *
 * - "degraded": flag; start without missing spares
 * - "name": the device-mapper name; default the set's name
 * - "uuid": the set's UUID, only with no @members: its members are
 *   looked up
 *
 * An unknown key, a key given twice, a bad value, or neither @members nor
 * "uuid" (or both) is %BD_REMAP_ERROR_INVAL, reported before any device
 * is looked at.
 *
 * Returns: (transfer full): the device-mapper name, NULL on error
 */
gchar *bd_remap_assemble_full (const gchar **members, const BDExtraArg **options, GError **error);

/**
 * bd_remap_stop:
 * Refuses while the device is mounted or open; detaches image loop devices.
 */
gboolean bd_remap_stop (const gchar *name, GError **error);

/**
 * bd_remap_status:
 * Returns: (transfer full): status of the active device @name, NULL on error
 */
BDRemapDeviceStatus *bd_remap_status (const gchar *name, GError **error);

/**
 * bd_remap_list:
 * Returns: (transfer full) (array zero-terminated=1): every active dm-remap device
 */
BDRemapDeviceStatus **bd_remap_list (GError **error);

/**
 * bd_remap_spare_list:
 * Returns: (transfer full) (array zero-terminated=1): spare areas of @name, data member first
 */
BDRemapSpare **bd_remap_spare_list (const gchar *name, GError **error);

/**
 * bd_remap_spare_add:
 * @force: overwrite a signature or an old member of another set
 */
gboolean bd_remap_spare_add (const gchar *name, const gchar *dev, gboolean force, GError **error);

/**
 * bd_remap_spare_add_image:
 * @image_path: a new file (must not exist) directly in /var/lib/dm-remap/spares
 *   (%BD_REMAP_ERROR_INVAL elsewhere: assembly attaches images from there only),
 *   fully allocated, attached as a loop device
 * @size: its size in bytes
 */
gboolean bd_remap_spare_add_image (const gchar *name, const gchar *image_path, guint64 size, GError **error);

/**
 * bd_remap_spare_remove:
 * @evacuate: move the member's live blocks to other spares first. The
 *   move is reported through libblockdev's progress reporting
 *   (bd_utils_init_prog_reporting() or bd_utils_init_prog_reporting_thread()),
 *   on the calling thread: started, then the percentage of blocks moved
 *   whenever it grows (100 when every block has moved), then finished with
 *   "Completed" or the error's message. A call that fails before the move
 *   begins (no such device) reports nothing.
 * @moved: (out) (optional): blocks moved
 * @lost: (out) (optional): blocks that could not be moved (now pending)
 */
gboolean bd_remap_spare_remove (const gchar *name, const gchar *dev, gboolean evacuate,
                                guint64 *moved, guint64 *lost, GError **error);

/**
 * bd_remap_remap_block:
 * @block: data block (in remap blocks) to move to a spare
 * @pending: (out) (optional): TRUE when the block was unreadable and now waits for a write
 */
gboolean bd_remap_remap_block (const gchar *name, guint64 block, gboolean *pending, GError **error);

/**
 * bd_remap_remaps:
 * @first: first data block of the page
 * @count: most entries to return, at most 250 (%BD_REMAP_ERROR_INVAL above);
 *   a page shorter than @count is the end of the table
 *
 * Returns: (transfer full) (array zero-terminated=1): one page of the remap table
 */
BDRemapEntry **bd_remap_remaps (const gchar *name, guint64 first, guint32 count, GError **error);

/**
 * bd_remap_probe:
 * @dev: a block device or image file
 *
 * Returns: (transfer full) (nullable): the member @dev is, NULL with no
 * error set when it is not a member
 */
BDRemapMember *bd_remap_probe (const gchar *dev, GError **error);

/**
 * bd_remap_find_members:
 * Returns: (transfer full) (array zero-terminated=1): every block device that is a member
 */
BDRemapMember **bd_remap_find_members (GError **error);

G_END_DECLS

#endif  /* BD_REMAP */
