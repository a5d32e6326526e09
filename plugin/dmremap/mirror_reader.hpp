// SPDX-License-Identifier: LGPL-2.1-or-later
// Reads one structure of a member's metadata area as a loader candidate
// (docs/FORMAT.md §5): candidate c is copy c of the metadata area, with
// every 4 KiB block that cannot be read in copy c taken from the other
// copy. A block that cannot be read in any copy is damage, never "empty":
// the caller learns which ones, and must not judge their (zeroed) bytes.
#pragma once

#include "block_io.hpp"
#include "types.hpp"

#include <span>
#include <vector>

namespace dmremap {

struct CandidateRead {
    // Offsets (copy 0 coordinates) of blocks no copy could supply; zeroed in the buffer.
    std::vector<std::uint64_t> unreadable;
    // Offsets (copy 0 coordinates) of blocks this copy could not supply, taken from the other.
    std::vector<std::uint64_t> borrowed;
};

class MirrorReader {
public:
    MirrorReader(BlockIo &io, const Superblock &sb);

    unsigned copies() const { return copies_; }
    // `offset0`: where the structure starts in copy 0 (layout::*(..., 0)),
    // block aligned. I/O errors are absorbed; anything else propagates.
    CandidateRead read(unsigned candidate, std::uint64_t offset0, std::span<std::uint8_t> out);
    // Byte offset on the member of `offset0` in `copy`.
    std::uint64_t in_copy(std::uint64_t offset0, unsigned copy) const;

private:
    bool try_read(std::uint64_t offset, std::span<std::uint8_t> out);

    BlockIo &io_;
    Superblock sb_;
    unsigned copies_;
};

} // namespace dmremap
