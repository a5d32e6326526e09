// SPDX-License-Identifier: GPL-2.0-or-later
#include "device_object.hpp"

#include "async_reply.hpp"
#include "authorizer.hpp"
#include "daemon.hpp"
#include "object_paths.hpp"
#include "error_translator.hpp"
#include "options.hpp"
#include "refresh_after.hpp"

#include <discovery.hpp>
#include <error.hpp>
#include <history.hpp>
#include <loop_device.hpp>
#include <remap_device.hpp>
#include <scan_schedule.hpp>
#include <scanner.hpp>
#include <state_store.hpp>
#include <uuid.hpp>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <optional>
#include <utility>
#include <sys/sysmacros.h>

namespace dmremap::daemon {
namespace {

// The XML's limit. libbd_remap reads the kernel's table in smaller pages
// (RemapDevice::kMaxRemapsPage, the message reply buffer); one D-Bus call
// may span several.
constexpr std::uint32_t kMaxRemapsPerCall = 1000;
constexpr std::uint32_t kMaxHistoryPerCall = 1000;

// A reading method's checks: no options, COUNT within the XML's limit.
bool no_options_and_count(const std::map<std::string, sdbus::Variant> &options, std::uint32_t count,
                          std::uint32_t max)
{
    const Options o(options, {});
    if (count > max)
        throw Error(Error::Code::InvalidArgument,
                    "count: " + std::to_string(count) + " is above " + std::to_string(max));
    return true;
}

std::string node_of(const std::string &majmin)
{
    unsigned ma = 0, mi = 0;
    if (std::sscanf(majmin.c_str(), "%u:%u", &ma, &mi) != 2)
        return "";
    return Discovery::devnode(makedev(ma, mi));
}

// The kernel's refusal is only "no space"; its status tells whether that
// was the spares running out.
std::function<bool()> exhausted_check(const std::string &name)
{
    return [name] { return RemapDevice(name).status().target.exhausted; };
}

} // namespace

DeviceObject::DeviceObject(Daemon &daemon, sdbus::IConnection &connection, DeviceProps props)
    : AdaptorInterfaces(connection, ObjectPaths::device(props.name)), daemon_(daemon), name_(props.name),
      props_(std::move(props))
{
    registerAdaptor();
    emitInterfacesAddedSignal({org::dmremap1::Device_adaptor::INTERFACE_NAME});
}

DeviceObject::~DeviceObject()
{
    try {
        emitInterfacesRemovedSignal({org::dmremap1::Device_adaptor::INTERFACE_NAME});
    } catch (const sdbus::Error &) {
        // The bus is gone (shutdown): nobody to tell.
    }
    unregisterAdaptor();
}

DeviceProps DeviceObject::from_status(const std::string &name, const DeviceStatus &st)
{
    const TargetStatus &t = st.target;
    DeviceProps p;
    p.name = name;
    if (auto uuid = Discovery::set_uuid_of_dm_uuid(st.info.uuid))
        p.set_uuid = uuid->str();
    p.device_node = "/dev/dm-" + std::to_string(st.info.minor);
    for (const auto &sp : st.members) {
        const bool missing = sp.device == "-";
        p.spares.emplace_back(sp.index, missing ? "" : node_of(sp.device), sp.device, sp.total, sp.used.value_or(0),
                              sp.live, sp.state);
    }
    if (!p.spares.empty())
        p.data_device = std::get<1>(p.spares.front());
    p.block_size = t.block_size;
    p.remapped = t.remapped;
    p.pending = t.pending;
    p.unavailable = t.unavailable;
    p.spare_used = t.spare_used;
    p.spare_total = t.spare_total;
    p.read_errors = t.read_errors;
    p.write_errors = t.write_errors;
    p.remap_events = t.remap_events;
    p.healed = t.healed;
    p.state = st.state;
    p.dm_uuid = st.info.uuid;
    p.metadata_ok = t.metadata_ok;
    p.exhausted = t.exhausted;
    p.degraded = t.degraded;
    p.seq = t.seq;
    return p;
}

void DeviceObject::set_health(DeviceProps &p, const HealthView &view)
{
    p.health_state = health_state_name(view.health.state);
    p.health_reasons = reason_rows(view.health);
    p.forecast = forecast_dict(view.health.forecast);
    p.forecast_json = to_json(view.health.forecast).dump();
    p.last_scan = last_scan_dict(view.last_scan, view.checkpoint);
    nlohmann::json scans = nlohmann::json::array();
    for (const auto *r : {&view.last_scan, &view.checkpoint})
        scans.push_back(*r ? nlohmann::json(**r) : nlohmann::json());
    p.last_scan_json = scans.dump();
}

void DeviceObject::update(const DeviceProps &p)
{
    std::vector<std::string> changed;
    bool health_changed = false;
    {
        std::lock_guard lock(mutex_);
        const DeviceProps &o = props_;
        auto diff = [&](bool differs, const char *prop) {
            if (differs)
                changed.emplace_back(prop);
        };
        diff(o.set_uuid != p.set_uuid, "SetUUID");
        diff(o.device_node != p.device_node, "DeviceNode");
        diff(o.data_device != p.data_device, "DataDevice");
        diff(o.spares != p.spares, "Spares");
        diff(o.block_size != p.block_size, "BlockSize");
        diff(o.remapped != p.remapped, "Remapped");
        diff(o.pending != p.pending, "Pending");
        diff(o.unavailable != p.unavailable, "Unavailable");
        diff(o.spare_used != p.spare_used, "SpareUsed");
        diff(o.spare_total != p.spare_total, "SpareTotal");
        diff(o.read_errors != p.read_errors, "ReadErrors");
        diff(o.write_errors != p.write_errors, "WriteErrors");
        diff(o.remap_events != p.remap_events, "RemapEvents");
        diff(o.healed != p.healed, "Healed");
        diff(o.state != p.state, "State");
        diff(o.dm_uuid != p.dm_uuid, "DmUUID");
        diff(o.metadata_ok != p.metadata_ok, "MetadataOk");
        diff(o.seq != p.seq, "Seq");
        diff(o.exhausted != p.exhausted, "Exhausted");
        diff(o.degraded != p.degraded, "Degraded");
        diff(o.health_state != p.health_state, "HealthState");
        diff(o.health_reasons != p.health_reasons, "HealthReasons");
        diff(o.forecast_json != p.forecast_json, "Forecast");
        diff(o.last_scan_json != p.last_scan_json, "LastScan");
        health_changed = o.health_state != p.health_state || o.health_reasons.size() != p.health_reasons.size();
        for (std::size_t i = 0; !health_changed && i < p.health_reasons.size(); ++i)
            health_changed = std::get<0>(o.health_reasons[i]) != std::get<0>(p.health_reasons[i]);
        props_ = p;
        props_.name = name_;
    }
    // Outside the lock: emitting reads the properties back through the
    // getters, which take it.
    if (!changed.empty())
        emitPropertiesChangedSignal(org::dmremap1::Device_adaptor::INTERFACE_NAME, changed);
    // A new sentence with new numbers is not a change of health; a new
    // state or reason code is.
    if (health_changed)
        emitHealthChanged(p.health_state, HealthReasons());
}

// Tasks capture the daemon and the name, never `this`: a Stop queued
// earlier may have removed this object by the time they run.

void DeviceObject::AddSpare(sdbus::Result<std::uint16_t, std::uint32_t> &&result, std::string device,
                            std::map<std::string, sdbus::Variant> options)
{
    using Added = std::tuple<std::uint16_t, std::uint32_t>;
    const auto parsed = parse_or_reply(result, [&] {
        const Options o(options, {{"image", "s"}, {"size", "t"}, {"force", "b"}});
        SpareAddOptions sa;
        sa.force = o.flag("force");
        sa.image = o.get<std::string>("image").value_or("");
        sa.image_size = o.get<std::uint64_t>("size").value_or(0);
        if (sa.image.empty() && device.empty())
            throw Error(Error::Code::InvalidArgument,
                        "device: empty (give a device, or the 'image' and 'size' options)");
        if (!sa.image.empty() && !device.empty())
            throw Error(Error::Code::InvalidArgument, "device: must be empty with the 'image' option");
        if (!sa.image.empty() && sa.image_size == 0)
            throw Error(Error::Code::InvalidArgument, "options: 'image' needs a 'size' above 0");
        // Checked before polkit asks anyone: the library refuses it anyway.
        if (!sa.image.empty())
            LoopDevice::check_image_path(sa.image);
        return std::pair(sa, o.interactive());
    });
    if (!parsed)
        return;
    Daemon &d = daemon_;
    dispatch_authorized(io("AddSpare " + (device.empty() ? parsed->first.image : device)), d.authorizer(),
                        std::move(result), Authorizer::caller(getObject()),
                        Authorizer::action(Authorizer::kSpare, name_, device.empty() ? parsed->first.image : device,
                                           "Authentication is required to add " +
                                               (device.empty() ? "a new image " + parsed->first.image : device) +
                                               " to the dm-remap device " + name_ +
                                               " as a spare (everything on it is lost)"),
                        parsed->second, [&d, name = name_, device, sa = parsed->first]() -> Added {
                            const RefreshAfter refresh(d, name);
                            const auto claim = d.claim_devices("AddSpare");
                            const SpareAdded added = RemapDevice(name).spare_add(device, sa);
                            return {added.index, added.blocks};
                        });
}

void DeviceObject::RemoveSpare(sdbus::Result<Dict> &&result, std::string device, Dict options)
{
    const auto o = parse_or_reply(result, [&] {
        Options checked(options, {{"evacuate", "b"}});
        if (device.empty())
            throw Error(Error::Code::InvalidArgument, "device: empty (name the spare to remove)");
        return checked;
    });
    if (!o)
        return;
    Daemon &d = daemon_;
    const bool evacuate = o->flag("evacuate");
    const std::uint64_t block_size = prop(&DeviceProps::block_size);
    // An evacuation takes as long as the data on the spare: a job the
    // caller can watch and cancel, not a deadline.
    Placement where = io("RemoveSpare " + device);
    if (evacuate)
        where.timeout = std::nullopt;
    dispatch_authorized(
        where, d.authorizer(), std::move(result), Authorizer::caller(getObject()),
        Authorizer::action(Authorizer::kSpare, name_, device,
                           "Authentication is required to remove the spare " + device + " from the dm-remap device " +
                               name_),
        o->interactive(), [&d, name = name_, device, evacuate, block_size](std::uint32_t uid) -> Dict {
            // The job exists while the spare goes, for observers and
            // Cancel; the reply carries the result.
            SpareRemoved r;
            d.run_job(
                "spare-evacuate", {ObjectPaths::device(name)}, uid,
                [&](const Daemon::JobProgress &progress) {
                    const RefreshAfter refresh(d, name);
                    // The library polls the spare's live count while the
                    // kernel moves its blocks.
                    r = RemapDevice(name).spare_remove(device, evacuate,
                                                       [&progress, block_size](std::uint32_t done, std::uint32_t total) {
                                                           progress(done * block_size, total * block_size);
                                                       });
                    return r.device + " removed: " + std::to_string(r.moved) + " blocks moved, " +
                           std::to_string(r.lost) + " lost";
                },
                exhausted_check(name),
                std::make_shared<JobControl>(evacuate ? std::optional<std::string>(name) : std::nullopt));
            return {{"device", sdbus::Variant(r.device)},
                    {"moved", sdbus::Variant(static_cast<std::uint64_t>(r.moved))},
                    {"lost", sdbus::Variant(static_cast<std::uint64_t>(r.lost))}};
        },
        exhausted_check(name_));
}

void DeviceObject::Remap(sdbus::Result<bool> &&result, std::uint64_t block,
                         std::map<std::string, sdbus::Variant> options)
{
    const auto o = parse_or_reply(result, [&] { return Options(options, {}); });
    if (!o)
        return;
    Daemon &d = daemon_;
    dispatch_authorized(
        io("Remap " + std::to_string(block)), d.authorizer(), std::move(result), Authorizer::caller(getObject()),
        Authorizer::action(Authorizer::kRemap, name_, "",
                           "Authentication is required to move block " + std::to_string(block) +
                               " of the dm-remap device " + name_ + " to a spare block"),
        o->interactive(), [&d, name = name_, block] {
            const RefreshAfter refresh(d, name);
            return RemapDevice(name).remap(block);
        },
        exhausted_check(name_));
}

void DeviceObject::GetRemaps(sdbus::Result<std::vector<RemapRow>> &&result, std::uint64_t first, std::uint32_t count,
                             std::map<std::string, sdbus::Variant> options)
{
    if (!parse_or_reply(result, [&] { return no_options_and_count(options, count, kMaxRemapsPerCall); }))
        return;
    // A message to the target: no device read, but the kernel answers it
    // under the target's locks, so it gets a deadline like device work.
    dispatch_open(io("GetRemaps"), daemon_.authorizer(), std::move(result), Authorizer::caller(getObject()),
                  [name = name_, first, count] {
        std::vector<RemapRow> out;
        RemapDevice dev(name);
        std::uint64_t from = first;
        while (out.size() < count) {
            const auto left = static_cast<std::uint32_t>(count - out.size());
            const std::uint32_t want = std::min(RemapDevice::kMaxRemapsPage, left);
            const auto page = dev.remaps(from, want);
            for (const auto &e : page)
                out.emplace_back(e.block, e.pending, e.member, e.spare_block, e.on_missing);
            if (page.size() < want || page.back().block == UINT64_MAX)
                break;
            from = page.back().block + 1;
        }
        return out;
    });
}

void DeviceObject::GetHistory(sdbus::Result<std::vector<HistoryRow>> &&result, std::int64_t since,
                              std::uint32_t count, Dict options)
{
    if (!parse_or_reply(result, [&] { return no_options_and_count(options, count, kMaxHistoryPerCall); }))
        return;
    // A file read: the pool, so that a slow /var never holds the bus.
    dispatch_open(io("GetHistory"), daemon_.authorizer(), std::move(result), Authorizer::caller(getObject()),
                  [uuid = Uuid::parse(prop(&DeviceProps::set_uuid)), since, count] {
        std::vector<HistoryRow> out;
        if (!uuid)
            return out; // made by hand: no state directory
        // Not StateStore(uuid): that would make the directory of a set
        // that has none yet.
        const auto samples = History(StateStore::root() / uuid->str() / "history.jsonl").load();
        for (const auto &h : History::select(samples, since, count))
            out.emplace_back(h.time, h.spare_used, h.spare_total, h.remapped, h.pending);
        return out;
    });
}

void DeviceObject::Refresh(sdbus::Result<> &&result, std::map<std::string, sdbus::Variant> options)
{
    if (!parse_or_reply(result, [&] { return Options(options, {}).interactive(); }))
        return;
    // Waits for the worker, which coalesces refreshes of one device.
    Daemon &d = daemon_;
    dispatch_open(io("Refresh"), d.authorizer(), std::move(result), Authorizer::caller(getObject()),
                  [&d, name = name_] { d.settle(name); });
}

void DeviceObject::StartScan(sdbus::Result<sdbus::ObjectPath, Dict> &&result, Dict options)
{
    const auto o = parse_or_reply(result, [&] {
        const Options checked(options, {{"rate", "d"}, {"max_duration", "t"}, {"idle", "b"}, {"restart", "b"}});
        ScanOptions so;
        so.rate_mb_s = checked.get<double>("rate").value_or(0);
        if (!(so.rate_mb_s >= 0) || so.rate_mb_s > 1e6)
            throw Error(Error::Code::InvalidArgument, "rate: " + std::to_string(so.rate_mb_s) +
                                                          " is not a rate in MB/s from 0 (unlimited) to 1000000");
        const auto max = checked.get<std::uint64_t>("max_duration").value_or(0);
        if (max > 100ULL * 365 * 24 * 3600)
            throw Error(Error::Code::InvalidArgument, "max_duration: " + std::to_string(max) +
                                                          " s is more than 100 years");
        so.max_duration = std::chrono::seconds(max);
        so.idle_priority = checked.get<bool>("idle").value_or(true);
        so.restart = checked.flag("restart");
        return std::pair(so, checked.interactive());
    });
    if (!o)
        return;
    Daemon &d = daemon_;
    // As long as the disk is big: a job to watch and cancel, no deadline.
    Placement where = io("StartScan");
    where.timeout = std::nullopt;
    dispatch_authorized(
        where, d.authorizer(), std::move(result), Authorizer::caller(getObject()),
        Authorizer::action(Authorizer::kScan, name_, "",
                           "Authentication is required to scan the dm-remap device " + name_ +
                               " for unreadable blocks"),
        o->second, [&d, name = name_, so = o->first](std::uint32_t uid) -> std::tuple<sdbus::ObjectPath, Dict> {
            ScanOutcome outcome;
            sdbus::ObjectPath path;
            auto control = std::make_shared<JobControl>(JobControl::ByFlag{});
            d.run_job(
                "scan", {ObjectPaths::device(name)}, uid,
                [&](const Daemon::JobProgress &progress) {
                    const RefreshAfter refresh(d, name);
                    outcome = Scanner(name, so).run(progress, control->stop_flag());
                    if (outcome.canceled)
                        throw ErrorTranslator::cancelled(
                            "scan of " + name + " canceled at block " + std::to_string(outcome.record.next_block) +
                            " of " + std::to_string(outcome.record.blocks) + "; the next scan resumes there");
                    return "scan of " + name + ": " + std::to_string(outcome.blocks_read) + " blocks read, " +
                           std::to_string(outcome.found.size()) + " unreadable";
                },
                {}, control, &path);
            return {path, scan_result_dict(outcome)};
        });
}

void DeviceObject::SetScanSchedule(sdbus::Result<> &&result, std::string schedule, Dict options)
{
    // systemd-analyze's verdict too, so a schedule systemd would refuse
    // never reaches polkit.
    const auto o = parse_or_reply(result, [&] {
        const Options checked(options, {});
        return std::pair(ScanSchedule::validate(schedule), checked.interactive());
    });
    if (!o)
        return;
    const std::string what = o->first.off ? "turn off the scheduled scans" : "schedule the scans";
    dispatch_authorized(io("SetScanSchedule " + schedule), daemon_.authorizer(), std::move(result),
                        Authorizer::caller(getObject()),
                        Authorizer::action(Authorizer::kScan, name_, "",
                                           "Authentication is required to " + what + " of the dm-remap device " +
                                               name_),
                        o->second, [name = name_, spec = o->first] { ScanSchedule(name).apply(spec); });
}

void DeviceObject::Stop(sdbus::Result<> &&result, std::map<std::string, sdbus::Variant> options)
{
    const auto o = parse_or_reply(result, [&] { return Options(options, {}); });
    if (!o)
        return;
    Daemon &d = daemon_;
    dispatch_authorized(io("Stop " + name_), d.authorizer(), std::move(result), Authorizer::caller(getObject()),
                        Authorizer::action(Authorizer::kAssemble, name_, "",
                                           "Authentication is required to stop the dm-remap device " + name_),
                        o->interactive(), [&d, name = name_] {
                            const RefreshAfter refresh(d, name);
                            RemapDevice(name).stop();
                        });
}

Placement DeviceObject::io(const std::string &what)
{
    return {daemon_.pool(), daemon_.io_timeout(), name_ + ": " + what};
}

std::string DeviceObject::Name() { return name_; }
std::string DeviceObject::SetUUID() { return prop(&DeviceProps::set_uuid); }
std::string DeviceObject::DeviceNode() { return prop(&DeviceProps::device_node); }
std::string DeviceObject::DataDevice() { return prop(&DeviceProps::data_device); }

std::vector<DeviceObject::SpareRow> DeviceObject::Spares()
{
    std::vector<SpareRow> out;
    for (const auto &s : prop(&DeviceProps::spares))
        out.emplace_back(s);
    return out;
}

std::uint32_t DeviceObject::BlockSize() { return prop(&DeviceProps::block_size); }
std::uint64_t DeviceObject::Remapped() { return prop(&DeviceProps::remapped); }
std::uint64_t DeviceObject::Pending() { return prop(&DeviceProps::pending); }
std::uint64_t DeviceObject::Unavailable() { return prop(&DeviceProps::unavailable); }
std::uint64_t DeviceObject::SpareUsed() { return prop(&DeviceProps::spare_used); }
std::uint64_t DeviceObject::SpareTotal() { return prop(&DeviceProps::spare_total); }
std::uint64_t DeviceObject::ReadErrors() { return prop(&DeviceProps::read_errors); }
std::uint64_t DeviceObject::WriteErrors() { return prop(&DeviceProps::write_errors); }
std::uint64_t DeviceObject::RemapEvents() { return prop(&DeviceProps::remap_events); }
std::uint64_t DeviceObject::Healed() { return prop(&DeviceProps::healed); }
std::string DeviceObject::State() { return prop(&DeviceProps::state); }
std::string DeviceObject::DmUUID() { return prop(&DeviceProps::dm_uuid); }
bool DeviceObject::MetadataOk() { return prop(&DeviceProps::metadata_ok); }
std::uint64_t DeviceObject::Seq() { return prop(&DeviceProps::seq); }
bool DeviceObject::Exhausted() { return prop(&DeviceProps::exhausted); }
bool DeviceObject::Degraded() { return prop(&DeviceProps::degraded); }
std::string DeviceObject::HealthState() { return prop(&DeviceProps::health_state); }

std::vector<sdbus::Struct<std::string, std::string, std::string>> DeviceObject::HealthReasons()
{
    std::vector<sdbus::Struct<std::string, std::string, std::string>> out;
    for (const auto &r : prop(&DeviceProps::health_reasons))
        out.emplace_back(r);
    return out;
}

DeviceObject::Dict DeviceObject::Forecast() { return prop(&DeviceProps::forecast); }
DeviceObject::Dict DeviceObject::LastScan() { return prop(&DeviceProps::last_scan); }

} // namespace dmremap::daemon
