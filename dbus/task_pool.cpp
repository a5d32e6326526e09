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
        std::optional<Clock::time_point> deadline;
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
    // `changed` the watchdog (a new deadline, stop) and stop() (a thread
    // ended).
    std::mutex mutex;
    std::condition_variable work, changed;
    std::deque<Task> queue;
    std::map<std::uint32_t, unsigned> per_uid; // queued or running, written-off included
    std::map<std::uint64_t, Running> running;  // by task number, pool threads' only
    std::uint64_t next = 0;
    unsigned serving = 0; // pool threads not written off
    unsigned stuck = 0;   // written off and not yet returned
    unsigned long_running = 0;
    bool stopping = false;
    bool watchdog_done = false;
    // Set right after construction, so threads can keep the state alive.
    std::weak_ptr<State> self;

    void release(std::uint32_t uid)
    {
        if (--per_uid[uid] == 0)
            per_uid.erase(uid);
    }
    // Brings the serving threads back to their number, while that is
    // allowed; a thread that cannot be started is tried again at the next
    // post.
    void top_up()
    {
        while (!stopping && serving < limits.threads && stuck < limits.max_stuck) {
            try {
                std::thread(TaskPool::serve, self.lock()).detach();
            } catch (const std::exception &e) {
                std::cerr << "dm-remapd: cannot start a thread: " << e.what() << "\n";
                return;
            }
            serving++;
        }
    }
    std::optional<Clock::time_point> next_deadline() const
    {
        std::optional<Clock::time_point> next_at;
        const auto earlier = [&](const std::optional<Clock::time_point> &d) {
            if (d && (!next_at || *d < *next_at))
                next_at = d;
        };
        for (const auto &[id, r] : running)
            if (!r.written_off)
                earlier(r.deadline);
        for (const auto &t : queue)
            earlier(t.deadline);
        return next_at;
    }
};

namespace {

void run_guarded(const std::function<void()> &f, const char *what) noexcept
{
    // Tasks answer for themselves; anything escaping is a bug, but it
    // must not end the thread (std::terminate).
    try {
        f();
    } catch (const std::exception &e) {
        std::cerr << "dm-remapd: internal error in " << what << ": " << e.what() << "\n";
    } catch (...) {
        std::cerr << "dm-remapd: internal error in " << what << "\n";
    }
}

} // namespace

TaskPool::TaskPool(Limits limits) : state_(std::make_shared<State>(limits))
{
    state_->self = state_;
    std::lock_guard lock(state_->mutex);
    state_->top_up();
    std::thread(watch, state_).detach();
}

TaskPool::~TaskPool() { stop(); }

void TaskPool::post(std::uint32_t uid, std::function<void()> task, Deadline timeout, std::function<void()> on_timeout)
{
    State &s = *state_;
    std::unique_lock lock(s.mutex);
    if (s.stopping)
        throw Error(Error::Code::Busy, "dm-remapd is shutting down");
    if (s.stuck >= s.limits.max_stuck)
        throw Error(Error::Code::Busy, std::to_string(s.stuck) +
                                           " device operations never returned (devices whose I/O hangs); "
                                           "no new work until they do");
    if (uid != 0 && s.per_uid.count(uid) && s.per_uid[uid] >= s.limits.per_user)
        throw Error(Error::Code::Busy, "uid " + std::to_string(uid) + " has " + std::to_string(s.limits.per_user) +
                                           " calls in progress, the limit per user; try again when they have "
                                           "been answered");
    if (!timeout) {
        if (s.long_running >= s.limits.max_long)
            throw Error(Error::Code::Busy, std::to_string(s.long_running) +
                                               " long operations (evacuations) run already; try again when one "
                                               "has ended");
        s.per_uid[uid]++;
        s.long_running++;
        try {
            std::thread([state = state_, uid, task = std::move(task)] {
                run_guarded(task, "a long operation");
                std::lock_guard l(state->mutex);
                state->release(uid);
                state->long_running--;
                state->changed.notify_all();
            }).detach();
        } catch (const std::exception &e) {
            s.release(uid);
            s.long_running--;
            throw Error(Error::Code::Failed, std::string("cannot start a thread: ") + e.what());
        }
        return;
    }
    s.top_up();
    if (s.queue.size() >= s.limits.max_queued)
        throw Error(Error::Code::Busy,
                    std::to_string(s.limits.max_queued) + " calls are waiting already; try again later");
    s.per_uid[uid]++;
    s.queue.push_back({uid, std::move(task), Clock::now() + *timeout, std::move(on_timeout)});
    lock.unlock();
    s.work.notify_one();
    s.changed.notify_all();
}

unsigned TaskPool::stop(std::chrono::milliseconds wait)
{
    State &s = *state_;
    std::deque<State::Task> dropped;
    std::unique_lock lock(s.mutex);
    s.stopping = true;
    dropped.swap(s.queue);
    for (const auto &t : dropped)
        s.release(t.uid);
    s.work.notify_all();
    s.changed.notify_all();
    s.changed.wait_for(lock, wait, [&] { return s.serving == 0 && s.long_running == 0 && s.watchdog_done; });
    const unsigned left = s.serving + s.stuck + s.long_running;
    lock.unlock();
    dropped.clear(); // their captures (the replies) go outside the lock
    return left;
}

void TaskPool::serve(std::shared_ptr<State> state)
{
    State &s = *state;
    std::unique_lock lock(s.mutex);
    for (;;) {
        s.work.wait(lock, [&] { return s.stopping || !s.queue.empty(); });
        if (s.stopping) {
            s.serving--;
            s.changed.notify_all();
            return;
        }
        State::Task t = std::move(s.queue.front());
        s.queue.pop_front();
        const std::uint64_t id = s.next++;
        s.running.emplace(id, State::Running{t.uid, t.deadline, std::move(t.on_timeout)});
        lock.unlock();
        run_guarded(t.run, "a background task");
        t.run = nullptr; // its captures go now, not at the next task
        lock.lock();
        const bool written_off = s.running.at(id).written_off;
        s.running.erase(id);
        s.release(t.uid);
        // The watchdog may be waiting for this task's deadline: it looks
        // again now, not at a deadline that no longer exists (an idle
        // daemon must not wake up).
        s.changed.notify_all();
        if (written_off) {
            s.stuck--;
            std::cerr << "dm-remapd: a device operation that timed out has returned\n";
            // Its replacement may not exist (more were stuck than allowed,
            // or it could not be started): then this one serves again.
            if (s.stopping || s.serving >= s.limits.threads) {
                s.changed.notify_all();
                return;
            }
            s.serving++;
        }
    }
}

void TaskPool::watch(std::shared_ptr<State> state)
{
    State &s = *state;
    std::unique_lock lock(s.mutex);
    while (!s.stopping) {
        const auto next_at = s.next_deadline();
        if (!next_at) {
            s.changed.wait(lock);
            continue;
        }
        if (s.changed.wait_until(lock, *next_at) == std::cv_status::no_timeout)
            continue;
        const auto now = Clock::now();
        std::function<void()> on_timeout;
        for (auto &[id, r] : s.running) {
            if (!r.deadline || r.written_off || *r.deadline > now)
                continue;
            r.written_off = true;
            s.stuck++;
            s.serving--; // the stuck one no longer counts
            s.top_up();
            on_timeout = std::move(r.on_timeout);
            break;
        }
        if (!on_timeout)
            for (auto it = s.queue.begin(); it != s.queue.end(); ++it)
                if (it->deadline && *it->deadline <= now) {
                    // No thread took it in time (devices that hang hold
                    // them): answered now, never run.
                    on_timeout = std::move(it->on_timeout);
                    s.release(it->uid);
                    s.queue.erase(it);
                    break;
                }
        if (!on_timeout)
            continue;
        lock.unlock();
        run_guarded(on_timeout, "answering a timed-out call");
        on_timeout = nullptr;
        lock.lock();
    }
    s.watchdog_done = true;
    s.changed.notify_all();
}

} // namespace dmremap::daemon
