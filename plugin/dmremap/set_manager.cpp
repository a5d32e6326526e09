// SPDX-License-Identifier: LGPL-2.1-or-later
#include "set_manager.hpp"

#include "checker.hpp"
#include "error.hpp"
#include "file_io.hpp"
#include "loop_device.hpp"
#include "replacer.hpp"
#include "replace_disk.hpp"
#include "safety.hpp"
#include "set_lock.hpp"
#include "validator.hpp"

#include <dm-remap-format.h>

#include <map>
#include <memory>
#include <set>
#include <sys/stat.h>

namespace dmremap {
namespace {

// Everything that must hold before a single byte is written.
void check_unused(const std::string &path, bool force, BlockIo &io)
{
    Report ignore;
    const MemberView mv = Checker::read_superblocks(io, ignore);
    if (mv.sb && !force)
        throw Error(Error::Code::Exists, path + ": already " + role_name(mv.sb->role) + " member " +
                                             std::to_string(mv.sb->member_index) + " of remap set '" + mv.sb->name +
                                             "' (" + mv.sb->set_uuid.str() + "); use --force to overwrite");
    const auto sigs = Safety::signatures(path);
    if (!sigs.empty() && !force)
        throw Error(Error::Code::Exists, path + ": contains a " + sigs.front() + "; use --force to overwrite");
}

void check_not_twice(const std::vector<std::string> &paths)
{
    std::set<std::pair<dev_t, ino_t>> seen;
    for (const auto &path : paths) {
        struct stat st;
        if (::stat(path.c_str(), &st) == 0 &&
            !seen.insert({S_ISBLK(st.st_mode) ? st.st_rdev : st.st_dev, S_ISBLK(st.st_mode) ? 0 : st.st_ino}).second)
            throw Error(Error::Code::InvalidArgument, path + ": given twice");
    }
}

// The members of `set` found on the system, by member UUID; the ones the
// caller named win over discovered ones.
std::map<Uuid, FoundMember> collect(const Uuid &set, const std::vector<FoundMember> &given, bool use_udev)
{
    std::map<Uuid, FoundMember> out;
    for (const auto &m : given)
        out[m.member_uuid] = m;
    std::map<Uuid, FoundMember> found;
    for (auto m : Discovery::members(use_udev)) {
        if (m.set_uuid != set)
            continue;
        if (m.from_udev) {
            // udev's record may predate a spare_add or spare_remove: trust
            // only what the superblocks say now.
            try {
                auto now = Discovery::probe(m.devnode);
                if (!now || now->set_uuid != set)
                    continue;
                now->devnum = m.devnum;
                now->active = m.active;
                m = *now;
            } catch (const Error &) {
                continue; // unreadable now: missing, and the kernel would say so too
            }
        }
        if (out.count(m.member_uuid))
            continue; // the caller named which device it is
        // Two devices carrying one member (multipath paths, a dd clone of a
        // failing disk): picking one silently could pick the wrong one.
        if (auto it = found.find(m.member_uuid); it != found.end() && it->second.devnum != m.devnum)
            throw Error(Error::Code::Exists,
                        it->second.devnode + " and " + m.devnode + " both carry member " + std::to_string(m.index) +
                            " of set '" + m.set_name + "'; name the right one: dmremapctl assemble DEVICE...");
        found[m.member_uuid] = m;
    }
    std::vector<FoundMember> list;
    for (auto &[uuid, m] : found)
        list.push_back(std::move(m));
    found.clear();
    for (auto &m : Discovery::usable(std::move(list)))
        found.emplace(m.member_uuid, std::move(m));
    out.merge(found);
    return out;
}

// A set started by hand (dmsetup, no REMAP- UUID) is recognised by its
// members: two tables on one set would each commit their own metadata.
void refuse_if_in_use(const std::map<Uuid, FoundMember> &found, const std::string &set_name)
{
    for (const auto &a : Discovery::active())
        for (dev_t d : a.members)
            for (const auto &[uuid, m] : found)
                if (m.devnum == d)
                    throw Error(Error::Code::Busy, "set '" + set_name + "' is already active as " + a.name + " (" +
                                                       m.devnode + " is its member)");
}

AssembledSet activate(const Uuid &set, std::vector<FoundMember> given, const AssembleOptions &opts)
{
    AssembledSet out;
    out.set_uuid = set;
    // The name becomes /dev/mapper/NAME and goes into udev's records.
    if (!opts.name.empty() && !validator::valid_name(opts.name))
        throw Error(Error::Code::InvalidArgument,
                    "name '" + opts.name + "' is not a valid device name (" + validator::kNameRules + ")");
    // udev's assembly steps, an admin's assemble or create
    std::optional<SetLock> held;
    if (auto name = Replacer::lock_unless_replacing(set, held); !name.empty()) {
        out.name = name;
        out.already_active = true;
        return out;
    }
    SetLock &lock = *held;
    if (auto name = Discovery::active_name(set); !name.empty()) {
        lock.mark_started();
        out.name = name;
        out.already_active = true;
        return out;
    }
    auto found = collect(set, given, true);
    const FoundMember *data = nullptr;
    for (const auto &[uuid, m] : found)
        if (m.role == Role::Data)
            data = &m;
    if (!data)
        throw Error(Error::Code::NotFound, "set " + set.str() + ": the data member is missing");
    const std::string set_name = data->set_name;
    refuse_if_in_use(found, set_name);
    // A replace's switch committed, and the power went before the new disk
    // dropped its REPLACING flag: finish that first.
    if (data->compat_flags & DMR_COMPAT_REPLACING)
        clear_replacing(data->devnode, set);

    // The data member's member table says who belongs (docs/FORMAT.md §6);
    // read it with every member found, as the kernel will.
    std::vector<std::unique_ptr<FileIo>> files;
    std::vector<BlockIo *> ios;
    for (const auto &[uuid, m] : found) {
        files.push_back(std::make_unique<FileIo>(m.devnode, FileIo::Mode::ReadOnly));
        ios.push_back(files.back().get());
    }
    const SetView v = Checker().run(ios);
    if (!v.state)
        throw Error(Error::Code::Corrupt, "set '" + set_name + "': no readable metadata on any member");

    // udev may not have re-probed a device written a moment ago (format,
    // a spare added): before calling a member missing, read every device.
    bool complete = true;
    for (const auto &m : v.state->members)
        complete &= m.role != Role::Spare || m.failed() || found.count(m.uuid) || !m.image_path.empty();
    if (!complete && !opts.incremental && Discovery::udev_running()) {
        for (auto &[uuid, m] : collect(set, given, false))
            found.try_emplace(uuid, m);
        for (const auto &[uuid, m] : found)
            if (m.role == Role::Data)
                data = &m;
    }
    std::vector<std::string> paths{data->devnode};
    bool missing = false;
    try {
        for (const auto &m : v.state->members) {
            // A failed member serves nothing: the kernel needs it neither
            // in the line nor as a reason to start degraded.
            if (m.role != Role::Spare || m.failed())
                continue;
            auto it = found.find(m.uuid);
            if (it != found.end()) {
                paths.push_back(it->second.devnode);
                continue;
            }
            // The path comes from metadata anyone could have written:
            // attach_recorded decides whether to trust it.
            std::string refused;
            // lstat, not access: a dangling symlink exists too, and is
            // refused with its reason rather than counted as missing.
            struct stat lst;
            if (!m.image_path.empty() && ::lstat(m.image_path.c_str(), &lst) == 0) {
                const bool existed = LoopDevice::find(m.image_path).has_value();
                std::string dev;
                try {
                    dev = LoopDevice::attach_recorded(m.image_path, m.member_sectors * 512);
                } catch (const Error &e) {
                    refused = std::string("; ") + e.what();
                }
                if (!dev.empty()) {
                    Discovery::wait_for_udev(Discovery::devnum(dev));
                    const auto probed = Discovery::probe(dev);
                    if (probed && probed->member_uuid == m.uuid) {
                        paths.push_back(dev);
                        if (!existed) // ours to clean up; a loop the admin set up is not
                            out.attached.push_back(dev);
                        continue;
                    }
                    if (!existed)
                        LoopDevice::detach_quietly(dev); // someone else's file now
                }
            }
            if (!opts.degraded)
                throw Error(Error::Code::NotFound,
                            "set '" + set_name + "': spare member " + std::to_string(m.index) + " (" + m.uuid.str() +
                                (m.image_path.empty() ? "" : ", image " + m.image_path) + ") is missing" + refused +
                                "; assemble with --degraded to start without it");
            if (!refused.empty())
                out.refused.push_back("spare member " + std::to_string(m.index) + ":" + refused.substr(1));
            out.missing.push_back(m.index);
            missing = true;
        }
        out.name = opts.name.empty() ? set_name : opts.name;
        DmControl dm;
        if (dm.info(out.name))
            throw Error(Error::Code::Exists, out.name + ": a device-mapper device of that name exists already");
        dm.create(out.name, Discovery::dm_uuid(set), SetManager::table(paths, missing));
        for (const auto &m : v.state->members)
            if (m.failed())
                out.failed.push_back(m.index);
    } catch (...) {
        for (const auto &dev : out.attached)
            LoopDevice::detach_quietly(dev);
        throw;
    }
    lock.mark_started(); // no last resort for it, no second start by a step
    // Image loop devices go away with the table that holds them.
    for (const auto &dev : out.attached) {
        try {
            LoopDevice::set_autoclear(dev);
        } catch (const Error &) {
            // It stays attached after stop: untidy, not wrong.
        }
    }
    out.members = paths;
    return out;
}

} // namespace

FormatPlan SetManager::format(const std::vector<std::string> &paths, const FormatOptions &opts, bool force)
{
    if (paths.empty())
        throw Error(Error::Code::InvalidArgument, "no data device given");
    check_not_twice(paths);
    std::vector<std::unique_ptr<FileIo>> devs;
    std::vector<BlockIo *> ios;
    for (const auto &path : paths) {
        // Before the exclusive open, which would only say "busy": this names
        // the mountpoint or holder.
        Safety::check_not_in_use(path);
        devs.push_back(std::make_unique<FileIo>(path, FileIo::Mode::Exclusive));
        check_unused(path, force, *devs.back());
        ios.push_back(devs.back().get());
    }
    const FormatPlan plan = Formatter::plan(opts, ios);
    if (force)
        for (const auto &path : paths)
            Safety::wipe_signatures(path);
    Formatter::write(plan, ios);
    devs.clear();
    for (const auto &path : paths)
        Discovery::trigger_change(path);
    for (const auto &path : paths) // best effort: assemble can read superblocks itself
        if (struct stat st; ::stat(path.c_str(), &st) == 0 && S_ISBLK(st.st_mode))
            Discovery::wait_for_udev(st.st_rdev, std::chrono::seconds(2));
    return plan;
}

DmTarget SetManager::table(const std::vector<std::string> &paths, bool degraded)
{
    std::vector<std::unique_ptr<FileIo>> files;
    std::vector<BlockIo *> ios;
    for (const auto &p : paths) {
        files.push_back(std::make_unique<FileIo>(p, FileIo::Mode::ReadOnly));
        ios.push_back(files.back().get());
        if (!files.back()->is_block_device())
            throw Error(Error::Code::InvalidArgument,
                        p + ": is an image file; the kernel target needs block devices (attach it with "
                            "'losetup --find --show " + p + "')");
    }
    return table(Checker().run(ios), degraded);
}

DmTarget SetManager::table(const SetView &v, bool degraded)
{
    // A stale member is normal after a crash (activation brings it up to
    // date); anything that makes the set ambiguous is not.
    static const std::set<std::string> fatal = {"not-a-member",       "member-wrong-set",  "member-duplicate",
                                                "member-duplicate-index", "member-not-in-set", "member-mismatch",
                                                "member-unfinished", "no-metadata"};
    for (const auto &p : v.report.problems())
        if (p.severity == Severity::Error && fatal.count(p.code) && (p.code != "no-metadata" || !v.state))
            throw Error(Error::Code::InvalidArgument, p.where + ": " + p.message);
    if (v.members.empty() || !v.state)
        throw Error(Error::Code::InvalidArgument, "no member given");
    const MemberView &data = v.members[0];
    if (data.sb->role != Role::Data)
        throw Error(Error::Code::InvalidArgument, data.path + ": is spare member " +
                                                      std::to_string(data.sb->member_index) +
                                                      "; give the data device first");
    std::vector<std::string> spares(64);
    for (const auto &mv : v.members)
        if (mv.sb->role == Role::Spare)
            spares[mv.sb->member_index] = mv.path;
    std::string list;
    std::size_t n = 0;
    for (const auto &m : v.state->members) {
        // Left out even when given: the kernel would open it and never use it.
        if (m.role != Role::Spare || m.failed())
            continue;
        if (spares[m.index].empty()) {
            if (degraded)
                continue;
            throw Error(Error::Code::NotFound, "spare member " + std::to_string(m.index) + " (" + m.uuid.str() +
                                                  ") of set '" + data.sb->name + "' was not given");
        }
        list += " " + spares[m.index];
        n++;
    }
    return {0, data.sb->data_sectors, "remap",
            data.path + " " + std::to_string(n) + list + (degraded ? " 1 degraded" : "")};
}

void SetManager::check_create(const FormatOptions &opts, const std::vector<std::string> &paths)
{
    Formatter::check_options(opts);
    std::vector<ActiveSet> active;
    try {
        DmControl dm;
        dm.names(); // device-mapper must work before anything is written
        if (!opts.name.empty() && dm.info(opts.name))
            throw Error(Error::Code::Exists, opts.name + ": a device-mapper device of that name exists already");
        if (opts.set_uuid)
            active = Discovery::active();
    } catch (const Error &e) {
        // Asked ahead (no paths): without device-mapper nothing is active,
        // and create itself will say that it is missing.
        if (!paths.empty() || e.code() == Error::Code::Exists)
            throw;
    }
    if (!opts.set_uuid)
        return;
    // Two sets with one UUID: assembly could not tell their members apart.
    const std::string u = opts.set_uuid->str();
    for (const auto &s : active)
        if (s.set_uuid == opts.set_uuid)
            throw Error(Error::Code::Exists, "uuid " + u + ": the set active as " + s.name + " has it");
    if (paths.empty())
        return;
    std::set<dev_t> overwritten;
    for (const auto &p : paths)
        overwritten.insert(Discovery::devnum(p));
    for (const auto &m : Discovery::members())
        if (m.set_uuid == *opts.set_uuid && !overwritten.count(m.devnum))
            throw Error(Error::Code::Exists, "uuid " + u + ": " + m.devnode + " is a member of set '" +
                                                     m.set_name + "', which has it");
}

CreateResult SetManager::create(const std::vector<std::string> &paths, const FormatOptions &opts, bool force)
{
    for (const auto &p : paths)
        Discovery::devnum(p); // block devices only: the kernel cannot use a file
    check_create(opts, paths);
    // The UUID is chosen here so that the set's lock is held from the
    // first write: udev hears of the new members and starts an assembly
    // step, which must find the set active, not load it first.
    FormatOptions o = opts;
    if (!o.set_uuid)
        o.set_uuid = Uuid::random();
    SetLock lock(*o.set_uuid);
    DmControl dm;
    const FormatPlan plan = format(paths, o, force);
    const Superblock &sb = plan.superblocks[0];
    if (dm.info(sb.name))
        throw Error(Error::Code::Exists, sb.name + ": a device-mapper device of that name exists already");
    dm.create(sb.name, Discovery::dm_uuid(sb.set_uuid), table(paths));
    lock.mark_started();
    return {sb.name, plan};
}

AssembledSet SetManager::assemble(const std::vector<std::string> &members, const AssembleOptions &opts)
{
    std::vector<FoundMember> given;
    for (const auto &p : members) {
        Discovery::devnum(p);
        auto m = Discovery::probe(p);
        if (!m)
            throw Error(Error::Code::InvalidArgument, p + ": not a dm-remap member (no valid superblock)");
        if (m->compat_flags & DMR_COMPAT_REPLACED)
            throw Error(Error::Code::InvalidArgument,
                        p + ": belongs to the old disk of set '" + m->set_name + "', whose data disk was replaced "
                            "(dmremapctl replace); the set runs from its new disk");
        if (m->compat_flags & DMR_COMPAT_REPLACING)
            throw Error(Error::Code::InvalidArgument, p + ": is the unfinished new disk of a replace of set '" +
                                                          m->set_name + "'; the set runs from its old disk");
        if (!given.empty() && m->set_uuid != given[0].set_uuid)
            throw Error(Error::Code::InvalidArgument, p + ": belongs to set '" + m->set_name + "' (" +
                                                          m->set_uuid.str() + "), not to '" + given[0].set_name +
                                                          "' like " + given[0].devnode);
        given.push_back(*m);
    }
    if (given.empty())
        throw Error(Error::Code::InvalidArgument, "no member given");
    return activate(given[0].set_uuid, given, opts);
}

AssembledSet SetManager::assemble(const Uuid &set_uuid, const AssembleOptions &opts)
{
    return activate(set_uuid, {}, opts);
}

std::vector<AssembleAllResult> SetManager::assemble_all(const AssembleOptions &opts)
{
    DmControl().names(); // without device-mapper nothing can start: say so, not "nothing found"
    std::map<Uuid, std::string> sets; // data members only: a set without one cannot start
    for (const auto &m : Discovery::members())
        if (m.role == Role::Data && !m.active)
            sets[m.set_uuid] = m.set_name;
    std::vector<AssembleAllResult> out;
    for (const auto &[uuid, name] : sets) {
        AssembleOptions o = opts;
        o.name.clear();
        AssembleAllResult r{name, uuid, std::nullopt, ""};
        try {
            r.set = activate(uuid, {}, o);
        } catch (const Error &e) {
            r.error = e.what();
        }
        out.push_back(std::move(r));
    }
    return out;
}

} // namespace dmremap
