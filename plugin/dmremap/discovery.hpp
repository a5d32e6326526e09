// SPDX-License-Identifier: LGPL-2.1-or-later
// Finding members and active devices through libudev. Members come from
// the udev database when our rule has probed the device (DM_REMAP_PROBED,
// set by udev/69-dm-remap.rules from `dmremapctl probe`); devices udev has
// no record of (no udevd, an initramfs, a rule not installed) have their
// superblocks read instead.
#pragma once

#include "types.hpp"
#include "uuid.hpp"

#include <chrono>
#include <optional>
#include <string>
#include <sys/types.h>
#include <vector>

namespace dmremap {

struct FoundMember {
    std::string devnode; // /dev/sdb, /dev/loop3
    dev_t devnum = 0;
    Uuid set_uuid, member_uuid;
    std::string set_name;
    Role role = Role::None;
    std::uint16_t index = 0;
    std::uint64_t generation = 0;
    std::uint32_t compat_flags = 0; // DMR_COMPAT_REPLACING / DMR_COMPAT_REPLACED
    bool from_udev = false; // the properties came from the udev database
    std::optional<std::string> active; // name of the active device holding it
};

struct ActiveSet {
    std::string name;
    std::optional<Uuid> set_uuid; // from DM_UUID "REMAP-<uuid>"; absent for a device made by hand
    std::vector<dev_t> members;   // as the live table lists them
    // Its data disk is being replaced (docs/REPLACE.md): the set runs on a
    // hidden device, whose table `members` lists.
    bool replacing = false;
};

class Discovery {
public:
    // "REMAP-<set uuid>", the DM_UUID our devices carry.
    static std::string dm_uuid(const Uuid &set_uuid);
    static std::optional<Uuid> set_uuid_of_dm_uuid(const std::string &dm_uuid);

    // Every block device that is a dm-remap member, with `active` filled in.
    // Devices udev marks as not to be touched (suspended, multipath maps
    // without paths, private dm devices) are skipped. Without `use_udev`,
    // every device's superblocks are read, whatever udev recorded. Without
    // `read_devices`, no device is opened: the answer is udev's database
    // alone (for unprivileged callers of the service).
    static std::vector<FoundMember> members(bool use_udev = true, bool read_devices = true);
    // One device by path; nullopt when it is not a member. Reads the
    // superblocks (the database may be behind a format that just happened).
    // With `block_only`, what was opened must be a block device (checked on
    // the descriptor: a path swapped for a file after a caller's own check
    // is refused, InvalidArgument).
    static std::optional<FoundMember> probe(const std::string &path, bool block_only = false);
    // One block device by path as udev's database records it, opening
    // nothing; nullopt when our rule probed it and found no member.
    // InvalidArgument when `path` is not a block device, NotFound when
    // udev has no record of our rule's probe.
    static std::optional<FoundMember> probe_recorded(const std::string &path);
    // The members assembly may use: not those a replace left behind
    // (docs/REPLACE.md), which are the old disk's set (REPLACED) and an
    // unfinished new disk (REPLACING, unless the old data member says
    // REPLACED: the switch committed), nor, after a switch undone halfway,
    // the older of two data members of one set with the members no newer
    // than it.
    static std::vector<FoundMember> usable(std::vector<FoundMember> members);
    // Active dm-remap devices (target type "remap").
    static std::vector<ActiveSet> active();
    // The device name `set` is active as; "" when it is not.
    static std::string active_name(const Uuid &set);

    // /dev node of a block device number, "" when there is none.
    static std::string devnode(dev_t devnum);
    static dev_t devnum(const std::string &path); // throws NotFound / InvalidArgument

    // Asks udev to probe the device again (a "change" uevent), so its
    // database follows what was just written.
    static void trigger_change(const std::string &path);
    // Waits until udev has finished with the device's newest event (its
    // node and links exist); returns at once when udevd is not running.
    // False after `timeout`: callers go on, udev's view is only a cache.
    static bool wait_for_udev(dev_t devnum, std::chrono::milliseconds timeout = std::chrono::seconds(10));
    static bool udev_running();
};

} // namespace dmremap
