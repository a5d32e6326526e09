// SPDX-License-Identifier: LGPL-2.1-or-later
// Device-mapper control through libdevmapper: create, reload, suspend,
// resume, remove (with udev synchronisation), target messages with their
// text result, tables and status. No dmsetup. Failures throw Error naming
// the device, the operation and the kernel's errno.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace dmremap {

struct DmTarget {
    std::uint64_t start = 0, length = 0; // sectors
    std::string type;
    std::string params;
};

struct DmInfo {
    std::string name;
    std::string uuid;
    std::uint32_t major = 0, minor = 0;
    bool suspended = false;
    bool read_only = false;
    bool live_table = false;
    bool inactive_table = false;
    std::int32_t open_count = 0;
    std::uint32_t event_nr = 0;
};

class DmControl {
public:
    // `hidden`: devices this one creates, resumes or removes are internal
    // (the old disk's set while replace runs): udev makes their node but
    // runs no disk or other rules, so blkid never sees a second copy of the
    // filesystem and no by-uuid link can point at it.
    explicit DmControl(bool hidden = false) : hidden_(hidden) {}

    // Creates `name` with one target, live (loaded and resumed) once udev
    // has made its node.
    void create(const std::string &name, const std::string &uuid, const DmTarget &target, bool read_only = false);
    // Creates `name` with no table (dmsetup create --notable).
    void create_empty(const std::string &name, const std::string &uuid);
    // Loads `target` as the inactive table; resume() makes it live.
    void reload(const std::string &name, const DmTarget &target, bool read_only = false);
    void reload(const std::string &name, const std::vector<DmTarget> &targets);
    // Drops the inactive table.
    void clear(const std::string &name);
    // `noflush`: bios a target holds (dm-mirror after a leg failed) go back
    // to device-mapper's queue for the next table instead of failing.
    void suspend(const std::string &name, bool noflush = false);
    void resume(const std::string &name);
    void remove(const std::string &name);
    // Sends a message to the target at sector 0; returns its text result.
    std::string message(const std::string &name, const std::string &text);
    std::vector<DmTarget> table(const std::string &name);
    std::vector<DmTarget> status(const std::string &name);
    std::optional<DmInfo> info(const std::string &name);
    std::vector<std::string> names();
    // Whether the kernel has target type `type` (asking loads its module
    // where the kernel can).
    bool has_target(const std::string &type);
    // Blocks until the device's event counter passes `event_nr`; returns it.
    std::uint32_t wait_event(const std::string &name, std::uint32_t event_nr);

private:
    bool hidden_;
};

} // namespace dmremap
