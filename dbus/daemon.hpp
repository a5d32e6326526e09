// SPDX-License-Identifier: GPL-2.0-or-later
// The service: one bus connection served by the main thread; a pool for
// every call that may touch a device (TaskPool: bounded, per user, with
// deadlines); one worker thread that alone keeps the device table, reading
// the kernel's status (no device I/O); a uevent thread that tells the
// worker what to look at again. The bus thread only reads the objects'
// cached properties.
#pragma once

#include "authorizer.hpp"
#include "device_object.hpp"
#include "health_keeper.hpp"
#include "job_control.hpp"
#include "job_object.hpp"
#include "manager_object.hpp"
#include "root_object.hpp"
#include "task_pool.hpp"
#include "uevent_monitor.hpp"
#include "worker.hpp"

#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <thread>
#include <cstdint>
#include <functional>
#include <future>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include <sdbus-c++/sdbus-c++.h>

namespace dmremap::daemon {

class Daemon {
public:
    // Connects to the system bus and exports every object; the name is
    // requested last, so a caller never finds it with the devices missing.
    // `io_timeout`: how long a call may wait for a device before its caller
    // is answered with TimedOut.
    // `metrics_dir`: where the Prometheus textfile goes ("" = nowhere).
    Daemon(std::chrono::milliseconds io_timeout, std::filesystem::path metrics_dir);
    ~Daemon();
    Daemon(const Daemon &) = delete;
    Daemon &operator=(const Daemon &) = delete;

    // Serves the bus on the calling thread until stop().
    void run();
    // Any thread.
    void stop();

    TaskPool &pool() { return pool_; }
    Authorizer &authorizer() { return authorizer_; }
    std::chrono::milliseconds io_timeout() const { return io_timeout_; }

    // Any thread: returns once the worker has read `name` ("" = every
    // device and the list) again, after this call; its object then holds
    // what the kernel said. Bounded: the worker reads no device.
    void settle(const std::string &name);

    // A pool thread: held while a call makes disks members (Create,
    // Assemble, AddSpare). Their "not in use" checks and the kernel's claim
    // are not one step, so two of them must not race for one disk. Busy
    // after the I/O deadline.
    std::unique_lock<std::timed_mutex> claim_devices(const std::string &what);

    // A pool thread: exports a Job, runs `work` and returns its message;
    // Completed(success, message) goes out either way, then the job is
    // removed. A failure is rethrown translated (sdbus::Error). `work`
    // gets a progress reporter (done, total bytes, and the job's phase;
    // any thread, valid while `work` runs). `control` says how Job.Cancel
    // stops `work` (by suspending a device, or by a flag `work` polls);
    // null: the job cannot be canceled. `path` (if set) receives the
    // job's object path.
    class JobProgress {
    public:
        explicit JobProgress(JobObject &job) : job_(job) {}
        void operator()(std::uint64_t done, std::uint64_t total) const { job_.set_progress(done, total); }
        void phase(const std::string &phase) const { job_.set_phase(phase); }

    private:
        JobObject &job_;
    };
    std::string run_job(const std::string &operation, const std::vector<std::string> &objects, std::uint32_t uid,
                        const std::function<std::string(const JobProgress &)> &work,
                        const std::function<bool()> &spares_exhausted = {},
                        std::shared_ptr<JobControl> control = nullptr, sdbus::ObjectPath *path = nullptr);

private:
    // Worker thread: re-reads the device list, and the status of `changed`
    // (every device when nullopt); objects come and go with the devices.
    // `why` goes into the history sample, if the device changed ("daily":
    // always a sample).
    void refresh(const std::optional<std::string> &changed = std::nullopt, const std::string &why = "event");
    // Any thread: queues one refresh per name ("" = all) unless one is
    // queued and not started yet; ready when it has run.
    std::shared_future<void> queue_refresh(const std::string &name);
    // Monitor thread: queues one refresh per name, however many events.
    void on_uevent(const std::string &name);
    // Its own thread: one history sample of every device a day, and no
    // wake-up in between.
    void daily_loop();

    std::unique_ptr<sdbus::IConnection> connection_;
    Authorizer authorizer_;
    std::unique_ptr<RootObject> root_;
    std::unique_ptr<ManagerObject> manager_;
    std::map<std::string, std::unique_ptr<DeviceObject>> devices_;
    const std::chrono::milliseconds io_timeout_;
    std::timed_mutex claims_; // see claim_devices()
    // jobs_mutex_ protects jobs_ and next_job_ (pool threads run jobs).
    std::mutex jobs_mutex_;
    std::map<std::uint64_t, std::unique_ptr<JobObject>> jobs_;
    std::uint64_t next_job_ = 1;
    bool dm_unavailable_logged_ = false;

    // pending_mutex_ protects pending_: refreshes queued and not started,
    // by name ("" = all), with what tells their waiters.
    struct PendingRefresh {
        std::promise<void> done;
        std::shared_future<void> ready;
    };
    std::mutex pending_mutex_;
    std::map<std::string, std::shared_ptr<PendingRefresh>> pending_;

    // Touched by the worker only: history, health, journal, metrics.
    HealthKeeper health_;
    // daily_mutex_ protects stopping_; daily_wake_ ends daily_'s wait.
    std::mutex daily_mutex_;
    std::condition_variable daily_wake_;
    bool stopping_ = false;
    std::thread daily_;

    Worker worker_;
    TaskPool pool_;
    std::unique_ptr<UeventMonitor> monitor_;
};

} // namespace dmremap::daemon
