// SPDX-License-Identifier: LGPL-2.1-or-later
#include "incremental.hpp"

#include "checker.hpp"
#include "error.hpp"
#include "file_io.hpp"
#include "loop_device.hpp"
#include "replacer.hpp"
#include "set_lock.hpp"
#include "target_status.hpp"

#include <map>
#include <memory>
#include <set>
#include <sys/stat.h>
#include <sys/sysmacros.h>

namespace dmremap {
namespace {

// The members of `set` present now, confirmed by their superblocks (udev's
// record may predate a spare_add or spare_remove).
std::vector<FoundMember> present(const Uuid &set)
{
    std::vector<FoundMember> out;
    for (const auto &m : Discovery::members()) {
        if (m.set_uuid != set)
            continue;
        try {
            auto now = Discovery::probe(m.devnode);
            if (now && now->set_uuid == set && now->member_uuid == m.member_uuid) {
                now->devnum = m.devnum;
                now->active = m.active;
                out.push_back(*now);
            }
        } catch (const Error &) {
            // unreadable now: as good as missing
        }
    }
    return Discovery::usable(std::move(out));
}

// "spare member 1 (UUID) is missing; assemble with --degraded ..." without
// the advice, which is for people at a terminal.
std::string what_is_missing(const std::string &message, const std::string &set_name)
{
    std::string m = message.substr(0, message.find("; assemble with --degraded"));
    const std::string prefix = "set '" + set_name + "': ";
    return m.starts_with(prefix) ? m.substr(prefix.size()) : m;
}

} // namespace

const char *outcome_name(IncrementalStep::Outcome o) noexcept
{
    switch (o) {
    case IncrementalStep::Outcome::Started:
        return "started";
    case IncrementalStep::Outcome::StartedDegraded:
        return "started-degraded";
    case IncrementalStep::Outcome::Active:
        return "active";
    case IncrementalStep::Outcome::Waiting:
        return "waiting";
    case IncrementalStep::Outcome::LeftAlone:
        return "left-alone";
    }
    return "unknown";
}

IncrementalStep Incremental::step(const Uuid &set, bool last_resort, bool degraded)
{
    // udev starts a step for every member, and the last-resort timer may
    // fire meanwhile: one at a time per set, each seeing what the one
    // before it did.
    std::optional<SetLock> held;
    const std::string replacing = Replacer::lock_unless_replacing(set, held);

    IncrementalStep r;
    r.set_uuid = set;
    const auto members = present(set);
    bool have_data = false;
    std::string spares;
    for (const auto &m : members) {
        if (r.set_name.empty() || m.role == Role::Data)
            r.set_name = m.set_name;
        have_data |= m.role == Role::Data;
        if (m.role == Role::Spare)
            spares += " " + m.devnode;
    }
    const std::string who = "set '" + r.set_name + "' (" + set.str() + ")";
    if (!replacing.empty()) {
        // A spare that comes back meanwhile is not rejoined: the replace
        // switches tables over the set as it found it.
        r.outcome = IncrementalStep::Outcome::Active;
        r.device = replacing;
        return r;
    }
    SetLock &lock = *held;
    if (auto name = Discovery::active_name(set); !name.empty()) {
        lock.mark_started();
        r.outcome = IncrementalStep::Outcome::Active;
        r.device = name;
        r.rejoined = rejoin(name, set, r.refused);
        return r;
    }
    // Once per boot: a set that ran and is stopped now was stopped by
    // someone, whatever uevents come late. And the timer runs 30 s after
    // the first member appeared, whatever happened meanwhile.
    if (lock.started() || (last_resort && !lock.waiting())) {
        r.outcome = IncrementalStep::Outcome::LeftAlone;
        return r;
    }
    if (!have_data) {
        lock.set_waiting(true);
        r.missing = "the data member is missing";
        if (last_resort)
            throw Error(Error::Code::NotFound, who + ": the data member is missing; not started" +
                                                   (spares.empty() ? "" : " (spares present:" + spares + ")"));
        return r;
    }
    AssembleOptions o;
    o.incremental = !last_resort;
    try {
        r.set = SetManager::assemble(set, o);
        r.outcome = r.set->already_active ? IncrementalStep::Outcome::Active : IncrementalStep::Outcome::Started;
        r.device = r.set->name;
        return r;
    } catch (const Error &e) {
        if (e.code() != Error::Code::NotFound)
            throw;
        r.missing = what_is_missing(e.what(), r.set_name);
    }
    if (!last_resort) {
        lock.set_waiting(true);
        return r;
    }
    if (!degraded)
        throw Error(Error::Code::NotFound, who + ": " + r.missing +
                                               "; not started: the last-resort policy does not allow starting without it");
    o.degraded = true;
    r.set = SetManager::assemble(set, o);
    r.outcome = IncrementalStep::Outcome::StartedDegraded;
    r.device = r.set->name;
    return r;
}

std::vector<IncrementalStep> Incremental::step_all()
{
    DmControl().names(); // without device-mapper nothing can start: say so, not "nothing found"
    std::map<Uuid, std::string> sets;
    for (const auto &m : Discovery::members())
        sets.try_emplace(m.set_uuid, m.set_name);
    std::vector<IncrementalStep> out;
    for (const auto &[uuid, name] : sets) {
        try {
            out.push_back(step(uuid, false, false));
        } catch (const Error &e) {
            IncrementalStep r;
            r.set_uuid = uuid;
            r.set_name = name;
            r.error = e.what();
            out.push_back(r);
        }
    }
    return out;
}

std::vector<std::uint16_t> Incremental::rejoin(const std::string &name, const Uuid &set,
                                               std::vector<std::string> &refused)
{
    DmControl dm;
    const auto info = dm.info(name);
    // Someone else's suspend or inactive table is theirs to finish.
    if (!info || info->suspended || info->inactive_table)
        return {};
    const auto live = dm.status(name);
    if (live.size() != 1 || live[0].type != "remap")
        return {};
    std::set<std::uint16_t> missing;
    for (const auto &m : parse_status(live[0].params).members)
        if (m.health == MemberHealth::Missing)
            missing.insert(m.index);
    if (missing.empty())
        return {};

    // The live table's members stay as they are, whatever udev says now.
    std::vector<std::string> paths;
    for (const auto &a : Discovery::active())
        if (a.name == name)
            for (dev_t d : a.members) {
                const std::string node = Discovery::devnode(d);
                if (node.empty())
                    throw Error(Error::Code::NotFound, name + ": member " + std::to_string(major(d)) + ":" +
                                                          std::to_string(minor(d)) + " of the live table has no device node");
                paths.push_back(node);
            }
    if (paths.empty())
        return {};
    FileIo data(paths[0], FileIo::Mode::ReadOnly);
    const SetView v = Checker().run({&data});
    if (!v.state)
        return {};
    // Only a device carrying exactly a missing member may come in.
    std::map<std::uint16_t, const Member *> wanted;
    for (const auto &m : v.state->members)
        if (m.role == Role::Spare && !m.failed() && missing.count(m.index))
            wanted[m.index] = &m;
    std::map<std::uint16_t, FoundMember> back;
    for (const auto &m : present(set)) {
        auto it = wanted.find(m.index);
        if (m.role != Role::Spare || it == wanted.end() || it->second->uuid != m.member_uuid)
            continue;
        if (auto b = back.find(m.index); b != back.end() && b->second.devnum != m.devnum)
            throw Error(Error::Code::Exists, b->second.devnode + " and " + m.devnode + " both carry spare member " +
                                                 std::to_string(m.index) + " of set '" + m.set_name +
                                                 "'; attach the right one: dmremapctl spare add " + name + " DEVICE");
        back[m.index] = m;
    }
    std::vector<std::string> attached; // loop devices set up here, detached if this fails
    try {
        for (const auto &[index, m] : wanted) {
            struct stat st;
            if (back.count(index) || m->image_path.empty() || ::lstat(m->image_path.c_str(), &st) != 0)
                continue;
            const bool existed = LoopDevice::find(m->image_path).has_value();
            std::string dev;
            try {
                dev = LoopDevice::attach_recorded(m->image_path, m->member_sectors * 512);
            } catch (const Error &e) {
                // Still missing; say why, as assemble does.
                refused.push_back("spare member " + std::to_string(index) + " (image " + m->image_path +
                                  ") refused: " + e.what());
                continue;
            }
            Discovery::wait_for_udev(Discovery::devnum(dev));
            const auto probed = Discovery::probe(dev);
            if (probed && probed->member_uuid == m->uuid) {
                back[index] = *probed;
                back[index].devnode = dev;
                if (!existed)
                    attached.push_back(dev);
            } else if (!existed) {
                LoopDevice::detach_quietly(dev);
            }
        }
        std::vector<std::uint16_t> indices;
        for (const auto &[index, m] : back) {
            indices.push_back(index);
            paths.push_back(m.devnode);
        }
        if (indices.empty()) {
            for (const auto &dev : attached)
                LoopDevice::detach_quietly(dev);
            return {};
        }
        const DmTarget t = SetManager::table(paths, indices.size() < missing.size());
        const auto old = dm.table(name);
        dm.reload(name, t, info->read_only);
        // One ioctl suspends, swaps and resumes: no window in which a
        // signal leaves the device suspended. The new table's first resume
        // brings the returning spare's metadata up to date
        // (kernel/dm-remap.rst, Constructor).
        try {
            dm.resume(name);
        } catch (const Error &e) {
            // Never leave the device suspended under a mounted filesystem.
            try {
                dm.reload(name, old.at(0), info->read_only);
                dm.resume(name);
            } catch (const std::exception &e2) {
                throw Error(e.code(), name + ": attaching the returning spare failed (" + e.what() +
                                          ") and the previous table could not be restored (" + e2.what() +
                                          "); the device may be left suspended: dmsetup resume " + name);
            }
            throw;
        }
        for (const auto &dev : attached) {
            try {
                LoopDevice::set_autoclear(dev);
            } catch (const Error &) {
                // It stays attached after stop: untidy, not wrong.
            }
        }
        return indices;
    } catch (...) {
        for (const auto &dev : attached)
            LoopDevice::detach_quietly(dev);
        throw;
    }
}

} // namespace dmremap
