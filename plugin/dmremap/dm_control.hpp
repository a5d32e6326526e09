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
    // Creates `name` with one target, live (loaded and resumed) once udev
    // has made its node.
    void create(const std::string &name, const std::string &uuid, const DmTarget &target, bool read_only = false);
    // Loads `target` as the inactive table; resume() makes it live.
    void reload(const std::string &name, const DmTarget &target, bool read_only = false);
    void suspend(const std::string &name);
    void resume(const std::string &name);
    void remove(const std::string &name);
    // Sends a message to the target at sector 0; returns its text result.
    std::string message(const std::string &name, const std::string &text);
    std::vector<DmTarget> table(const std::string &name);
    std::vector<DmTarget> status(const std::string &name);
    std::optional<DmInfo> info(const std::string &name);
    std::vector<std::string> names();
    // Blocks until the device's event counter passes `event_nr`; returns it.
    std::uint32_t wait_event(const std::string &name, std::uint32_t event_nr);
};

} // namespace dmremap
