// SPDX-License-Identifier: GPL-2.0-or-later
// BusBackend's health: dm-remapd's HealthState, HealthReasons, Forecast
// and LastScan put back into the library's structs, so `dmremapctl
// health` prints the same for a user as for root. SMART needs raw disk
// access: only root's direct run reads it.
#include "bus_backend.hpp"

#include <error.hpp>

#include <chrono>
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
