// SPDX-License-Identifier: GPL-2.0-or-later
#include "task_pool.hpp"

#include <error.hpp>

#include <condition_variable>
#include <deque>
#include <exception>
#include <iostream>
#include <map>
#include <mutex>
#include <string>
#include <thread>

namespace dmremap::daemon {

using Clock = std::chrono::steady_clock;

struct TaskPool::State {
    struct Task {
        std::uint32_t uid;
        std::function<void()> run;
        Deadline timeout;
        std::function<void()> on_timeout;
    };
    struct Running {
        std::uint32_t uid;
        std::optional<Clock::time_point> deadline;
        std::function<void()> on_timeout;
        bool written_off = false;
    };

    explicit State(Limits l) : limits(l) {}

    const Limits limits;
    // mutex protects everything below; `work` wakes serving threads,
    // `changed` the watchdog (new deadline, stop) and stop() (a thread ended).
    std::mutex mutex;
    std::condition_variable work, changed;
    std::deque<Task> queue;
    std::map<std::uint32_t, unsigned> per_uid; // queued or running, written-off included
    std::map<std::uint64_t, Running> running;  // by task number
    std::uint64_t next = 0;
    unsigned serving = 0; // threads not written off
    unsigned stuck = 0;   // written off and not yet returned
    bool stopping = false;
    bool watchdog_done = false;

    void release(std::uint32_t uid)
    {
        if (--per_uid[uid] == 0)
            per_uid.erase(uid);
    }
    void start_thread()
    {
        serving++;
        std::thread(serve_entry, this_shared()).detach();
    }
    // Set right after construction, so threads can keep the state alive.
    std::weak_ptr<State> self;
    std::shared_ptr<State> this_shared() { return self.lock(); }
    static void serve_entry(std::shared_ptr<State> s) { TaskPool::serve(std::move(s)); }
};

TaskPool::TaskPool(Limits limits) : state_(std::make_shared<State>(limits))
{
    state_->self = state_;
    std::lock_guard lock(state_->mutex);
    for (unsigned i = 0; i < limits.threads; i++)
        state_->start_thread();
    std::thread(watch, state_).detach();
}

TaskPool::~TaskPool() { stop(); }

void TaskPool::post(std::uint32_t uid, std::function<void()> task, Deadline timeout, std::function<void()> on_timeout)
{
    State &s = *state_;
    {
        std::lock_guard lock(s.mutex);
        if (s.stopping)
            throw Error(Error::Code::Busy, "dm-remapd is shutting down");
        if (s.stuck >= s.limits.max_stuck)
            throw Error(Error::Code::Busy, std::to_string(s.stuck) +
                                               " device operations never returned (devices whose I/O hangs); "
                                               "no new work until they do");
        if (uid != 0 && s.per_uid.count(uid) && s.per_uid[uid] >= s.limits.per_user)
            throw Error(Error::Code::Busy, "uid " + std::to_string(uid) + " has " +
                                               std::to_string(s.limits.per_user) +
                                               " calls in progress, the limit per user; try again when they have "
                                               "been answered");
        if (s.queue.size() >= s.limits.max_queued)
            throw Error(Error::Code::Busy, std::to_string(s.limits.max_queued) +
                                               " calls are waiting already; try again later");
        s.per_uid[uid]++;
        s.queue.push_back({uid, std::move(task), timeout, std::move(on_timeout)});
    }
    s.work.notify_one();
}

unsigned TaskPool::stop()
{
    State &s = *state_;
    std::unique_lock lock(s.mutex);
    s.stopping = true;
    s.work.notify_all();
    s.changed.notify_all();
    s.changed.wait(lock, [&] { return s.serving == 0 && s.watchdog_done; });
    return s.stuck;
}

void TaskPool::serve(std::shared_ptr<State> state)
{
    State &s = *state;
    std::unique_lock lock(s.mutex);
    for (;;) {
        s.work.wait(lock, [&] { return s.stopping || !s.queue.empty(); });
        if (s.queue.empty()) {
            s.serving--;
            s.changed.notify_all();
            return;
        }
        State::Task t = std::move(s.queue.front());
        s.queue.pop_front();
        const std::uint64_t id = s.next++;
        std::optional<Clock::time_point> deadline;
        if (t.timeout)
            deadline = Clock::now() + *t.timeout;
        s.running.emplace(id, State::Running{t.uid, deadline, std::move(t.on_timeout)});
        if (deadline)
            s.changed.notify_all();
        lock.unlock();
        // Tasks answer for themselves; anything escaping is a bug, but one
        // bad task must not end the thread (std::terminate).
        try {
            t.run();
        } catch (const std::exception &e) {
            std::cerr << "dm-remapd: internal error in a background task: " << e.what() << "\n";
        } catch (...) {
            std::cerr << "dm-remapd: internal error in a background task\n";
        }
        t.run = nullptr; // its captures go now, not at the next task
        lock.lock();
        const bool written_off = s.running.at(id).written_off;
        s.running.erase(id);
        s.release(t.uid);
        if (written_off) {
            // Its replacement serves now: this thread is one too many.
            s.stuck--;
            std::cerr << "dm-remapd: a device operation that timed out has returned\n";
            return;
        }
    }
}

void TaskPool::watch(std::shared_ptr<State> state)
{
    State &s = *state;
    std::unique_lock lock(s.mutex);
    while (!(s.stopping && s.serving == 0)) {
        std::optional<Clock::time_point> next;
        for (const auto &[id, r] : s.running)
            if (r.deadline && !r.written_off && (!next || *r.deadline < *next))
                next = r.deadline;
        if (!next) {
            s.changed.wait(lock);
            continue;
        }
        if (s.changed.wait_until(lock, *next) == std::cv_status::no_timeout)
            continue;
        for (auto &[id, r] : s.running) {
            if (!r.deadline || r.written_off || *r.deadline > Clock::now())
                continue;
            r.written_off = true;
            s.stuck++;
            auto on_timeout = std::move(r.on_timeout);
            s.serving--; // the stuck one no longer counts
            if (s.stuck <= s.limits.max_stuck && !s.stopping) {
                try {
                    s.start_thread();
                } catch (const std::exception &e) {
                    s.serving--;
                    std::cerr << "dm-remapd: cannot start a thread: " << e.what() << "\n";
                }
            }
            lock.unlock();
            try {
                if (on_timeout)
                    on_timeout();
            } catch (...) {
                std::cerr << "dm-remapd: internal error answering a timed-out call\n";
            }
            lock.lock();
            break; // `running` may have changed meanwhile: look again
        }
    }
    s.watchdog_done = true;
    s.changed.notify_all();
}

} // namespace dmremap::daemon
