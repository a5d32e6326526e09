// SPDX-License-Identifier: LGPL-2.1-or-later
// The tables /dev/mapper/NAME carries while its data disk is replaced
// (docs/REPLACE.md), and the status line of the kernel's dm-mirror. Pure:
// nothing here touches a device.
#pragma once

#include "dm_control.hpp"

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace dmremap {

struct ReplaceGeometry {
    std::uint64_t data_sectors = 0;  // the set's data length, the table's length
    std::string source;              // major:minor of the old set's hidden device
    std::string target;              // major:minor of the new disk
    std::uint64_t target_offset = 0; // sectors: the new set's data area on it
};

// Sector ranges, disjoint and merged where they touch.
class Extents {
public:
    void add(std::uint64_t start, std::uint64_t end);
    void remove(std::uint64_t start, std::uint64_t end);
    bool contains(std::uint64_t sector) const;
    bool empty() const { return r_.empty(); }
    std::uint64_t total() const;
    const std::map<std::uint64_t, std::uint64_t> &ranges() const { return r_; } // start -> end
    bool operator==(const Extents &o) const { return r_ == o.r_; }
    // What lies in both.
    Extents intersect(const Extents &o) const;

private:
    std::map<std::uint64_t, std::uint64_t> r_;
};

class ReplaceTable {
public:
    // The whole length, piece by piece:
    //  - `held`: blocks pending on the old disk. A read must fail as the old
    //    set fails it and there is nothing to copy, so they stay on the old
    //    disk alone (linear), wherever they are;
    //  - `copied`: both disks hold it and every write goes to both
    //    (mirror, nosync), so the old disk stays complete until the switch;
    //  - `copying`: dm-mirror copies it now (a mirror that resyncs);
    //  - the rest is on the old disk alone (linear), copied later.
    // Each mirror piece is an instance of dm-mirror with its own core log.
    static std::vector<DmTarget> build(const ReplaceGeometry &g, const Extents &copied, const Extents &copying,
                                       const Extents &held);
    // The dm-mirror region of a piece: 2 MiB, or the largest power of two
    // that fits a shorter piece (dm-mirror refuses a region above the length).
    static std::uint64_t region_sectors(std::uint64_t length);
};

struct MirrorStatus {
    std::uint64_t in_sync = 0, regions = 0;
    // One letter per leg: A alive, D write, S copy, R read, F flush failure.
    std::string health;
    bool synced() const { return in_sync == regions; }
    bool leg_failed(std::size_t leg) const { return leg < health.size() && health[leg] != 'A'; }
};

// A `mirror` target's status parameters; nullopt when they do not parse.
std::optional<MirrorStatus> parse_mirror_status(const std::string &params);

} // namespace dmremap
