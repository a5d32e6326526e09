// SPDX-License-Identifier: GPL-2.0-or-later
// scan: read the whole data area of an active device so that the target
// finds unreadable blocks (and records them pending) before anyone needs
// them; --rewrite-pending writes zeros over the pending blocks.
#include "args.hpp"
#include "backend.hpp"
#include "commands.hpp"
#include "text.hpp"

#include <error.hpp>
#include <scanner.hpp>

#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <iostream>
#include <memory>
#include <optional>
#include <unistd.h>

namespace dmremap::cli {
namespace {

const char *scan_help = R"(Usage: dmremapctl scan NAME [--rate MB/s] [--max-duration DURATION] [--no-idle] [--restart] [--json]
       dmremapctl scan NAME --rewrite-pending [--include-lost] [--yes] [--json]

Read the whole data area of the active device NAME, so that the kernel
target finds blocks that cannot be read and records them as pending,
before anyone needs their data. The position is kept in
/var/lib/dm-remap/SET-UUID/, so a bounded run resumes where the last one
stopped; a completed pass is recorded in last-scan.json there.

  --rate MB/s              read at most this many megabytes (10^6 bytes) a second
  --max-duration DURATION  stop (resumably) after DURATION: 90s, 30m, 2h, 1d or seconds
  --no-idle                do not lower the scan's I/O priority to the idle class
  --restart                start a new pass from block 0, ignoring the saved position
  --json                   print one JSON line with the result

  --rewrite-pending        do not scan: write zeros over every pending block that
                           cannot be read, so the disk rewrites it in place or the
                           target remaps it. DESTROYS whatever those blocks held.
  --include-lost           also pending blocks whose data was lost with a spare
  --yes                    do not ask for confirmation (required without a terminal)
)";

std::optional<double> parse_rate(const std::string &s)
{
    if (s.empty())
        return std::nullopt;
    char *end = nullptr;
    errno = 0;
    const double v = std::strtod(s.c_str(), &end);
    if (errno || !end || *end || !std::isfinite(v) || v <= 0 || v > 1e6 || s.find_first_of("xXpPnNiI") != s.npos)
        return std::nullopt;
    return v;
}

// "90s", "30m", "2h", "1d", "45": seconds, > 0.
std::optional<std::chrono::seconds> parse_duration(const std::string &s)
{
    if (s.empty())
        return std::nullopt;
    std::uint64_t mult = 1;
    std::string digits = s;
    switch (s.back()) {
    case 's': mult = 1; digits.pop_back(); break;
    case 'm': mult = 60; digits.pop_back(); break;
    case 'h': mult = 3600; digits.pop_back(); break;
    case 'd': mult = 86400; digits.pop_back(); break;
    default: break;
    }
    const auto v = parse_uint(digits);
    if (!v || *v == 0 || *v > 100u * 365 * 86400 / mult)
        return std::nullopt;
    return std::chrono::seconds(static_cast<std::int64_t>(*v * mult));
}

std::string when(std::int64_t t)
{
    const std::time_t tt = static_cast<std::time_t>(t);
    std::tm tm{};
    ::localtime_r(&tt, &tm);
    char buf[64];
    std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%S", &tm);
    return buf;
}

// The progress bar on stderr, redrawn at most five times a second.
Scanner::Progress progress_bar()
{
    using Clock = std::chrono::steady_clock;
    struct State {
        Clock::time_point start = Clock::now(), last{};
        std::uint64_t first = ~std::uint64_t{0};
    };
    auto st = std::make_shared<State>();
    return [st](std::uint64_t done, std::uint64_t total) {
        const auto now = Clock::now();
        if (st->first == ~std::uint64_t{0})
            st->first = done;
        if (done != total && now - st->last < std::chrono::milliseconds(200))
            return;
        st->last = now;
        const unsigned width = 40;
        const unsigned filled = total ? static_cast<unsigned>(done * width / total) : width;
        const double secs = std::chrono::duration<double>(now - st->start).count();
        const double mbs = secs > 0 ? static_cast<double>(done - st->first) / secs / 1e6 : 0;
        char rate[32];
        std::snprintf(rate, sizeof rate, "%.1f MB/s", mbs);
        std::cerr << "\rscanning [" << std::string(filled, '#') << std::string(width - filled, ' ') << "] "
                  << (total ? done * 100 / total : 100) << "% " << rate << "   " << std::flush;
    };
}

nlohmann::json bad_json(const std::vector<ScanBadBlock> &v)
{
    nlohmann::json a = nlohmann::json::array();
    for (const auto &b : v)
        a.push_back(b);
    return a;
}

int rewrite(Args &a, const std::string &name)
{
    for (const char *o : {"rate", "max-duration", "no-idle", "restart"})
        if (a.flag(o))
            throw UsageError(std::string("scan: --") + o + " does not go with --rewrite-pending");
    const bool interactive = ::isatty(STDIN_FILENO);
    if (!a.flag("yes") && !interactive)
        throw UsageError("scan: --rewrite-pending destroys data: confirm with --yes when not on a terminal");
    const bool lost = a.flag("include-lost");
    const auto backend = make_backend("scan");
    if (!a.flag("yes")) {
        std::uint64_t n = 0;
        backend->for_each_remap(name, [&](const RemapEntryInfo &e) {
            if (e.pending && (lost || !e.lost))
                n++;
            return true;
        });
        if (n == 0) {
            std::cerr << name << ": no pending blocks to rewrite\n";
        } else {
            std::cerr << "This writes zeros over " << n << " pending block" << (n == 1 ? "" : "s") << " of " << name
                      << ": whatever could not be read there is gone for good.\nType 'yes' to go on: " << std::flush;
            std::string answer;
            if (!std::getline(std::cin, answer) || answer != "yes") {
                std::cerr << "Nothing written.\n";
                return kExitFailed;
            }
        }
    }
    const auto blocks = backend->rewrite_pending(name, lost);
    if (a.flag("json")) {
        std::cout << nlohmann::json({{"device", name}, {"rewritten", blocks}}).dump() << "\n";
        return kExitOk;
    }
    std::cout << name << ": wrote zeros over " << blocks.size() << " pending block" << (blocks.size() == 1 ? "" : "s");
    for (std::size_t i = 0; i < blocks.size() && i < 20; i++)
        std::cout << (i ? ", " : ": ") << blocks[i];
    if (blocks.size() > 20)
        std::cout << ", ...";
    std::cout << "\n";
    return kExitOk;
}

} // namespace

int cmd_scan(int argc, char **argv)
{
    Args a("scan",
           {{"help", false, 'h'}, {"json", false}, {"rate", true}, {"max-duration", true}, {"no-idle", false},
            {"restart", false}, {"rewrite-pending", false}, {"include-lost", false}, {"yes", false}},
           argc, argv, 2);
    if (a.flag("help")) {
        std::cout << scan_help;
        return kExitOk;
    }
    a.need(1, 1, "NAME");
    const std::string &name = a.positional()[0];
    if (a.flag("rewrite-pending"))
        return rewrite(a, name);
    for (const char *o : {"include-lost", "yes"})
        if (a.flag(o))
            throw UsageError(std::string("scan: --") + o + " goes with --rewrite-pending");
    ScanOptions o;
    if (auto r = a.value("rate")) {
        const auto v = parse_rate(*r);
        if (!v)
            throw UsageError("scan: --rate '" + *r + "' is not a rate in MB/s above 0 (e.g. 50 or 2.5)");
        o.rate_mb_s = *v;
    }
    if (auto d = a.value("max-duration")) {
        const auto v = parse_duration(*d);
        if (!v)
            throw UsageError("scan: --max-duration '" + *d + "' is not a duration (e.g. 90s, 30m, 2h, 1d or seconds)");
        o.max_duration = *v;
    }
    o.idle_priority = !a.flag("no-idle");
    o.restart = a.flag("restart");
    const bool json = a.flag("json");

    const auto backend = make_backend("scan");
    Scanner::Progress bar;
    const bool tty = !json && ::isatty(STDERR_FILENO);
    if (tty)
        bar = progress_bar();
    const auto t0 = std::chrono::steady_clock::now();
    const ScanOutcome r = backend->scan(name, o, bar);
    const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    if (tty)
        std::cerr << "\n";
    const ScanRecord &rec = r.record;
    const std::uint64_t bytes = r.blocks_read * rec.block_size;
    const double mbs = secs > 0 ? static_cast<double>(bytes) / secs / 1e6 : 0;

    if (json) {
        nlohmann::json j = rec;
        j["first_block"] = r.first_block;
        j["blocks_read"] = r.blocks_read;
        j["found"] = bad_json(r.found);
        j["found_count"] = r.found.size();
        j["stopped_by_limit"] = r.stopped_by_limit;
        j["canceled"] = r.canceled;
        j["run_seconds"] = std::round(secs * 1000) / 1000;
        j["rate_mb_s"] = std::round(mbs * 10) / 10;
        std::cout << j.dump() << "\n";
    } else {
        char rate[32];
        std::snprintf(rate, sizeof rate, "%.1f", mbs);
        std::cout << name << ": read " << r.blocks_read << " blocks (" << human_size(bytes) << ")";
        if (r.blocks_read)
            std::cout << ", blocks " << r.first_block << "-" << r.first_block + r.blocks_read - 1;
        std::cout << " in " << static_cast<std::uint64_t>(secs + 0.5) << " s, " << rate << " MB/s\n";
        if (r.found.empty()) {
            std::cout << name << ": no unreadable blocks found in this run\n";
        } else {
            std::cout << name << ": " << r.found.size() << " unreadable block" << (r.found.size() == 1 ? "" : "s")
                      << " found, now pending (reads fail until written; 'dmremapctl scan " << name
                      << " --rewrite-pending' zeros them):\n";
            for (const auto &b : r.found)
                std::cout << "  block " << b.block << ": data device sectors " << b.sector << "-"
                          << b.sector + b.sectors - 1 << "\n";
        }
        if (rec.complete)
            std::cout << name << ": pass complete: " << rec.blocks << " blocks in " << rec.runs << " run"
                      << (rec.runs == 1 ? "" : "s") << " since " << when(rec.pass_start) << ", " << rec.bad_count
                      << " unreadable block" << (rec.bad_count == 1 ? "" : "s") << " in the pass\n";
        else
            std::cout << name << ": " << (r.canceled ? "interrupted" : "stopped at the time limit") << " at block "
                      << rec.next_block << " of " << rec.blocks << "; the next scan resumes there\n";
    }
    if (!r.history_error.empty())
        std::cerr << "dmremapctl scan: warning: the scan is not in the health history: " << r.history_error << "\n";
    return r.canceled ? kExitFailed : kExitOk;
}

} // namespace dmremap::cli
