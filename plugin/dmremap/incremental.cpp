// SPDX-License-Identifier: LGPL-2.1-or-later
#include "incremental.hpp"

#include "checker.hpp"
#include "error.hpp"
#include "file_io.hpp"
#include "loop_device.hpp"
#include "set_lock.hpp"
#include "target_status.hpp"

#include <map>
#include <memory>
#include <set>
#include <sys/stat.h>

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
            if (now && now->set_uuid == set && now->member_uuid == m.member_uuid)
                out.push_back(m);
        } catch (const Error &) {
            // unreadable now: as good as missing
        }
    }
    return out;
}

std::string active_name(const Uuid &set)
{
    for (const auto &a : Discovery::active())
        if (a.set_uuid == set)
            return a.name;
    return "";
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
    }
    return "unknown";
}

IncrementalStep Incremental::step(const Uuid &set, bool last_resort, bool degraded)
{
    // udev starts a step for every member, and the last-resort timer may
    // fire meanwhile: one at a time per set, each seeing what the one
    // before it did.
    SetLock lock(set);

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
    if (auto name = active_name(set); !name.empty()) {
        r.outcome = IncrementalStep::Outcome::Active;
        r.device = name;
        r.rejoined = rejoin(name, set);
        return r;
    }
    if (!have_data) {
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
    if (!last_resort)
        return r;
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

std::vector<std::uint16_t> Incremental::rejoin(const std::string &name, const Uuid &set)
{
    DmControl dm;
    const auto live = dm.status(name);
    if (live.size() != 1 || live[0].type != "remap")
        return {};
    std::set<std::uint16_t> missing;
    for (const auto &m : parse_status(live[0].params).members)
        if (m.health == MemberHealth::Missing)
            missing.insert(m.index);
    if (missing.empty())
        return {};

    std::string data;
    std::map<std::uint16_t, std::string> spares; // index -> device
    for (const auto &m : present(set)) {
        if (m.role == Role::Data)
            data = m.devnode;
        else
            spares[m.index] = m.devnode;
    }
    if (data.empty())
        return {}; // the running table holds it; udev has lost track: nothing to go on
    std::vector<std::string> attached; // loop devices set up here, detached if this fails
    try {
        // Image spares: the member table has their paths.
        std::vector<std::unique_ptr<FileIo>> files;
        std::vector<BlockIo *> ios;
        files.push_back(std::make_unique<FileIo>(data, FileIo::Mode::ReadOnly));
        ios.push_back(files.back().get());
        const SetView v = Checker().run(ios);
        if (v.state)
            for (const auto &m : v.state->members) {
                struct stat st;
                if (m.role != Role::Spare || m.failed() || !missing.count(m.index) || spares.count(m.index) ||
                    m.image_path.empty() || ::lstat(m.image_path.c_str(), &st) != 0)
                    continue;
                const bool existed = LoopDevice::find(m.image_path).has_value();
                std::string dev;
                try {
                    dev = LoopDevice::attach_recorded(m.image_path, m.member_sectors * 512);
                } catch (const Error &) {
                    continue; // refused (outside the spare directory, wrong size): still missing
                }
                Discovery::wait_for_udev(Discovery::devnum(dev));
                const auto probed = Discovery::probe(dev);
                if (probed && probed->member_uuid == m.uuid) {
                    spares[m.index] = dev;
                    if (!existed)
                        attached.push_back(dev);
                } else if (!existed) {
                    LoopDevice::detach_quietly(dev);
                }
            }
        std::vector<std::uint16_t> back;
        for (auto i : missing)
            if (spares.count(i))
                back.push_back(i);
        if (back.empty()) {
            for (const auto &dev : attached)
                LoopDevice::detach_quietly(dev);
            return {};
        }
        std::vector<std::string> paths{data};
        for (const auto &[i, dev] : spares)
            paths.push_back(dev);
        const DmTarget t = SetManager::table(paths, back.size() < missing.size());
        const auto old = dm.table(name);
        // The new table's first resume brings the returning spare's
        // metadata up to date (kernel/dm-remap.rst, Constructor).
        dm.reload(name, t);
        dm.suspend(name);
        try {
            dm.resume(name);
        } catch (const Error &) {
            // Never leave the device suspended under a mounted filesystem.
            try {
                dm.reload(name, old.at(0));
                dm.resume(name);
            } catch (const std::exception &) {
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
        return back;
    } catch (...) {
        for (const auto &dev : attached)
            LoopDevice::detach_quietly(dev);
        throw;
    }
}

} // namespace dmremap
