// SPDX-License-Identifier: GPL-2.0-or-later
// The one thread that does blocking work: libdevmapper, superblock reads,
// formatting, polkit. Keeping it single means libdevmapper (whose error
// text is per thread) and the device list are only ever touched here, and
// the bus thread never waits on a disk.
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
