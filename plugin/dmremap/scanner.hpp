// SPDX-License-Identifier: LGPL-2.1-or-later
// A media scan of an active device: reads its whole data area through
// /dev/mapper/NAME with O_DIRECT and large aligned reads, at idle I/O
// priority, so that the target finds unreadable blocks (and records them
// as pending) before anyone needs them. Resumable: the position is
// checkpointed in the set's StateStore (scan-checkpoint.json), and a
// completed pass is kept as last-scan.json.
#pragma once

#include "scan_record.hpp"

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace dmremap {

struct ScanOptions {
    double rate_mb_s = 0;                 // 0: no limit (MB = 10^6 bytes)
    std::chrono::seconds max_duration{0}; // 0: until the pass ends; else stop (resumably) after this long
    bool idle_priority = true;            // ioprio class idle for the reading thread
    bool restart = false;                 // ignore a checkpoint: a new pass from block 0
    std::uint32_t chunk_bytes = 1024 * 1024;
};

struct ScanOutcome {
    ScanRecord record;            // the pass as it stands after this run
    std::uint64_t first_block = 0; // where this run began
    std::uint64_t blocks_read = 0; // by this run
    std::vector<ScanBadBlock> found; // by this run
    bool stopped_by_limit = false; // max_duration reached; the next run resumes
    bool canceled = false;
    std::string history_error; // the scan is recorded, but not in the health history: why
};

class Scanner {
public:
    // `name`: an active dm-remap device. NotFound / InvalidArgument as
    // RemapDevice. A device without a set UUID (made by hand) scans but
    // keeps no checkpoint.
    Scanner(std::string name, ScanOptions opts);

    // bytes done in this pass, bytes in the pass; from the scanning thread.
    using Progress = std::function<void(std::uint64_t done, std::uint64_t total)>;
    // Runs until the pass ends, the limit, or `cancel` turns true (checked
    // between reads). A failed read is narrowed block by block; each block
    // the target then lists as pending is reported. Error(Io) when the
    // device fails as a whole (reads fail and nothing is recorded
    // pending): the checkpoint keeps the position reached.
    ScanOutcome run(const Progress &progress, const std::atomic<bool> &cancel);

private:
    std::string name_;
    ScanOptions opts_;
};

// Writes zeros over every pending block of `name` that is unreadable (not
// lost ones unless `include_lost`), one block-sized O_DIRECT write each,
// so the disk rewrites it in place or the target remaps it. Destroys
// whatever was in those blocks. Returns the blocks written.
std::vector<std::uint64_t> rewrite_pending(const std::string &name, bool include_lost);

} // namespace dmremap
