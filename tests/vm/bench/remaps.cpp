// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Benchmark helper (tests/vm/bench/bench.sh): gives a freshly formatted set
 * N remapped blocks, data blocks FIRST..FIRST+N-1 on spare blocks 0..N-1
 * of member 0, the way `dmremapctl restore` writes a dump. A dump of a
 * million entries, as JSON, needs more memory than the guest has; this
 * takes the set's dump without entries and builds them in place.
 *
 *   bench-remaps DUMP.json FIRST N MEMBER...
 */
#include <error.hpp>
#include <file_io.hpp>
#include <restorer.hpp>
#include <set_json.hpp>

#include <nlohmann/json.hpp>

#include <cstdio>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

using namespace dmremap;

int main(int argc, char **argv)
{
    if (argc < 5) {
        std::fprintf(stderr, "usage: bench-remaps DUMP.json FIRST N MEMBER...\n");
        return 2;
    }
    try {
        std::ifstream in(argv[1]);
        SetDescription d = SetJson::parse(nlohmann::json::parse(in));
        const std::uint64_t first = std::stoull(argv[2]), n = std::stoull(argv[3]);
        std::vector<Entry> entries(n);
        for (std::uint64_t i = 0; i < n; i++)
            entries[i] = {first + i, static_cast<std::uint32_t>(i), 0, EntryState::Remapped};
        d.state.assign(entries);
        std::vector<std::unique_ptr<FileIo>> files;
        std::vector<BlockIo *> ios;
        for (int i = 4; i < argc; i++) {
            files.push_back(std::make_unique<FileIo>(argv[i], FileIo::Mode::Exclusive));
            ios.push_back(files.back().get());
        }
        const RestoreResult r = Restorer::restore(d, ios, true);
        std::printf("%llu remaps written as commit %llu\n", static_cast<unsigned long long>(n),
                    static_cast<unsigned long long>(r.seq));
        return 0;
    } catch (const std::exception &e) {
        std::fprintf(stderr, "bench-remaps: %s\n", e.what());
        return 1;
    }
}
