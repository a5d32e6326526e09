// SPDX-License-Identifier: LGPL-2.1-or-later
#include "spare_candidate.hpp"

#include "checker.hpp"
#include "error.hpp"
#include "layout.hpp"
#include "safety.hpp"

#include <dm-remap-format.h>

#include <cerrno>
#include <sys/stat.h>

namespace dmremap {

SpareCandidate::SpareCandidate(const std::string &dev, const Superblock &set, dev_t self, bool force)
    : dev_(dev), force_(force)
{
    struct stat st;
    if (::stat(dev.c_str(), &st) < 0)
        throw Error::from_errno(errno == ENOENT ? Error::Code::NotFound : Error::Code::Io, dev, errno);
    if (!S_ISBLK(st.st_mode))
        throw Error(Error::Code::InvalidArgument, dev + ": not a block device");
    Report ignore;
    MemberView mv;
    {
        FileIo io(dev, FileIo::Mode::ReadOnly);
        mv = Checker::read_superblocks(io, ignore);
    }
    // Our own member is also "in use" (by us): say the more useful thing.
    // A member a replace left behind keeps the set's UUID but is no member
    // now: like another set's, --force takes it.
    const bool replaced = mv.sb && (mv.sb->compat_flags & DMR_COMPAT_REPLACED);
    if (mv.sb && mv.sb->set_uuid == set.set_uuid && !replaced)
        throw Error(Error::Code::Exists, dev + ": already " + std::string(role_name(mv.sb->role)) + " member " +
                                             std::to_string(mv.sb->member_index) + " of set '" + set.name + "'");
    if (Safety::stacked_on(st.st_rdev, self))
        throw Error(Error::Code::InvalidArgument,
                    dev + ": is stacked on set '" + set.name + "' itself; a spare must not depend on the device it serves");
    Safety::check_not_in_use(dev);
    try {
        // O_EXCL fails while anything holds the device or, for a whole
        // disk, any of its partitions; from here on nothing else can claim it.
        hold_ = std::make_unique<FileIo>(dev, FileIo::Mode::Exclusive);
    } catch (const Error &e) {
        if (e.sys_errno() == EBUSY)
            throw Error(Error::Code::Busy, dev + ": in use (a mounted partition, part of another device, or open "
                                                 "exclusively by a program)", EBUSY);
        throw;
    }
    if (mv.sb && !force)
        throw Error(Error::Code::Exists, dev + ": " + role_name(mv.sb->role) + " member " +
                                             std::to_string(mv.sb->member_index) + " of remap set '" + mv.sb->name +
                                             "' (" + mv.sb->set_uuid.str() + ")" +
                                             (replaced ? ", left behind by a replace of its data disk" : "") +
                                             "; use --force to overwrite");
    old_member_ = mv.sb.has_value();
    const auto sigs = Safety::signatures(dev);
    if (!sigs.empty() && !force)
        throw Error(Error::Code::Exists, dev + ": contains a " + sigs.front() + "; use --force to overwrite");
    if (hold_->logical_block_size() > set.block_size)
        throw Error(Error::Code::InvalidArgument, dev + ": logical block size " +
                                                      std::to_string(hold_->logical_block_size()) +
                                                      " is larger than the set's block size " +
                                                      std::to_string(set.block_size));
    // The kernel lays a spare out like the data member's metadata, then at
    // least 1 MiB of spare blocks.
    const std::uint64_t need = ((set.md_offset + set.md_sectors) << 9) + (1u << 20);
    if (hold_->size_bytes() < need)
        throw Error(Error::Code::NoSpace, dev + ": too small: " + std::to_string(hold_->size_bytes() >> 20) +
                                              " MiB, a spare of this set needs at least " +
                                              std::to_string((need + (1u << 20) - 1) >> 20) + " MiB");
}

SpareCandidate::~SpareCandidate() = default;

void SpareCandidate::prepare()
{
    if (!force_ || !hold_)
        return;
    Safety::wipe_signatures(dev_);
    if (old_member_) {
        // The kernel refuses another set's member; with --force it stops being one.
        hold_->write(layout::sb_offset(0), std::vector<std::uint8_t>(2 * 4096, 0));
        hold_->flush();
    }
}

void SpareCandidate::release() { hold_.reset(); }

} // namespace dmremap
