// SPDX-License-Identifier: LGPL-2.1-or-later
#include "state_store.hpp"
#include "unique_fd.hpp"

#include "error.hpp"

#include <cerrno>
#include <cstdlib>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#ifndef DMREMAP_STATE_DIR
#define DMREMAP_STATE_DIR "/var/lib/dm-remap"
#endif

namespace dmremap {

namespace {

using Fd = UniqueFd;

void write_all(int fd, const std::string &content, const std::string &what)
{
    std::size_t done = 0;
    while (done < content.size()) {
        ssize_t n = ::write(fd, content.data() + done, content.size() - done);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            throw Error::from_errno(Error::Code::Io, what + ": write", errno);
        done += static_cast<std::size_t>(n);
    }
}

} // namespace

std::filesystem::path StateStore::root()
{
    const char *env = std::getenv("DM_REMAP_STATE_DIR");
    return env && *env ? std::filesystem::path(env) : std::filesystem::path(DMREMAP_STATE_DIR);
}

StateStore::StateStore(const Uuid &set_uuid) : dir_(root() / set_uuid.str())
{
    for (const auto &d : {root(), dir_}) {
        if (::mkdir(d.c_str(), 0700) < 0 && errno != EEXIST)
            throw Error::from_errno(Error::Code::Io, d.string() + ": cannot create the state directory", errno);
    }
}

std::optional<std::string> StateStore::read(const std::string &file) const
{
    const auto p = path(file);
    Fd fd(::open(p.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW));
    if (fd.get() < 0) {
        if (errno == ENOENT)
            return std::nullopt;
        throw Error::from_errno(Error::Code::Io, p.string(), errno);
    }
    std::string out;
    char buf[65536];
    for (;;) {
        ssize_t n = ::read(fd.get(), buf, sizeof buf);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            throw Error::from_errno(Error::Code::Io, p.string() + ": read", errno);
        if (n == 0)
            return out;
        out.append(buf, static_cast<std::size_t>(n));
    }
}

void StateStore::write_atomic(const std::string &file, const std::string &content) const
{
    write_file_atomic(path(file), content);
}

void write_file_atomic(const std::filesystem::path &path, const std::string &content, unsigned mode)
{
    const auto dir = path.parent_path().empty() ? std::filesystem::path(".") : path.parent_path();
    const auto tmp = dir / ("." + path.filename().string() + ".tmp" + std::to_string(::getpid()));
    {
        Fd fd(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, mode));
        if (fd.get() < 0)
            throw Error::from_errno(Error::Code::Io, tmp.string(), errno);
        try {
            write_all(fd.get(), content, tmp.string());
            if (::fchmod(fd.get(), mode) < 0 || ::fsync(fd.get()) < 0)
                throw Error::from_errno(Error::Code::Io, tmp.string() + ": fsync", errno);
        } catch (...) {
            ::unlink(tmp.c_str());
            throw;
        }
    }
    if (::rename(tmp.c_str(), path.c_str()) < 0) {
        int err = errno;
        ::unlink(tmp.c_str());
        throw Error::from_errno(Error::Code::Io, path.string() + ": rename", err);
    }
    Fd d(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (d.get() >= 0)
        ::fsync(d.get());
}

StateStore::Lock::Lock(const std::filesystem::path &dir, bool wait)
{
    fd_ = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd_ < 0)
        throw Error::from_errno(Error::Code::Io, dir.string(), errno);
    while (::flock(fd_, wait ? LOCK_EX : LOCK_EX | LOCK_NB) < 0) {
        if (errno == EINTR)
            continue;
        int err = errno;
        ::close(fd_);
        if (err == EWOULDBLOCK)
            throw Error(Error::Code::Busy, dir.string() + ": held by another process", err);
        throw Error::from_errno(Error::Code::Io, dir.string() + ": lock", err);
    }
}

StateStore::Lock::~Lock()
{
    if (fd_ >= 0)
        ::close(fd_);
}

} // namespace dmremap
