// SPDX-License-Identifier: LGPL-2.1-or-later
#include "smart.hpp"

#include "subprocess.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <array>
#include <cerrno>
#include <chrono>
#include <climits>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <limits>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>
#include <vector>

namespace dmremap {
namespace {

using nlohmann::json;

constexpr std::array kAtaIds = {5, 187, 188, 197, 198};
constexpr auto kTimeout = std::chrono::seconds(30);

const json *child(const json &j, const char *key)
{
    if (!j.is_object())
        return nullptr;
    const auto it = j.find(key);
    return it == j.end() ? nullptr : &*it;
}

std::string str(const json &j, const char *key)
{
    const json *c = child(j, key);
    return c && c->is_string() ? c->get<std::string>() : std::string();
}

template <typename T> std::optional<T> num(const json &j, const char *key)
{
    const json *c = child(j, key);
    if (!c || !c->is_number_integer())
        return std::nullopt;
    if (c->is_number_unsigned())
        return c->get<std::uint64_t>() > static_cast<std::uint64_t>(std::numeric_limits<T>::max())
                   ? std::nullopt
                   : std::optional<T>(static_cast<T>(c->get<std::uint64_t>()));
    const auto v = c->get<std::int64_t>();
    if (v < 0 && !std::numeric_limits<T>::is_signed)
        return std::nullopt;
    return static_cast<T>(v);
}

// smartctl says why it could not answer in messages[] ("Unable to detect
// device type", "Permission denied"); the first error is the reason.
std::string message_of(const json &j)
{
    const json *sc = child(j, "smartctl");
    const json *msgs = sc ? child(*sc, "messages") : nullptr;
    if (!msgs || !msgs->is_array())
        return {};
    std::string first;
    for (const auto &m : *msgs) {
        const std::string text = str(m, "string");
        if (str(m, "severity") == "error" && !text.empty())
            return text;
        if (first.empty())
            first = text;
    }
    return first;
}

SmartReport unavailable(std::string device, std::string why)
{
    SmartReport r;
    r.device = std::move(device);
    r.error = std::move(why);
    return r;
}

// The whole disk behind a block device node through sysfs, or why there
// is none. Partitions have a "partition" file and sit in their disk's
// directory; stacked and virtual devices have no SMART of their own.
std::string whole_disk(const std::string &device, std::string &why)
{
    struct stat st {};
    if (::stat(device.c_str(), &st) < 0) {
        why = device + ": " + std::strerror(errno);
        return {};
    }
    if (!S_ISBLK(st.st_mode)) {
        why = device + ": not a block device";
        return {};
    }
    const std::filesystem::path sys = "/sys/dev/block/" + std::to_string(major(st.st_rdev)) + ":" +
                                      std::to_string(minor(st.st_rdev));
    std::error_code ec;
    auto dir = std::filesystem::canonical(sys, ec);
    if (ec) {
        why = device + ": not in sysfs (" + sys.string() + ")";
        return {};
    }
    if (std::filesystem::exists(dir / "partition", ec))
        dir = dir.parent_path();
    const std::string name = dir.filename().string();
    for (const char *virt : {"dm-", "loop", "nullb", "md", "zram", "ram", "nbd"})
        if (name.rfind(virt, 0) == 0) {
            why = "/dev/" + name + " is a virtual or stacked device without SMART";
            return {};
        }
    return "/dev/" + name;
}

} // namespace

std::map<std::string, std::int64_t> SmartReport::values() const
{
    std::map<std::string, std::int64_t> v;
    if (!available)
        return v;
    auto clamp = [](std::uint64_t x) {
        return static_cast<std::int64_t>(std::min<std::uint64_t>(x, static_cast<std::uint64_t>(INT64_MAX)));
    };
    if (passed)
        v["smart_passed"] = *passed ? 1 : 0;
    for (const auto &[id, raw] : ata_raw)
        v["ata_" + std::to_string(id)] = clamp(raw);
    if (nvme_media_errors)
        v["nvme_media_errors"] = clamp(*nvme_media_errors);
    if (nvme_available_spare)
        v["nvme_available_spare"] = *nvme_available_spare;
    if (nvme_available_spare_threshold)
        v["nvme_available_spare_threshold"] = *nvme_available_spare_threshold;
    if (nvme_percentage_used)
        v["nvme_percentage_used"] = *nvme_percentage_used;
    return v;
}

SmartReport SmartReport::from_values(const std::map<std::string, std::int64_t> &v)
{
    SmartReport r;
    r.available = !v.empty();
    auto get = [&](const std::string &key) -> std::optional<std::int64_t> {
        const auto f = v.find(key);
        return f == v.end() ? std::nullopt : std::optional<std::int64_t>(f->second);
    };
    if (auto p = get("smart_passed"))
        r.passed = *p != 0;
    for (int id : {5, 187, 188, 197, 198})
        if (auto x = get("ata_" + std::to_string(id)); x && *x >= 0)
            r.ata_raw[id] = static_cast<std::uint64_t>(*x);
    if (auto x = get("nvme_media_errors"); x && *x >= 0)
        r.nvme_media_errors = static_cast<std::uint64_t>(*x);
    if (auto x = get("nvme_available_spare"))
        r.nvme_available_spare = static_cast<int>(*x);
    if (auto x = get("nvme_available_spare_threshold"))
        r.nvme_available_spare_threshold = static_cast<int>(*x);
    if (auto x = get("nvme_percentage_used"))
        r.nvme_percentage_used = static_cast<int>(*x);
    return r;
}

SmartReport parse_smartctl_json(std::string_view text)
{
    const json j = json::parse(text, nullptr, false);
    if (j.is_discarded() || !j.is_object())
        return unavailable("", "smartctl's output is not JSON");
    SmartReport r;
    try {
        if (const json *dev = child(j, "device")) {
            r.device = str(*dev, "name");
            r.protocol = str(*dev, "protocol");
        }
        r.model = str(j, "model_name");
        if (r.model.empty())
            r.model = str(j, "scsi_model_name");
        r.serial = str(j, "serial_number");
        bool data = false;
        if (const json *st = child(j, "smart_status"); st && st->is_object()) {
            if (const json *p = child(*st, "passed"); p && p->is_boolean()) {
                r.passed = p->get<bool>();
                data = true;
            }
        }
        const json *attrs = child(j, "ata_smart_attributes");
        const json *table = attrs ? child(*attrs, "table") : nullptr;
        if (table && table->is_array()) {
            data = true;
            for (const auto &a : *table) {
                const auto id = num<int>(a, "id");
                const json *raw = child(a, "raw");
                const auto value = raw ? num<std::uint64_t>(*raw, "value") : std::nullopt;
                if (id && value && std::find(kAtaIds.begin(), kAtaIds.end(), *id) != kAtaIds.end())
                    r.ata_raw[*id] = *value;
            }
        }
        if (const json *n = child(j, "nvme_smart_health_information_log"); n && n->is_object()) {
            data = true;
            r.nvme_media_errors = num<std::uint64_t>(*n, "media_errors");
            r.nvme_available_spare = num<int>(*n, "available_spare");
            r.nvme_available_spare_threshold = num<int>(*n, "available_spare_threshold");
            r.nvme_percentage_used = num<int>(*n, "percentage_used");
        }
        // smartctl's exit status is a bitmask that is non-zero for healthy
        // disks with old errors logged; the data present is what counts.
        r.available = data;
        if (!data) {
            r.error = message_of(j);
            if (r.error.empty())
                r.error = "smartctl reported no SMART data";
        }
    } catch (const json::exception &e) {
        return unavailable(r.device, std::string("smartctl's output is not understood: ") + e.what());
    }
    return r;
}

SmartReport read_smart(const std::string &device)
{
    std::string why;
    const std::string disk = whole_disk(device, why);
    if (disk.empty())
        return unavailable(device, why);
    const char *env = std::getenv("DM_REMAP_SMARTCTL");
    const std::string bin = env && *env ? env : "smartctl";
    const ProcessResult run = run_process({bin, "--json=c", "-H", "-A", "-i", disk}, kTimeout);
    if (!run.started)
        return unavailable(disk, "cannot run " + bin + " (" + run.error + "); is smartmontools not installed?");
    if (run.timed_out)
        return unavailable(disk, bin + " did not answer within " + std::to_string(kTimeout.count()) + " s");
    SmartReport r = parse_smartctl_json(run.out);
    r.device = disk;
    return r;
}

} // namespace dmremap
