// SPDX-License-Identifier: GPL-2.0-or-later
#include "daemon.hpp"

#include "error_translator.hpp"
#include "object_paths.hpp"

#include <error.hpp>
#include <remap_device.hpp>

#include <ctime>
#include <future>
#include <iostream>

namespace dmremap::daemon {
namespace {

// How a job's failure reads in Completed.
std::string error_text(const sdbus::Error &e) { return e.getName() + ": " + e.getMessage(); }

} // namespace

Daemon::Daemon(std::chrono::milliseconds io_timeout, std::filesystem::path metrics_dir)
    : connection_(sdbus::createSystemBusConnection()), io_timeout_(io_timeout), health_(std::move(metrics_dir)),
      pool_(TaskPool::Limits{})
{
    root_ = std::make_unique<RootObject>(*connection_);
    manager_ = std::make_unique<ManagerObject>(*this, *connection_);
    // Listening first: a device made during the first scan still gets its
    // refresh, queued behind the scan.
    monitor_ = std::make_unique<UeventMonitor>([this](const std::string &name) { on_uevent(name); });
    // The first refresh runs where every later one does: the device table
    // is the worker's alone.
    std::promise<void> done;
    worker_.post([this, &done] {
        try {
            refresh(std::nullopt, "start");
        } catch (...) {
            std::cerr << "dm-remapd: initial device scan failed\n";
        }
        done.set_value();
    });
    done.get_future().wait();
    daily_ = std::thread([this] { daily_loop(); });
    connection_->requestName(ObjectPaths::kBusName);
}

void Daemon::daily_loop()
{
    std::unique_lock lock(daily_mutex_);
    for (;;) {
        if (daily_wake_.wait_for(lock, std::chrono::hours(24), [this] { return stopping_; }))
            return;
        worker_.post([this] {
            try {
                refresh(std::nullopt, "daily");
            } catch (const std::exception &e) {
                std::cerr << "dm-remapd: daily health update: " << e.what() << "\n";
            }
        });
    }
}

Daemon::~Daemon()
{
    // First: its callbacks post to the worker.
    authorizer_.stop();
    monitor_.reset();
    {
        std::lock_guard lock(daily_mutex_);
        stopping_ = true;
    }
    daily_wake_.notify_all();
    if (daily_.joinable())
        daily_.join();
    // Jobs end early rather than hold the shutdown for hours: what an
    // evacuation moved stays moved, a scan keeps its position, a replace
    // goes back to its old disk.
    {
        std::lock_guard lock(jobs_mutex_);
        for (auto &[id, job] : jobs_)
            job->cancel();
    }
    // Before the worker: their tasks wait for its refreshes.
    if (const unsigned left = pool_.stop()) {
        // Their threads hold references to all of this and may return any
        // time: do not free it under them. The name goes first, so the
        // next activation can take it while those threads hang.
        std::cerr << "dm-remapd: " << left << " device operations have not returned; exiting without them\n";
        try {
            connection_->releaseName(ObjectPaths::kBusName);
        } catch (...) {
        }
        std::_Exit(1);
    }
    worker_.stop();
    jobs_.clear();
    devices_.clear();
    manager_.reset();
    root_.reset();
}

void Daemon::run() { connection_->enterEventLoop(); }

void Daemon::stop() { connection_->leaveEventLoop(); }

std::shared_future<void> Daemon::queue_refresh(const std::string &name)
{
    std::shared_ptr<PendingRefresh> p;
    {
        std::lock_guard lock(pending_mutex_);
        if (const auto it = pending_.find(name); it != pending_.end())
            return it->second->ready;
        p = std::make_shared<PendingRefresh>();
        p->ready = p->done.get_future().share();
        pending_.emplace(name, p);
    }
    worker_.post([this, name, p] {
        {
            std::lock_guard lock(pending_mutex_);
            pending_.erase(name);
        }
        try {
            if (name.empty())
                refresh();
            else
                refresh(name);
        } catch (const std::exception &e) {
            std::cerr << "dm-remapd: refreshing " << (name.empty() ? "the devices" : name) << ": " << e.what()
                      << "\n";
        }
        p->done.set_value();
    });
    return p->ready;
}

void Daemon::on_uevent(const std::string &name) { queue_refresh(name); }

std::unique_lock<std::timed_mutex> Daemon::claim_devices(const std::string &what)
{
    std::unique_lock lock(claims_, std::defer_lock);
    if (!lock.try_lock_for(io_timeout_))
        throw Error(Error::Code::Busy, what + ": another call has been taking disks for " +
                                           std::to_string(io_timeout_.count() / 1000) +
                                           " s (a disk that hangs?); try again later");
    return lock;
}

void Daemon::settle(const std::string &name)
{
    if (worker_.on_worker_thread()) {
        name.empty() ? refresh() : refresh(name);
        return;
    }
    // The worker only reads status; a minute means it is gone (shutdown).
    if (queue_refresh(name).wait_for(std::chrono::minutes(1)) != std::future_status::ready)
        std::cerr << "dm-remapd: " << name << ": the device list was not refreshed in time\n";
}

void Daemon::refresh(const std::optional<std::string> &changed, const std::string &why)
{
    std::vector<std::string> names;
    try {
        names = RemapDevice::names();
    } catch (const Error &e) {
        // Without device-mapper there are no devices; the daemon still
        // answers for members, probing and the rest. A listing that fails
        // once must not make every device vanish and come back: keep them.
        if (!dm_unavailable_logged_)
            std::cerr << "dm-remapd: " << e.what() << "; device list kept as it was\n";
        dm_unavailable_logged_ = true;
        return;
    }
    dm_unavailable_logged_ = false;
    const std::set<std::string> now(names.begin(), names.end());
    for (auto it = devices_.begin(); it != devices_.end();) {
        if (now.count(it->first)) {
            ++it;
            continue;
        }
        health_.forget(it->first);
        it = devices_.erase(it);
    }
    // Any device read: the textfile is rewritten (its timestamp says when
    // the values were last current).
    bool observed = false;
    for (const auto &name : names) {
        const auto it = devices_.find(name);
        if (it != devices_.end() && changed && *changed != name)
            continue;
        std::optional<DeviceProps> props;
        try {
            const DeviceStatus st = RemapDevice(name).status();
            props = DeviceObject::from_status(name, st);
            // The health files are on the root filesystem, not the device.
            const auto view = health_.observe(name, props->set_uuid, st, why, std::time(nullptr));
            DeviceObject::set_health(*props, view);
            observed = true;
        } catch (const Error &e) {
            // Gone or changed meanwhile; its own uevent brings it back.
            std::cerr << "dm-remapd: " << name << ": " << e.what() << "\n";
            continue;
        }
        if (it == devices_.end())
            devices_.emplace(name, std::make_unique<DeviceObject>(*this, *connection_, std::move(*props)));
        else
            it->second->update(*props);
    }
    if (observed)
        health_.write_metrics(std::time(nullptr));
}

std::string Daemon::run_job(const std::string &operation, const std::vector<std::string> &objects, std::uint32_t uid,
                            const std::function<std::string(const JobProgress &)> &work,
                            const std::function<bool()> &spares_exhausted, std::shared_ptr<JobControl> control,
                            sdbus::ObjectPath *path)
{
    std::vector<sdbus::ObjectPath> paths(objects.begin(), objects.end());
    if (!control)
        control = std::make_shared<JobControl>(std::nullopt);
    std::uint64_t id;
    JobObject *job;
    {
        std::lock_guard lock(jobs_mutex_);
        id = next_job_++;
        if (path)
            *path = ObjectPaths::job(id);
        job = jobs_
                  .emplace(id, std::make_unique<JobObject>(*connection_, authorizer_, ObjectPaths::job(id), operation,
                                                           std::move(paths), uid, control))
                  .first->second.get();
    }
    bool ok = false;
    std::string message;
    std::optional<sdbus::Error> failure;
    if (!control->begin()) {
        failure = ErrorTranslator::cancelled("canceled before it started; nothing was changed");
    } else {
        std::exception_ptr error;
        try {
            // Only this function removes the job, after `work` returns.
            message = work(JobProgress(*job));
            ok = true;
        } catch (...) {
            error = std::current_exception();
        }
        // Nothing may escape until the job sent Completed and is erased.
        bool interrupted = false;
        try {
            // Waits for a cancel's suspend and resume to end, so whether
            // it suspended at all is known before the error is read.
            interrupted = control->end();
        } catch (const std::exception &e) {
            std::cerr << "dm-remapd: job " << id << ": ending a cancel: " << e.what() << "\n";
        }
        if (error) {
            try {
                // EINTR/EBUSY mean "canceled" only when our cancel
                // suspended the device.
                failure = interrupted ? ErrorTranslator::translate_canceled(error, spares_exhausted)
                                      : ErrorTranslator::translate(error, spares_exhausted);
            } catch (const std::exception &e) {
                failure = sdbus::Error("org.dmremap1.Error.Failed", e.what());
            }
        }
        // The work's own refresh may have seen the device suspended by the
        // cancel: look again.
        try {
            if (interrupted && control->device())
                settle(*control->device());
        } catch (const std::exception &e) {
            std::cerr << "dm-remapd: job " << id << ": refreshing the device after a cancel: " << e.what() << "\n";
        }
        try {
            if (const auto left = control->resume_failure()) {
                if (failure)
                    failure = sdbus::Error(failure->getName(), failure->getMessage() + "; " + *left);
                else
                    message += "; " + *left;
            }
        } catch (const std::exception &e) {
            std::cerr << "dm-remapd: job " << id << ": " << e.what() << "\n";
        }
    }
    std::unique_ptr<JobObject> done;
    {
        std::lock_guard lock(jobs_mutex_);
        if (const auto it = jobs_.find(id); it != jobs_.end()) {
            done = std::move(it->second);
            jobs_.erase(it);
        }
    }
    if (done) {
        try {
            done->finish(ok, failure ? error_text(*failure) : message);
        } catch (const sdbus::Error &e) {
            std::cerr << "dm-remapd: job " << id << ": " << e.getMessage() << "\n";
        }
    }
    if (failure)
        throw *failure;
    return message;
}

} // namespace dmremap::daemon
