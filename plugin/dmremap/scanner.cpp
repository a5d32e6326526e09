// SPDX-License-Identifier: LGPL-2.1-or-later
#include "scanner.hpp"
#include "unique_fd.hpp"

#include "health_monitor.hpp"

#include "checker.hpp"
#include "error.hpp"
#include "file_io.hpp"
#include "remap_device.hpp"
#include "report.hpp"
#include "state_store.hpp"
#include "uuid.hpp"

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <fcntl.h>
#include <linux/fs.h>
#include <memory>
#include <optional>
#include <sys/file.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <thread>
#include <unistd.h>

namespace dmremap {
namespace {

using Clock = std::chrono::steady_clock;

// <linux/ioprio.h> is not in every libc's headers; the ABI is stable.
constexpr int kIoprioWhoProcess = 1;
constexpr int kIoprioClassShift = 13;
constexpr int kIoprioClassIdle = 3;
constexpr int ioprio_value(int cls, int data) { return (cls << kIoprioClassShift) | data; }

constexpr const char *kCheckpoint = "scan-checkpoint.json";
constexpr const char *kLastScan = "last-scan.json";
constexpr const char *kLockFile = "scan.lock";
// How often the position is written down while a scan runs.
constexpr auto kCheckpointEvery = std::chrono::seconds(10);

using Fd = UniqueFd;

struct FreeDeleter {
    void operator()(void *p) const { std::free(p); }
};
using AlignedBuffer = std::unique_ptr<std::uint8_t, FreeDeleter>;

AlignedBuffer aligned_buffer(std::size_t bytes)
{
    void *p = nullptr;
    if (int err = ::posix_memalign(&p, 4096, bytes))
        throw Error::from_errno(Error::Code::Failed, "scan buffer of " + std::to_string(bytes) + " bytes", err);
    std::memset(p, 0, bytes);
    return AlignedBuffer(static_cast<std::uint8_t *>(p));
}

std::string node_of(const std::string &name) { return "/dev/mapper/" + name; }

// The calling thread at idle I/O priority while it lives, as it was after
// (the daemon scans on threads of its pool, which go on serving others).
class IdlePriority {
public:
    explicit IdlePriority(bool on)
    {
        if (!on)
            return;
        old_ = static_cast<int>(::syscall(SYS_ioprio_get, kIoprioWhoProcess, 0));
        if (old_ < 0)
            throw Error::from_errno(Error::Code::Failed, "ioprio_get", errno);
        if (::syscall(SYS_ioprio_set, kIoprioWhoProcess, 0, ioprio_value(kIoprioClassIdle, 0)) < 0)
            throw Error::from_errno(Error::Code::Failed, "ioprio_set (idle class)", errno);
        set_ = true;
    }
    ~IdlePriority()
    {
        if (set_)
            ::syscall(SYS_ioprio_set, kIoprioWhoProcess, 0, old_);
    }
    IdlePriority(const IdlePriority &) = delete;
    IdlePriority &operator=(const IdlePriority &) = delete;

private:
    int old_ = 0;
    bool set_ = false;
};

// One scan of a set at a time: a non-blocking flock of its own file, apart
// from StateStore::Lock, which is held only for short writes.
Fd scan_lock(const StateStore &store, const std::string &name)
{
    const auto p = store.path(kLockFile);
    Fd fd(::open(p.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600));
    if (fd.get() < 0)
        throw Error::from_errno(Error::Code::Io, p.string(), errno);
    while (::flock(fd.get(), LOCK_EX | LOCK_NB) < 0) {
        if (errno == EINTR)
            continue;
        if (errno == EWOULDBLOCK)
            throw Error(Error::Code::Busy, name + ": a scan of this set is already running (" + p.string() + " is locked)",
                        EBUSY);
        throw Error::from_errno(Error::Code::Io, p.string() + ": lock", errno);
    }
    return fd;
}

std::optional<Uuid> set_uuid_of(const DmInfo &info)
{
    static const std::string prefix = "REMAP-";
    if (info.uuid.rfind(prefix, 0) != 0)
        return std::nullopt;
    return Uuid::parse(std::string_view(info.uuid).substr(prefix.size()));
}

std::uint64_t data_offset_sectors(RemapDevice &dev)
{
    const auto m = dev.members();
    if (m.empty())
        throw Error(Error::Code::NotFound, dev.name() + ": no such device-mapper device");
    FileIo io(m[0], FileIo::Mode::ReadOnly);
    Report ignore;
    const MemberView mv = Checker::read_superblocks(io, ignore);
    if (!mv.sb)
        throw Error(Error::Code::Corrupt, dev.name() + ": its data member " + m[0] + " has no readable superblock");
    return mv.sb->data_offset;
}

std::int64_t now_unix() { return static_cast<std::int64_t>(std::time(nullptr)); }

// pread that retries interruptions and short reads; -errno on failure.
ssize_t read_at(int fd, std::uint8_t *buf, std::size_t len, std::uint64_t off)
{
    std::size_t done = 0;
    while (done < len) {
        ssize_t n = ::pread(fd, buf + done, len - done, static_cast<off_t>(off + done));
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return -errno;
        if (n == 0)
            return -EIO; // the device shrank under us
        done += static_cast<std::size_t>(n);
    }
    return static_cast<ssize_t>(done);
}

} // namespace

Scanner::Scanner(std::string name, ScanOptions opts) : name_(std::move(name)), opts_(opts)
{
    if (!(opts_.rate_mb_s >= 0))
        throw Error(Error::Code::InvalidArgument, name_ + ": scan rate must not be negative");
    if (opts_.max_duration.count() < 0)
        throw Error(Error::Code::InvalidArgument, name_ + ": scan duration must not be negative");
    if (opts_.chunk_bytes == 0)
        throw Error(Error::Code::InvalidArgument, name_ + ": scan chunk size must not be 0");
    RemapDevice check(name_); // NotFound / InvalidArgument now, not at run()
}

ScanOutcome Scanner::run(const Progress &progress, const std::atomic<bool> &cancel)
{
    RemapDevice dev(name_);
    const DeviceStatus st = dev.status();
    if (st.info.suspended)
        throw Error(Error::Code::Busy, name_ + ": is suspended; a scan would wait for its resume", EBUSY);
    const std::uint32_t bs = st.target.block_size;
    if (bs < 512 || bs % 512)
        throw Error(Error::Code::Failed, name_ + ": the target reports block size " + std::to_string(bs));
    const std::uint64_t data_off = data_offset_sectors(dev);
    const std::string node = node_of(name_);

    Fd fd(::open(node.c_str(), O_RDONLY | O_DIRECT | O_CLOEXEC));
    if (fd.get() < 0)
        throw Error::from_errno(errno == ENOENT ? Error::Code::NotFound : Error::Code::Io, node, errno);
    std::uint64_t size = 0;
    if (::ioctl(fd.get(), BLKGETSIZE64, &size) < 0)
        throw Error::from_errno(Error::Code::Io, node + ": BLKGETSIZE64", errno);
    const std::uint64_t blocks = size / bs;

    // State (and the one-scan-per-set lock) only for a set we can name.
    std::optional<StateStore> store;
    Fd lock;
    if (auto uuid = set_uuid_of(st.info)) {
        store.emplace(*uuid);
        lock = scan_lock(*store, name_);
    }

    ScanOutcome out;
    ScanRecord &rec = out.record;
    bool resumed = false;
    if (store && !opts_.restart) {
        if (auto text = store->read(kCheckpoint)) {
            try {
                rec = nlohmann::json::parse(*text).get<ScanRecord>();
                // A device that changed size or block size: its old position means nothing.
                resumed = rec.blocks == blocks && rec.block_size == bs && !rec.complete && rec.next_block < blocks;
            } catch (const std::exception &) {
                resumed = false; // unreadable checkpoint: losing a resume point loses no data
            }
        }
    }
    if (!resumed) {
        rec = ScanRecord{};
        rec.pass_start = now_unix();
        rec.blocks = blocks;
        rec.block_size = bs;
    }
    rec.device = name_;
    rec.runs++;
    out.first_block = rec.next_block;

    auto save = [&](const char *file) {
        if (!store)
            return;
        auto l = store->lock();
        store->write_atomic(file, nlohmann::json(rec).dump() + "\n");
    };
    auto checkpoint = [&] {
        rec.end = now_unix();
        save(kCheckpoint);
    };

    IdlePriority prio(opts_.idle_priority);

    const std::uint64_t chunk_blocks = std::max<std::uint64_t>(1, opts_.chunk_bytes / bs);
    AlignedBuffer buf = aligned_buffer(chunk_blocks * bs);
    const auto start = Clock::now();
    auto last_checkpoint = start;
    const double rate_bytes_s = opts_.rate_mb_s * 1e6;
    std::uint64_t run_bytes = 0;
    const double seconds_before = static_cast<double>(rec.seconds);
    auto elapsed = [&] { return std::chrono::duration<double>(Clock::now() - start).count(); };
    auto account_time = [&] { rec.seconds = static_cast<std::uint64_t>(seconds_before + elapsed() + 0.5); };

    if (progress)
        progress(rec.next_block * bs, blocks * bs);
    while (rec.next_block < blocks) {
        if (cancel.load()) {
            out.canceled = true;
            break;
        }
        if (opts_.max_duration.count() > 0 && elapsed() >= static_cast<double>(opts_.max_duration.count())) {
            out.stopped_by_limit = true;
            break;
        }
        const std::uint64_t first = rec.next_block;
        const std::uint64_t n = std::min(chunk_blocks, blocks - first);
        const ssize_t r = read_at(fd.get(), buf.get(), n * bs, first * bs);
        std::vector<ScanBadBlock> found;
        if (r < 0) {
            // Narrow it down: which blocks fail, and does the target now
            // list each of them as pending?
            bool narrowed = true;
            for (std::uint64_t b = first; b < first + n; b++) {
                if (cancel.load()) {
                    narrowed = false;
                    break;
                }
                const ssize_t rb = read_at(fd.get(), buf.get(), bs, b * bs);
                if (rb >= 0)
                    continue;
                const auto entries = dev.remaps(b, 1);
                const bool listed = !entries.empty() && entries[0].block == b;
                if (listed && entries[0].pending) {
                    found.push_back({b, data_off + b * (bs / 512), bs / 512});
                    continue;
                }
                if (listed && entries[0].on_missing)
                    continue; // lives on a missing spare: unavailable, not a defect of this disk
                account_time();
                checkpoint(); // resumes at this chunk
                throw Error(Error::Code::Io,
                            name_ + ": read of block " + std::to_string(b) + " (byte " +
                                std::to_string(b * bs) + " of " + node + ") failed (" +
                                std::strerror(static_cast<int>(-rb)) +
                                ") and the target recorded nothing pending: the device failed as a whole? "
                                "(see device_errors in 'dmremapctl status'); the scan resumes there",
                            -static_cast<int>(rb));
            }
            if (!narrowed) {
                // Narrowing interrupted: this chunk is read again next time.
                out.canceled = true;
                break;
            }
        }
        for (const auto &f : found) {
            if (rec.bad.size() < ScanRecord::kMaxListed)
                rec.bad.push_back(f);
            rec.bad_count++;
            out.found.push_back(f);
        }
        rec.next_block = first + n;
        rec.bytes_read += n * bs;
        run_bytes += n * bs;
        out.blocks_read += n;
        if (progress)
            progress(rec.next_block * bs, blocks * bs);
        if (Clock::now() - last_checkpoint >= kCheckpointEvery && rec.next_block < blocks) {
            account_time();
            checkpoint();
            last_checkpoint = Clock::now();
        }
        // The rate limit: no faster than rate on average over this run.
        if (rate_bytes_s > 0) {
            for (;;) {
                const double ahead = static_cast<double>(run_bytes) / rate_bytes_s - elapsed();
                if (ahead <= 0 || cancel.load())
                    break;
                if (opts_.max_duration.count() > 0 &&
                    elapsed() >= static_cast<double>(opts_.max_duration.count()))
                    break;
                std::this_thread::sleep_for(std::chrono::duration<double>(std::min(ahead, 0.1)));
            }
        }
    }
    account_time();
    rec.end = now_unix();
    if (rec.next_block >= blocks) {
        rec.complete = true;
        save(kLastScan);
        if (store) {
            const auto p = store->path(kCheckpoint);
            if (::unlink(p.c_str()) < 0 && errno != ENOENT)
                throw Error::from_errno(Error::Code::Io, p.string(), errno);
        }
    } else {
        save(kCheckpoint);
    }
    // A sample in the history with what the pass found so far: the health
    // model's "first scan error ever" needs every scan's result, not only
    // the last pass. The scan itself succeeded whether or not this does.
    if (store) {
        try {
            update_health(name_, {"scan", false}, now_unix());
        } catch (const std::exception &e) {
            out.history_error = e.what();
        }
    }
    return out;
}

std::vector<std::uint64_t> rewrite_pending(const std::string &name, bool include_lost)
{
    RemapDevice dev(name);
    const std::uint32_t bs = dev.status().target.block_size;
    if (bs < 512 || bs % 512)
        throw Error(Error::Code::Failed, name + ": the target reports block size " + std::to_string(bs));
    // The list first: writing changes the table the pages come from.
    std::vector<std::uint64_t> todo;
    dev.for_each_remap([&](const RemapEntryInfo &e) {
        if (e.pending && (include_lost || !e.lost))
            todo.push_back(e.block);
        return true;
    });
    if (todo.empty())
        return todo;
    const std::string node = node_of(name);
    Fd fd(::open(node.c_str(), O_WRONLY | O_DIRECT | O_CLOEXEC));
    if (fd.get() < 0)
        throw Error::from_errno(errno == ENOENT ? Error::Code::NotFound : Error::Code::Io, node, errno);
    AlignedBuffer zeros = aligned_buffer(bs);
    std::vector<std::uint64_t> done;
    for (std::uint64_t b : todo) {
        std::size_t off = 0;
        while (off < bs) {
            ssize_t n = ::pwrite(fd.get(), zeros.get() + off, bs - off, static_cast<off_t>(b * bs + off));
            if (n < 0 && errno == EINTR)
                continue;
            if (n <= 0)
                throw Error::from_errno(Error::Code::Io,
                                        name + ": write of zeros over pending block " + std::to_string(b) +
                                            " (byte " + std::to_string(b * bs) + " of " + node + ")",
                                        n < 0 ? errno : EIO);
            off += static_cast<std::size_t>(n);
        }
        done.push_back(b);
    }
    if (::fsync(fd.get()) < 0)
        throw Error::from_errno(Error::Code::Io, node + ": fsync after rewriting pending blocks", errno);
    return done;
}

} // namespace dmremap
