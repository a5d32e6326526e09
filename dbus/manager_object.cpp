// SPDX-License-Identifier: GPL-2.0-or-later
#include "manager_object.hpp"

#include "async_reply.hpp"
#include "authorizer.hpp"
#include "daemon.hpp"
#include "object_paths.hpp"
#include "options.hpp"

#include <discovery.hpp>
#include <error.hpp>
#include <scan_schedule.hpp>
#include <set_manager.hpp>
#include <validator.hpp>

#include <optional>
#include <tuple>

#include <sys/stat.h>

namespace dmremap::daemon {
namespace {

std::map<std::string, sdbus::Variant> member_dict(const FoundMember &m)
{
    return {
        {"device", sdbus::Variant(m.devnode)},
        {"set_uuid", sdbus::Variant(m.set_uuid.str())},
        {"set_name", sdbus::Variant(m.set_name)},
        {"member_uuid", sdbus::Variant(m.member_uuid.str())},
        {"role", sdbus::Variant(std::string(role_name(m.role)))},
        {"index", sdbus::Variant(m.index)},
        {"generation", sdbus::Variant(m.generation)},
        {"source", sdbus::Variant(std::string(m.from_udev ? "udev" : "superblock"))},
        {"active", sdbus::Variant(m.active.value_or(""))},
    };
}

void check_path(const std::string &arg, const std::string &path)
{
    if (path.empty())
        throw Error(Error::Code::InvalidArgument, arg + ": empty device path");
}

struct CreateArgs {
    std::vector<std::string> paths; // data device first
    FormatOptions format;
    std::optional<ScanScheduleSpec> scan_schedule;
    bool force = false, interactive = true;
};

CreateArgs parse_create(const std::vector<std::string> &devices, const std::map<std::string, sdbus::Variant> &options)
{
    const Options o(options, {{"name", "s"}, {"block_size", "u"}, {"internal_spare", "t"}, {"max_remaps", "u"},
                              {"force", "b"}, {"internal_spare_percent", "u"}, {"uuid", "s"},
                              {"scan_schedule", "s"}});
    if (devices.empty())
        throw Error(Error::Code::InvalidArgument, "devices: empty (the data device first, then any spares)");
    for (const auto &s : devices)
        check_path("devices", s);
    CreateArgs a;
    a.paths = devices;
    FormatOptions &fo = a.format;
    fo.name = o.get<std::string>("name").value_or("");
    if (auto v = o.get<std::uint32_t>("block_size"))
        fo.block_size = *v;
    fo.internal_spare = o.get<std::uint64_t>("internal_spare");
    if (auto v = o.get<std::uint32_t>("internal_spare_percent")) {
        if (*v > 50)
            throw Error(Error::Code::InvalidArgument, "options: 'internal_spare_percent' is above 50");
        if (fo.internal_spare)
            throw Error(Error::Code::InvalidArgument,
                        "options: 'internal_spare' and 'internal_spare_percent' do not go together");
        fo.internal_spare_percent = *v;
    }
    if (auto v = o.get<std::uint32_t>("max_remaps"))
        fo.max_entries = *v;
    if (auto text = o.get<std::string>("uuid")) {
        fo.set_uuid = Uuid::parse(*text);
        if (!fo.set_uuid || fo.set_uuid->is_nil())
            throw Error(Error::Code::InvalidArgument, "options: 'uuid' is not a UUID: '" + *text + "'");
    }
    a.force = o.flag("force");
    a.interactive = o.interactive();
    if (auto text = o.get<std::string>("scan_schedule"))
        a.scan_schedule = ScanSchedule::validate(*text);
    // Before polkit asks anyone and before a disk is opened; the members'
    // UUIDs are looked at after authorization (that reads devices).
    SetManager::check_create(fo);
    if (a.scan_schedule && !a.scan_schedule->off && !fo.name.empty())
        ScanSchedule::timer_unit(fo.name); // a name systemd can carry
    return a;
}

CreateResult create_set(Daemon &d, const CreateArgs &a)
{
    const bool schedule = a.scan_schedule && !a.scan_schedule->off;
    if (schedule) // systemd and the unit are there before a disk is written
        ScanSchedule::check_available(a.format.name.empty() ? a.paths.front() : a.format.name, a.format.name);
    auto claim = d.claim_devices("Create");
    const CreateResult created = SetManager::create(a.paths, a.format, a.force);
    claim.unlock();
    d.settle(created.name);
    if (schedule)
        ScanSchedule::apply_after_create(created.name, *a.scan_schedule);
    return created;
}

struct AssembleArgs {
    std::vector<std::string> members;
    AssembleOptions assemble;
    std::optional<Uuid> uuid;
    bool interactive = true;
};

AssembleArgs parse_assemble(const std::vector<std::string> &members,
                            const std::map<std::string, sdbus::Variant> &options)
{
    const Options o(options, {{"uuid", "s"}, {"degraded", "b"}, {"name", "s"}});
    for (const auto &m : members)
        check_path("members", m);
    AssembleArgs a;
    a.members = members;
    a.assemble.degraded = o.flag("degraded");
    a.assemble.name = o.get<std::string>("name").value_or("");
    if (!a.assemble.name.empty() && !validator::valid_name(a.assemble.name))
        // The library's words, so dmremapctl prints the same either way.
        throw Error(Error::Code::InvalidArgument,
                    "name '" + a.assemble.name + "' is not a valid device name (" + validator::kNameRules + ")");
    if (auto text = o.get<std::string>("uuid")) {
        a.uuid = Uuid::parse(*text);
        if (!a.uuid || a.uuid->is_nil())
            throw Error(Error::Code::InvalidArgument, "options: 'uuid' is not a set UUID: '" + *text + "'");
    }
    if (!members.empty() && a.uuid)
        throw Error(Error::Code::InvalidArgument, "options: 'uuid' is only for an empty members list");
    if (members.empty() && !a.uuid)
        throw Error(Error::Code::InvalidArgument, "members: empty, and no 'uuid' option names the set");
    a.interactive = o.interactive();
    return a;
}

Authorizer::Action create_action(const CreateArgs &a)
{
    return Authorizer::action(Authorizer::kCreate, a.format.name, Authorizer::devices(a.paths),
                              "Authentication is required to format " + Authorizer::devices(a.paths) +
                                  " as a dm-remap set (everything on it is lost)");
}

Authorizer::Action assemble_action(const AssembleArgs &a)
{
    const std::string what =
        a.members.empty() ? "the dm-remap set " + a.uuid->str() : "the dm-remap set on " + Authorizer::devices(a.members);
    return Authorizer::action(Authorizer::kAssemble, a.assemble.name, Authorizer::devices(a.members),
                              "Authentication is required to start " + what);
}

AssembledSet assemble_set(Daemon &d, const AssembleArgs &a)
{
    auto claim = d.claim_devices("Assemble");
    const AssembledSet set =
        a.members.empty() ? SetManager::assemble(*a.uuid, a.assemble) : SetManager::assemble(a.members, a.assemble);
    claim.unlock();
    d.settle(set.name);
    return set;
}

std::map<std::string, sdbus::Variant> set_dict(const AssembledSet &s)
{
    return {
        {"name", sdbus::Variant(s.name)},
        {"set_uuid", sdbus::Variant(s.set_uuid.str())},
        {"members", sdbus::Variant(s.members)},
        {"missing", sdbus::Variant(s.missing)},
        {"failed", sdbus::Variant(s.failed)},
        {"attached", sdbus::Variant(s.attached)},
        {"refused", sdbus::Variant(s.refused)},
        {"already_active", sdbus::Variant(s.already_active)},
    };
}

// A member's layout as written, as dmremapctl create prints it.
std::map<std::string, sdbus::Variant> superblock_dict(const Superblock &s)
{
    return {
        {"set_uuid", sdbus::Variant(s.set_uuid.str())},
        {"name", sdbus::Variant(s.name)},
        {"block_size", sdbus::Variant(s.block_size)},
        {"max_entries", sdbus::Variant(s.max_entries)},
        {"data_offset_sectors", sdbus::Variant(s.data_offset)},
        {"data_sectors", sdbus::Variant(s.data_sectors)},
        {"index", sdbus::Variant(s.member_index)},
        {"role", sdbus::Variant(std::string(role_name(s.role)))},
        {"member_uuid", sdbus::Variant(s.member_uuid.str())},
        {"member_sectors", sdbus::Variant(s.member_sectors)},
        {"metadata_offset_sectors", sdbus::Variant(s.md_offset)},
        {"metadata_sectors", sdbus::Variant(s.md_sectors)},
        {"incompat_flags", sdbus::Variant(s.incompat_flags)},
        {"spare_offset_sectors", sdbus::Variant(s.spare_offset)},
        {"spare_sectors", sdbus::Variant(s.spare_sectors)},
    };
}

} // namespace

ManagerObject::ManagerObject(Daemon &daemon, sdbus::IConnection &connection)
    : AdaptorInterfaces(connection, ObjectPaths::kManager), daemon_(daemon)
{
    registerAdaptor();
}

ManagerObject::~ManagerObject() { unregisterAdaptor(); }

std::string ManagerObject::Version() { return DMREMAP_VERSION; }

Placement ManagerObject::io(const std::string &what) { return {daemon_.pool(), daemon_.io_timeout(), what}; }

void ManagerObject::Create(sdbus::Result<sdbus::ObjectPath, Dict> &&result, std::vector<std::string> devices,
                           Dict options)
{
    using Out = std::tuple<sdbus::ObjectPath, Dict>;
    const auto parsed = parse_or_reply(result, [&] { return parse_create(devices, options); });
    if (!parsed)
        return;
    Daemon &d = daemon_;
    dispatch_authorized(io("Create " + Authorizer::devices(parsed->paths)), d.authorizer(), std::move(result),
                        Authorizer::caller(getObject()), create_action(*parsed), parsed->interactive,
                        [&d, p = *parsed]() -> Out {
                            const CreateResult created = create_set(d, p);
                            std::vector<Dict> layout;
                            for (const auto &sb : created.plan.superblocks)
                                layout.push_back(superblock_dict(sb));
                            const Dict out = {
                                {"name", sdbus::Variant(created.name)},
                                {"set_uuid", sdbus::Variant(created.plan.superblocks.empty()
                                                                ? std::string()
                                                                : created.plan.superblocks.front().set_uuid.str())},
                                {"members", sdbus::Variant(layout)},
                            };
                            return {sdbus::ObjectPath(ObjectPaths::device(created.name)), out};
                        });
}

void ManagerObject::Assemble(sdbus::Result<sdbus::ObjectPath, Dict> &&result, std::vector<std::string> members,
                             Dict options)
{
    using Out = std::tuple<sdbus::ObjectPath, Dict>;
    const auto parsed = parse_or_reply(result, [&] { return parse_assemble(members, options); });
    if (!parsed)
        return;
    Daemon &d = daemon_;
    dispatch_authorized(io("Assemble " + (members.empty() ? parsed->uuid->str() : Authorizer::devices(members))), d.authorizer(),
                        std::move(result), Authorizer::caller(getObject()), assemble_action(*parsed),
                        parsed->interactive, [&d, p = *parsed]() -> Out {
                            const AssembledSet set = assemble_set(d, p);
                            return {sdbus::ObjectPath(ObjectPaths::device(set.name)), set_dict(set)};
                        });
}

void ManagerObject::AssembleAll(sdbus::Result<std::vector<Dict>> &&result, Dict options)
{
    struct Parsed {
        AssembleOptions assemble;
        bool interactive;
    };
    const auto parsed = parse_or_reply(result, [&] {
        const Options o(options, {{"degraded", "b"}});
        AssembleOptions ao;
        ao.degraded = o.flag("degraded");
        return Parsed{ao, o.interactive()};
    });
    if (!parsed)
        return;
    Daemon &d = daemon_;
    dispatch_authorized(io("AssembleAll"), d.authorizer(), std::move(result), Authorizer::caller(getObject()),
                        Authorizer::action(Authorizer::kAssemble, "", "",
                                           "Authentication is required to start every dm-remap set found"),
                        parsed->interactive, [&d, ao = parsed->assemble] {
                            const auto claim = d.claim_devices("AssembleAll");
                            std::vector<Dict> out;
                            for (const auto &r : SetManager::assemble_all(ao)) {
                                Dict one = r.set ? set_dict(*r.set) : Dict{};
                                one["set_name"] = sdbus::Variant(r.set_name);
                                one["set_uuid"] = sdbus::Variant(r.set_uuid.str());
                                one["error"] = sdbus::Variant(r.set ? std::string() : r.error);
                                if (r.set)
                                    d.settle(r.set->name);
                                out.push_back(std::move(one));
                            }
                            return out;
                        });
}

// Root's answers read devices that udev has no record of; everyone else's
// come from udev's database, so no caller can make the service read (and
// perhaps hang on) a device. Either way the pool charges the caller's uid.
void ManagerObject::ListMembers(sdbus::Result<std::vector<Dict>> &&result, Dict options)
{
    if (!parse_or_reply(result, [&] { return Options(options, {}).interactive(); }))
        return;
    dispatch_open(io("ListMembers"), daemon_.authorizer(), std::move(result), Authorizer::caller(getObject()),
                  [](std::uint32_t uid) {
                      std::vector<Dict> out;
                      for (const auto &m : Discovery::members(true, uid == 0))
                          out.push_back(member_dict(m));
                      return out;
                  });
}

void ManagerObject::Probe(sdbus::Result<Dict> &&result, std::string device, Dict options)
{
    if (!parse_or_reply(result, [&] {
            const Options o(options, {});
            check_path("device", device);
            return true;
        }))
        return;
    dispatch_open(io("Probe " + device), daemon_.authorizer(), std::move(result), Authorizer::caller(getObject()),
                  [device](std::uint32_t uid) {
                      if (uid != 0) {
                          // Opens nothing: what udev recorded when it probed
                          // the device. A file is not in udev's database, and
                          // reading it as root for anyone would tell them what
                          // is in files they cannot read. Not even a stat
                          // outside /dev: it would tell whether files exist
                          // where they cannot look, or wake an automount.
                          if (device.rfind("/dev/", 0) != 0)
                              throw ErrorTranslator::not_authorized(
                                  "device: only root may probe paths outside /dev (" + device + ")");
                          struct stat st;
                          if (::stat(device.c_str(), &st) == 0 && !S_ISBLK(st.st_mode))
                              throw ErrorTranslator::not_authorized("device: only root may probe a file (" +
                                                                    device + "); others may probe block devices");
                          const auto m = Discovery::probe_recorded(device);
                          return m ? member_dict(*m) : Dict{};
                      }
                      const auto m = Discovery::probe(device);
                      return m ? member_dict(*m) : Dict{};
                  });
}

} // namespace dmremap::daemon
