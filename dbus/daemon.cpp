// SPDX-License-Identifier: GPL-2.0-or-later
#include "daemon.hpp"

#include "error_translator.hpp"
#include "object_paths.hpp"

#include <error.hpp>
#include <remap_device.hpp>

#include <future>
#include <iostream>

namespace dmremap::daemon {
namespace {

// How a job's failure reads in Completed.
std::string error_text(const sdbus::Error &e) { return e.getName() + ": " + e.getMessage(); }

} // namespace

Daemon::Daemon() : connection_(sdbus::createSystemBusConnection())
{
    root_ = std::make_unique<RootObject>(*connection_);
    manager_ = std::make_unique<ManagerObject>(*this, *connection_);
    // Listening first: a device made during the first scan still gets its
    // refresh, queued behind the scan.
    monitor_ = std::make_unique<UeventMonitor>([this](const std::string &name) { on_uevent(name); });
    // The first refresh runs where every later one does, so libdevmapper is
    // only ever used from the worker thread.
    std::promise<void> done;
    worker_.post([this, &done] {
        try {
            refresh();
        } catch (...) {
            std::cerr << "dm-remapd: initial device scan failed\n";
        }
        done.set_value();
    });
    done.get_future().wait();
    connection_->requestName(ObjectPaths::kBusName);
}

Daemon::~Daemon()
{
    // First: its callbacks post to the worker.
    authorizer_.stop();
    monitor_.reset();
    worker_.stop();
    jobs_.clear();
    devices_.clear();
    manager_.reset();
    root_.reset();
}

void Daemon::run() { connection_->enterEventLoop(); }

void Daemon::stop() { connection_->leaveEventLoop(); }

void Daemon::on_uevent(const std::string &name)
{
    {
        std::lock_guard lock(pending_mutex_);
        if (!pending_.insert(name).second)
            return;
    }
    worker_.post([this, name] {
        {
            std::lock_guard lock(pending_mutex_);
            pending_.erase(name);
        }
        if (name.empty())
            refresh();
        else
            refresh(name);
    });
}

void Daemon::refresh(const std::optional<std::string> &changed)
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
    for (auto it = devices_.begin(); it != devices_.end();)
        it = now.count(it->first) ? std::next(it) : devices_.erase(it);
    for (const auto &name : names) {
        const auto it = devices_.find(name);
        if (it != devices_.end() && changed && *changed != name)
            continue;
        std::optional<DeviceProps> props;
        try {
            props = DeviceObject::read(name);
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
}

std::string Daemon::start_job(const std::string &operation, const std::vector<std::string> &objects, std::uint32_t uid,
                              std::function<std::string(const JobProgress &)> work,
                              std::function<bool()> spares_exhausted,
                              std::optional<std::string> cancel_by_suspending)
{
    const std::uint64_t id = next_job_++;
    const std::string path = ObjectPaths::job(id);
    std::vector<sdbus::ObjectPath> paths(objects.begin(), objects.end());
    auto control = std::make_shared<JobControl>(std::move(cancel_by_suspending));
    JobObject *job = jobs_
                         .emplace(id, std::make_unique<JobObject>(*connection_, authorizer_, path, operation,
                                                                  std::move(paths), uid, control))
                         .first->second.get();
    worker_.post([this, id, job, control, work = std::move(work), spares_exhausted = std::move(spares_exhausted)] {
        bool ok = false;
        std::string message;
        if (!control->begin()) {
            message = error_text(ErrorTranslator::cancelled("canceled before it started; nothing was changed"));
        } else {
            std::exception_ptr error;
            try {
                // Only this task removes the job, after `work` returns.
                message = work([job](double p) { job->set_progress(p); });
                ok = true;
            } catch (...) {
                error = std::current_exception();
            }
            // Nothing may escape here: the job must still send Completed
            // and be erased, or its starter waits forever.
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
                    message = error_text(interrupted ? ErrorTranslator::translate_canceled(error, spares_exhausted)
                                                     : ErrorTranslator::translate(error, spares_exhausted));
                } catch (const std::exception &e) {
                    message = std::string("org.dmremap1.Error.Failed: ") + e.what();
                }
            }
            // The work's own refresh may have seen the device suspended by
            // the cancel: look again.
            try {
                if (interrupted && control->device())
                    refresh(*control->device());
            } catch (const std::exception &e) {
                std::cerr << "dm-remapd: job " << id << ": refreshing the device after a cancel: " << e.what()
                          << "\n";
            } catch (...) {
                std::cerr << "dm-remapd: job " << id << ": refreshing the device after a cancel failed\n";
            }
            try {
                if (const auto left = control->resume_failure())
                    message += "; " + *left;
            } catch (const std::exception &e) {
                std::cerr << "dm-remapd: job " << id << ": " << e.what() << "\n";
            }
        }
        const auto it = jobs_.find(id);
        if (it == jobs_.end())
            return;
        try {
            it->second->finish(ok, message);
        } catch (const sdbus::Error &e) {
            std::cerr << "dm-remapd: job " << id << ": " << e.getMessage() << "\n";
        }
        jobs_.erase(it);
    });
    return path;
}

} // namespace dmremap::daemon
