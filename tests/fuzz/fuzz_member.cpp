// SPDX-License-Identifier: GPL-2.0-or-later
// libFuzzer target for the metadata decoder: the input is a member image
// (superblocks, both snapshot slots, journal) laid over a valid one, loaded
// by the same Checker that dmremapctl check/dump and restore use. Any crash,
// sanitizer report, hang or exception other than dmremap::Error is a bug.
#include <checker.hpp>
#include <error.hpp>
#include <formatter.hpp>
#include <memory_io.hpp>
#include <set_json.hpp>
#include <set_writer.hpp>

#include <cstdlib>
#include <filesystem>
#include <fstream>

using namespace dmremap;

namespace {

constexpr std::uint64_t kImage = 4 << 20;
// Only the metadata is worth mutating; the data area stays as formatted.
constexpr std::size_t kMutable = 8192 + (2 * 6 + 16) * 4096;

std::vector<std::uint8_t> make_base(bool with_history)
{
    MemoryIo io("fuzz", kImage);
    FormatOptions o;
    o.name = "fuzz";
    o.max_entries = 256;
    o.journal_blocks = 16;
    o.internal_spare = 1 << 20;
    o.ctime = 1;
    std::vector<BlockIo *> ios{&io};
    FormatPlan p = Formatter::plan(o, ios);
    Formatter::write(p, ios);
    if (with_history) {
        SetWriter w({{&io, p.superblocks[0]}}, p.state, 0, 1);
        for (std::uint32_t i = 0; i < 20; i++)
            w.commit({Entry{i, i, 0, EntryState::Remapped}, Entry{100 + i, 0, kNoMember, EntryState::Pending}});
        w.commit({Entry{3, 0, kNoMember, EntryState::Free}, Entry{kNoBlock, 200, 0, EntryState::Retired}});
    }
    return io.bytes();
}

const std::vector<std::uint8_t> &base()
{
    static const std::vector<std::uint8_t> b = make_base(true);
    return b;
}

} // namespace

extern "C" int LLVMFuzzerInitialize(int *, char ***)
{
    // Seeds: the metadata of a fresh member and of one with journal history.
    if (const char *dir = std::getenv("DMREMAP_FUZZ_SEED_DIR")) {
        std::filesystem::create_directories(dir);
        int n = 0;
        for (bool h : {false, true}) {
            auto img = make_base(h);
            std::ofstream(std::string(dir) + "/seed" + std::to_string(n++), std::ios::binary)
                .write(reinterpret_cast<const char *>(img.data()), kMutable);
        }
    }
    return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t *data, std::size_t size)
{
    // Reuse one image: the checker never writes, so resetting the mutable
    // prefix is enough and keeps a run from copying megabytes.
    static MemoryIo io("fuzz", base());
    std::copy(base().begin(), base().begin() + kMutable, io.bytes().begin());
    std::copy(data, data + std::min(size, kMutable), io.bytes().begin());
    try {
        SetView v = Checker().run({&io});
        if (v.state && v.members[0].sb) {
            // What check accepts, dump must print and restore must re-read.
            auto j = SetJson::dump(v, 0);
            SetDescription d = SetJson::parse(nlohmann::json::parse(j.dump()));
            if (d.state.entries() != v.state->entries())
                std::abort();
        }
    } catch (const Error &) {
        // A clear error is the correct outcome for bad input.
    }
    return 0;
}
