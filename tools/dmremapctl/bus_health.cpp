// SPDX-License-Identifier: GPL-2.0-or-later
// BusBackend's health and scans: dm-remapd's HealthState, HealthReasons,
// Forecast and LastScan put back into the library's structs, so `dmremapctl
// health` prints the same for a user as for root (SMART needs raw disk
// access: only root's direct run reads it); a scan is StartScan with its
// Job's progress, and SIGINT cancels the Job.
#include "bus_backend.hpp"

#include "job_watch.hpp"
#include "stop_signals.hpp"

#include <error.hpp>

#include <chrono>
#include <cerrno>
#include <ctime>

namespace dmremap::cli {
namespace {

using Dict = std::map<std::string, sdbus::Variant>;

template <typename T> std::optional<T> get(const Dict &d, const std::string &key)
{
    const auto it = d.find(key);
    if (it == d.end())
        return std::nullopt;
    try {
        return it->second.get<T>();
    } catch (const sdbus::Error &) {
        throw Error(Error::Code::Failed, "dm-remapd: '" + key + "' has an unexpected type");
    }
}

HealthState state_of(const std::string &s)
{
    if (s == "ok")
        return HealthState::Ok;
    if (s == "warning")
        return HealthState::Warning;
    if (s == "failing")
        return HealthState::Failing;
    throw Error(Error::Code::Failed, "dm-remapd: unknown health state '" + s + "'");
}

Forecast forecast_of(const Dict &d)
{
    Forecast f;
    const std::string kind = get<std::string>(d, "kind").value_or("not-enough-data");
    for (const auto k : {Forecast::Kind::NotEnoughData, Forecast::Kind::NoGrowth, Forecast::Kind::Projected,
                         Forecast::Kind::Exhausted})
        if (kind == forecast_kind_name(k))
            f.kind = k;
    f.summary = get<std::string>(d, "summary").value_or("");
    f.samples = get<std::uint64_t>(d, "samples").value_or(0);
    f.rate_1d = get<double>(d, "rate_per_day_1d");
    f.rate_7d = get<double>(d, "rate_per_day_7d");
    f.rate_30d = get<double>(d, "rate_per_day_30d");
    f.exhaustion = get<std::int64_t>(d, "exhaustion");
    f.earliest = get<std::int64_t>(d, "earliest");
    f.latest = get<std::int64_t>(d, "latest");
    return f;
}

void scans_of(const Dict &d, DeviceHealth &out)
{
    if (const auto end = get<std::int64_t>(d, "end")) {
        ScanRecord r;
        r.device = out.name;
        r.end = *end;
        r.pass_start = get<std::int64_t>(d, "pass_start").value_or(0);
        r.blocks = r.next_block = get<std::uint64_t>(d, "blocks").value_or(0);
        r.bad_count = get<std::uint64_t>(d, "bad_count").value_or(0);
        r.bytes_read = get<std::uint64_t>(d, "bytes_read").value_or(0);
        r.seconds = get<std::uint64_t>(d, "seconds").value_or(0);
        r.runs = get<std::uint32_t>(d, "runs").value_or(0);
        r.complete = true;
        for (const auto b : get<std::vector<std::uint64_t>>(d, "bad_blocks").value_or(std::vector<std::uint64_t>{}))
            r.bad.push_back({b, 0, 0});
        out.last_scan = r;
    }
    if (const auto pos = get<std::uint64_t>(d, "position")) {
        ScanRecord r;
        r.device = out.name;
        r.next_block = *pos;
        r.blocks = get<std::uint64_t>(d, "position_blocks").value_or(0);
        out.checkpoint = r;
    }
}

} // namespace

DeviceHealth BusBackend::health(const std::string &name, bool)
{
    DeviceHealth out;
    out.name = name;
    out.status = status(name); // after the daemon read the device again
    const Dict p = fresh(name);
    out.set_uuid = get<std::string>(p, "SetUUID").value_or("");
    out.health.state = state_of(get<std::string>(p, "HealthState").value_or("ok"));
    using Row = sdbus::Struct<std::string, std::string, std::string>;
    for (const auto &r : get<std::vector<Row>>(p, "HealthReasons").value_or(std::vector<Row>{}))
        out.health.reasons.push_back({std::get<0>(r), state_of(std::get<1>(r)), std::get<2>(r)});
    out.health.forecast = forecast_of(get<Dict>(p, "Forecast").value_or(Dict{}));
    scans_of(get<Dict>(p, "LastScan").value_or(Dict{}), out);
    return out;
}

ScanOutcome BusBackend::scan(const std::string &name, const ScanOptions &opts, const Scanner::Progress &progress)
{
    const std::string path = device(name).first;
    const StopSignals signals;
    JobWatch watch(bus(), path); // before the job exists
    Dict o = options();
    o["rate"] = sdbus::Variant(opts.rate_mb_s);
    o["max_duration"] = sdbus::Variant(static_cast<std::uint64_t>(opts.max_duration.count()));
    o["idle"] = sdbus::Variant(opts.idle_priority);
    o["restart"] = sdbus::Variant(opts.restart);
    auto proxy = sdbus::createProxy(bus(), "org.dmremap1", path);
    std::optional<Dict> result;
    std::optional<sdbus::Error> failure;
    // As long as the disk takes: D-Bus allows at most about 24 days.
    proxy->callMethodAsync("StartScan")
        .onInterface("org.dmremap1.Device")
        .withTimeout(std::chrono::hours(24 * 24))
        .withArguments(o)
        .uponReplyInvoke([&](const sdbus::Error *error, const sdbus::ObjectPath &, const Dict &r) {
            if (error)
                failure = *error;
            else
                result = r;
        });
    watch.wait(
        [&] {
            watch.cancel_on_stop(options());
            return result || failure;
        },
        [&](double fraction) {
            // The pass's bytes.
            if (const std::uint64_t bytes = watch.bytes(); progress && bytes)
                progress(static_cast<std::uint64_t>(fraction * static_cast<double>(bytes)), bytes);
        });
    ScanOutcome out;
    out.record.device = name;
    if (failure && failure->getName() == "org.dmremap1.Error.Cancelled") {
        // Where the next scan resumes, as the daemon recorded it.
        const DeviceHealth h = health(name, false);
        out.canceled = true;
        if (h.checkpoint)
            out.record = *h.checkpoint;
        return out;
    }
    if (failure)
        throw Error(Error::Code::Failed, failure->getMessage());
    out.record.complete = get<bool>(*result, "complete").value_or(false);
    out.first_block = get<std::uint64_t>(*result, "first_block").value_or(0);
    out.record.next_block = get<std::uint64_t>(*result, "next_block").value_or(0);
    out.record.blocks = get<std::uint64_t>(*result, "blocks").value_or(0);
    out.blocks_read = get<std::uint64_t>(*result, "blocks_read").value_or(0);
    out.record.bad_count = get<std::uint64_t>(*result, "bad_count").value_or(0);
    out.stopped_by_limit = get<bool>(*result, "stopped_by_limit").value_or(false);
    const DeviceStatus st = status(name);
    out.record.block_size = st.target.block_size;
    using Found = sdbus::Struct<std::uint64_t, std::uint64_t, std::uint64_t>;
    for (const auto &f : get<std::vector<Found>>(*result, "found").value_or(std::vector<Found>{}))
        out.found.push_back({std::get<0>(f), std::get<1>(f), std::get<2>(f)});
    return out;
}

std::vector<std::uint64_t> BusBackend::rewrite_pending(const std::string &name, bool)
{
    // Destroying data in place has no D-Bus method: root does it directly.
    throw Error(Error::Code::Failed,
                name + ": --rewrite-pending writes to the device itself and needs root; run it as root", EPERM);
}

void BusBackend::notify_changed(const std::string &name)
{
    try {
        fresh(name);
    } catch (...) {
        // Its next event or daily update shows it.
    }
}

} // namespace dmremap::cli

namespace dmremap::cli {

void notify_daemon(const std::string &name) noexcept
{
    try {
        auto bus = sdbus::createSystemBusConnection();
        bool running = false;
        auto dbus = sdbus::createProxy(*bus, "org.freedesktop.DBus", "/org/freedesktop/DBus");
        dbus->callMethod("NameHasOwner").onInterface("org.freedesktop.DBus").withArguments(std::string("org.dmremap1"))
            .storeResultsTo(running);
        if (!running)
            return; // nobody to tell, and no reason to start it
        auto root = sdbus::createProxy(*bus, "org.dmremap1", "/org/dmremap1");
        std::map<sdbus::ObjectPath, std::map<std::string, Dict>> objects;
        root->callMethod("GetManagedObjects").onInterface("org.freedesktop.DBus.ObjectManager").storeResultsTo(objects);
        for (auto &[path, ifaces] : objects) {
            const auto it = ifaces.find("org.dmremap1.Device");
            if (it == ifaces.end() || get<std::string>(it->second, "Name").value_or("") != name)
                continue;
            auto dev = sdbus::createProxy(*bus, "org.dmremap1", path);
            dev->callMethod("Refresh")
                .onInterface("org.dmremap1.Device")
                .withTimeout(std::chrono::seconds(5))
                .withArguments(Dict{{"auth.no_user_interaction", sdbus::Variant(true)}});
        }
    } catch (...) {
        // Its next event or daily update shows it.
    }
}

} // namespace dmremap::cli
