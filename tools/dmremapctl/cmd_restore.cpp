// SPDX-License-Identifier: GPL-2.0-or-later
#include "args.hpp"
#include "commands.hpp"

#include <error.hpp>
#include <file_io.hpp>
#include <restorer.hpp>
#include <safety.hpp>

#include <fstream>
#include <iostream>
#include <memory>

namespace dmremap::cli {

int cmd_restore(int argc, char **argv)
{
    Args a("restore", {{"from", true}, {"force", false}, {"json", false}, {"help", false, 'h'}}, argc, argv, 2);
    if (a.flag("help")) {
        std::cout << "Usage: dmremapctl restore --from DUMP.json [--force] MEMBER...\n\nWrite superblocks and a "
                     "metadata snapshot from a 'dmremapctl dump --json' file.\nMembers are matched by their "
                     "superblock; unreadable ones are taken in member order\n(data device first). --force "
                     "overwrites a device of another set.\n";
        return kExitOk;
    }
    auto from = a.value("from");
    if (!from)
        throw UsageError("restore: missing --from DUMP.json");
    a.need(1, 64, "MEMBER");
    std::ifstream in(*from);
    if (!in)
        throw Error(Error::Code::NotFound, *from + ": cannot open");
    nlohmann::json j = nlohmann::json::parse(in, nullptr, false);
    if (j.is_discarded())
        throw Error(Error::Code::InvalidArgument, *from + ": not valid JSON");
    SetDescription d;
    try {
        d = SetJson::parse(j);
    } catch (const Error &e) {
        throw Error(e.code(), *from + ": " + e.what());
    }
    std::vector<std::unique_ptr<FileIo>> files;
    std::vector<BlockIo *> ios;
    for (const auto &p : a.positional()) {
        // Restoring is writing: the same refusals as format. A wiped member
        // has no signature at all, which is the normal case here.
        Safety::check_not_in_use(p);
        if (auto sigs = Safety::signatures(p); !sigs.empty() && !a.flag("force"))
            throw Error(Error::Code::Exists, p + ": contains a " + sigs.front() + "; use --force to overwrite");
        files.push_back(std::make_unique<FileIo>(p, FileIo::Mode::Exclusive));
        ios.push_back(files.back().get());
    }
    const RestoreResult r = Restorer::restore(d, ios, a.flag("force"));
    if (a.flag("json")) {
        nlohmann::json out = {{"seq", r.seq}, {"members", nlohmann::json::array()}};
        for (std::size_t i = 0; i < ios.size(); i++)
            out["members"].push_back({{"path", ios[i]->name()}, {"index", r.indexes[i]}});
        std::cout << out.dump(2) << "\n";
        return kExitOk;
    }
    std::cout << "Restored set '" << d.common.name << "' (" << d.common.set_uuid.str() << ") as commit " << r.seq
              << ": " << d.state.size() << " entries\n";
    for (std::size_t i = 0; i < ios.size(); i++)
        std::cout << "  member " << r.indexes[i] << ": " << ios[i]->name() << "\n";
    return kExitOk;
}

} // namespace dmremap::cli
