// SPDX-License-Identifier: LGPL-2.1-or-later
#include "restorer.hpp"

#include "checker.hpp"
#include "error.hpp"
#include "codec.hpp"
#include "layout.hpp"
#include "metadata_area.hpp"

#include <algorithm>
#include <set>

namespace dmremap {

RestoreResult Restorer::restore(const SetDescription &d, const std::vector<BlockIo *> &devices, bool force)
{
    using E = Error::Code;
    const auto &members = d.state.members;
    if (devices.size() > members.size())
        throw Error(E::InvalidArgument, "the dump lists " + std::to_string(members.size()) + " members but " +
                                            std::to_string(devices.size()) + " devices were given");
    RestoreResult res;
    std::set<std::uint16_t> used;
    std::vector<const Member *> target(devices.size(), nullptr);
    for (std::size_t i = 0; i < devices.size(); i++) {
        Report ignore;
        MemberView mv = Checker::read_superblocks(*devices[i], ignore);
        if (mv.sb && mv.sb->set_uuid == d.common.set_uuid) {
            for (const auto &m : members)
                if (m.uuid == mv.sb->member_uuid)
                    target[i] = &m;
            if (!target[i] && !force)
                throw Error(E::Exists, devices[i]->name() + ": member " + mv.sb->member_uuid.str() +
                                           " of this set is not in the dump (use --force)");
        } else if (mv.sb && !force) {
            throw Error(E::Exists, devices[i]->name() + ": belongs to another set, " + mv.sb->name + " (" +
                                       mv.sb->set_uuid.str() + "); use --force to overwrite it");
        }
        if (target[i] && !used.insert(target[i]->index).second)
            throw Error(E::InvalidArgument, devices[i]->name() + ": member " + std::to_string(target[i]->index) +
                                                " is given twice");
    }
    // Unidentified devices take the remaining members in index order.
    auto next = members.begin();
    for (std::size_t i = 0; i < devices.size(); i++) {
        if (target[i])
            continue;
        while (next != members.end() && used.count(next->index))
            ++next;
        if (next == members.end())
            throw Error(E::InvalidArgument, devices[i]->name() + ": no member of the dump is left for it");
        target[i] = &*next;
        used.insert(next->index);
    }
    // Read each device with the geometry it is about to get: even with its
    // superblocks wiped, any snapshot or journal record of this set counts
    // towards the seq the restored state must exceed.
    std::uint64_t max_seq = d.state.seq;
    std::vector<int> old_slot(devices.size(), -1);
    for (std::size_t i = 0; i < devices.size(); i++) {
        const Member &m = *target[i];
        if ((devices[i]->size_bytes() >> 9) < m.member_sectors)
            throw Error(E::NoSpace, devices[i]->name() + ": device has " +
                                        std::to_string(devices[i]->size_bytes() >> 9) + " sectors, member " +
                                        std::to_string(m.index) + " needs " + std::to_string(m.member_sectors));
        MetadataArea area(*devices[i], SetJson::superblock_for(d, m), devices[i]->name());
        MemberLoad load = area.load();
        max_seq = std::max(max_seq, load.max_seq_seen);
        old_slot[i] = load.slot;
    }
    RemapState st = d.state;
    st.seq = max_seq + 1;
    const std::vector<std::uint8_t> zero(kBlock, 0);
    for (std::size_t i = 0; i < devices.size(); i++) {
        const Superblock sb = SetJson::superblock_for(d, *target[i]);
        MetadataArea area(*devices[i], sb, devices[i]->name());
        area.write_superblocks(sb);
        // Never overwrite the slot holding the newest valid snapshot; once
        // the new one is durable, clear what does not belong to this set
        // (foreign snapshots, any journal records), so check sees a clean member.
        const unsigned slot = old_slot[i] == 0 ? 1 : 0;
        area.write_snapshot(st, slot);
        area.clear_journal();
        if (old_slot[i] != static_cast<int>(slot ^ 1)) { // keep an older snapshot of this set
            for (unsigned c = 0; c < layout::md_copies(sb); c++)
                devices[i]->write(layout::slot_offset(sb, slot ^ 1, c), zero);
            devices[i]->flush();
        }
        res.indexes.push_back(target[i]->index);
    }
    res.seq = st.seq;
    return res;
}

} // namespace dmremap
