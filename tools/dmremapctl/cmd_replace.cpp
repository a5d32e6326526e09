// SPDX-License-Identifier: GPL-2.0-or-later
// replace: move an active device to a new data disk while it stays in use
// (docs/REPLACE.md).
#include "args.hpp"
#include "backend.hpp"
#include "commands.hpp"
#include "text.hpp"

#include <chrono>
#include <cstdio>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>
#include <unistd.h>
#include <vector>

namespace dmremap::cli {
namespace {

const char *replace_help = R"(Usage: dmremapctl replace NAME NEWDEV [--spares keep|DEV[,DEV...]] [--internal-spare SIZE]
                          [--force] [--json]
       dmremapctl replace --resume SET-UUID [--wait SECONDS] [--json]

Move the active device NAME to the disk NEWDEV while it stays open and in
use: a new set is written to NEWDEV (same name, UUID and size, its own
internal spare), the kernel's dm-mirror copies the device's contents to it
(remapped blocks from their spares; blocks pending on the old disk stay
pending on the new one), and /dev/mapper/NAME switches to the new set.
The old disk is left as a stopped set marked replaced: assembly passes it
over, and its data stays as it was at the switch until you wipe it.

Until the switch the old disk holds every write: Ctrl-C, a failing new
disk or a power cut leave NAME on the old disk, and the replace can be
run again. NEWDEV must not be mounted, in use or a member of any set.

  --spares keep|DEV[,DEV...]
                         spares of the new set, added after the switch: 'keep'
                         carries NAME's spare devices over (they leave the old
                         set, whose remapped blocks then live only in NAME),
                         DEV adds that device; 'keep,DEV' does both. Each DEV is
                         checked before the copy starts. Default: none, the old
                         set stays whole, and the new set has its internal spare.
  --internal-spare SIZE  internal spare area of the new disk (default: 1% of it,
                         4 MiB to 1 GiB, from what the data area leaves)
  --force                overwrite a filesystem or other signature on NEWDEV
  --json                 print one JSON object with the result

  --resume SET-UUID      go on with a replace that a power cut or crash stopped:
                         its new disk still carries the set, marked unfinished.
                         Waits up to --wait seconds (default 300) for the set to
                         run from its old disk, then copies again. Started at boot
                         by dm-remap-replace@SET-UUID.service. Nothing to do: exit 0.
)";

std::vector<std::string> split(const std::string &s, char sep)
{
    std::vector<std::string> out;
    std::size_t from = 0;
    for (std::size_t at; (at = s.find(sep, from)) != std::string::npos; from = at + 1)
        out.push_back(s.substr(from, at - from));
    out.push_back(s.substr(from));
    return out;
}

Replacer::Progress progress_bar()
{
    using Clock = std::chrono::steady_clock;
    auto last = std::make_shared<Clock::time_point>();
    return [last](const ReplaceProgress &p) {
        const auto now = Clock::now();
        if (now - *last < std::chrono::milliseconds(200))
            return;
        *last = now;
        const unsigned width = 40;
        const unsigned filled = p.total ? static_cast<unsigned>(p.done * width / p.total) : width;
        std::cerr << "\r" << p.phase << std::string(10 - std::min<std::size_t>(p.phase.size(), 9), ' ') << "["
                  << std::string(filled, '#') << std::string(width - filled, ' ') << "] "
                  << (p.total ? p.done * 100 / p.total : 100) << "%   " << std::flush;
    };
}

int print(const ReplaceResult &r, bool json)
{
    if (json) {
        std::cout << nlohmann::json({{"device", r.name},
                                     {"set_uuid", r.set_uuid.str()},
                                     {"old_device", r.old_device},
                                     {"new_device", r.new_device},
                                     {"data_bytes", r.data_bytes},
                                     {"pending", r.pending},
                                     {"parts", r.windows},
                                     {"recopied", r.recopied},
                                     {"seconds", r.seconds},
                                     {"spares", r.spares},
                                     {"spare_errors", r.spare_errors}})
                         .dump()
                  << "\n";
        return r.spare_errors.empty() ? kExitOk : kExitFailed;
    }
    char secs[32];
    std::snprintf(secs, sizeof secs, "%.0f s", r.seconds);
    std::cout << r.name << ": now on " << r.new_device << " (was " << r.old_device << "): "
              << human_size(r.data_bytes) << " copied in " << secs << "\n";
    if (!r.pending.empty()) {
        std::cout << r.pending.size() << " pending block" << (r.pending.size() == 1 ? "" : "s")
                  << " carried over (they read as errors until written):";
        for (std::size_t i = 0; i < r.pending.size() && i < 20; i++)
            std::cout << " " << r.pending[i];
        std::cout << (r.pending.size() > 20 ? " ...\n" : "\n");
    }
    for (const auto &sp : r.spares)
        std::cout << sp << ": now a spare of " << r.name << "\n";
    std::cout << r.old_device << " is left as a stopped set marked replaced; wipe it when you no longer need it.\n";
    for (const auto &e : r.spare_errors)
        std::cerr << "dmremapctl: replace: the replace is done, but a spare was not added: " << e << "\n";
    return r.spare_errors.empty() ? kExitOk : kExitFailed;
}

int resume(Args &a, const std::string &uuid_text, bool json, bool tty)
{
    a.need(0, 0, "");
    if (a.flag("force") || a.value("internal-spare") || a.value("spares"))
        throw UsageError("replace: --force, --internal-spare and --spares do not go with --resume");
    const auto uuid = Uuid::parse(uuid_text);
    if (!uuid)
        throw UsageError("replace: --resume '" + uuid_text + "' is not a set UUID");
    std::chrono::seconds wait(300);
    if (auto w = a.value("wait")) {
        const auto v = parse_uint(*w);
        if (!v || *v > 86400)
            throw UsageError("replace: --wait '" + *w + "' is not a number of seconds up to 86400");
        wait = std::chrono::seconds(*v);
    }
    const auto r = make_backend("replace")->replace_resume(*uuid, wait, tty ? progress_bar() : Replacer::Progress{});
    if (tty)
        std::cerr << "\r" << std::string(60, ' ') << "\r";
    if (!r) {
        if (json)
            std::cout << "null\n";
        else
            std::cout << "set " << uuid->str() << ": no unfinished replace to go on with\n";
        return kExitOk;
    }
    return print(*r, json);
}

} // namespace

int cmd_replace(int argc, char **argv)
{
    Args a("replace",
           {{"help", false, 'h'},
            {"json", false},
            {"force", false},
            {"internal-spare", true},
            {"spares", true},
            {"resume", true},
            {"wait", true}},
           argc, argv, 2);
    if (a.flag("help")) {
        std::cout << replace_help;
        return kExitOk;
    }
    const bool json = a.flag("json");
    const bool tty = !json && ::isatty(STDERR_FILENO);
    if (auto u = a.value("resume"))
        return resume(a, *u, json, tty);
    if (a.value("wait"))
        throw UsageError("replace: --wait goes with --resume");
    a.need(2, 2, "NAME NEWDEV");
    const std::string &name = a.positional()[0];
    const std::string &dev = a.positional()[1];
    ReplaceOptions o;
    o.force = a.flag("force");
    if (auto v = a.value("internal-spare")) {
        const auto bytes = parse_size(*v);
        if (!bytes)
            throw UsageError("replace: --internal-spare '" + *v + "' is not a size (e.g. 64M, 1G)");
        o.internal_spare = *bytes;
    }
    if (auto v = a.value("spares")) {
        for (const auto &item : split(*v, ',')) {
            if (item == "keep" && !o.keep_spares)
                o.keep_spares = true;
            else if (item.empty() || item == "keep" || item.front() != '/')
                throw UsageError("replace: --spares '" + *v + "': '" + item +
                                 "' is not a device path: give 'keep' (once) and/or /dev paths, separated by commas");
            else
                o.spares.push_back(item);
        }
    }
    const auto backend = make_backend("replace");
    ReplaceResult r;
    try {
        r = backend->replace(name, dev, o, tty ? progress_bar() : Replacer::Progress{});
    } catch (...) {
        if (tty)
            std::cerr << "\n";
        throw;
    }
    if (tty)
        std::cerr << "\r" << std::string(60, ' ') << "\r";
    return print(r, json);
}

} // namespace dmremap::cli
