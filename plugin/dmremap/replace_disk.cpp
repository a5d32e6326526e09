// SPDX-License-Identifier: LGPL-2.1-or-later
#include "replace_disk.hpp"

#include "checker.hpp"
#include "discovery.hpp"
#include "error.hpp"
#include "file_io.hpp"
#include "layout.hpp"
#include "metadata_area.hpp"
#include "restorer.hpp"
#include "safety.hpp"
#include "set_manager.hpp"

#include <dm-remap-format.h>

#include <algorithm>
#include <array>
#include <sys/sysmacros.h>

namespace dmremap {
namespace {

std::optional<Superblock> superblock_of(const std::string &path)
{
    FileIo io(path, FileIo::Mode::ReadOnly);
    Report ignore;
    return Checker::read_superblocks(io, ignore).sb;
}

// Sets and clears compat flags in both superblock copies of a member of `set`.
void change_flags(const std::string &path, const Uuid &set, std::uint32_t add, std::uint32_t drop)
{
    FileIo io(path, FileIo::Mode::ReadWrite);
    Report ignore;
    auto sb = Checker::read_superblocks(io, ignore).sb;
    if (!sb || sb->set_uuid != set)
        throw Error(Error::Code::Corrupt, path + ": no longer carries a superblock of set " + set.str());
    sb->compat_flags = (sb->compat_flags | add) & ~drop;
    MetadataArea(io, *sb, path).write_superblocks(*sb);
}

} // namespace

ReplaceDisk::ReplaceDisk(const std::string &name, const std::vector<std::string> &old_members, std::string path,
                         const ReplaceOptions &opts)
    : path_(std::move(path)), old_members_(old_members)
{
    using E = Error::Code;
    if (old_members.empty())
        throw Error(E::NotFound, name + ": its table names no data member");
    old_device_ = old_members[0];
    auto sb = superblock_of(old_device_);
    if (!sb)
        throw Error(E::Corrupt, name + ": its data member " + old_device_ + " has no readable superblock");
    old_sb_ = *sb;

    const dev_t dev = Discovery::devnum(path_); // NotFound, or InvalidArgument for a file
    for (const auto &m : old_members)
        if (Discovery::devnum(m) == dev)
            throw Error(E::InvalidArgument, path_ + ": is a member of " + name + " itself");
    if (auto self = DmControl().info(name); self && Safety::stacked_on(dev, makedev(self->major, self->minor)))
        throw Error(E::InvalidArgument, path_ + ": is built on " + name + " itself");
    Safety::check_not_in_use(path_);
    FileIo io(path_, FileIo::Mode::Exclusive);
    Report ignore;
    const MemberView mv = Checker::read_superblocks(io, ignore);
    // The unfinished new disk of this set's own replace may be used again.
    if (mv.sb && !(mv.sb->set_uuid == old_sb_.set_uuid && (mv.sb->compat_flags & DMR_COMPAT_REPLACING)))
        throw Error(E::Exists, path_ + ": is " + role_name(mv.sb->role) + " member " +
                                   std::to_string(mv.sb->member_index) + " of remap set '" + mv.sb->name + "' (" +
                                   mv.sb->set_uuid.str() + "); the new disk must not belong to any set");
    // Resumed onto a disk that a later replace overtook (the set runs from
    // a disk formatted after it): that would move the set again, onto a
    // disk the admin gave up on.
    if (opts.resuming && mv.sb && mv.sb->ctime < old_sb_.ctime)
        throw Error(E::Exists, path_ + ": left unfinished by an earlier replace of set '" + old_sb_.name + "' (" +
                                   old_sb_.set_uuid.str() + "), which a later replace moved to another disk; not "
                                   "copying onto it. Wipe it (wipefs -a " + path_ + ") to use it elsewhere, or move "
                                   "the set onto it with 'dmremapctl replace " + name + " " + path_ + "'");
    if (!mv.sb && !opts.force)
        if (const auto sigs = Safety::signatures(path_); !sigs.empty())
            throw Error(E::Exists, path_ + ": contains a " + sigs.front() + "; use --force to overwrite it");

    fopts_.name = old_sb_.name;
    fopts_.block_size = old_sb_.block_size;
    fopts_.max_entries = old_sb_.max_entries;
    fopts_.journal_blocks = old_sb_.journal_blocks;
    fopts_.set_uuid = old_sb_.set_uuid;
    fopts_.md_mirror = layout::md_copies(old_sb_) == 2;
    fopts_.data_sectors = old_sb_.data_sectors;
    fopts_.internal_spare = opts.internal_spare;
    fopts_.compat_flags = DMR_COMPAT_REPLACING;
    plan_ = Formatter::plan(fopts_, {&io}); // NoSpace names the sizes
}

void ReplaceDisk::format()
{
    // The checks above are stricter than format's own; force skips its
    // refusal of this set's unfinished disk and wipes other signatures.
    plan_ = SetManager::format({path_}, fopts_, true);
    formatted_ = true;
}

void ReplaceDisk::write_state(const std::vector<std::uint64_t> &pending)
{
    std::uint64_t generation = old_sb_.generation;
    for (const auto &m : old_members_)
        if (auto sb = superblock_of(m); sb && sb->set_uuid == old_sb_.set_uuid)
            generation = std::max(generation, sb->generation);
    SetDescription d;
    d.common = plan_.superblocks.at(0);
    d.common.generation = generation + 1;
    d.state = plan_.state;
    d.state.generation = generation + 1;
    std::vector<Entry> entries;
    for (const std::uint64_t b : pending) {
        Entry e;
        e.data_block = b;
        e.state = EntryState::Pending;
        e.spare_index = kNoMember;
        e.spare_block = DMR_PENDING_LOST;
        entries.push_back(e);
    }
    d.state.assign(entries);
    // Not exclusive: /dev/mapper/NAME's table holds the disk (it is suspended).
    FileIo io(path_, FileIo::Mode::ReadWrite);
    Restorer::restore(d, {&io}, false);
}

DmTarget ReplaceDisk::table() const { return SetManager::table({path_}); }

void ReplaceDisk::commit()
{
    // The commit point: the old data member's flag. Assembly then takes
    // the new disk even if it still says REPLACING (a power cut before
    // the next write), and no longer the old one.
    change_flags(old_members_.at(0), old_sb_.set_uuid, DMR_COMPAT_REPLACED, 0);
    try {
        change_flags(path_, old_sb_.set_uuid, 0, DMR_COMPAT_REPLACING);
    } catch (const Error &) {
        // Assembly clears it.
    }
    for (std::size_t i = 1; i < old_members_.size(); i++) {
        try {
            change_flags(old_members_[i], old_sb_.set_uuid, DMR_COMPAT_REPLACED, 0);
        } catch (const Error &) {
            // A spare of the old set: without its data member nothing assembles it.
        }
    }
}

void clear_replacing(const std::string &path, const Uuid &set)
{
    change_flags(path, set, 0, DMR_COMPAT_REPLACING);
}

void ReplaceDisk::tell_udev() const noexcept
{
    // Its rule names the disks by their flags; udev sees no close after
    // our writes through a device the kernel holds.
    for (const auto &p : old_members_)
        Discovery::trigger_change(p);
    Discovery::trigger_change(path_);
}

void ReplaceDisk::uncommit()
{
    change_flags(path_, old_sb_.set_uuid, DMR_COMPAT_REPLACING, 0);
    for (const auto &m : old_members_)
        change_flags(m, old_sb_.set_uuid, 0, DMR_COMPAT_REPLACED);
}

void ReplaceDisk::abandon() noexcept
{
    if (!formatted_)
        return;
    try {
        FileIo io(path_, FileIo::Mode::ReadWrite);
        const std::array<std::uint8_t, 4096> zero{};
        for (unsigned copy = 0; copy < DMR_SB_COPIES; copy++)
            io.write(layout::sb_offset(copy), zero);
        io.flush();
        Discovery::trigger_change(path_);
    } catch (const std::exception &) {
    }
}

} // namespace dmremap
