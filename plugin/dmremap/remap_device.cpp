// SPDX-License-Identifier: LGPL-2.1-or-later
#include "remap_device.hpp"

#include "checker.hpp"
#include "discovery.hpp"
#include "error.hpp"
#include "file_io.hpp"
#include "loop_device.hpp"
#include "safety.hpp"

#include <cerrno>
#include <climits>
#include <libmount/libmount.h>
#include <memory>
#include <sstream>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>
#include <vector>

namespace dmremap {
namespace {

bool is_remap(DmControl &dm, const std::string &name)
{
    const auto t = dm.table(name);
    return t.size() == 1 && t[0].type == "remap";
}

std::string majmin(dev_t d) { return std::to_string(major(d)) + ":" + std::to_string(minor(d)); }

std::string state_of(const DmInfo &info, const TargetStatus &s)
{
    if (info.suspended)
        return "suspended";
    if (s.degraded)
        return "degraded";
    if (s.exhausted)
        return "spare-exhausted";
    return "active";
}

// "8:48 index=2 blocks=N" / "8:48 removed moved=N lost=N": key=value tokens.
std::uint64_t field(const std::string &text, const std::string &key)
{
    std::istringstream in(text);
    std::string tok;
    while (in >> tok)
        if (tok.rfind(key + "=", 0) == 0)
            try {
                return std::stoull(tok.substr(key.size() + 1));
            } catch (const std::exception &) {
                break;
            }
    throw Error(Error::Code::Failed, "unexpected reply from the kernel target: '" + text + "'");
}

// The spare given by path, major:minor, or (attached) image file.
std::string resolve_spare(const std::string &dev)
{
    struct stat st;
    if (::stat(dev.c_str(), &st) == 0 && S_ISREG(st.st_mode)) {
        char buf[PATH_MAX];
        const std::string abs = ::realpath(dev.c_str(), buf) ? buf : dev;
        if (auto loop = LoopDevice::find(abs))
            return *loop;
        throw Error(Error::Code::NotFound, dev + ": image file is not attached to a loop device");
    }
    return dev;
}

} // namespace

RemapDevice::RemapDevice(std::string name) : name_(std::move(name))
{
    if (!dm_.info(name_))
        throw Error(Error::Code::NotFound, name_ + ": no such device-mapper device");
    if (!is_remap(dm_, name_))
        throw Error(Error::Code::InvalidArgument, name_ + ": not a dm-remap device");
}

std::vector<std::string> RemapDevice::names()
{
    DmControl dm;
    std::vector<std::string> out;
    for (const auto &n : dm.names()) {
        try {
            if (is_remap(dm, n))
                out.push_back(n);
        } catch (const Error &e) {
            if (e.code() != Error::Code::NotFound)
                throw; // gone between list and table: not ours to report
        }
    }
    return out;
}

DeviceStatus RemapDevice::status()
{
    DeviceStatus s;
    s.info = *dm_.info(name_);
    const auto t = dm_.status(name_);
    if (t.size() != 1 || t[0].type != "remap")
        throw Error(Error::Code::InvalidArgument, name_ + ": not a dm-remap device");
    s.target = parse_status(t[0].params);
    s.members = spares();
    s.state = state_of(s.info, s.target);
    return s;
}

std::vector<SpareStat> RemapDevice::spares() { return parse_spare_stats(dm_.message(name_, "spare_stats")); }

std::vector<std::string> RemapDevice::members()
{
    std::vector<std::string> out;
    for (const auto &a : Discovery::active())
        if (a.name == name_)
            for (dev_t d : a.members) {
                const std::string node = Discovery::devnode(d);
                out.push_back(node.empty() ? majmin(d) : node);
            }
    return out;
}

SpareAdded RemapDevice::spare_add(const std::string &dev_arg, const SpareAddOptions &opts)
{
    if (dm_.info(name_)->suspended)
        throw Error(Error::Code::Busy, name_ + ": is suspended; resume it before adding a spare");
    SpareAdded out;
    std::string dev = dev_arg;
    bool created = false;
    std::string loop;
    if (!opts.image.empty()) {
        if (opts.image_size == 0)
            throw Error(Error::Code::InvalidArgument, opts.image + ": an image needs a size");
        LoopDevice::create_image(opts.image, opts.image_size);
        created = true;
        out.image = opts.image;
    }
    try {
        if (created) {
            loop = LoopDevice::attach(opts.image);
            dev = loop;
            Discovery::wait_for_udev(Discovery::devnum(loop)); // its first probe sees a blank device, not a half-written member
        } else {
            Discovery::devnum(dev);
            std::unique_ptr<FileIo> io = std::make_unique<FileIo>(dev, FileIo::Mode::ReadOnly);
            Report ignore;
            const MemberView mv = Checker::read_superblocks(*io, ignore);
            io.reset();
            // Our own member is also "in use" (by us): say the more useful thing.
            const auto own = Discovery::set_uuid_of_dm_uuid(dm_.info(name_)->uuid);
            if (mv.sb && own && mv.sb->set_uuid == *own)
                throw Error(Error::Code::Exists, dev + ": already " + role_name(mv.sb->role) + " member " +
                                                     std::to_string(mv.sb->member_index) + " of " + name_);
            Safety::check_not_in_use(dev);
            if (mv.sb && !opts.force)
                throw Error(Error::Code::Exists, dev + ": " + role_name(mv.sb->role) + " member " +
                                                     std::to_string(mv.sb->member_index) + " of remap set '" +
                                                     mv.sb->name + "' (" + mv.sb->set_uuid.str() +
                                                     "); use --force to overwrite");
            const auto sigs = Safety::signatures(dev);
            if (!sigs.empty() && !opts.force)
                throw Error(Error::Code::Exists, dev + ": contains a " + sigs.front() + "; use --force to overwrite");
            if (opts.force) {
                Safety::wipe_signatures(dev);
                if (mv.sb) {
                    // The kernel refuses another set's member; with --force
                    // it stops being one.
                    FileIo w(dev, FileIo::Mode::Exclusive);
                    w.write(0, std::vector<std::uint8_t>(8192, 0));
                    w.flush();
                }
            }
        }
        std::string reply;
        try {
            reply = dm_.message(name_, "spare_add " + dev + (out.image.empty() ? "" : " " + out.image));
        } catch (const Error &e) {
            switch (e.sys_errno()) {
            case EEXIST:
                throw Error(Error::Code::Exists, dev + ": the kernel refused it as a member of this or another set",
                            EEXIST);
            case ENOSPC:
                throw Error(Error::Code::NoSpace, dev + ": too small for the metadata and 1 MiB of spare blocks",
                            ENOSPC);
            case EBUSY:
                throw Error(Error::Code::Busy, dev + ": in use (mounted, held by another device or opened "
                                                     "exclusively), or " + name_ + " was suspended", EBUSY);
            case EINVAL:
                throw Error(Error::Code::InvalidArgument,
                            dev + ": refused by " + name_ + " (its logical block size is larger than the set's "
                                  "block size, or it is not a block device; the kernel log says which)", EINVAL);
            default:
                throw;
            }
        }
        out.device = dev;
        out.index = static_cast<std::uint16_t>(field(reply, "index"));
        out.blocks = static_cast<std::uint32_t>(field(reply, "blocks"));
    } catch (...) {
        if (!loop.empty())
            LoopDevice::detach(loop);
        if (created)
            ::unlink(opts.image.c_str());
        throw;
    }
    if (!loop.empty())
        LoopDevice::set_autoclear(loop); // held by the table now: goes away with it
    Discovery::trigger_change(dev);   // the kernel wrote its superblocks: udev should know
    return out;
}

SpareRemoved RemapDevice::spare_remove(const std::string &dev_arg, bool evacuate)
{
    if (dm_.info(name_)->suspended)
        throw Error(Error::Code::Busy, name_ + ": is suspended; resume it before removing a spare");
    const std::string dev = resolve_spare(dev_arg);
    std::string reply;
    try {
        reply = dm_.message(name_, "spare_remove " + dev + (evacuate ? " evacuate" : ""));
    } catch (const Error &e) {
        switch (e.sys_errno()) {
        case EBUSY: {
            std::uint32_t live = 0;
            std::string id = dev;
            try {
                id = majmin(Discovery::devnum(dev));
            } catch (const Error &) {
            }
            for (const auto &s : spares())
                if (s.device == id)
                    live = s.live;
            throw Error(Error::Code::Busy, dev_arg + ": " + std::to_string(live) + " remapped blocks of " + name_ +
                                               " live on it; use --evacuate to move them to other spares first",
                        EBUSY);
        }
        case ENODEV:
        case ENOENT:
            throw Error(Error::Code::NotFound, dev_arg + ": not a spare of " + name_, e.sys_errno());
        case ENOSPC:
            throw Error(Error::Code::NoSpace, dev_arg + ": the other spares of " + name_ +
                                                  " have no room for the blocks that live on it", ENOSPC);
        case EINTR:
            throw Error(Error::Code::Failed, dev_arg + ": evacuation interrupted by a suspend of " + name_ +
                                                 "; blocks moved so far stay moved, run it again", EINTR);
        default:
            throw;
        }
    }
    Discovery::trigger_change(dev); // its superblocks are wiped
    return {dev, field(reply, "moved"), field(reply, "lost")};
}

bool RemapDevice::remap(std::uint64_t block)
{
    const std::string reply = dm_.message(name_, "remap " + std::to_string(block));
    if (reply.find("pending") != std::string::npos)
        return false;
    if (reply.find("remapped") != std::string::npos)
        return true;
    throw Error(Error::Code::Failed, name_ + ": unexpected reply to remap: '" + reply + "'");
}

std::vector<RemapEntryInfo> RemapDevice::remaps(std::uint64_t first, std::uint32_t count)
{
    return parse_list_remaps(dm_.message(name_, "list_remaps " + std::to_string(first) + " " + std::to_string(count)));
}

void RemapDevice::for_each_remap(const std::function<bool(const RemapEntryInfo &)> &fn)
{
    // The kernel's default page: its reply fits the ioctl buffer.
    constexpr std::uint32_t kPage = 100;
    std::uint64_t next = 0;
    for (;;) {
        const auto page = remaps(next, kPage);
        for (const auto &e : page)
            if (!fn(e))
                return;
        if (page.size() < kPage)
            return;
        next = page.back().block + 1;
    }
}

void RemapDevice::stop()
{
    const DmInfo info = *dm_.info(name_);
    const std::string node = "/dev/mapper/" + name_;
    const dev_t devno = makedev(info.major, info.minor);
    std::unique_ptr<libmnt_table, decltype(&mnt_unref_table)> tb(mnt_new_table_from_file("/proc/self/mountinfo"),
                                                                  mnt_unref_table);
    if (tb)
        if (libmnt_fs *fs = mnt_table_find_devno(tb.get(), devno, MNT_ITER_FORWARD))
            throw Error(Error::Code::Busy, name_ + ": mounted at " + mnt_fs_get_target(fs) + "; unmount it first");
    if (::access(node.c_str(), F_OK) == 0)
        Safety::check_not_in_use(node); // swap, holder devices (LVM on top)
    else
        Safety::check_not_in_use("/dev/dm-" + std::to_string(info.minor));
    if (info.open_count > 0)
        throw Error(Error::Code::Busy, name_ + ": open by " + std::to_string(info.open_count) +
                                           " user(s) (a process or another device holds it)");
    dm_.remove(name_);
}

} // namespace dmremap
