// SPDX-License-Identifier: LGPL-2.1-or-later
// Copy, free and GType of the boxed structures. Copies are deep: a caller
// may free the original while keeping the copy.
#include "bd_remap.h"

namespace {

// GObject introspection and g_boxed_copy() find the functions through the
// GType; the wrappers give them GLib's exact signatures instead of casting
// function pointers. A function-local static registers each type once,
// thread-safe by the language.
template <typename T, T *(*Copy)(T *), void (*Free)(T *)> GType boxed_type(const char *name)
{
    static const GType type = g_boxed_type_register_static(
        name, [](gpointer p) -> gpointer { return Copy(static_cast<T *>(p)); },
        [](gpointer p) { Free(static_cast<T *>(p)); });
    return type;
}

} // namespace

extern "C" {

BDRemapSpare *bd_remap_spare_copy(BDRemapSpare *spare)
{
    if (!spare)
        return nullptr;
    auto *out = g_new0(BDRemapSpare, 1);
    *out = *spare;
    out->device = g_strdup(spare->device);
    out->state = g_strdup(spare->state);
    return out;
}

void bd_remap_spare_free(BDRemapSpare *spare)
{
    if (!spare)
        return;
    g_free(spare->device);
    g_free(spare->state);
    g_free(spare);
}

GType bd_remap_spare_get_type(void)
{
    return boxed_type<BDRemapSpare, bd_remap_spare_copy, bd_remap_spare_free>("BDRemapSpare");
}

BDRemapDeviceStatus *bd_remap_device_status_copy(BDRemapDeviceStatus *status)
{
    if (!status)
        return nullptr;
    auto *out = g_new0(BDRemapDeviceStatus, 1);
    *out = *status;
    out->name = g_strdup(status->name);
    out->uuid = g_strdup(status->uuid);
    out->device = g_strdup(status->device);
    out->state = g_strdup(status->state);
    out->spares = nullptr;
    if (status->spares) {
        gsize n = 0;
        while (status->spares[n])
            n++;
        out->spares = g_new0(BDRemapSpare *, n + 1);
        for (gsize i = 0; i < n; i++)
            out->spares[i] = bd_remap_spare_copy(status->spares[i]);
    }
    return out;
}

void bd_remap_device_status_free(BDRemapDeviceStatus *status)
{
    if (!status)
        return;
    g_free(status->name);
    g_free(status->uuid);
    g_free(status->device);
    g_free(status->state);
    for (BDRemapSpare **s = status->spares; s && *s; s++)
        bd_remap_spare_free(*s);
    g_free(status->spares);
    g_free(status);
}

GType bd_remap_device_status_get_type(void)
{
    return boxed_type<BDRemapDeviceStatus, bd_remap_device_status_copy, bd_remap_device_status_free>(
        "BDRemapDeviceStatus");
}

BDRemapEntry *bd_remap_entry_copy(BDRemapEntry *entry)
{
    return entry ? static_cast<BDRemapEntry *>(g_memdup2(entry, sizeof(*entry))) : nullptr;
}

void bd_remap_entry_free(BDRemapEntry *entry)
{
    g_free(entry);
}

GType bd_remap_entry_get_type(void)
{
    return boxed_type<BDRemapEntry, bd_remap_entry_copy, bd_remap_entry_free>("BDRemapEntry");
}

BDRemapMember *bd_remap_member_copy(BDRemapMember *member)
{
    if (!member)
        return nullptr;
    auto *out = g_new0(BDRemapMember, 1);
    *out = *member;
    out->devnode = g_strdup(member->devnode);
    out->set_uuid = g_strdup(member->set_uuid);
    out->member_uuid = g_strdup(member->member_uuid);
    out->set_name = g_strdup(member->set_name);
    out->role = g_strdup(member->role);
    out->active = g_strdup(member->active);
    return out;
}

void bd_remap_member_free(BDRemapMember *member)
{
    if (!member)
        return;
    g_free(member->devnode);
    g_free(member->set_uuid);
    g_free(member->member_uuid);
    g_free(member->set_name);
    g_free(member->role);
    g_free(member->active);
    g_free(member);
}

GType bd_remap_member_get_type(void)
{
    return boxed_type<BDRemapMember, bd_remap_member_copy, bd_remap_member_free>("BDRemapMember");
}

} // extern "C"
