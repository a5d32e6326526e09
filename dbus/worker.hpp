// SPDX-License-Identifier: GPL-2.0-or-later
// One thread that runs tasks in order: the daemon's device table lives on
// one (refreshes read the kernel's status, no device I/O), the authorizer
// answers from another. Work that may touch a device goes to the
// TaskPool instead, where a hung disk cannot hold everyone up.
#pragma once

#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>

namespace dmremap::daemon {

class Worker {
public:
    Worker();
    ~Worker();
    Worker(const Worker &) = delete;
    Worker &operator=(const Worker &) = delete;

    // Queues `task`; tasks run in order. A task that throws is logged and
    // dropped, the thread goes on.
    void post(std::function<void()> task);
    // Runs what is queued, then ends the thread. Later posts are dropped.
    void stop();
    bool on_worker_thread() const { return std::this_thread::get_id() == thread_.get_id(); }

private:
    void run();

    std::mutex mutex_;
    std::condition_variable wake_;
    std::deque<std::function<void()>> queue_;
    bool stopping_ = false;
    std::thread thread_;
};

} // namespace dmremap::daemon
