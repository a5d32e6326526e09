// SPDX-License-Identifier: GPL-2.0-or-later
// In-memory sets for unit tests of the pure format logic.
#pragma once

#include <checker.hpp>
#include <codec.hpp>
#include <error.hpp>
#include <formatter.hpp>
#include <layout.hpp>
#include <memory_io.hpp>

#include <cstring>
#include <endian.h>
#include <memory>
#include <vector>

namespace dmremap::test {

inline constexpr std::uint64_t MiB = 1024 * 1024;

struct MemSet {
    std::vector<std::unique_ptr<MemoryIo>> devs;
    FormatPlan plan;

    std::vector<BlockIo *> ios() const
    {
        std::vector<BlockIo *> v;
        for (auto &d : devs)
            v.push_back(d.get());
        return v;
    }
    SetView check() const { return Checker().run(ios()); }
    const Superblock &sb(std::size_t i) const { return plan.superblocks.at(i); }
};

// A small set: 256-entry capacity keeps images at a few MiB.
inline MemSet make_set(std::vector<std::uint64_t> sizes = {16 * MiB, 8 * MiB}, std::uint32_t max_entries = 256,
                       std::uint32_t journal_blocks = 16, bool md_mirror = true)
{
    MemSet s;
    for (std::size_t i = 0; i < sizes.size(); i++)
        s.devs.push_back(std::make_unique<MemoryIo>("mem" + std::to_string(i), sizes[i]));
    FormatOptions o;
    o.name = "test";
    o.max_entries = max_entries;
    o.journal_blocks = journal_blocks;
    o.internal_spare = 2 * MiB;
    o.ctime = 1700000000;
    o.md_mirror = md_mirror;
    s.plan = Formatter::plan(o, s.ios());
    Formatter::write(s.plan, s.ios());
    return s;
}

inline Entry remapped(std::uint64_t block, std::uint16_t member, std::uint32_t spare)
{
    return Entry{block, spare, member, EntryState::Remapped};
}
inline Entry pending(std::uint64_t block) { return Entry{block, 0, kNoMember, EntryState::Pending}; }
inline Entry freed(std::uint64_t block) { return Entry{block, 0, kNoMember, EntryState::Free}; }
inline Entry retired(std::uint16_t member, std::uint32_t spare)
{
    return Entry{kNoBlock, spare, member, EntryState::Retired};
}

// A member whose listed byte ranges fail every read with EIO, as a disk's
// bad sectors do; everything else passes through to the image.
class BadSectorIo : public BlockIo {
public:
    explicit BadSectorIo(MemoryIo &inner) : inner_(inner) {}
    void fail(std::uint64_t offset, std::uint64_t len) { bad_.push_back({offset, len}); }
    const std::string &name() const override { return inner_.name(); }
    std::uint64_t size_bytes() const override { return inner_.size_bytes(); }
    unsigned logical_block_size() const override { return 512; }
    void read(std::uint64_t off, std::span<std::uint8_t> out) override
    {
        for (auto [b, l] : bad_)
            if (off < b + l && b < off + out.size())
                throw Error(Error::Code::Io, inner_.name() + ": read at " + std::to_string(off) +
                                                 ": Input/output error");
        inner_.read(off, out);
    }
    void write(std::uint64_t off, std::span<const std::uint8_t> in) override { inner_.write(off, in); }
    void flush() override {}

private:
    MemoryIo &inner_;
    std::vector<std::pair<std::uint64_t, std::uint64_t>> bad_;
};

// Rewrites a block in place and fixes its checksum, to build structurally
// wrong but checksum-valid metadata.
template <typename F> void patch_block(MemoryIo &io, std::uint64_t offset, F &&edit)
{
    std::uint8_t *p = io.bytes().data() + offset;
    edit(p);
    std::uint32_t c = 0;
    std::memcpy(p + 8, &c, 4);
    c = htole32(codec::block_csum(std::span<const std::uint8_t, kBlock>(p, kBlock)));
    std::memcpy(p + 8, &c, 4);
}

} // namespace dmremap::test
