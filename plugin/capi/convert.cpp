// SPDX-License-Identifier: LGPL-2.1-or-later
#include "convert.hpp"

#include <types.hpp>

namespace dmremap::capi {

BDRemapSpare *to_c(const SpareStat &s)
{
    auto *out = g_new0(BDRemapSpare, 1);
    // The target writes "-" for a member it could not open; C callers get
    // NULL, which they cannot mistake for a device.
    out->device = s.device == "-" ? nullptr : g_strdup(s.device.c_str());
    out->index = s.index;
    out->total = s.total;
    out->used = s.used ? gint64{*s.used} : -1;
    out->free = s.free ? gint64{*s.free} : -1;
    out->live = s.live;
    out->state = g_strdup(s.state.c_str());
    return out;
}

BDRemapDeviceStatus *to_c(const DeviceStatus &s)
{
    const TargetStatus &t = s.target;
    auto *out = g_new0(BDRemapDeviceStatus, 1);
    out->name = g_strdup(s.info.name.c_str());
    out->uuid = g_strdup(s.info.uuid.c_str());
    // Device-mapper nodes are always /dev/dm-<minor>; dmremapctl status
    // reports the same path.
    out->device = g_strdup_printf("/dev/dm-%u", s.info.minor);
    out->state = g_strdup(s.state.c_str());
    out->metadata_ok = t.metadata_ok;
    out->block_size = t.block_size;
    out->remapped = t.remapped;
    out->pending = t.pending;
    out->unavailable = t.unavailable;
    out->spare_used = t.spare_used;
    out->spare_total = t.spare_total;
    out->read_errors = t.read_errors;
    out->write_errors = t.write_errors;
    out->remap_events = t.remap_events;
    out->healed = t.healed;
    out->exhausted = t.exhausted;
    out->degraded = t.degraded;
    out->seq = t.seq;
    out->spares = to_c_array(s.members);
    return out;
}

BDRemapEntry *to_c(const RemapEntryInfo &e)
{
    auto *out = g_new0(BDRemapEntry, 1);
    out->block = e.block;
    out->pending = e.pending;
    out->member = e.member;
    out->spare_block = e.spare_block;
    out->on_missing = e.on_missing;
    return out;
}

BDRemapMember *to_c(const FoundMember &m)
{
    auto *out = g_new0(BDRemapMember, 1);
    out->devnode = g_strdup(m.devnode.c_str());
    out->set_uuid = g_strdup(m.set_uuid.str().c_str());
    out->member_uuid = g_strdup(m.member_uuid.str().c_str());
    out->set_name = g_strdup(m.set_name.c_str());
    out->role = g_strdup(role_name(m.role));
    out->index = m.index;
    out->generation = m.generation;
    out->active = m.active ? g_strdup(m.active->c_str()) : nullptr;
    return out;
}

std::vector<std::string> from_strv(const gchar *const *strv)
{
    std::vector<std::string> out;
    for (; strv && *strv; strv++)
        out.emplace_back(*strv);
    return out;
}

} // namespace dmremap::capi
