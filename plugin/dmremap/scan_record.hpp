// SPDX-License-Identifier: LGPL-2.1-or-later
// What a scan found, as the scanner writes it (<state>/<set-uuid>/
// last-scan.json for the last completed pass, scan-checkpoint.json for
// one under way) and the health model, the CLI and dm-remapd read it.
#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <string>
#include <vector>

namespace dmremap {

// A block the scan could not read, which the target now records as pending.
struct ScanBadBlock {
    std::uint64_t block = 0;          // data block (remap block size)
    std::uint64_t sector = 0;         // first 512-byte sector on the data device
    std::uint64_t sectors = 0;        // its length in 512-byte sectors
    bool operator==(const ScanBadBlock &) const = default;
};

struct ScanRecord {
    std::string device;               // dm name at the time
    std::int64_t pass_start = 0;      // unix seconds: when this pass began (its first run)
    std::int64_t end = 0;             // unix seconds: last progress (pass end once complete)
    std::uint64_t next_block = 0;     // where the next run resumes; == blocks when complete
    std::uint64_t blocks = 0;         // data blocks in the pass
    std::uint32_t block_size = 0;
    std::uint32_t runs = 0;           // runs this pass took (bounded nightly runs)
    bool complete = false;
    std::uint64_t bytes_read = 0;     // over all runs of the pass
    std::uint64_t seconds = 0;        // reading time over all runs of the pass
    std::vector<ScanBadBlock> bad;    // found in this pass (at most kMaxListed kept)
    std::uint64_t bad_count = 0;      // found in this pass, all of them
    static constexpr std::size_t kMaxListed = 1000;
};

NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(ScanBadBlock, block, sector, sectors)
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(ScanRecord, device, pass_start, end, next_block, blocks, block_size,
                                                runs, complete, bytes_read, seconds, bad, bad_count)

} // namespace dmremap
