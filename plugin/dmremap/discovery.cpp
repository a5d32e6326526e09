// SPDX-License-Identifier: LGPL-2.1-or-later
#include "discovery.hpp"

#include "checker.hpp"
#include "dm_control.hpp"
#include "error.hpp"
#include "file_io.hpp"
#include "replacer.hpp"

#include <dm-remap-format.h>
#include <libudev.h>

#include <fstream>
#include <map>
#include <sstream>
#include <memory>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <thread>

namespace dmremap {
namespace {

constexpr std::string_view kDmUuidPrefix = "REMAP-";
// The hidden device a replace runs the old disk's set on.
constexpr std::string_view kSourceUuidPrefix = Replacer::kSourceUuidPrefix;

struct UdevDeleter {
    void operator()(udev *u) const { udev_unref(u); }
    void operator()(udev_device *d) const { udev_device_unref(d); }
    void operator()(udev_enumerate *e) const { udev_enumerate_unref(e); }
    void operator()(udev_queue *q) const { udev_queue_unref(q); }
};
template <typename T> using UdevPtr = std::unique_ptr<T, UdevDeleter>;

UdevPtr<udev> context()
{
    UdevPtr<udev> u(udev_new());
    if (!u)
        throw Error(Error::Code::Failed, "libudev: cannot create a context");
    return u;
}

std::string prop(udev_device *d, const char *key)
{
    const char *v = udev_device_get_property_value(d, key);
    return v ? v : "";
}

std::optional<FoundMember> from_udev(udev_device *d)
{
    const auto set = Uuid::parse(prop(d, "DM_REMAP_SET_UUID"));
    const auto member = Uuid::parse(prop(d, "DM_REMAP_MEMBER_UUID"));
    if (!set || !member)
        return std::nullopt;
    FoundMember m;
    m.devnode = udev_device_get_devnode(d);
    m.devnum = udev_device_get_devnum(d);
    m.set_uuid = *set;
    m.member_uuid = *member;
    m.set_name = prop(d, "DM_REMAP_NAME");
    const std::string role = prop(d, "DM_REMAP_ROLE");
    m.role = role == "data" ? Role::Data : role == "spare" ? Role::Spare : Role::None;
    try {
        m.index = static_cast<std::uint16_t>(std::stoul(prop(d, "DM_REMAP_INDEX")));
        m.generation = std::stoull(prop(d, "DM_REMAP_GENERATION"));
    } catch (const std::exception &) {
        return std::nullopt; // a damaged record: read the superblocks instead
    }
    const std::string replace = prop(d, "DM_REMAP_REPLACE");
    m.compat_flags = replace == "replacing" ? DMR_COMPAT_REPLACING : replace == "replaced" ? DMR_COMPAT_REPLACED : 0;
    m.from_udev = true;
    return m;
}

std::uint64_t sysfs_size(udev_device *d)
{
    const char *s = udev_device_get_sysattr_value(d, "size");
    return s ? std::strtoull(s, nullptr, 10) : 0;
}

dev_t parse_majmin(const std::string &s)
{
    const auto colon = s.find(':');
    if (colon == std::string::npos)
        return 0;
    try {
        return makedev(std::stoul(s.substr(0, colon)), std::stoul(s.substr(colon + 1)));
    } catch (const std::exception &) {
        return 0;
    }
}

} // namespace

std::string Discovery::dm_uuid(const Uuid &set_uuid) { return std::string(kDmUuidPrefix) + set_uuid.str(); }

std::optional<Uuid> Discovery::set_uuid_of_dm_uuid(const std::string &dm_uuid)
{
    if (dm_uuid.rfind(kDmUuidPrefix, 0) != 0)
        return std::nullopt;
    return Uuid::parse(std::string_view(dm_uuid).substr(kDmUuidPrefix.size()));
}

std::optional<FoundMember> Discovery::probe(const std::string &path, bool block_only)
{
    struct stat pre;
    if (::stat(path.c_str(), &pre) == 0 && S_ISBLK(pre.st_mode)) {
        // A read from a suspended dm device waits for its resume.
        std::ifstream f("/sys/dev/block/" + std::to_string(major(pre.st_rdev)) + ":" +
                        std::to_string(minor(pre.st_rdev)) + "/dm/suspended");
        std::string v;
        if (f >> v && v == "1")
            throw Error(Error::Code::Busy, path + ": is a suspended device-mapper device; reading it would wait");
    }
    FileIo io(path, FileIo::Mode::ReadOnly);
    if (block_only && !io.is_block_device())
        throw Error(Error::Code::InvalidArgument, path + ": not a block device");
    Report ignore;
    const MemberView mv = Checker::read_superblocks(io, ignore);
    if (!mv.sb)
        return std::nullopt;
    FoundMember m;
    m.devnode = path;
    struct stat st;
    if (::stat(path.c_str(), &st) == 0 && S_ISBLK(st.st_mode))
        m.devnum = st.st_rdev;
    m.set_uuid = mv.sb->set_uuid;
    m.member_uuid = mv.sb->member_uuid;
    m.set_name = mv.sb->name;
    m.role = mv.sb->role;
    m.index = mv.sb->member_index;
    m.generation = mv.sb->generation;
    m.compat_flags = mv.sb->compat_flags;
    return m;
}

std::vector<FoundMember> Discovery::usable(std::vector<FoundMember> members)
{
    // A switch whose commit point (the old data member REPLACED) was
    // written but not the new disk's flag: the new disk is the set.
    std::map<Uuid, std::uint64_t> committed;
    for (const auto &m : members)
        if (m.role == Role::Data && (m.compat_flags & DMR_COMPAT_REPLACED))
            committed[m.set_uuid] = std::max(committed[m.set_uuid], m.generation);
    std::erase_if(members, [&](const FoundMember &m) {
        if (m.compat_flags & DMR_COMPAT_REPLACED)
            return true;
        if (!(m.compat_flags & DMR_COMPAT_REPLACING))
            return false;
        auto it = committed.find(m.set_uuid);
        return m.role != Role::Data || it == committed.end() || m.generation <= it->second;
    });
    // Two unflagged data members of one set: a switch undone halfway (the
    // new disk's generation is higher; both held the same data then).
    std::map<Uuid, std::uint64_t> newest, older;
    for (const auto &m : members)
        if (m.role == Role::Data) {
            auto &n = newest[m.set_uuid];
            if (n && n != m.generation)
                older[m.set_uuid] = std::max(older[m.set_uuid], std::min(n, m.generation));
            n = std::max(n, m.generation);
        }
    std::erase_if(members, [&](const FoundMember &m) {
        auto it = older.find(m.set_uuid);
        return it != older.end() && m.generation <= it->second;
    });
    return members;
}

std::optional<FoundMember> Discovery::probe_recorded(const std::string &path)
{
    struct stat st;
    if (::stat(path.c_str(), &st) != 0)
        throw Error::from_errno(Error::Code::NotFound, path, errno);
    if (!S_ISBLK(st.st_mode))
        throw Error(Error::Code::InvalidArgument, path + ": not a block device");
    auto u = context();
    UdevPtr<udev_device> d(udev_device_new_from_devnum(u.get(), 'b', st.st_rdev));
    if (!d || !udev_device_get_is_initialized(d.get()) || prop(d.get(), "DM_REMAP_PROBED").empty())
        throw Error(Error::Code::NotFound, path + ": udev has no record of it being probed for dm-remap "
                                                  "(only root may have its superblocks read)");
    if (prop(d.get(), "DM_REMAP_SET_UUID").empty())
        return std::nullopt;
    auto m = from_udev(d.get());
    if (!m)
        throw Error(Error::Code::NotFound, path + ": udev's record of it is damaged");
    m->devnode = path;
    return m;
}

std::vector<FoundMember> Discovery::members(bool use_udev, bool read_devices)
{
    auto u = context();
    UdevPtr<udev_enumerate> e(udev_enumerate_new(u.get()));
    if (!e || udev_enumerate_add_match_subsystem(e.get(), "block") < 0 || udev_enumerate_scan_devices(e.get()) < 0)
        throw Error(Error::Code::Failed, "libudev: cannot enumerate block devices");
    std::vector<FoundMember> out;
    udev_list_entry *entry;
    udev_list_entry_foreach(entry, udev_enumerate_get_list_entry(e.get()))
    {
        UdevPtr<udev_device> d(udev_device_new_from_syspath(u.get(), udev_list_entry_get_name(entry)));
        if (!d || !udev_device_get_devnode(d.get()) || sysfs_size(d.get()) == 0)
            continue;
        // Reading these can hang (a multipath map queueing without paths,
        // a suspended dm device) or means nothing (our own mapped devices).
        const bool initialized = udev_device_get_is_initialized(d.get());
        if (initialized && (prop(d.get(), "DM_UDEV_DISABLE_OTHER_RULES_FLAG") == "1" ||
                            prop(d.get(), "DM_NOSCAN") == "1" || prop(d.get(), "DM_SUSPENDED") == "1"))
            continue;
        const char *suspended = udev_device_get_sysattr_value(d.get(), "dm/suspended");
        const char *dmuuid = udev_device_get_sysattr_value(d.get(), "dm/uuid");
        if ((suspended && suspended[0] == '1') ||
            (dmuuid && (set_uuid_of_dm_uuid(dmuuid) || std::string_view(dmuuid).starts_with(kSourceUuidPrefix))))
            continue;
        if (use_udev && initialized && !prop(d.get(), "DM_REMAP_PROBED").empty()) {
            if (auto m = from_udev(d.get())) {
                out.push_back(*m);
                continue;
            }
            if (prop(d.get(), "DM_REMAP_SET_UUID").empty())
                continue; // probed by our rule: not a member
        }
        if (!read_devices)
            continue;
        // No (usable) udev record: read the superblocks. A device that
        // cannot be opened (no medium, gone) is not a member we can use.
        try {
            if (auto m = probe(udev_device_get_devnode(d.get()))) {
                m->devnum = udev_device_get_devnum(d.get());
                out.push_back(*m);
            }
        } catch (const Error &) {
        }
    }
    std::vector<ActiveSet> sets;
    try {
        sets = active();
    } catch (const Error &) {
        // No device-mapper (a rescue system, a container): the members are
        // still worth listing, just not which device uses them.
    }
    for (auto &m : out)
        for (const auto &s : sets)
            for (dev_t dn : s.members)
                if (dn == m.devnum)
                    m.active = s.name;
    return out;
}

std::vector<ActiveSet> Discovery::active()
{
    DmControl dm;
    std::vector<ActiveSet> out;
    const auto names = dm.names();
    for (const auto &name : names) {
        std::vector<DmTarget> t;
        std::optional<DmInfo> info;
        try {
            t = dm.table(name);
            info = dm.info(name);
        } catch (const Error &) {
            continue; // removed meanwhile
        }
        if (t.size() != 1 || t[0].type != "remap" || !info)
            continue;
        ActiveSet s;
        s.name = name;
        s.set_uuid = set_uuid_of_dm_uuid(info->uuid);
        if (info->uuid.starts_with(kSourceUuidPrefix)) {
            // The set of a device whose data disk is being replaced: it is
            // listed under that device's name.
            s.set_uuid = Uuid::parse(std::string_view(info->uuid).substr(kSourceUuidPrefix.size()));
            s.name.clear();
            for (const auto &n : names)
                if (auto i = dm.info(n); s.set_uuid && i && i->uuid == dm_uuid(*s.set_uuid))
                    s.name = n;
            std::vector<DmTarget> nt;
            try {
                nt = s.name.empty() ? nt : dm.table(s.name);
            } catch (const Error &) {
            }
            if (nt.empty())
                continue;
            if (nt.size() == 1 && nt[0].type == "remap")
                // A switch happened (or was taken back) since the device's
                // own table was read above, or this one was left behind:
                // the device runs the set again, list it as it is now.
                t = nt;
            else
                s.replacing = true;
        }
        // "<data dev> <#spares> <spare dev>... [<#opts> <opt>...]", devices as major:minor.
        std::istringstream in(t[0].params);
        std::string tok;
        unsigned nspares = 0;
        if (in >> tok)
            s.members.push_back(parse_majmin(tok));
        if (in >> nspares)
            for (unsigned i = 0; i < nspares && in >> tok; i++)
                s.members.push_back(parse_majmin(tok));
        out.push_back(std::move(s));
    }
    // A device read both before and after a switch is listed twice: keep
    // the entry read last.
    for (std::size_t i = 0; i < out.size(); i++)
        for (std::size_t j = i + 1; j < out.size(); j++)
            if (!out[i].name.empty() && out[i].name == out[j].name) {
                out.erase(out.begin() + static_cast<std::ptrdiff_t>(i));
                i--;
                break;
            }
    return out;
}

std::string Discovery::devnode(dev_t devnum)
{
    auto u = context();
    UdevPtr<udev_device> d(udev_device_new_from_devnum(u.get(), 'b', devnum));
    if (d && udev_device_get_devnode(d.get()))
        return udev_device_get_devnode(d.get());
    return "";
}

dev_t Discovery::devnum(const std::string &path)
{
    struct stat st;
    if (::stat(path.c_str(), &st) < 0)
        throw Error::from_errno(errno == ENOENT ? Error::Code::NotFound : Error::Code::Io, path, errno);
    if (!S_ISBLK(st.st_mode))
        throw Error(Error::Code::InvalidArgument, path + ": not a block device");
    return st.st_rdev;
}

void Discovery::trigger_change(const std::string &path)
{
    struct stat st;
    if (::stat(path.c_str(), &st) < 0 || !S_ISBLK(st.st_mode))
        return;
    std::ofstream f("/sys/dev/block/" + std::to_string(major(st.st_rdev)) + ":" + std::to_string(minor(st.st_rdev)) +
                    "/uevent");
    f << "change\n"; // best effort: the database catches up at the next event anyway
}

bool Discovery::udev_running()
{
    auto u = context();
    UdevPtr<udev_queue> q(udev_queue_new(u.get()));
    return q && udev_queue_get_udev_is_active(q.get());
}

bool Discovery::wait_for_udev(dev_t devnum, std::chrono::milliseconds timeout)
{
    if (!udev_running())
        return true;
    auto u = context();
    UdevPtr<udev_queue> q(udev_queue_new(u.get()));
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    for (;;) {
        UdevPtr<udev_device> d(udev_device_new_from_devnum(u.get(), 'b', devnum));
        const char *node = d ? udev_device_get_devnode(d.get()) : nullptr;
        struct stat st;
        if (d && udev_device_get_is_initialized(d.get()) && node && ::stat(node, &st) == 0 &&
            (!q || udev_queue_get_queue_is_empty(q.get())))
            return true;
        if (std::chrono::steady_clock::now() > deadline)
            return false;
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
}

std::string Discovery::active_name(const Uuid &set)
{
    for (const auto &a : active())
        if (a.set_uuid == set)
            return a.name;
    return "";
}

} // namespace dmremap
