// SPDX-License-Identifier: LGPL-2.1-or-later
// Sets and active devices: create, assemble, stop, status, spares, remaps.
#include "convert.hpp"
#include "guard.hpp"
#include "options.hpp"
#include "progress.hpp"

#include <remap_device.hpp>
#include <set_manager.hpp>

using namespace dmremap;
using namespace dmremap::capi;

namespace {

AssembleOptions assemble_options(gboolean degraded)
{
    AssembleOptions o;
    o.degraded = degraded;
    return o;
}

gchar *assembled_name(const AssembledSet &set)
{
    return g_strdup(set.name.c_str());
}

gchar *create_set(const gchar *data_dev, const gchar **spare_devs, const CreateRequest &r)
{
    std::vector<std::string> paths{require(data_dev, "data_dev")};
    for (auto &s : from_strv(spare_devs))
        paths.push_back(std::move(s));
    return g_strdup(SetManager::create(paths, r.format, r.force).name.c_str());
}

} // namespace

extern "C" {

gchar *bd_remap_create(const gchar *name, const gchar *data_dev, const gchar **spare_devs, guint32 block_size,
                       gboolean force, GError **error)
{
    return guard(error, [&] {
        CreateRequest r;
        if (name)
            r.format.name = name;
        if (block_size)
            r.format.block_size = block_size;
        r.force = force;
        return create_set(data_dev, spare_devs, r);
    });
}

gchar *bd_remap_create_full(const gchar *data_dev, const gchar **spare_devs, const BDExtraArg **options,
                            GError **error)
{
    return guard(error, [&] {
        require(data_dev, "data_dev");
        return create_set(data_dev, spare_devs, create_request(options));
    });
}

gchar *bd_remap_assemble(const gchar **members, gboolean degraded, GError **error)
{
    return guard(error, [&] {
        const auto paths = from_strv(require_strv(members, "members"));
        return assembled_name(SetManager::assemble(paths, assemble_options(degraded)));
    });
}

gchar *bd_remap_assemble_full(const gchar **members, const BDExtraArg **options, GError **error)
{
    return guard(error, [&] {
        const AssembleRequest r = assemble_request(options);
        const auto paths = from_strv(members);
        if (!paths.empty() && r.uuid)
            throw Error(Error::Code::InvalidArgument, "options: 'uuid' = '" + r.uuid->str() +
                                                          "': only for an empty members list");
        if (r.uuid)
            return assembled_name(SetManager::assemble(*r.uuid, r.assemble));
        if (paths.empty())
            throw Error(Error::Code::InvalidArgument, "members: empty, and no 'uuid' option names the set");
        return assembled_name(SetManager::assemble(paths, r.assemble));
    });
}

gchar *bd_remap_assemble_uuid(const gchar *uuid, gboolean degraded, GError **error)
{
    return guard(error, [&] {
        const auto parsed = Uuid::parse(require(uuid, "uuid"));
        if (!parsed)
            throw Error(Error::Code::InvalidArgument, std::string("uuid: '") + uuid + "' is not a UUID");
        return assembled_name(SetManager::assemble(*parsed, assemble_options(degraded)));
    });
}

gboolean bd_remap_stop(const gchar *name, GError **error)
{
    return guard(error, [&] {
        RemapDevice(require(name, "name")).stop();
        return TRUE;
    });
}

BDRemapDeviceStatus *bd_remap_status(const gchar *name, GError **error)
{
    return guard(error, [&] { return to_c(RemapDevice(require(name, "name")).status()); });
}

BDRemapDeviceStatus **bd_remap_list(GError **error)
{
    return guard(error, [&] {
        std::vector<DeviceStatus> all;
        for (const auto &n : RemapDevice::names()) {
            try {
                all.push_back(RemapDevice(n).status());
            } catch (const Error &e) {
                // Stopped between the listing and the query: it is simply
                // no longer in the list.
                if (e.code() != Error::Code::NotFound)
                    throw;
            }
        }
        return to_c_array(all);
    });
}

BDRemapSpare **bd_remap_spare_list(const gchar *name, GError **error)
{
    return guard(error, [&] { return to_c_array(RemapDevice(require(name, "name")).spares()); });
}

gboolean bd_remap_spare_add(const gchar *name, const gchar *dev, gboolean force, GError **error)
{
    return guard(error, [&] {
        RemapDevice d(require(name, "name"));
        SpareAddOptions opts;
        opts.force = force;
        d.spare_add(require(dev, "dev"), opts);
        return TRUE;
    });
}

gboolean bd_remap_spare_add_image(const gchar *name, const gchar *image_path, guint64 size, GError **error)
{
    return guard(error, [&] {
        RemapDevice d(require(name, "name"));
        SpareAddOptions opts;
        opts.image = require(image_path, "image_path");
        opts.image_size = size;
        // The loop device does not exist yet; spare_add makes it from opts.image.
        d.spare_add("", opts);
        return TRUE;
    });
}

gboolean bd_remap_spare_remove(const gchar *name, const gchar *dev, gboolean evacuate, guint64 *moved,
                               guint64 *lost, GError **error)
{
    return guard(error, [&] {
        RemapDevice d(require(name, "name"));
        require(dev, "dev");
        SpareRemoved r;
        if (evacuate)
            run_reporting_progress(
                std::string(name) + ": moving the blocks living on " + dev + " to other spares",
                [&](const RemapDevice::Progress &progress) { r = d.spare_remove(dev, true, progress); });
        else
            r = d.spare_remove(dev, false);
        if (moved)
            *moved = r.moved;
        if (lost)
            *lost = r.lost;
        return TRUE;
    });
}

gboolean bd_remap_remap_block(const gchar *name, guint64 block, gboolean *pending, GError **error)
{
    return guard(error, [&] {
        const bool moved = RemapDevice(require(name, "name")).remap(block);
        if (pending)
            *pending = !moved;
        return TRUE;
    });
}

BDRemapEntry **bd_remap_remaps(const gchar *name, guint64 first, guint32 count, GError **error)
{
    return guard(error, [&] { return to_c_array(RemapDevice(require(name, "name")).remaps(first, count)); });
}

} // extern "C"
