// SPDX-License-Identifier: GPL-2.0-or-later
// libFuzzer target for the health model's inputs, which come from files
// and programs rather than from us: smartctl's JSON, the history file
// (one JSON object per line) and a scan record. Whatever they hold, the
// parsers must not crash, and the forecast and assessment built on them
// must not hit undefined behaviour (huge times and counters, a history
// out of order). Any crash or sanitizer report is a bug; exceptions
// other than dmremap::Error or nlohmann's parse errors are bugs too.
#include <error.hpp>
#include <health.hpp>
#include <history.hpp>
#include <scan_record.hpp>
#include <smart.hpp>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <unistd.h>

using namespace dmremap;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t *data, std::size_t size)
{
    const std::string text(reinterpret_cast<const char *>(data), size);

    // smartctl's output: never throws.
    const SmartReport smart = parse_smartctl_json(text);
    (void)SmartReport::from_values(smart.values());

    // The same bytes as a history file.
    static const std::filesystem::path file =
        std::filesystem::temp_directory_path() / ("fuzz-history-" + std::to_string(::getpid()) + ".jsonl");
    {
        std::ofstream(file, std::ios::binary | std::ios::trunc) << text;
    }
    std::vector<HistorySample> history;
    try {
        history = History(file).load();
        (void)History(file).last();
        (void)History::compact(history, 3);
    } catch (const Error &) {
    }

    // And as a scan record.
    std::optional<ScanRecord> scan;
    try {
        scan = nlohmann::json::parse(text).get<ScanRecord>();
    } catch (const nlohmann::json::exception &) {
    }

    TargetStatus now;
    if (!history.empty()) {
        now.spare_used = history.back().spare_used;
        now.spare_total = history.back().spare_total;
        now.pending = history.back().pending;
        now.remapped = history.back().remapped;
    }
    for (const std::int64_t t : {std::int64_t{1800000000}, history.empty() ? 0 : history.back().time}) {
        const Health h = assess(now, history, scan, smart.available ? std::optional(smart) : std::nullopt, t);
        (void)to_json(h).dump();
    }
    return 0;
}
