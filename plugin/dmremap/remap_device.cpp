// SPDX-License-Identifier: LGPL-2.1-or-later
#include "remap_device.hpp"

#include "checker.hpp"
#include "discovery.hpp"
#include "error.hpp"
#include "file_io.hpp"
#include "loop_device.hpp"
#include "replacer.hpp"
#include "safety.hpp"
#include "set_lock.hpp"
#include "spare_candidate.hpp"

#include <algorithm>
#include <cerrno>
#include <filesystem>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <optional>
#include <stop_token>
#include <thread>
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
    if (s.count(MemberHealth::Failed))
        return "member-failed";
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
    target_ = name_;
    if (!is_remap(dm_, name_)) {
        const auto set = Discovery::set_uuid_of_dm_uuid(info().uuid);
        if (!set || !dm_.info(Replacer::source_name(*set)))
            throw Error(Error::Code::InvalidArgument, name_ + ": not a dm-remap device");
        target_ = Replacer::source_name(*set);
    }
}

void RemapDevice::check_not_replacing(const char *what) const
{
    if (target_ != name_)
        throw Error(Error::Code::Busy, name_ + ": its data disk is being replaced (dmremapctl replace); " + what +
                                           " when the replace has ended");
}

DmInfo RemapDevice::info()
{
    auto i = dm_.info(name_);
    if (!i)
        throw Error(Error::Code::NotFound, name_ + ": no longer exists");
    return *i;
}

std::vector<std::string> RemapDevice::names()
{
    std::vector<std::string> out;
    for (const auto &a : Discovery::active())
        out.push_back(a.name);
    std::sort(out.begin(), out.end());
    return out;
}

DeviceStatus RemapDevice::status()
{
    DeviceStatus s;
    s.info = info();
    const auto t = dm_.status(target_);
    if (t.empty())
        throw Error(Error::Code::NotFound, name_ + ": no longer exists");
    if (t.size() != 1 || t[0].type != "remap")
        throw Error(Error::Code::InvalidArgument, name_ + ": not a dm-remap device");
    s.target = parse_status(t[0].params);
    s.members = spares();
    s.state = target_ != name_ && !s.info.suspended ? "replacing" : state_of(s.info, s.target);
    bool gone = false;
    for (const auto &m : s.members)
        if (m.state == "gone") {
            gone = true;
            for (auto &ms : s.target.members)
                if (ms.index == m.index && ms.health == MemberHealth::Ok)
                    ms.health = MemberHealth::Gone;
        }
    if (gone && s.state != "suspended")
        s.state = "degraded";
    return s;
}

std::vector<SpareStat> RemapDevice::spares()
{
    auto out = parse_spare_stats(dm_.message(target_, "spare_stats"));
    // A disk that dropped off the bus stays open by the table, and the
    // target learns of it only when I/O to it fails: its sysfs entry is
    // gone at once.
    for (auto &m : out) {
        std::error_code ec;
        if (m.device != "-" && m.state != "failed" && !std::filesystem::exists("/sys/dev/block/" + m.device, ec))
            m.state = "gone";
    }
    return out;
}

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

Superblock RemapDevice::set_superblock()
{
    const auto m = members();
    if (m.empty())
        throw Error(Error::Code::NotFound, name_ + ": no such device-mapper device");
    FileIo io(m[0], FileIo::Mode::ReadOnly);
    Report ignore;
    const MemberView mv = Checker::read_superblocks(io, ignore);
    if (!mv.sb)
        throw Error(Error::Code::Corrupt, name_ + ": its data member " + m[0] + " has no readable superblock");
    return *mv.sb;
}

SpareAdded RemapDevice::spare_add(const std::string &dev_arg, const SpareAddOptions &opts)
{
    check_not_replacing("spares can be added");
    const DmInfo self = info();
    // A boot-time step attaching a returning spare reloads the table: one at a time.
    std::optional<SetLock> lock;
    if (auto set = Discovery::set_uuid_of_dm_uuid(self.uuid))
        lock.emplace(*set);
    if (self.suspended)
        throw Error(Error::Code::Busy, name_ + ": is suspended; resume it before adding a spare");
    const dev_t self_dev = makedev(self.major, self.minor);
    const Superblock set = set_superblock();
    SpareAdded out;
    out.image = opts.recorded_image;
    std::string dev = dev_arg;
    bool created = false, committed = false;
    std::string loop;
    if (!opts.image.empty()) {
        if (opts.image_size == 0)
            throw Error(Error::Code::InvalidArgument, opts.image + ": an image needs a size");
        // The kernel records the path in a fixed field and splits its
        // message on white space and backslashes.
        if (opts.image.size() >= 208 || opts.image.find_first_of(" \t\n\\") != std::string::npos)
            throw Error(Error::Code::InvalidArgument,
                        opts.image + ": an image path must be shorter than 208 bytes, without blanks or backslashes");
        LoopDevice::check_image_path(opts.image);
        if (Safety::file_stacked_on(opts.image, self_dev))
            throw Error(Error::Code::InvalidArgument,
                        opts.image + ": lies on a filesystem on " + name_ +
                            " itself; a spare must not depend on the device it serves (and it could not be "
                            "found at boot before the set is up)");
        LoopDevice::create_image(opts.image, opts.image_size);
        created = true;
        out.image = opts.image;
    }
    try {
        std::unique_ptr<SpareCandidate> candidate;
        if (created) {
            loop = LoopDevice::attach(opts.image);
            dev = loop;
            // Its first probe should see a blank device, not a half-written member.
            Discovery::wait_for_udev(Discovery::devnum(loop));
        } else {
            candidate = std::make_unique<SpareCandidate>(dev, set, self_dev, opts.force);
            candidate->prepare();
            candidate->release();
        }
        // By number: the device checked is the device added, whatever its
        // path does meanwhile.
        const std::string id = majmin(Discovery::devnum(dev));
        std::string reply;
        try {
            reply = dm_.message(name_, "spare_add " + id + (out.image.empty() ? "" : " " + out.image));
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
            case EROFS:
                throw Error(Error::Code::Busy, name_ + ": its table is read-only; spares cannot be added", EROFS);
            case EINVAL:
                throw Error(Error::Code::InvalidArgument,
                            dev + ": refused by " + name_ + " (the kernel log says why)", EINVAL);
            default:
                throw;
            }
        }
        committed = true;
        out.device = dev;
        out.index = static_cast<std::uint16_t>(field(reply, "index"));
        out.blocks = static_cast<std::uint32_t>(field(reply, "blocks"));
    } catch (...) {
        // Past the kernel's yes the spare is a member: leave it be.
        if (!committed) {
            if (!loop.empty())
                LoopDevice::detach_quietly(loop);
            if (created)
                ::unlink(opts.image.c_str());
        }
        throw;
    }
    if (!loop.empty()) {
        try {
            LoopDevice::set_autoclear(loop); // held by the table now: goes away with it
        } catch (const Error &) {
            // It stays attached after stop: untidy, not wrong.
        }
    }
    // The target sends the spare a change uevent: udev probes it again.
    return out;
}

// Polls the spare's live count while an evacuation runs: the kernel's
// message returns only at the end, spare_stats answers meanwhile.
class EvacuationWatch {
public:
    EvacuationWatch(const std::string &name, std::string id, std::uint32_t total, const RemapDevice::Progress &fn)
    {
        if (!fn || total == 0)
            return;
        thread_ = std::jthread([=](std::stop_token stop) {
            DmControl dm;
            std::mutex m;
            std::condition_variable_any cv;
            std::unique_lock lock(m);
            for (;;) {
                cv.wait_for(lock, stop, std::chrono::milliseconds(250), [] { return false; });
                if (stop.stop_requested())
                    return;
                try {
                    for (const auto &s : parse_spare_stats(dm.message(name, "spare_stats")))
                        if (s.device == id)
                            fn(total - std::min(total, s.live), total);
                } catch (const std::exception &) {
                    return; // progress is a nicety; the removal's own result counts
                }
            }
        });
    }

private:
    std::jthread thread_;
};

SpareRemoved RemapDevice::spare_remove(const std::string &dev_arg, bool evacuate, const Progress &progress)
{
    check_not_replacing("spares can be removed");
    std::optional<SetLock> lock;
    if (auto set = Discovery::set_uuid_of_dm_uuid(info().uuid))
        lock.emplace(*set);
    if (info().suspended)
        throw Error(Error::Code::Busy, name_ + ": is suspended; resume it before removing a spare");
    const std::string dev = resolve_spare(dev_arg);
    std::string id = dev; // major:minor given as such
    try {
        id = majmin(Discovery::devnum(dev));
    } catch (const Error &) {
    }
    const auto live_on = [&] {
        for (const auto &s : spares())
            if (s.device == id)
                return s.live;
        return std::uint32_t{0};
    };
    const std::uint32_t live = evacuate && progress ? live_on() : 0;
    std::string reply;
    try {
        EvacuationWatch watch(name_, id, live, progress);
        reply = dm_.message(name_, "spare_remove " + id + (evacuate ? " evacuate" : ""));
    } catch (const Error &e) {
        switch (e.sys_errno()) {
        case EBUSY:
            if (evacuate || info().suspended)
                throw Error(Error::Code::Busy, name_ + ": was suspended while " + dev_arg + " was to be removed",
                            EBUSY);
            throw Error(Error::Code::Busy, dev_arg + ": " + std::to_string(live_on()) + " remapped blocks of " +
                                               name_ + " live on it; use --evacuate to move them to other spares first",
                        EBUSY);
        case EINVAL:
            throw Error(Error::Code::InvalidArgument, dev_arg + ": is the data member of " + name_ +
                                                          "; only spares can be removed", EINVAL);
        case EROFS:
            throw Error(Error::Code::Busy, name_ + ": its table is read-only; spares cannot be removed", EROFS);
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
    // Its superblocks are wiped; the target's change uevent tells udev.
    if (progress && live)
        progress(live, live);
    return {dev, field(reply, "moved"), field(reply, "lost")};
}

bool RemapDevice::remap(std::uint64_t block)
{
    check_not_replacing("blocks can be moved");
    std::string reply;
    try {
        reply = dm_.message(name_, "remap " + std::to_string(block));
    } catch (const Error &) {
        // The kernel says only EINVAL for a block past the end: say which
        // blocks there are. Anything else (or a status that fails too,
        // the device gone meanwhile) keeps the kernel's error.
        std::optional<std::uint64_t> bs, blocks;
        try {
            const auto t = dm_.status(target_);
            if (t.size() == 1 && t[0].type == "remap") {
                bs = parse_status(t[0].params).block_size;
                if (*bs)
                    blocks = t[0].length * 512 / *bs;
            }
        } catch (const Error &) {
        }
        if (blocks && block >= *blocks)
            throw Error(Error::Code::InvalidArgument,
                        name_ + ": block " + std::to_string(block) + " is past the end: the data area has " +
                            std::to_string(*blocks) + " blocks of " + std::to_string(*bs) + " bytes (0 to " +
                            std::to_string(*blocks - 1) + ")");
        throw;
    }
    if (reply.find("pending") != std::string::npos)
        return false;
    if (reply.find("remapped") != std::string::npos)
        return true;
    throw Error(Error::Code::Failed, name_ + ": unexpected reply to remap: '" + reply + "'");
}

std::vector<RemapEntryInfo> RemapDevice::remaps(std::uint64_t first, std::uint32_t count)
{
    // The kernel fills one ioctl buffer (16 KiB, up to 64 bytes an entry)
    // and stops without saying so: ask for no more than surely fits.
    if (count > kMaxRemapsPage)
        throw Error(Error::Code::InvalidArgument,
                    "remap page of " + std::to_string(count) + " entries: at most " + std::to_string(kMaxRemapsPage));
    return parse_list_remaps(
        dm_.message(target_, "list_remaps " + std::to_string(first) + " " + std::to_string(count)));
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
    check_not_replacing("it can be stopped");
    const DmInfo info = this->info();
    std::optional<SetLock> lock; // not in the middle of a boot-time step's reload
    if (auto set = Discovery::set_uuid_of_dm_uuid(info.uuid))
        lock.emplace(*set);
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
    // udev probes the device for a moment after each change event (an
    // unmount's last close is one, through udev's inotify watch): let its
    // queue drain, on a loaded machine seconds, before calling the device
    // busy.
    std::int32_t open = info.open_count;
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    while (open > 0 && std::chrono::steady_clock::now() < deadline) {
        Discovery::wait_for_udev(devno, std::chrono::duration_cast<std::chrono::milliseconds>(
                                            deadline - std::chrono::steady_clock::now()));
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
        open = this->info().open_count;
    }
    if (open > 0) {
        std::string who;
        for (const auto &o : Safety::openers(devno))
            who += (who.empty() ? "" : ", ") + o;
        throw Error(Error::Code::Busy, name_ + ": open by " + std::to_string(open) + " user(s) (" +
                                           (who.empty() ? "a process or another device holds it" : who) + ")");
    }
    dm_.remove(name_);
}

} // namespace dmremap
