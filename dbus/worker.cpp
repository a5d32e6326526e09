// SPDX-License-Identifier: GPL-2.0-or-later
#include "worker.hpp"

#include <exception>
#include <iostream>

namespace dmremap::daemon {

Worker::Worker() : thread_([this] { run(); }) {}

Worker::~Worker() { stop(); }

void Worker::post(std::function<void()> task)
{
    {
        std::lock_guard lock(mutex_);
        if (stopping_)
            return;
        queue_.push_back(std::move(task));
    }
    wake_.notify_one();
}

void Worker::stop()
{
    {
        std::lock_guard lock(mutex_);
        stopping_ = true;
    }
    wake_.notify_one();
    if (thread_.joinable() && !on_worker_thread())
        thread_.join();
}

void Worker::run()
{
    for (;;) {
        std::function<void()> task;
        {
            std::unique_lock lock(mutex_);
            wake_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
            if (queue_.empty())
                return;
            task = std::move(queue_.front());
            queue_.pop_front();
        }
        // Tasks reply for themselves; anything escaping here is a bug, but
        // one bad task must not take the daemon down.
        try {
            task();
        } catch (const std::exception &e) {
            std::cerr << "dm-remapd: internal error in a background task: " << e.what() << "\n";
        } catch (...) {
            std::cerr << "dm-remapd: internal error in a background task\n";
        }
    }
}

} // namespace dmremap::daemon
