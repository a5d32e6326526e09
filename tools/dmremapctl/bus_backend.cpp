// SPDX-License-Identifier: GPL-2.0-or-later
#include "bus_backend.hpp"

#include "bus_dict.hpp"
#include "device_proxy.h"
#include "job_watch.hpp"
#include "manager_proxy.h"

#include <error.hpp>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <optional>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

namespace dmremap::cli {
namespace {

constexpr const char *kService = "org.dmremap1";
constexpr const char *kRoot = "/org/dmremap1";
constexpr const char *kManager = "/org/dmremap1/Manager";
constexpr const char *kDeviceIf = "org.dmremap1.Device";
constexpr const char *kErrPrefix = "org.dmremap1.Error.";
// polkit gives a person 5 minutes to type a password, and the daemon's one
// worker may finish other work first.
constexpr auto kCallTimeout = std::chrono::minutes(10);
constexpr std::uint32_t kRemapsPage = 1000; // the daemon's limit per GetRemaps
// An evacuation moves every block living on a spare: a big slow disk may
// take hours, and the call returns only then.
constexpr auto kJobTimeout = std::chrono::hours(24);

class ManagerProxy final : public sdbus::ProxyInterfaces<org::dmremap1::Manager_proxy> {
public:
    explicit ManagerProxy(sdbus::IConnection &bus) : ProxyInterfaces(bus, kService, kManager) { registerProxy(); }
    ~ManagerProxy() { unregisterProxy(); }
};

class DeviceProxy final : public sdbus::ProxyInterfaces<org::dmremap1::Device_proxy> {
public:
    DeviceProxy(sdbus::IConnection &bus, std::string path) : ProxyInterfaces(bus, kService, std::move(path))
    {
        registerProxy();
    }
    ~DeviceProxy() { unregisterProxy(); }
    // For calls the generated methods make synchronously.
    sdbus::IProxy &raw() { return getProxy(); }

private:
    void onHealthChanged(const std::string &, const std::vector<sdbus::Struct<std::string, std::string, std::string>> &)
        override
    {
    }
};

Error::Code code_of(const std::string &name)
{
    static const std::map<std::string, Error::Code> codes = {
        {"InvalidArgument", Error::Code::InvalidArgument}, {"NotFound", Error::Code::NotFound},
        {"Busy", Error::Code::Busy},                       {"AlreadyExists", Error::Code::Exists},
        {"NoSpace", Error::Code::NoSpace},                 {"SpareExhausted", Error::Code::NoSpace},
        {"Io", Error::Code::Io},                           {"Corrupt", Error::Code::Corrupt}};
    const auto it = codes.find(name);
    return it == codes.end() ? Error::Code::Failed : it->second;
}

// The bus is there but nobody answers for org.dmremap1 (not running, not
// activatable), or there is no bus.
bool unreachable(const std::string &name)
{
    static const char *const names[] = {"ServiceUnknown", "NameHasNoOwner", "NoServer", "Disconnected",
                                        "FileNotFound",   "NoNetwork",      "NoSuchFile"};
    const std::string prefix = "org.freedesktop.DBus.Error.";
    if (name.rfind(prefix, 0) != 0)
        return false;
    const std::string rest = name.substr(prefix.size());
    return rest.rfind("Spawn.", 0) == 0 ||
           std::any_of(std::begin(names), std::end(names), [&](const char *n) { return rest == n; });
}

// "NAME: no such device-mapper device" or "NAME: not a dm-remap device",
// as RemapDevice says it; device-mapper names are in sysfs for everyone.
Error no_device(const std::string &name)
{
    std::error_code ec;
    for (const auto &e : std::filesystem::directory_iterator("/sys/block", ec)) {
        std::ifstream f(e.path() / "dm/name");
        std::string n;
        if (f && std::getline(f, n) && n == name)
            return Error(Error::Code::InvalidArgument, name + ": not a dm-remap device");
    }
    return Error(Error::Code::NotFound, name + ": no such device-mapper device");
}

// The daemon's error as the library's; `device`: the name a call on a
// Device object was about (its object gone meanwhile).
[[noreturn]] void rethrow(const sdbus::Error &e, const std::string &device = "")
{
    const std::string &n = e.getName();
    if (n.rfind(kErrPrefix, 0) == 0) {
        const std::string what = n.substr(std::strlen(kErrPrefix));
        if (what == "NotAuthorized")
            throw NotAuthorized("not authorized (polkit): " + e.getMessage());
        throw Error(code_of(what), e.getMessage());
    }
    if (!device.empty() && (n == "org.freedesktop.DBus.Error.UnknownObject" ||
                            n == "org.freedesktop.DBus.Error.UnknownInterface" ||
                            n == "org.freedesktop.DBus.Error.UnknownMethod"))
        throw no_device(device);
    if (unreachable(n))
        throw BusUnreachable(e.getMessage().empty() ? n : e.getMessage());
    if (n == "org.freedesktop.DBus.Error.AccessDenied")
        throw NotAuthorized("not authorized (D-Bus policy): " + e.getMessage());
    throw Error(Error::Code::Failed, "dm-remapd: " + n + ": " + e.getMessage());
}

template <typename F> auto call(F &&f, const std::string &device = "")
{
    try {
        return f();
    } catch (const sdbus::Error &e) {
        rethrow(e, device);
    }
}


// The daemon resolves paths from its own working directory (/).
std::string absolute(const std::string &p)
{
    if (p.empty() || p[0] == '/' || p.rfind("index=", 0) == 0) // index=N names a member without a device
        return p;
    std::error_code ec;
    const auto abs = std::filesystem::absolute(p, ec);
    return ec ? p : abs.lexically_normal().string();
}

std::vector<SpareStat> spares_of(const std::map<std::string, sdbus::Variant> &p)
{
    using Row = sdbus::Struct<std::uint16_t, std::string, std::string, std::uint32_t, std::uint32_t, std::uint32_t,
                              std::string>;
    std::vector<SpareStat> out;
    for (const auto &r : prop<std::vector<Row>>(p, "Spares")) {
        SpareStat s;
        s.index = std::get<0>(r);
        s.device = std::get<2>(r);
        s.total = std::get<3>(r);
        s.live = std::get<5>(r);
        s.state = std::get<6>(r);
        // The kernel knows no use for a member absent from the table line
        // (missing, or failed and left out).
        if (s.device != "-") {
            s.used = std::get<4>(r);
            s.free = s.total - std::get<4>(r);
        }
        out.push_back(s);
    }
    return out;
}

AssembledSet set_of(const std::map<std::string, sdbus::Variant> &d)
{
    AssembledSet s;
    s.name = prop<std::string>(d, "name");
    s.set_uuid = Uuid::parse(prop<std::string>(d, "set_uuid")).value_or(Uuid{});
    s.members = prop<std::vector<std::string>>(d, "members");
    s.missing = prop<std::vector<std::uint16_t>>(d, "missing");
    if (d.count("failed")) // a daemon from before members could fail has none to report
        s.failed = prop<std::vector<std::uint16_t>>(d, "failed");
    s.attached = prop<std::vector<std::string>>(d, "attached");
    if (d.count("refused")) // older daemons attached any recorded image
        s.refused = prop<std::vector<std::string>>(d, "refused");
    s.already_active = prop<bool>(d, "already_active");
    return s;
}

Superblock superblock_of(const std::map<std::string, sdbus::Variant> &d)
{
    Superblock s;
    s.set_uuid = Uuid::parse(prop<std::string>(d, "set_uuid")).value_or(Uuid{});
    s.member_uuid = Uuid::parse(prop<std::string>(d, "member_uuid")).value_or(Uuid{});
    s.name = prop<std::string>(d, "name");
    s.block_size = prop<std::uint32_t>(d, "block_size");
    s.role = prop<std::string>(d, "role") == "data" ? Role::Data : Role::Spare;
    s.member_index = prop<std::uint16_t>(d, "index");
    s.member_sectors = prop<std::uint64_t>(d, "member_sectors");
    s.md_offset = prop<std::uint64_t>(d, "metadata_offset_sectors");
    s.md_sectors = prop<std::uint64_t>(d, "metadata_sectors");
    // Say how many metadata copies the set really has (DMR_INCOMPAT_MD_MIRROR).
    s.incompat_flags = prop<std::uint32_t>(d, "incompat_flags");
    s.max_entries = prop<std::uint32_t>(d, "max_entries");
    s.data_offset = prop<std::uint64_t>(d, "data_offset_sectors");
    s.data_sectors = prop<std::uint64_t>(d, "data_sectors");
    s.spare_offset = prop<std::uint64_t>(d, "spare_offset_sectors");
    s.spare_sectors = prop<std::uint64_t>(d, "spare_sectors");
    return s;
}

// "MAJ:MIN" of the spare DEV names (a node, MAJ:MIN, or an image file on a
// loop device), to find its live blocks; "" when it cannot be told.
std::string majmin_of(const std::string &dev)
{
    struct stat st;
    if (::stat(dev.c_str(), &st) != 0)
        return dev.find(':') != std::string::npos ? dev : "";
    if (S_ISBLK(st.st_mode))
        return std::to_string(major(st.st_rdev)) + ":" + std::to_string(minor(st.st_rdev));
    std::error_code ec;
    const auto target = std::filesystem::weakly_canonical(dev, ec);
    for (const auto &e : std::filesystem::directory_iterator("/sys/block", ec)) {
        std::ifstream back(e.path() / "loop/backing_file"), num(e.path() / "dev");
        std::string b, n;
        if (back && std::getline(back, b) && b == target.string() && num && std::getline(num, n))
            return n;
    }
    return "";
}

} // namespace

void rethrow_daemon_error(const sdbus::Error &e, const std::string &device) { rethrow(e, device); }

std::string absolute_path(const std::string &path) { return absolute(path); }

BusBackend::BusBackend() = default;
BusBackend::~BusBackend() = default;

sdbus::IConnection &BusBackend::bus()
{
    if (!bus_) {
        try {
            bus_ = sdbus::createSystemBusConnection();
        } catch (const sdbus::Error &e) {
            throw BusUnreachable(e.getMessage().empty() ? e.getName() : e.getMessage());
        }
        bus_->setMethodCallTimeout(kCallTimeout);
    }
    return *bus_;
}

BusBackend::Dict BusBackend::options()
{
    agent_.start(); // only calls that polkit may ask about take these options
    return {{"auth.no_user_interaction", sdbus::Variant(!PolkitAgent::may_ask())}};
}

BusBackend::Objects BusBackend::objects()
{
    auto root = sdbus::createProxy(bus(), kService, kRoot);
    Objects out;
    call([&] {
        root->callMethod("GetManagedObjects").onInterface("org.freedesktop.DBus.ObjectManager").storeResultsTo(out);
    });
    return out;
}

std::pair<std::string, BusBackend::Dict> BusBackend::device(const std::string &name)
{
    for (auto &[path, ifaces] : objects()) {
        const auto it = ifaces.find(kDeviceIf);
        if (it != ifaces.end() && prop<std::string>(it->second, "Name") == name)
            return {path, it->second};
    }
    throw no_device(name);
}

std::vector<std::string> BusBackend::names()
{
    std::vector<std::string> out;
    for (auto &[path, ifaces] : objects())
        if (const auto it = ifaces.find(kDeviceIf); it != ifaces.end())
            out.push_back(prop<std::string>(it->second, "Name"));
    std::sort(out.begin(), out.end());
    return out;
}

// Counters move without an event the daemon hears (a read of a pending
// block counts a read error; no commit follows): have it read the device
// again, as root's direct read would, then take the properties.
BusBackend::Dict BusBackend::fresh(const std::string &name)
{
    const std::string path = device(name).first;
    DeviceProxy dev(bus(), path);
    call([&] { dev.Refresh({}); }, name);
    auto proxy = sdbus::createProxy(bus(), kService, path);
    Dict props;
    call([&] {
        proxy->callMethod("GetAll")
            .onInterface("org.freedesktop.DBus.Properties")
            .withArguments(std::string(kDeviceIf))
            .storeResultsTo(props);
    }, name);
    return props;
}

DeviceStatus BusBackend::status(const std::string &name)
{
    const Dict p = fresh(name);
    DeviceStatus st;
    st.info.name = name;
    st.info.uuid = prop<std::string>(p, "DmUUID");
    const std::string node = prop<std::string>(p, "DeviceNode"); // /dev/dm-N
    if (const auto digit = node.find_first_of("0123456789"); digit != std::string::npos)
        st.info.minor = static_cast<std::uint32_t>(std::stoul(node.substr(digit)));
    TargetStatus &t = st.target;
    t.metadata_ok = prop<bool>(p, "MetadataOk");
    t.block_size = prop<std::uint32_t>(p, "BlockSize");
    t.remapped = prop<std::uint64_t>(p, "Remapped");
    t.pending = prop<std::uint64_t>(p, "Pending");
    t.unavailable = prop<std::uint64_t>(p, "Unavailable");
    t.spare_used = prop<std::uint64_t>(p, "SpareUsed");
    t.spare_total = prop<std::uint64_t>(p, "SpareTotal");
    t.read_errors = prop<std::uint64_t>(p, "ReadErrors");
    t.write_errors = prop<std::uint64_t>(p, "WriteErrors");
    t.remap_events = prop<std::uint64_t>(p, "RemapEvents");
    t.healed = prop<std::uint64_t>(p, "Healed");
    t.exhausted = prop<bool>(p, "Exhausted");
    t.degraded = prop<bool>(p, "Degraded");
    t.seq = prop<std::uint64_t>(p, "Seq");
    st.members = spares_of(p);
    // The daemon passes the member states on in Spares, not the status line's token.
    for (const auto &sp : st.members) {
        const MemberHealth h = sp.state == "failed"    ? MemberHealth::Failed
                               : sp.state == "missing" ? MemberHealth::Missing
                               : sp.state == "gone"    ? MemberHealth::Gone
                                                       : MemberHealth::Ok;
        t.members.push_back({sp.index, h});
    }
    st.state = prop<std::string>(p, "State");
    return st;
}

std::vector<SpareStat> BusBackend::spares(const std::string &name) { return spares_of(fresh(name)); }

void BusBackend::for_each_remap(const std::string &name, const std::function<bool(const RemapEntryInfo &)> &fn)
{
    DeviceProxy dev(bus(), device(name).first);
    std::uint64_t from = 0;
    for (;;) {
        const auto page = call([&] { return dev.GetRemaps(from, kRemapsPage, {}); }, name);
        for (const auto &r : page) {
            const RemapEntryInfo e{std::get<0>(r), std::get<1>(r), std::get<2>(r), std::get<3>(r), std::get<4>(r)};
            if (!fn(e))
                return;
        }
        if (page.size() < kRemapsPage || std::get<0>(page.back()) == UINT64_MAX)
            return;
        from = std::get<0>(page.back()) + 1;
    }
}

CreateResult BusBackend::create(const std::vector<std::string> &paths, const FormatOptions &opts, bool force,
                                const std::optional<ScanScheduleSpec> &scan_schedule)
{
    Dict o = options();
    if (!opts.name.empty())
        o["name"] = opts.name;
    o["block_size"] = opts.block_size;
    if (opts.internal_spare)
        o["internal_spare"] = *opts.internal_spare;
    if (opts.internal_spare_percent)
        o["internal_spare_percent"] = static_cast<std::uint32_t>(*opts.internal_spare_percent);
    o["max_remaps"] = opts.max_entries;
    if (opts.set_uuid)
        o["uuid"] = opts.set_uuid->str();
    if (force)
        o["force"] = true;
    if (scan_schedule)
        o["scan_schedule"] = scan_schedule->off ? std::string("off") : scan_schedule->calendar;
    std::vector<std::string> devices;
    for (const auto &p : paths)
        devices.push_back(absolute(p));
    ManagerProxy m(bus());
    const auto created = std::get<1>(call([&] { return m.Create(devices, o); }));
    CreateResult r;
    for (const auto &d : prop<std::vector<Dict>>(created, "members"))
        r.plan.superblocks.push_back(superblock_of(d));
    if (r.plan.superblocks.empty())
        throw Error(Error::Code::Failed, "dm-remapd: Create returned no members");
    r.name = r.plan.superblocks.front().name;
    return r;
}

AssembledSet BusBackend::assemble_with(const std::vector<std::string> &members, Dict o)
{
    std::vector<std::string> abs;
    for (const auto &m : members)
        abs.push_back(absolute(m));
    ManagerProxy m(bus());
    return set_of(std::get<1>(call([&] { return m.Assemble(abs, o); })));
}

AssembledSet BusBackend::assemble(const std::vector<std::string> &members, const AssembleOptions &opts)
{
    Dict o = options();
    o["degraded"] = opts.degraded;
    if (!opts.name.empty())
        o["name"] = opts.name;
    return assemble_with(members, o);
}

AssembledSet BusBackend::assemble(const Uuid &set_uuid, const AssembleOptions &opts)
{
    Dict o = options();
    o["degraded"] = opts.degraded;
    if (!opts.name.empty())
        o["name"] = opts.name;
    o["uuid"] = set_uuid.str();
    return assemble_with({}, o);
}

std::vector<AssembleAllResult> BusBackend::assemble_all(const AssembleOptions &opts)
{
    Dict o = options();
    o["degraded"] = opts.degraded;
    ManagerProxy m(bus());
    std::vector<AssembleAllResult> out;
    for (const auto &d : call([&] { return m.AssembleAll(o); })) {
        AssembleAllResult r;
        r.set_name = prop<std::string>(d, "set_name");
        r.set_uuid = Uuid::parse(prop<std::string>(d, "set_uuid")).value_or(Uuid{});
        r.error = prop<std::string>(d, "error");
        if (r.error.empty())
            r.set = set_of(d);
        out.push_back(r);
    }
    return out;
}

void BusBackend::stop(const std::string &name)
{
    DeviceProxy dev(bus(), device(name).first);
    call([&] { dev.Stop(options()); }, name);
}

std::vector<FoundMember> BusBackend::members()
{
    ManagerProxy m(bus());
    std::vector<FoundMember> out;
    for (const auto &d : call([&] { return m.ListMembers({}); })) {
        FoundMember f;
        f.devnode = prop<std::string>(d, "device");
        f.set_uuid = Uuid::parse(prop<std::string>(d, "set_uuid")).value_or(Uuid{});
        f.member_uuid = Uuid::parse(prop<std::string>(d, "member_uuid")).value_or(Uuid{});
        f.set_name = prop<std::string>(d, "set_name");
        f.role = prop<std::string>(d, "role") == "data" ? Role::Data : Role::Spare;
        f.index = prop<std::uint16_t>(d, "index");
        f.generation = prop<std::uint64_t>(d, "generation");
        f.from_udev = prop<std::string>(d, "source") == "udev";
        if (auto a = prop<std::string>(d, "active"); !a.empty())
            f.active = a;
        out.push_back(f);
    }
    return out;
}

SpareAdded BusBackend::spare_add(const std::string &name, const std::string &dev, const SpareAddOptions &opts)
{
    const std::string path = device(name).first;
    Dict o = options();
    if (opts.force)
        o["force"] = true;
    if (!opts.image.empty()) {
        o["image"] = absolute(opts.image);
        o["size"] = opts.image_size;
    }
    DeviceProxy proxy(bus(), path);
    const auto [index, blocks] = call([&] { return proxy.AddSpare(absolute(dev), o); }, name);
    SpareAdded r{dev, index, blocks, opts.image};
    if (!opts.image.empty()) {
        // The loop device the daemon attached: the new member's node, from
        // the properties it re-read before it replied.
        for (const auto &s : spares_of(device(name).second))
            if (s.index == index)
                if (unsigned ma = 0, mi = 0; std::sscanf(s.device.c_str(), "%u:%u", &ma, &mi) == 2)
                    r.device = Discovery::devnode(makedev(ma, mi));
    }
    return r;
}

SpareRemoved BusBackend::spare_remove(const std::string &name, const std::string &dev, bool evacuate,
                                      const RemapDevice::Progress &progress)
{
    const auto [path, props] = device(name);
    JobWatch watch(bus(), path); // before the job exists
    // The bar counts blocks; the job a fraction of the blocks living on the spare now.
    std::uint32_t total = 0;
    if (progress && evacuate) {
        const std::string id = majmin_of(dev);
        for (const auto &s : spares_of(props))
            if (!id.empty() && s.device == id)
                total = s.live;
    }
    Dict o = options();
    o["evacuate"] = evacuate;
    DeviceProxy proxy(bus(), path);
    // The call returns when the spare is gone, however long the evacuation
    // takes; the job shows the progress meanwhile.
    std::optional<Dict> result;
    std::optional<sdbus::Error> failure;
    proxy.raw()
        .callMethodAsync("RemoveSpare")
        .onInterface(kDeviceIf)
        .withTimeout(kJobTimeout)
        .withArguments(absolute(dev), o)
        .uponReplyInvoke([&](const sdbus::Error *error, const Dict &r) {
            if (error)
                failure = *error;
            else
                result = r;
        });
    std::uint32_t shown = 0;
    watch.wait([&] { return result || failure; },
               [&](double fraction) {
                   const auto now = static_cast<std::uint32_t>(std::lround(fraction * total));
                   if (total && now != shown && now < total)
                       progress(shown = now, total);
               });
    if (failure)
        rethrow(*failure, name);
    if (progress && total)
        progress(total, total);
    SpareRemoved r;
    r.device = prop<std::string>(*result, "device");
    r.moved = prop<std::uint64_t>(*result, "moved");
    r.lost = prop<std::uint64_t>(*result, "lost");
    return r;
}

void BusBackend::set_scan_schedule(const std::string &name, const ScanScheduleSpec &spec)
{
    DeviceProxy dev(bus(), device(name).first);
    call([&] { dev.SetScanSchedule(spec.off ? std::string("off") : spec.calendar, options()); }, name);
}

bool BusBackend::remap(const std::string &name, std::uint64_t block)
{
    DeviceProxy dev(bus(), device(name).first);
    return call([&] { return dev.Remap(block, options()); }, name);
}

} // namespace dmremap::cli
