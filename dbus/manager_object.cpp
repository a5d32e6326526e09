// SPDX-License-Identifier: GPL-2.0-or-later
#include "manager_object.hpp"

#include "async_reply.hpp"
#include "authorizer.hpp"
#include "daemon.hpp"
#include "object_paths.hpp"
#include "options.hpp"

#include <discovery.hpp>
#include <error.hpp>
#include <set_manager.hpp>

#include <optional>

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

} // namespace

ManagerObject::ManagerObject(Daemon &daemon, sdbus::IConnection &connection)
    : AdaptorInterfaces(connection, ObjectPaths::kManager), daemon_(daemon)
{
    registerAdaptor();
}

ManagerObject::~ManagerObject() { unregisterAdaptor(); }

std::string ManagerObject::sender() noexcept
{
    // "" fails authorization later (no such bus name): never a way in.
    try {
        const sdbus::Message *msg = getObject().getCurrentlyProcessedMessage();
        return msg ? msg->getSender() : std::string();
    } catch (...) {
        return {};
    }
}

std::string ManagerObject::Version() { return DMREMAP_VERSION; }

void ManagerObject::Create(sdbus::Result<sdbus::ObjectPath> &&result, std::string data_device,
                           std::vector<std::string> spare_devices, Dict options)
{
    struct Parsed {
        FormatOptions format;
        bool force, interactive;
    };
    const auto parsed = parse_or_reply(result, [&] {
        const Options o(options, {{"name", "s"}, {"block_size", "u"}, {"internal_spare", "t"}, {"max_remaps", "u"},
                                  {"force", "b"}});
        check_path("data_device", data_device);
        for (const auto &s : spare_devices)
            check_path("spare_devices", s);
        FormatOptions fo;
        fo.name = o.get<std::string>("name").value_or("");
        if (auto v = o.get<std::uint32_t>("block_size"))
            fo.block_size = *v;
        fo.internal_spare = o.get<std::uint64_t>("internal_spare");
        if (auto v = o.get<std::uint32_t>("max_remaps"))
            fo.max_entries = *v;
        return Parsed{fo, o.flag("force"), o.interactive()};
    });
    if (!parsed)
        return;
    Daemon &d = daemon_;
    dispatch_authorized(d.worker(), d.authorizer(), std::move(result), sender(), Authorizer::kManage,
                        parsed->interactive,
                        [&d, data_device, spare_devices, fo = parsed->format, force = parsed->force] {
                            std::vector<std::string> paths{data_device};
                            paths.insert(paths.end(), spare_devices.begin(), spare_devices.end());
                            const CreateResult created = SetManager::create(paths, fo, force);
                            d.refresh(created.name);
                            return sdbus::ObjectPath(ObjectPaths::device(created.name));
                        });
}

void ManagerObject::Assemble(sdbus::Result<sdbus::ObjectPath> &&result, std::vector<std::string> members, Dict options)
{
    struct Parsed {
        AssembleOptions assemble;
        std::optional<Uuid> uuid;
        bool interactive;
    };
    const auto parsed = parse_or_reply(result, [&] {
        const Options o(options, {{"uuid", "s"}, {"degraded", "b"}, {"name", "s"}});
        for (const auto &m : members)
            check_path("members", m);
        AssembleOptions ao;
        ao.degraded = o.flag("degraded");
        ao.name = o.get<std::string>("name").value_or("");
        std::optional<Uuid> uuid;
        if (auto text = o.get<std::string>("uuid")) {
            uuid = Uuid::parse(*text);
            if (!uuid)
                throw Error(Error::Code::InvalidArgument, "options: 'uuid' is not a UUID: '" + *text + "'");
        }
        if (!members.empty() && uuid)
            throw Error(Error::Code::InvalidArgument, "options: 'uuid' is only for an empty members list");
        if (members.empty() && !uuid)
            throw Error(Error::Code::InvalidArgument, "members: empty, and no 'uuid' option names the set");
        return Parsed{ao, uuid, o.interactive()};
    });
    if (!parsed)
        return;
    Daemon &d = daemon_;
    dispatch_authorized(d.worker(), d.authorizer(), std::move(result), sender(), Authorizer::kManage,
                        parsed->interactive, [&d, members, ao = parsed->assemble, uuid = parsed->uuid] {
                            const AssembledSet set =
                                members.empty() ? SetManager::assemble(*uuid, ao) : SetManager::assemble(members, ao);
                            d.refresh(set.name);
                            return sdbus::ObjectPath(ObjectPaths::device(set.name));
                        });
}

void ManagerObject::ListMembers(sdbus::Result<std::vector<Dict>> &&result, Dict options)
{
    dispatch_to_worker(daemon_.worker(), std::move(result), [options] {
        const Options o(options, {});
        std::vector<Dict> out;
        for (const auto &m : Discovery::members())
            out.push_back(member_dict(m));
        return out;
    });
}

void ManagerObject::Probe(sdbus::Result<Dict> &&result, std::string device, Dict options)
{
    auto &d = daemon_;
    dispatch_to_worker(d.worker(), std::move(result), [&d, who = sender(), device, options] {
        const Options o(options, {});
        check_path("device", device);
        // Reading is open to everyone, but reading a file as root for anyone
        // would tell them what is in files they cannot read.
        struct stat st;
        if (::stat(device.c_str(), &st) == 0 && !S_ISBLK(st.st_mode) && d.authorizer().uid_of(who) != 0)
            throw ErrorTranslator::not_authorized("device: only root may probe a file (" + device +
                                                  "); others may probe block devices");
        const auto m = Discovery::probe(device);
        return m ? member_dict(*m) : Dict{};
    });
}

} // namespace dmremap::daemon
