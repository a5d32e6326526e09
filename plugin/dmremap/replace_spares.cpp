// SPDX-License-Identifier: LGPL-2.1-or-later
#include "replace_spares.hpp"

#include "discovery.hpp"
#include "dm_control.hpp"
#include "error.hpp"
#include "layout.hpp"
#include "loop_device.hpp"
#include "remap_device.hpp"
#include "spare_candidate.hpp"

#include <dm-remap-format.h>

#include <array>
#include <set>
#include <sys/sysmacros.h>

namespace dmremap {

ReplaceSpares::ReplaceSpares(const std::string &name, const std::vector<std::string> &old_members,
                             const Superblock &sb, const std::string &new_device, const ReplaceOptions &opts)
    : force_(opts.force)
{
    if (opts.keep_spares)
        for (std::size_t i = 1; i < old_members.size(); i++)
            kept_.push_back({old_members[i], LoopDevice::backing_file(old_members[i]), nullptr});
    const auto self = DmControl().info(name);
    if (!self)
        throw Error(Error::Code::NotFound, name + ": no such device");
    const dev_t new_disk = Discovery::devnum(new_device);
    std::set<dev_t> seen{new_disk};
    for (const auto &k : kept_)
        seen.insert(Discovery::devnum(k.node));
    for (const auto &dev : opts.spares) {
        const dev_t d = Discovery::devnum(dev); // NotFound, or InvalidArgument for a file
        if (d == new_disk)
            throw Error(Error::Code::InvalidArgument, dev + ": is the new disk; it cannot be a spare of its own set");
        if (!seen.insert(d).second)
            throw Error(Error::Code::InvalidArgument, dev + ": given twice, or already kept from the old set");
        // Only checked here: the copy takes long, and it is checked again
        // (and held) when it is added.
        SpareCandidate(dev, sb, makedev(self->major, self->minor), opts.force);
        fresh_.push_back(dev);
    }
}

ReplaceSpares::~ReplaceSpares() = default;

void ReplaceSpares::hold_old()
{
    for (auto &k : kept_) {
        try {
            k.hold = std::make_unique<FileIo>(k.node, FileIo::Mode::ReadWrite);
        } catch (const Error &) {
            // A spare that failed or left: add() says so.
        }
    }
}

void ReplaceSpares::add(const std::string &name, ReplaceResult &r) noexcept
{
    auto failed = [&r](const std::string &dev, const std::string &why) { r.spare_errors.push_back(dev + ": " + why); };
    for (auto &k : kept_) {
        try {
            if (!k.hold)
                throw Error(Error::Code::NotFound, "could not be opened when the old set stopped");
            // It holds the old set's superblocks (marked REPLACED): the
            // kernel takes no member of a set, this one's included.
            const std::array<std::uint8_t, 4096> zero{};
            for (unsigned copy = 0; copy < DMR_SB_COPIES; copy++)
                k.hold->write(layout::sb_offset(copy), zero);
            k.hold->flush();
            SpareAddOptions so;
            so.recorded_image = k.image;
            const SpareAdded a = RemapDevice(name).spare_add(k.node, so);
            r.spares.push_back(a.device);
        } catch (const std::exception &e) {
            failed(k.node, e.what());
        }
        k.hold.reset();
    }
    for (const auto &dev : fresh_) {
        try {
            SpareAddOptions so;
            so.force = force_;
            r.spares.push_back(RemapDevice(name).spare_add(dev, so).device);
        } catch (const std::exception &e) {
            failed(dev, e.what());
        }
    }
}

} // namespace dmremap
