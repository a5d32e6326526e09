// SPDX-License-Identifier: GPL-2.0-or-later
// Where every call that may touch a device runs: a few threads, a bounded
// queue, a limit per user and a deadline per task.
//
// A device whose I/O never completes (a multipath map queueing without
// paths, a dead iSCSI or NBD server, a suspended dm device) keeps the
// thread that reads it: a read in D state cannot be interrupted. So the
// pool does not wait for it: at the deadline the caller gets its answer
// (on_timeout), the thread is written off and a new one takes its place.
// One hung disk costs one thread, not the service; after max_stuck of
// them the pool refuses new work until they return.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>

namespace dmremap::daemon {

class TaskPool {
public:
    struct Limits {
        unsigned threads = 4;     // threads serving the queue
        unsigned max_stuck = 8;   // threads written off before new work is refused
        unsigned max_queued = 64; // tasks waiting to start, all users together
        unsigned per_user = 4;    // tasks queued or running per uid other than root's
    };
    using Deadline = std::optional<std::chrono::milliseconds>;

    explicit TaskPool(Limits limits);
    // stop().
    ~TaskPool();
    TaskPool(const TaskPool &) = delete;
    TaskPool &operator=(const TaskPool &) = delete;

    // Any thread. Queues `task` for `uid`; throws dmremap::Error (Busy)
    // when the queue, the user's share or the pool is full. When `timeout`
    // passes after `task` started and it has not returned, `on_timeout`
    // runs once, on the pool's watchdog thread (`task` may still return
    // later: callers answer once, whichever comes first).
    void post(std::uint32_t uid, std::function<void()> task, Deadline timeout = std::nullopt,
              std::function<void()> on_timeout = {});
    // Runs what is queued and waits for the threads that are not written
    // off; later posts are refused. Returns how many are still stuck.
    unsigned stop();

private:
    struct State;
    static void serve(std::shared_ptr<State> state);
    static void watch(std::shared_ptr<State> state);
    // Shared with the threads, which are detached: a stuck one may outlive
    // the pool.
    std::shared_ptr<State> state_;
};

} // namespace dmremap::daemon
