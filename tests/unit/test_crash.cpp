// SPDX-License-Identifier: GPL-2.0-or-later
// Torn-commit simulation: the power fails during the N-th write of a
// workload, for every N, leaving that write partially on disk. After every
// such crash the loaded state must contain every acknowledged commit (it
// may also contain the one in flight) and be exactly one of the states the
// workload passed through.
#include "helpers.hpp"

#include <error.hpp>
#include <set_writer.hpp>

#include <gtest/gtest.h>

#include <map>

using namespace dmremap;
using namespace dmremap::test;

namespace {

struct PowerCut : std::exception {};

// Passes writes through until the budget runs out; the write that hits it
// lands only in part (whole sectors, as a drive tears), and nothing after.
class CrashIo : public BlockIo {
public:
    CrashIo(MemoryIo &inner, long &budget, std::size_t torn_sectors)
        : inner_(inner), budget_(budget), torn_(torn_sectors)
    {
    }
    const std::string &name() const override { return inner_.name(); }
    std::uint64_t size_bytes() const override { return inner_.size_bytes(); }
    unsigned logical_block_size() const override { return 512; }
    void read(std::uint64_t off, std::span<std::uint8_t> out) override { inner_.read(off, out); }
    void write(std::uint64_t off, std::span<const std::uint8_t> in) override
    {
        if (budget_ <= 0)
            throw PowerCut();
        if (--budget_ == 0) {
            inner_.write(off, in.first(std::min(in.size(), torn_ * 512)));
            throw PowerCut();
        }
        inner_.write(off, in);
    }
    void flush() override
    {
        if (budget_ <= 0)
            throw PowerCut();
    }

private:
    MemoryIo &inner_;
    long &budget_;
    std::size_t torn_;
};

// A workload that crosses several compactions with multi-update commits.
std::vector<std::vector<Entry>> workload()
{
    std::vector<std::vector<Entry>> w;
    for (std::uint32_t i = 0; i < 40; i++) {
        std::vector<Entry> c = {remapped(i, static_cast<std::uint16_t>(i % 2), i)};
        if (i % 3 == 0)
            c.push_back(pending(1000 + i));
        if (i % 5 == 4)
            c.push_back(freed(1000 + i - 4 - (i - 4) % 3));
        if (i % 7 == 0)
            c.push_back(retired(1, 500 + i));
        w.push_back(c);
    }
    return w;
}

// Runs the workload on fresh images until @budget writes are used up;
// returns the seq of the last acknowledged commit.
std::uint64_t run(MemSet &s, long &budget, std::size_t torn, std::map<std::uint64_t, RemapState> *states)
{
    std::vector<std::unique_ptr<CrashIo>> wrapped;
    std::vector<WriterMember> ms;
    for (std::size_t i = 0; i < s.devs.size(); i++) {
        wrapped.push_back(std::make_unique<CrashIo>(*s.devs[i], budget, torn));
        ms.push_back({wrapped.back().get(), s.sb(i)});
    }
    SetWriter w(ms, s.plan.state, 0, 1);
    std::uint64_t acked = 1;
    if (states)
        (*states)[1] = w.state();
    try {
        for (const auto &c : workload()) {
            acked = w.commit(c);
            if (states)
                (*states)[acked] = w.state();
        }
    } catch (const PowerCut &) {
    }
    return acked;
}

void crash_everywhere(std::size_t torn)
{
    // One run without a cut records every state and counts the writes.
    std::map<std::uint64_t, RemapState> states;
    long unlimited = 1L << 40;
    {
        MemSet s = make_set({16 * MiB, 8 * MiB}, 256, 16);
        run(s, unlimited, torn, &states);
    }
    const long total_writes = (1L << 40) - unlimited;
    ASSERT_GT(total_writes, 80);
    // Every record and header is written to metadata copy 0, then copy 1,
    // as separate writes: some cuts land between the two.
    bool split = false;
    for (long cut = 1; cut <= total_writes; cut++) {
        MemSet s = make_set({16 * MiB, 8 * MiB}, 256, 16);
        ASSERT_EQ(layout::md_copies(s.sb(0)), 2u);
        long budget = cut;
        const std::uint64_t acked = run(s, budget, torn, nullptr);
        SetView v = s.check();
        ASSERT_TRUE(v.state) << "no state after cut " << cut;
        ASSERT_GE(v.state->seq, acked) << "lost an acknowledged commit at cut " << cut;
        ASSERT_LE(v.state->seq, acked + 1) << "cut " << cut;
        // Fresh images get fresh UUIDs; the remap content must match exactly.
        ASSERT_EQ(v.state->entries(), states.at(v.state->seq).entries()) << "state differs at cut " << cut;
        split |= v.report.has("md-copy");
    }
    EXPECT_TRUE(split) << "no cut left the two metadata copies different";
}

} // namespace

TEST(Crash, TornAfterOneSector) { crash_everywhere(1); }
TEST(Crash, TornAfterSevenSectors) { crash_everywhere(7); }
TEST(Crash, LostWholeWrite) { crash_everywhere(0); }
