// SPDX-License-Identifier: LGPL-2.1-or-later
#pragma once

#include "block_io.hpp"
#include "remap_state.hpp"
#include "types.hpp"

#include <optional>
#include <vector>

namespace dmremap {

struct FormatOptions {
    std::string name;                                // empty: "remap-" + first 8 hex digits of the set UUID
    std::uint32_t block_size = 4096;
    std::optional<std::uint64_t> internal_spare;     // bytes; default: see Formatter::default_internal_spare
    std::optional<unsigned> internal_spare_percent;  // alternative to bytes, 0..50
    std::uint32_t max_entries = 1048576;
    std::uint32_t journal_blocks = 256;
    std::optional<Uuid> set_uuid;
    std::uint64_t ctime = 0;                         // 0: now (or SOURCE_DATE_EPOCH)
    // Two copies of the metadata area (DMR_INCOMPAT_MD_MIRROR); false writes
    // the one-copy layout of sets made before it, which tests still need.
    bool md_mirror = true;
    // The data area's exact length in sectors (replace: the new disk must
    // present the same size); the internal spare then takes what is left,
    // at most the default or the size given. Unset: the disk less the spare.
    std::optional<std::uint64_t> data_sectors;
    std::uint32_t compat_flags = 0; // DMR_COMPAT_*: replace marks its new disk
};

struct FormatPlan {
    std::vector<Superblock> superblocks; // one per member, index order = argument order
    RemapState state;                    // the initial, empty state (seq 1)
};

class Formatter {
public:
    // 1% of the data device, clamped to [4 MiB, 1 GiB] (docs/FORMAT.md says why).
    static std::uint64_t default_internal_spare(std::uint64_t device_bytes);
    // The options alone (block size, remap capacity, journal, name when
    // given), before any device is opened: Error InvalidArgument.
    static void check_options(const FormatOptions &opts);
    // Computes every member's layout; throws Error naming the device and the
    // reason when something does not fit. Writes nothing.
    static FormatPlan plan(const FormatOptions &opts, const std::vector<BlockIo *> &members);
    // Wipes old superblocks, writes empty metadata, then the new superblocks.
    static void write(const FormatPlan &plan, const std::vector<BlockIo *> &members);
};

} // namespace dmremap
