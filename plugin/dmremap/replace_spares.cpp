// SPDX-License-Identifier: LGPL-2.1-or-later
#include "replace_spares.hpp"

#include "checker.hpp"
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
{
    if (opts.keep_spares && old_members.size() > 1)
        keep(old_members);
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
        // (and held) when it is added. Never forced: --force is about
        // NEWDEV's signatures, and must not make another set's member a spare.
        SpareCandidate(dev, sb, makedev(self->major, self->minor), false);
        fresh_.push_back(dev);
    }
}

ReplaceSpares::~ReplaceSpares() = default;

void ReplaceSpares::keep(const std::vector<std::string> &old_members)
{
    // The old set's own record says which spares failed and which are
    // image files (a loop device attached by hand is not).
    FileIo data(old_members[0], FileIo::Mode::ReadOnly);
    const SetView v = Checker().run({&data});
    if (!v.state)
        throw Error(Error::Code::Corrupt, old_members[0] + ": no readable state; its spares cannot be carried over");
    for (std::size_t i = 1; i < old_members.size(); i++) {
        const std::string &node = old_members[i];
        std::optional<FoundMember> found;
        try {
            found = Discovery::probe(node);
        } catch (const Error &) {
        }
        const Member *m = nullptr;
        for (const auto &rec : v.state->members)
            if (found && found->set_uuid == v.sb->set_uuid && rec.index == found->index && rec.uuid == found->member_uuid)
                m = &rec;
        if (!m) {
            skipped_.push_back(node + ": not carried over: it carries no member of this set (missing or unreadable)");
            continue;
        }
        if (m->failed()) {
            skipped_.push_back(node + ": not carried over: it failed in the old set");
            continue;
        }
        std::string image;
        if (m->flags & DMR_MEMBER_F_LOOP_IMAGE) {
            image = m->image_path;
            if (LoopDevice::backing_file(node) != image) {
                skipped_.push_back(node + ": not carried over: it is not the loop device of its image " + image);
                continue;
            }
        }
        kept_.push_back({node, image, nullptr});
    }
}

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
    r.spare_errors.insert(r.spare_errors.end(), skipped_.begin(), skipped_.end());
    for (auto &k : kept_) {
        bool wiped = false;
        try {
            if (!k.hold)
                throw Error(Error::Code::NotFound, "could not be opened when the old set stopped");
            // It holds the old set's superblocks (marked REPLACED): the
            // kernel takes no member of a set, this one's included.
            const std::array<std::uint8_t, 4096> zero{};
            for (unsigned copy = 0; copy < DMR_SB_COPIES; copy++)
                k.hold->write(layout::sb_offset(copy), zero);
            k.hold->flush();
            wiped = true;
            SpareAddOptions so;
            so.recorded_image = k.image;
            // Its spare area holds the old set's remapped blocks, whatever
            // signatures blkid finds there.
            so.force = true;
            const SpareAdded a = RemapDevice(name).spare_add(k.node, so);
            r.spares.push_back(a.device);
        } catch (const std::exception &e) {
            r.spare_errors.push_back(std::string(e.what()) +
                                     (wiped ? "; " + k.node + " belongs to no set now: add it with 'dmremapctl spare add "
                                                  "--force " + name + " " + k.node + "'"
                                            : ""));
        }
        k.hold.reset();
    }
    for (const auto &dev : fresh_) {
        try {
            r.spares.push_back(RemapDevice(name).spare_add(dev, SpareAddOptions{}).device);
        } catch (const std::exception &e) {
            r.spare_errors.push_back(e.what());
        }
    }
}

} // namespace dmremap
