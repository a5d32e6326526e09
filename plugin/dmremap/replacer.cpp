// SPDX-License-Identifier: LGPL-2.1-or-later
#include "replacer.hpp"

#include "discovery.hpp"
#include "dm_control.hpp"
#include "error.hpp"
#include "remap_device.hpp"
#include "replace_disk.hpp"
#include "replace_spares.hpp"
#include "replace_table.hpp"
#include "set_lock.hpp"

#include <dm-remap-format.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <fcntl.h>
#include <sys/sysmacros.h>
#include <thread>
#include <unistd.h>

namespace dmremap {
namespace {

using Clock = std::chrono::steady_clock;
constexpr std::uint64_t kMiB = 2048; // sectors

std::string majmin(dev_t d) { return std::to_string(major(d)) + ":" + std::to_string(minor(d)); }

// A replace whose process died (SIGKILL, a closed terminal) left NAME on
// its tables over the hidden device, and nobody holds the set's lock: put
// the old set back in NAME, as a stop would have.
void take_back(DmControl &dm, const std::string &name, const std::string &source)
{
    DmControl hidden(true);
    const auto t = dm.table(source);
    if (t.empty()) { // died before the old set moved there
        hidden.remove(source);
        return;
    }
    const DmTarget old_table = t[0];
    dm.suspend(name, true);
    hidden.suspend(source);
    dm.reload(name, old_table);
    dm.resume(name);
    hidden.remove(source);
}

// One replace, part by part: the old disk's blocks are read ahead (reads
// that fail make the old set record the blocks pending), then the table is
// switched so that dm-mirror copies the part while it is in use; at the
// end the switch to the new set.
class Run {
public:
    Run(std::string name, ReplaceDisk &disk, ReplaceSpares &spares, const ReplaceOptions &opts,
        const Replacer::Progress &progress, const std::atomic<bool> *cancel)
        : name_(std::move(name)), disk_(disk), spares_(spares), opts_(opts), progress_(progress), cancel_(cancel)
    {
    }

    ReplaceResult run();

private:
    void start();
    void copy_window(std::uint64_t from, std::uint64_t to);
    void read_ahead(std::uint64_t from, std::uint64_t to);
    // Blocks the old set cannot serve now (pending, or on a missing
    // spare), as sector extents.
    Extents pending_now();
    // The blocks that stay on the old disk alone: those held before and
    // still pending, and those pending where nothing is copied yet. A block
    // that failed on the old disk after its copy stays mirrored: the new
    // disk has its data, and a read of it is served from there.
    void hold(const Extents &pending);
    void mark_copied(const Extents &copying);
    void load(const Extents &copying, const Extents &pending);
    // Waits until every piece that copies is in sync; false when the old
    // disk failed a read meanwhile (the part is copied again).
    bool wait_synced(std::uint64_t from, std::uint64_t to);
    // Throws when either disk failed a write under dm-mirror.
    void check_writes(const std::vector<MirrorStatus> &st);
    std::vector<MirrorStatus> mirror_status();
    void finish();
    void undo() noexcept;
    void report(std::uint64_t done, const char *phase);
    void check_cancel();

    std::string name_;
    ReplaceDisk &disk_;
    ReplaceSpares &spares_;
    const ReplaceOptions &opts_;
    const Replacer::Progress &progress_;
    const std::atomic<bool> *cancel_;
    DmControl dm_;
    DmControl hidden_{true};
    std::string source_;    // the hidden device's name
    ReplaceGeometry geo_;
    std::uint64_t block_sectors_ = 8;
    Extents copied_, held_;
    Extents loaded_pending_; // the old set's pending blocks when the table was loaded
    bool switched_ = false; // NAME runs on the hidden device
    ReplaceResult result_;
};

void Run::report(std::uint64_t done, const char *phase)
{
    if (progress_)
        progress_({std::min(done, geo_.data_sectors), geo_.data_sectors, phase});
}

void Run::check_cancel()
{
    if (cancel_ && cancel_->load())
        throw Error(Error::Code::Failed, "canceled");
}

Extents Run::pending_now()
{
    Extents e;
    RemapDevice(source_).for_each_remap([&](const RemapEntryInfo &r) {
        // A block on a missing spare fails reads as a pending one does.
        if (r.pending || r.on_missing)
            e.add(r.block * block_sectors_, (r.block + 1) * block_sectors_);
        return true;
    });
    return e;
}

void Run::start()
{
    const DmTarget old_table = dm_.table(name_).at(0); // the old set alone
    source_ = Replacer::source_name(disk_.set_uuid());
    // The constructor only reads: the set stays live in NAME meanwhile.
    hidden_.create_empty(source_, Replacer::kSourceUuidPrefix + disk_.set_uuid().str());
    try {
        hidden_.reload(source_, old_table);
    } catch (...) {
        hidden_.remove(source_);
        throw;
    }
    const auto info = dm_.info(source_);
    geo_.source = majmin(makedev(info->major, info->minor));
    // NAME's set moves to the hidden device: suspended, NAME's table has
    // committed everything, and the hidden one's first resume reads what
    // it committed after the constructor read.
    dm_.suspend(name_);
    try {
        hidden_.resume(source_);
    } catch (...) {
        try {
            hidden_.remove(source_);
        } catch (const Error &) {
        }
        dm_.resume(name_);
        throw;
    }
    try {
        dm_.reload(name_, std::vector<DmTarget>{{0, geo_.data_sectors, "linear", geo_.source + " 0"}});
        dm_.resume(name_);
    } catch (...) {
        undo();
        throw;
    }
    switched_ = true;
}

void Run::read_ahead(std::uint64_t from, std::uint64_t to)
{
    // Tests turn it off to reach what it guards against: dm-mirror
    // meeting an unreadable block itself (docs/TESTING.md).
    if (const char *e = std::getenv("DMREMAP_REPLACE_READ_AHEAD"); e && std::string_view(e) == "0")
        return;
    // The kernel's node: udev makes no /dev/mapper link for a device whose
    // rules it was told to skip, and devtmpfs always has this one.
    const auto info = dm_.info(source_);
    const std::string path = info ? Discovery::devnode(makedev(info->major, info->minor)) : "";
    if (path.empty())
        throw Error(Error::Code::NotFound, source_ + ": no device node");
    const int fd = ::open(path.c_str(), O_RDONLY | O_DIRECT | O_CLOEXEC);
    if (fd < 0)
        throw Error::from_errno(Error::Code::Io, path, errno);
    constexpr std::size_t chunk = 1 << 20;
    void *buf = nullptr;
    if (posix_memalign(&buf, 4096, chunk)) {
        ::close(fd);
        throw Error(Error::Code::Failed, "out of memory");
    }
    auto last = Clock::now();
    for (std::uint64_t s = from; s < to;) {
        const std::size_t len = static_cast<std::size_t>(std::min<std::uint64_t>(chunk >> 9, to - s)) << 9;
        // A failed read is what this is for: the target has recorded the
        // blocks it could not read as pending.
        (void)!::pread(fd, buf, len, static_cast<off_t>(s << 9));
        s += len >> 9;
        if (Clock::now() - last > std::chrono::milliseconds(200)) {
            last = Clock::now();
            report(from + (s - from) / 2, "reading");
            if (cancel_ && cancel_->load())
                break;
        }
    }
    free(buf);
    ::close(fd);
    check_cancel();
}

void Run::mark_copied(const Extents &copying)
{
    for (const auto &[s, e] : copying.ranges())
        copied_.add(s, e);
    // Held blocks were not copied: one that a write heals later must be.
    for (const auto &[s, e] : held_.ranges())
        copied_.remove(s, e);
}

void Run::hold(const Extents &pending)
{
    Extents next = pending;
    for (const auto &[s, e] : copied_.ranges())
        next.remove(s, e);
    const Extents still = held_.intersect(pending);
    for (const auto &[s, e] : still.ranges())
        next.add(s, e);
    held_ = next;
}

void Run::load(const Extents &copying, const Extents &pending)
{
    const auto table = ReplaceTable::build(geo_, copied_, copying, held_);
    // Every mirror piece is an instance of dm-mirror with its own threads.
    if (std::count_if(table.begin(), table.end(), [](const DmTarget &t) { return t.type == "mirror"; }) > 512)
        throw Error(Error::Code::NoSpace, "more than 512 runs of blocks pending on the old disk split the copy; "
                                          "rewrite them first (dmremapctl scan " + name_ + " --rewrite-pending)");
    // A new table forgets what the old one saw: look at it while nothing
    // moves. noflush: writes dm-mirror holds go to the next table.
    dm_.suspend(name_, true);
    try {
        check_writes(mirror_status());
    } catch (...) {
        dm_.resume(name_);
        throw;
    }
    dm_.reload(name_, table);
    dm_.resume(name_);
    loaded_pending_ = pending;
    result_.windows++;
}

std::vector<MirrorStatus> Run::mirror_status()
{
    std::vector<MirrorStatus> out;
    for (const auto &t : dm_.status(name_))
        if (t.type == "mirror") {
            auto st = parse_mirror_status(t.params);
            if (!st)
                throw Error(Error::Code::Failed, name_ + ": cannot read dm-mirror's status '" + t.params + "'");
            out.push_back(*st);
        }
    return out;
}

void Run::check_writes(const std::vector<MirrorStatus> &st)
{
    for (const auto &m : st) {
        if (m.leg_failed(1))
            throw Error(Error::Code::Io, disk_.path() + ": the new disk failed a write during the copy (dm-mirror leg "
                                                        "state '" + m.health + "')");
        // A write the old set could not place (spares exhausted): dm-mirror
        // holds it (handle_errors); the old set's own table answers it
        // after the stop.
        if (m.health[0] == 'D' || m.health[0] == 'F')
            throw Error(Error::Code::Io, disk_.old_device() + ": the old disk's set failed a write during the copy "
                                                              "(dm-mirror leg state '" + m.health + "')");
    }
}

bool Run::wait_synced(std::uint64_t from, std::uint64_t to)
{
    const Extents pending_at_start = loaded_pending_;
    for (auto last = Clock::time_point{};; std::this_thread::sleep_for(std::chrono::milliseconds(100))) {
        check_cancel();
        const auto st = mirror_status();
        check_writes(st);
        std::uint64_t in_sync = 0, regions = 0;
        bool synced = true, read_failed = false;
        for (const auto &m : st) {
            in_sync += m.in_sync;
            regions += m.regions;
            synced &= m.synced();
            read_failed |= m.leg_failed(0) && !m.synced();
        }
        if (synced)
            return true;
        // A block the old set now records pending inside this part: the
        // copy of its region failed (or will), and reads of the part's
        // regions not yet copied fail while dm-mirror counts the error.
        if (read_failed)
            return false;
        if (Clock::now() - last > std::chrono::milliseconds(500)) {
            last = Clock::now();
            Extents now = pending_now();
            now.remove(0, from);
            now.remove(to, geo_.data_sectors);
            Extents before = pending_at_start;
            before.remove(0, from);
            before.remove(to, geo_.data_sectors);
            if (!(now == before))
                return false;
            report(from + (to - from) / 2 + (regions ? (to - from) / 2 * in_sync / regions : 0), "copying");
        }
    }
}

void Run::copy_window(std::uint64_t from, std::uint64_t to)
{
    for (unsigned attempt = 0;; attempt++) {
        read_ahead(from, to);
        const Extents pending = pending_now();
        // A block held back earlier that a write has healed since: the old
        // disk has data the new one lacks, so it is copied with this part.
        Extents copying;
        copying.add(from, to);
        for (const auto &[s, e] : held_.ranges())
            if (s < from)
                for (std::uint64_t b = s; b < std::min(e, from); b += block_sectors_)
                    if (!pending.contains(b))
                        copying.add(b, b + block_sectors_);
        hold(pending);
        load(copying, pending);
        if (wait_synced(from, to)) {
            mark_copied(copying);
            return;
        }
        result_.recopied++;
        // dm-mirror fails reads of the regions it has not copied once it
        // met a read error: the part goes back to the old set alone before
        // it is read ahead again.
        const Extents now = pending_now();
        hold(now);
        load({}, now);
        if (attempt == 8)
            throw Error(Error::Code::Io, "the old disk keeps failing reads between sectors " + std::to_string(from) +
                                             " and " + std::to_string(to) +
                                             " of the data area without the set recording them pending");
    }
}

void Run::finish()
{
    for (unsigned round = 0;; round++) {
        report(geo_.data_sectors, "switching");
        dm_.suspend(name_, true);
        const auto st = mirror_status();
        try {
            check_writes(st);
        } catch (...) {
            dm_.resume(name_);
            throw;
        }
        const Extents pending = pending_now();
        Extents healed = held_;
        for (const auto &[s, e] : pending.ranges())
            healed.remove(s, e);
        bool synced = true;
        for (const auto &m : st)
            synced &= m.synced();
        if (synced && healed.empty())
            break;
        // Written since it was held back, or not in sync: copy again.
        dm_.resume(name_);
        if (round == 16)
            throw Error(Error::Code::Io, "the copy does not settle: blocks of the old disk keep failing and healing");
        hold(pending);
        load(healed, pending);
        if (wait_synced(0, geo_.data_sectors)) {
            mark_copied(healed);
        } else {
            result_.recopied++;
            const Extents now = pending_now();
            hold(now);
            load({}, now);
        }
    }
    // Suspended, every piece in sync, the held blocks still pending: both
    // disks hold the same logical contents. Commit the new set.
    std::vector<std::uint64_t> pending;
    for (const auto &[s, e] : held_.ranges())
        for (std::uint64_t b = s; b < e; b += block_sectors_)
            pending.push_back(b / block_sectors_);
    try {
        disk_.write_state(pending);
        dm_.reload(name_, disk_.table());
        disk_.commit(); // throws only before its commit point
    } catch (...) {
        try {
            dm_.clear(name_);
        } catch (const Error &) {
        }
        dm_.resume(name_);
        throw;
    }
    try {
        dm_.resume(name_);
    } catch (const Error &e) {
        // The new set's first resume read its metadata and refused it:
        // nothing was written through it, so the old disk is still whole.
        disk_.uncommit();
        dm_.reload(name_, ReplaceTable::build(geo_, copied_, {}, held_));
        dm_.resume(name_);
        throw Error(e.code(), std::string(e.what()) + " (the new set did not start)");
    }
    switched_ = false;
    disk_.tell_udev();
    result_.pending = std::move(pending);
    spares_.hold_old();
    try {
        hidden_.remove(source_);
    } catch (const Error &e) {
        // Held by a reader such as blkid for longer than libdm's retries;
        // it has no users, but its spares cannot move while it holds them.
        if (!spares_.empty())
            result_.spare_errors.push_back(source_ + ": still holds the old set's members, no spare was added (" +
                                           e.what() + ")");
        return;
    }
    spares_.add(name_, result_);
}

void Run::undo() noexcept
{
    try {
        take_back(dm_, name_, source_);
        switched_ = false;
    } catch (const Error &) {
    }
}

ReplaceResult Run::run()
{
    const auto t0 = Clock::now();
    const Superblock &sb = disk_.old_superblock();
    geo_.data_sectors = sb.data_sectors;
    geo_.target = majmin(Discovery::devnum(disk_.path()));
    geo_.target_offset = disk_.data_offset();
    block_sectors_ = sb.block_size >> 9;
    std::uint64_t window = opts_.window_sectors
                               ? opts_.window_sectors
                               : std::clamp<std::uint64_t>(sb.data_sectors / 16, 32 * kMiB, 4096 * kMiB);
    window = std::max<std::uint64_t>(window / block_sectors_ * block_sectors_, block_sectors_);
    result_.name = name_;
    result_.set_uuid = sb.set_uuid;
    result_.old_device = disk_.old_device();
    result_.new_device = disk_.path();
    result_.data_bytes = sb.data_sectors << 9;
    try {
        // A new disk left REPLACING would be copied again at the next boot.
        start();
        for (std::uint64_t from = 0; from < geo_.data_sectors; from += window)
            copy_window(from, std::min(from + window, geo_.data_sectors));
        finish();
    } catch (const Error &e) {
        if (switched_)
            undo();
        disk_.abandon();
        throw Error(e.code(), name_ + ": replace stopped: " + e.what() + "; " + name_ + " runs on " +
                                  disk_.old_device() + " as before");
    } catch (...) {
        if (switched_)
            undo();
        disk_.abandon();
        throw;
    }
    result_.seconds = std::chrono::duration<double>(Clock::now() - t0).count();
    return result_;
}

} // namespace

std::string Replacer::source_name(const Uuid &set) { return "dm-remap-old-" + set.str(); }

std::string Replacer::lock_unless_replacing(const Uuid &set, std::optional<SetLock> &lock)
{
    // Polled, not waited for: a replace may start while this waits behind
    // a short holder, and would keep it waiting for the whole copy.
    DmControl dm;
    for (auto pause = std::chrono::milliseconds(10);; pause = std::min(pause * 2, std::chrono::milliseconds(200))) {
        try {
            lock.emplace(set, false);
            return "";
        } catch (const Error &e) {
            if (e.code() != Error::Code::Busy)
                throw;
        }
        if (dm.info(source_name(set)))
            if (auto name = Discovery::active_name(set); !name.empty())
                return name;
        std::this_thread::sleep_for(pause);
    }
}

namespace {

// The kernel loads a target's module when a table names it (as dmsetup
// does); dm-remapd may not run modprobe (ProtectKernelModules). The table
// is refused by the target's constructor, after the module is in.
void autoload_target(const std::string &type) noexcept
{
    try {
        DmControl hidden(true);
        const std::string name = "dm-remap-load-" + std::to_string(::getpid());
        hidden.create_empty(name, "");
        try {
            hidden.reload(name, std::vector<DmTarget>{{0, 8, type, "-"}});
        } catch (const Error &) {
        }
        hidden.remove(name);
    } catch (const Error &) {
    }
}

// The device that runs `set` (DM UUID REMAP-<set>), whatever its table
// (a replace's tables are not a remap target); "" when there is none.
std::string device_of(const Uuid &set)
{
    DmControl dm;
    const std::string uuid = Discovery::dm_uuid(set);
    for (const auto &n : dm.names())
        if (auto i = dm.info(n); i && i->uuid == uuid)
            return n;
    return "";
}

} // namespace

std::optional<ReplaceResult> Replacer::resume(const Uuid &set, std::chrono::seconds wait, const ReplaceOptions &opts,
                                              const Progress &progress, const std::atomic<bool> *cancel)
{
    auto unfinished = [&set]() -> std::string {
        for (const auto &m : Discovery::members())
            if (m.set_uuid == set && m.role == Role::Data)
                if (auto now = Discovery::probe(m.devnode);
                    now && now->set_uuid == set && (now->compat_flags & DMR_COMPAT_REPLACING))
                    return m.devnode;
        return "";
    };
    if (unfinished().empty())
        return std::nullopt;
    // Started by the new disk's uevent: the old one may still be
    // assembling, or a replace may be running (its format made the event).
    DmControl dm;
    for (const auto end = Clock::now() + wait;; std::this_thread::sleep_for(std::chrono::seconds(1))) {
        if (cancel && cancel->load())
            throw Error(Error::Code::Failed, "canceled");
        const std::string name = device_of(set);
        std::optional<SetLock> lock;
        try {
            lock.emplace(set, false);
        } catch (const Error &e) {
            if (e.code() != Error::Code::Busy)
                throw;
            if (dm.info(source_name(set)))
                return std::nullopt; // a replace runs: it is that one's disk
        }
        if (lock && !name.empty()) {
            // Under the lock: the disk is still unfinished, or a replace
            // that ran meanwhile has finished or dropped it.
            const std::string disk = unfinished();
            if (disk.empty())
                return std::nullopt;
            ReplaceOptions o = opts;
            o.resuming = true;
            return replace(name, disk, o, progress, cancel);
        }
        if (Clock::now() >= end)
            throw Error(Error::Code::NotFound, "set " + set.str() + ": not active; its replace goes on once the set "
                                                                    "runs from its old disk");
    }
}

ReplaceResult Replacer::replace(const std::string &name, const std::string &new_device, const ReplaceOptions &opts,
                                const Progress &progress, const std::atomic<bool> *cancel)
{
    DmControl dm;
    const auto info = dm.info(name);
    if (!info)
        throw Error(Error::Code::NotFound, name + ": no such device");
    const auto set = Discovery::set_uuid_of_dm_uuid(info->uuid);
    if (set && dm.info(source_name(*set))) {
        try {
            SetLock probe(*set, false);
            if (const auto t = dm.table(name); !t.empty() && t[0].type == "remap")
                DmControl(true).remove(source_name(*set)); // left by a switch that happened
            else
                take_back(dm, name, source_name(*set));
        } catch (const Error &e) {
            if (e.code() == Error::Code::Busy)
                throw Error(Error::Code::Busy, name + ": a replace of its data disk is already running");
            throw;
        }
    }
    RemapDevice dev(name);
    if (!set)
        throw Error(Error::Code::InvalidArgument,
                    name + ": was started by hand (its device-mapper UUID is not REMAP-<set uuid>); stop it and "
                           "start it with 'dmremapctl assemble' first");
    // Held throughout: no assembly step, spare change or second replace
    // can load the set while its tables are switched.
    SetLock lock(*set);
    if (dm.info(source_name(*set)))
        throw Error(Error::Code::Busy, name + ": a replace of its data disk is already running");
    if (info->suspended)
        throw Error(Error::Code::Busy, name + ": is suspended; resume it first");
    if (!dm.has_target("mirror"))
        autoload_target("mirror");
    if (!dm.has_target("mirror"))
        throw Error(Error::Code::NotFound, "the kernel's device-mapper mirror target is not available; load it "
                                           "with 'modprobe dm-mirror'");
    if (info->read_only)
        throw Error(Error::Code::InvalidArgument, name + ": is read-only; a replace writes the new disk through it");
    const auto members = dev.members();
    ReplaceDisk disk(name, members, new_device, opts);
    ReplaceSpares spares(name, members, disk.old_superblock(), new_device, opts);
    disk.format();
    Run run(name, disk, spares, opts, progress, cancel);
    return run.run();
}

} // namespace dmremap
