// SPDX-License-Identifier: LGPL-2.1-or-later
#include "set_lock.hpp"

#include "error.hpp"

#include <cerrno>
#include <cstdlib>
#include <fcntl.h>
#include <map>
#include <mutex>
#include <sys/file.h>
#include <thread>
#include <unistd.h>

namespace dmremap {
namespace {

// flock conflicts between two descriptors of one process too: a nested
// SetLock (assemble called from an incremental step) must not wait for
// its caller. Threads of the daemon do wait for each other, on `mutex`.
std::mutex registry_mutex;
std::map<Uuid, std::pair<std::thread::id, int>> held; // set -> holder thread, depth

} // namespace

std::filesystem::path SetLock::run_dir()
{
    const char *env = std::getenv("DM_REMAP_RUN_DIR");
    return env && *env ? std::filesystem::path(env) : std::filesystem::path("/run/dm-remap");
}

SetLock::SetLock(const Uuid &set) : set_(set)
{
    {
        std::lock_guard g(registry_mutex);
        auto it = held.find(set);
        if (it != held.end() && it->second.first == std::this_thread::get_id()) {
            it->second.second++;
            return;
        }
    }
    const auto dir = run_dir() / set.str();
    std::error_code ec;
    std::filesystem::create_directories(dir, ec);
    if (ec)
        throw Error(Error::Code::Io, dir.string() + ": " + ec.message() + " (the lock for set " + set.str() + ")");
    fd_ = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd_ < 0)
        throw Error::from_errno(Error::Code::Io, dir.string(), errno);
    while (::flock(fd_, LOCK_EX) < 0) {
        if (errno == EINTR)
            continue;
        const int err = errno;
        ::close(fd_);
        throw Error::from_errno(Error::Code::Io, dir.string() + ": lock", err);
    }
    std::lock_guard g(registry_mutex);
    held[set] = {std::this_thread::get_id(), 1};
}

SetLock::~SetLock()
{
    std::lock_guard g(registry_mutex);
    auto it = held.find(set_);
    if (it != held.end() && --it->second.second == 0)
        held.erase(it);
    if (fd_ >= 0)
        ::close(fd_);
}

} // namespace dmremap
