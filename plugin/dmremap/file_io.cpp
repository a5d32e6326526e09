// SPDX-License-Identifier: LGPL-2.1-or-later
#include "file_io.hpp"

#include "error.hpp"

#include <cerrno>
#include <fcntl.h>
#include <linux/fs.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

namespace dmremap {

FileIo::FileIo(std::string path, Mode mode) : path_(std::move(path))
{
    int flags = O_CLOEXEC | (mode == Mode::ReadOnly ? O_RDONLY : O_RDWR);
    struct stat st;
    if (::stat(path_.c_str(), &st) < 0)
        throw Error::from_errno(errno == ENOENT ? Error::Code::NotFound : Error::Code::Io, path_, errno);
    if (!S_ISBLK(st.st_mode) && !S_ISREG(st.st_mode))
        throw Error(Error::Code::InvalidArgument, path_ + ": not a block device or regular file");
    blockdev_ = S_ISBLK(st.st_mode);
    if (blockdev_ && mode == Mode::Exclusive)
        flags |= O_EXCL;
    // O_NONBLOCK: if the path is swapped for a FIFO after the stat, the open
    // must not wait for a writer (the daemon opens paths callers give).
    fd_ = ::open(path_.c_str(), flags | O_NONBLOCK);
    if (fd_ < 0) {
        int err = errno;
        if (err == EBUSY)
            throw Error(Error::Code::Busy,
                        path_ + ": device is in use (mounted, held by another device, or opened exclusively)", err);
        throw Error::from_errno(err == ENOENT ? Error::Code::NotFound : Error::Code::Io, path_ + ": open", err);
    }
    struct stat opened;
    if (::fstat(fd_, &opened) < 0 || (opened.st_mode & S_IFMT) != (st.st_mode & S_IFMT) ||
        (blockdev_ ? opened.st_rdev != st.st_rdev : opened.st_ino != st.st_ino || opened.st_dev != st.st_dev)) {
        ::close(fd_);
        throw Error(Error::Code::InvalidArgument, path_ + ": changed while it was being opened");
    }
    if (::fcntl(fd_, F_SETFL, ::fcntl(fd_, F_GETFL) & ~O_NONBLOCK) < 0) {
        int err = errno;
        ::close(fd_);
        throw Error::from_errno(Error::Code::Io, path_ + ": open", err);
    }
    if (blockdev_) {
        int lbs = 0;
        if (::ioctl(fd_, BLKGETSIZE64, &size_) < 0 || ::ioctl(fd_, BLKSSZGET, &lbs) < 0) {
            int err = errno;
            ::close(fd_);
            throw Error::from_errno(Error::Code::Io, path_ + ": cannot read device size", err);
        }
        lbs_ = static_cast<unsigned>(lbs);
        // An active target writes metadata with bios that bypass the page
        // cache: drop what an earlier reader left there, or we read stale copies.
        ::posix_fadvise(fd_, 0, 0, POSIX_FADV_DONTNEED);
    } else {
        size_ = static_cast<std::uint64_t>(st.st_size);
    }
}

FileIo::~FileIo()
{
    if (fd_ >= 0)
        ::close(fd_);
}

void FileIo::read(std::uint64_t off, std::span<std::uint8_t> out)
{
    std::size_t done = 0;
    while (done < out.size()) {
        ssize_t n = ::pread(fd_, out.data() + done, out.size() - done, static_cast<off_t>(off + done));
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            throw Error::from_errno(Error::Code::Io, path_ + ": read at byte " + std::to_string(off + done), errno);
        if (n == 0)
            throw Error(Error::Code::Io, path_ + ": read at byte " + std::to_string(off + done) +
                                             " is beyond the end of the device");
        done += static_cast<std::size_t>(n);
    }
}

void FileIo::write(std::uint64_t off, std::span<const std::uint8_t> in)
{
    std::size_t done = 0;
    while (done < in.size()) {
        ssize_t n = ::pwrite(fd_, in.data() + done, in.size() - done, static_cast<off_t>(off + done));
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            throw Error::from_errno(Error::Code::Io, path_ + ": write at byte " + std::to_string(off + done),
                                    n < 0 ? errno : ENOSPC);
        done += static_cast<std::size_t>(n);
    }
}

void FileIo::flush()
{
    if (::fsync(fd_) < 0)
        throw Error::from_errno(Error::Code::Io, path_ + ": flush", errno);
}

} // namespace dmremap
