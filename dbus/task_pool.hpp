// SPDX-License-Identifier: GPL-2.0-or-later
// Where every call that may touch a device runs: a few threads, a bounded
// queue, a limit per user and a deadline per call.
//
// A device whose I/O never completes (a multipath map queueing without
// paths, a dead iSCSI or NBD server, a suspended dm device) keeps the
// thread that reads it: a read in D state cannot be interrupted. So the
// pool does not wait for it: at the deadline, counted from the post, the
// caller gets its answer (on_timeout), the thread is written off and a new
// one takes its place; a call still queued at its deadline is answered and
// never runs. One hung disk costs one thread, not the service; after
// max_stuck of them the pool refuses new work until they return, and a
// thread that returns serves again.
//
// Work without a deadline (an evacuation: hours, watched and canceled
// through its Job) gets a thread of its own, max_long at once, so it never
// holds the pool's threads.
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
        unsigned max_long = 4;    // tasks without a deadline running at once
    };
    using Deadline = std::optional<std::chrono::milliseconds>;

    explicit TaskPool(Limits limits);
    // stop().
    ~TaskPool();
    TaskPool(const TaskPool &) = delete;
    TaskPool &operator=(const TaskPool &) = delete;

    // Any thread. Queues `task` for `uid`; throws dmremap::Error (Busy)
    // when the queue, the user's share or the pool is full. When `timeout`
    // passes after the post and `task` has not returned, `on_timeout` runs
    // once, on the pool's watchdog thread (`task` may still return later:
    // callers answer once, whichever comes first); a task still queued
    // then never runs. Without a timeout, `task` starts at once on a
    // thread of its own.
    void post(std::uint32_t uid, std::function<void()> task, Deadline timeout = std::nullopt,
              std::function<void()> on_timeout = {});
    // Refuses later posts, drops what is queued (never run, never
    // answered: the bus is going away) and waits up to `wait` for the
    // running tasks. Returns how many are still running (stuck ones too).
    unsigned stop(std::chrono::milliseconds wait = std::chrono::seconds(60));

private:
    struct State;
    static void serve(std::shared_ptr<State> state);
    static void watch(std::shared_ptr<State> state);
    // Shared with the threads, which are detached: a stuck one may outlive
    // the pool.
    std::shared_ptr<State> state_;
};

} // namespace dmremap::daemon
