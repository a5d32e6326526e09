// SPDX-License-Identifier: LGPL-2.1-or-later
#include "set_lock.hpp"

#include "error.hpp"
#include "state_store.hpp"

#include <cerrno>
#include <cstdlib>
#include <fcntl.h>
#include <map>
#include <mutex>
#include <thread>
#include <unistd.h>

namespace dmremap {
namespace {

// flock conflicts between two descriptors of one process too: a nested
// SetLock (assemble called from an incremental step) must not wait for
// its caller. Threads of the daemon wait for each other on the flock,
// each through a descriptor of its own.
std::mutex registry_mutex;
std::map<Uuid, std::pair<std::thread::id, int>> held; // set -> holder thread, depth

} // namespace

std::filesystem::path SetLock::run_dir()
{
    const char *env = std::getenv("DM_REMAP_RUN_DIR");
    return env && *env ? std::filesystem::path(env) : std::filesystem::path("/run/dm-remap");
}

SetLock::SetLock(const Uuid &set, bool wait) : set_(set)
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
    lock_ = std::make_unique<StateStore::Lock>(dir, wait);
    std::lock_guard g(registry_mutex);
    held[set] = {std::this_thread::get_id(), 1};
}

SetLock::~SetLock()
{
    std::lock_guard g(registry_mutex);
    auto it = held.find(set_);
    if (it != held.end() && --it->second.second == 0)
        held.erase(it);
    lock_.reset();
}

bool SetLock::waiting() const
{
    std::error_code ec;
    return std::filesystem::exists(run_dir() / set_.str() / "waiting", ec);
}

namespace {

void touch(const std::filesystem::path &marker)
{
    const int fd = ::open(marker.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0)
        throw Error::from_errno(Error::Code::Io, marker.string(), errno);
    ::close(fd);
}

} // namespace

void SetLock::set_waiting(bool waiting) const
{
    const auto marker = run_dir() / set_.str() / "waiting";
    if (waiting) {
        touch(marker);
        return;
    }
    std::error_code ec;
    std::filesystem::remove(marker, ec);
}

bool SetLock::started() const
{
    std::error_code ec;
    return std::filesystem::exists(run_dir() / set_.str() / "started", ec);
}

void SetLock::mark_started() const
{
    touch(run_dir() / set_.str() / "started");
    set_waiting(false);
}

} // namespace dmremap
