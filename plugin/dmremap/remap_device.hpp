// SPDX-License-Identifier: LGPL-2.1-or-later
// One active dm-remap device, by its device-mapper name. Every change goes
// through the kernel target (messages, table reloads), so the kernel and
// the metadata on disk never disagree.
#pragma once

#include "dm_control.hpp"
#include "error.hpp"
#include "target_status.hpp"
#include "types.hpp"

#include <functional>
#include <string>
#include <vector>

namespace dmremap {

struct DeviceStatus {
    DmInfo info;
    TargetStatus target;
    std::vector<SpareStat> members; // spare_stats: data member (index 0) first
    std::string state;              // active, suspended, degraded, spare-exhausted, replacing
};

struct SpareAddOptions {
    bool force = false;          // overwrite a signature or an old member of another set
    std::string image;           // create this file (fully allocated), attach it and add the loop device
    std::uint64_t image_size = 0;
    // The device is the loop device of this image, attached already (a
    // replace carrying an image spare over): recorded so assembly attaches it.
    std::string recorded_image;
};

struct SpareAdded {
    std::string device; // the node added (/dev/loopN for an image)
    std::uint16_t index = 0;
    std::uint32_t blocks = 0;
    std::string image;
};

struct SpareRemoved {
    std::string device;
    std::uint64_t moved = 0, lost = 0;
};

class RemapDevice {
public:
    // Throws NotFound (no such device) or InvalidArgument (not dm-remap).
    explicit RemapDevice(std::string name);

    // Names of every active dm-remap device (those being replaced too), sorted.
    static std::vector<std::string> names();

    const std::string &name() const { return name_; }
    DeviceStatus status();
    std::vector<SpareStat> spares();
    // Device nodes of the members in the live table, data member first.
    std::vector<std::string> members();

    SpareAdded spare_add(const std::string &dev, const SpareAddOptions &opts);
    // blocks moved so far, blocks to move; called from another thread.
    using Progress = std::function<void(std::uint32_t done, std::uint32_t total)>;
    // With `evacuate`, `progress` (if set) hears how far the move is, from
    // the spare's live count polled while the kernel works.
    SpareRemoved spare_remove(const std::string &dev, bool evacuate, const Progress &progress = {});
    // Proactive remap; true: moved to a spare, false: unreadable, now pending.
    bool remap(std::uint64_t block);
    // One page of the remap table from data block `first`, at most
    // kMaxRemapsPage entries (InvalidArgument above).
    static constexpr std::uint32_t kMaxRemapsPage = 250;
    std::vector<RemapEntryInfo> remaps(std::uint64_t first, std::uint32_t count);
    // Every entry, paging through the kernel's list; `fn` returns false to stop.
    void for_each_remap(const std::function<bool(const RemapEntryInfo &)> &fn);
    // Refuses while mounted or open (names who holds it), then removes the
    // device; loop devices of image members detach with it.
    void stop();

private:
    DmInfo info(); // NotFound once the device is gone
    Superblock set_superblock(); // the data member's, as on disk now

    // Refuses a change while the data disk is being replaced.
    void check_not_replacing(const char *what) const;

    std::string name_;
    // The device whose remap target answers: name_, or while the data
    // disk is being replaced the hidden device the old set runs on.
    std::string target_;
    DmControl dm_;
};

} // namespace dmremap
