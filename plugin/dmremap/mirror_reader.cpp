// SPDX-License-Identifier: LGPL-2.1-or-later
#include "mirror_reader.hpp"

#include "error.hpp"
#include "codec.hpp"
#include "layout.hpp"

#include <algorithm>

namespace dmremap {

MirrorReader::MirrorReader(BlockIo &io, const Superblock &sb)
    : io_(io), sb_(sb), copies_(layout::md_copies(sb))
{
}

std::uint64_t MirrorReader::in_copy(std::uint64_t offset0, unsigned copy) const
{
    return offset0 - layout::md_copy_offset(sb_, 0) + layout::md_copy_offset(sb_, copy);
}

bool MirrorReader::try_read(std::uint64_t offset, std::span<std::uint8_t> out)
{
    try {
        io_.read(offset, out);
        return true;
    } catch (const Error &e) {
        if (e.code() != Error::Code::Io)
            throw;
        return false;
    }
}

CandidateRead MirrorReader::read(unsigned candidate, std::uint64_t offset0, std::span<std::uint8_t> out)
{
    CandidateRead r;
    if (out.empty() || try_read(in_copy(offset0, candidate), out))
        return r;
    // Something in the range failed: go block by block, so one bad sector
    // costs one block of this copy and not the whole structure.
    for (std::size_t pos = 0; pos < out.size(); pos += kBlock) {
        auto blk = out.subspan(pos, std::min<std::size_t>(kBlock, out.size() - pos));
        const std::uint64_t off0 = offset0 + pos;
        if (try_read(in_copy(off0, candidate), blk))
            continue;
        bool found = false;
        for (unsigned c = 0; c < copies_ && !found; c++)
            if (c != candidate && try_read(in_copy(off0, c), blk))
                found = true;
        if (found) {
            r.borrowed.push_back(off0);
        } else {
            std::fill(blk.begin(), blk.end(), 0);
            r.unreadable.push_back(off0);
        }
    }
    return r;
}

} // namespace dmremap
