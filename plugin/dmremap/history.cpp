// SPDX-License-Identifier: LGPL-2.1-or-later
#include "history.hpp"
#include "unique_fd.hpp"

#include "error.hpp"
#include "state_store.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cerrno>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

namespace dmremap {
namespace {

using nlohmann::json;

using Fd = UniqueFd;

// Short keys would save bytes, but the file is for people too (`tail`
// while debugging a forecast), so the names are HistorySample's.
json to_json_line(const HistorySample &s)
{
    json j = {{"time", s.time},
              {"why", s.why},
              {"remapped", s.remapped},
              {"pending", s.pending},
              {"spare_used", s.spare_used},
              {"spare_total", s.spare_total},
              {"read_errors", s.read_errors},
              {"write_errors", s.write_errors},
              {"remap_events", s.remap_events},
              {"raw_read_errors", s.raw_read_errors},
              {"raw_write_errors", s.raw_write_errors},
              {"raw_remap_events", s.raw_remap_events}};
    if (s.scan_bad)
        j["scan_bad"] = *s.scan_bad;
    if (s.scan_complete)
        j["scan_complete"] = *s.scan_complete;
    if (!s.smart.empty())
        j["smart"] = s.smart;
    return j;
}

template <typename T> void take(const json &j, const char *key, T &out)
{
    const auto it = j.find(key);
    if (it != j.end() && !it->is_null())
        out = it->get<T>();
}

// nullopt for anything that is not one of our lines: a torn write, an
// editor's leftovers. Type errors count as malformed too.
std::optional<HistorySample> parse_line(std::string_view line)
{
    const json j = json::parse(line, nullptr, false);
    if (j.is_discarded() || !j.is_object() || !j.contains("time"))
        return std::nullopt;
    try {
        HistorySample s;
        take(j, "time", s.time);
        take(j, "why", s.why);
        take(j, "remapped", s.remapped);
        take(j, "pending", s.pending);
        take(j, "spare_used", s.spare_used);
        take(j, "spare_total", s.spare_total);
        take(j, "read_errors", s.read_errors);
        take(j, "write_errors", s.write_errors);
        take(j, "remap_events", s.remap_events);
        take(j, "raw_read_errors", s.raw_read_errors);
        take(j, "raw_write_errors", s.raw_write_errors);
        take(j, "raw_remap_events", s.raw_remap_events);
        if (j.contains("scan_bad") && !j["scan_bad"].is_null())
            s.scan_bad = j["scan_bad"].get<std::uint64_t>();
        if (j.contains("scan_complete") && !j["scan_complete"].is_null())
            s.scan_complete = j["scan_complete"].get<bool>();
        take(j, "smart", s.smart);
        return s;
    } catch (const json::exception &) {
        return std::nullopt;
    }
}

std::vector<HistorySample> parse_lines(std::string_view text)
{
    std::vector<HistorySample> out;
    while (!text.empty()) {
        const auto nl = text.find('\n');
        const auto line = text.substr(0, nl);
        if (auto s = parse_line(line))
            out.push_back(std::move(*s));
        if (nl == std::string_view::npos)
            break;
        text.remove_prefix(nl + 1);
    }
    // Appends are in time order, but a clock stepped back must not make
    // the forecast fit a line through shuffled points.
    std::stable_sort(out.begin(), out.end(), [](const auto &a, const auto &b) { return a.time < b.time; });
    return out;
}

std::string read_range(const std::filesystem::path &file, off_t from, bool *exists)
{
    Fd fd(::open(file.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW));
    if (fd.get() < 0) {
        if (errno == ENOENT) {
            if (exists)
                *exists = false;
            return {};
        }
        throw Error::from_errno(Error::Code::Io, file.string(), errno);
    }
    if (exists)
        *exists = true;
    struct stat st {};
    if (::fstat(fd.get(), &st) < 0)
        throw Error::from_errno(Error::Code::Io, file.string(), errno);
    from = std::max<off_t>(0, std::min<off_t>(from < 0 ? st.st_size + from : from, st.st_size));
    std::string out;
    char buf[65536];
    for (off_t pos = from;;) {
        ssize_t n = ::pread(fd.get(), buf, sizeof buf, pos);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            throw Error::from_errno(Error::Code::Io, file.string() + ": read", errno);
        if (n == 0)
            return out;
        out.append(buf, static_cast<std::size_t>(n));
        pos += n;
    }
}

std::string render(const std::vector<HistorySample> &samples)
{
    std::string out;
    for (const auto &s : samples)
        out += to_json_line(s).dump() + '\n';
    return out;
}

// A counter of this table: restarted at zero when raw went below the
// previous raw value (the table was loaded again), so all of raw is new.
std::uint64_t cumulative(std::uint64_t raw, std::uint64_t prev_raw, std::uint64_t prev_cum)
{
    return prev_cum + (raw >= prev_raw ? raw - prev_raw : raw);
}

} // namespace

History::History(std::filesystem::path file, std::uintmax_t max_bytes) : file_(std::move(file)), max_bytes_(max_bytes)
{
}

std::vector<HistorySample> History::load() const { return parse_lines(read_range(file_, 0, nullptr)); }

std::optional<HistorySample> History::last() const
{
    // Lines are a few hundred bytes; 64 KiB holds the newest whole one
    // even with a torn line after it.
    std::string tail = read_range(file_, -65536, nullptr);
    const auto first_nl = tail.find('\n');
    if (first_nl != std::string::npos && tail.size() == 65536)
        tail.erase(0, first_nl + 1);
    auto all = parse_lines(tail);
    if (all.empty())
        return std::nullopt;
    return all.back();
}

void History::append(const HistorySample &s)
{
    const std::string line = to_json_line(s).dump() + '\n';
    std::error_code ec;
    const auto size = std::filesystem::file_size(file_, ec);
    if (!ec && size + line.size() > max_bytes_) {
        auto samples = load();
        // Keep whole what fills about half the budget, so a compaction
        // buys room for many appends before the next one.
        const std::size_t keep = std::max<std::size_t>(1, max_bytes_ / 2 / line.size());
        samples = compact(samples, keep);
        samples.push_back(s);
        std::string text = render(samples);
        // Years of daily samples can outgrow the budget on their own:
        // the oldest days go, down to three quarters so that the next
        // appends do not compact again at once.
        std::size_t drop = 0, bytes = text.size();
        while (bytes > max_bytes_ / 4 * 3 && drop + 1 < samples.size())
            bytes -= to_json_line(samples[drop++]).dump().size() + 1;
        if (drop) {
            samples.erase(samples.begin(), samples.begin() + static_cast<std::ptrdiff_t>(drop));
            text = render(samples);
        }
        write_file_atomic(file_, text);
        return;
    }
    Fd fd(::open(file_.c_str(), O_RDWR | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600));
    if (fd.get() < 0)
        throw Error::from_errno(Error::Code::Io, file_.string(), errno);
    // A crash mid-write leaves a line without its newline; this line must
    // not be glued to it, or both are lost.
    std::string out = line;
    char lastc = '\n';
    if (!ec && size > 0 && ::pread(fd.get(), &lastc, 1, static_cast<off_t>(size - 1)) == 1 && lastc != '\n')
        out.insert(out.begin(), '\n');
    std::size_t done = 0;
    while (done < out.size()) {
        ssize_t n = ::write(fd.get(), out.data() + done, out.size() - done);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            throw Error::from_errno(Error::Code::Io, file_.string() + ": append", errno);
        done += static_cast<std::size_t>(n);
    }
}

HistorySample History::sample(const TargetStatus &status, std::int64_t now, const std::string &why,
                              const std::optional<HistorySample> &previous)
{
    HistorySample s;
    s.time = now;
    s.why = why;
    s.remapped = status.remapped;
    s.pending = status.pending;
    s.spare_used = status.spare_used;
    s.spare_total = status.spare_total;
    s.raw_read_errors = status.read_errors;
    s.raw_write_errors = status.write_errors;
    s.raw_remap_events = status.remap_events;
    if (previous) {
        s.read_errors = cumulative(status.read_errors, previous->raw_read_errors, previous->read_errors);
        s.write_errors = cumulative(status.write_errors, previous->raw_write_errors, previous->write_errors);
        s.remap_events = cumulative(status.remap_events, previous->raw_remap_events, previous->remap_events);
    } else {
        s.read_errors = status.read_errors;
        s.write_errors = status.write_errors;
        s.remap_events = status.remap_events;
    }
    return s;
}

bool History::worth_appending(const HistorySample &s, const std::optional<HistorySample> &previous)
{
    if (!previous || s.why == "daily" || s.scan_bad || previous->scan_bad)
        return true;
    const HistorySample &p = *previous;
    return s.remapped != p.remapped || s.pending != p.pending || s.spare_used != p.spare_used ||
           s.spare_total != p.spare_total || s.read_errors != p.read_errors || s.write_errors != p.write_errors ||
           s.remap_events != p.remap_events || s.raw_read_errors != p.raw_read_errors ||
           s.raw_write_errors != p.raw_write_errors || s.raw_remap_events != p.raw_remap_events ||
           (!s.smart.empty() && s.smart != p.smart);
}

std::vector<HistorySample> History::compact(const std::vector<HistorySample> &samples, std::size_t keep_whole)
{
    if (samples.size() <= keep_whole)
        return samples;
    const std::size_t split = samples.size() - keep_whole;
    std::vector<HistorySample> out;
    constexpr std::int64_t kDay = 86400;
    auto day_of = [](std::int64_t t) { return t >= 0 ? t / kDay : (t - kDay + 1) / kDay; };
    for (std::size_t i = 0; i < split; ++i) {
        const auto &s = samples[i];
        const bool last_of_day = i + 1 == split || day_of(samples[i + 1].time) != day_of(s.time);
        // The day's last sample carries its newest counters. A scan that
        // found errors stays too: "first scan error ever" needs it.
        if (last_of_day || (s.scan_bad && *s.scan_bad > 0))
            out.push_back(s);
    }
    out.insert(out.end(), samples.begin() + static_cast<std::ptrdiff_t>(split), samples.end());
    return out;
}

std::vector<HistorySample> History::select(const std::vector<HistorySample> &samples, std::int64_t since,
                                           std::size_t count)
{
    const auto first = std::find_if(samples.begin(), samples.end(), [&](const auto &s) { return s.time >= since; });
    const auto n = static_cast<std::size_t>(samples.end() - first);
    if (n <= count)
        return {first, samples.end()};
    std::vector<HistorySample> out;
    if (count == 0)
        return out;
    out.reserve(count);
    // Sample i of count stands at (n - 1) * i / (count - 1): the first and
    // the newest are both kept, the rest evenly between them.
    for (std::size_t i = 0; i < count; i++)
        out.push_back(*(first + static_cast<std::ptrdiff_t>(count == 1 ? n - 1 : (n - 1) * i / (count - 1))));
    return out;
}

} // namespace dmremap
