// SPDX-License-Identifier: GPL-2.0-or-later
// The service: one bus connection served by the main thread, a worker
// thread for everything that blocks, a uevent thread that tells the worker
// what to look at again. The device and job tables belong to the worker
// thread alone; the bus thread only reads the objects' cached properties.
#pragma once

#include "authorizer.hpp"
#include "device_object.hpp"
#include "job_object.hpp"
#include "manager_object.hpp"
#include "root_object.hpp"
#include "uevent_monitor.hpp"
#include "worker.hpp"

#include <cstdint>
#include <functional>
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
    Daemon();
    ~Daemon();
    Daemon(const Daemon &) = delete;
    Daemon &operator=(const Daemon &) = delete;

    // Serves the bus on the calling thread until stop().
    void run();
    // Any thread.
    void stop();

    Worker &worker() { return worker_; }
    Authorizer &authorizer() { return authorizer_; }

    // Worker thread: re-reads the device list, and the status of `changed`
    // (every device when nullopt); objects come and go with the devices.
    void refresh(const std::optional<std::string> &changed = std::nullopt);

    // Worker thread: exports a Job and queues `work`; its result (the
    // message, or the translated error) goes out as Completed, then the job
    // is removed. `work` gets a progress reporter (0..1, any thread, valid
    // while `work` runs). `cancel_by_suspending` names the device whose
    // suspend makes `work` end early (then Job.Cancel works); nullopt: the
    // job cannot be canceled. Returns the job's path.
    using JobProgress = std::function<void(double)>;
    std::string start_job(const std::string &operation, const std::vector<std::string> &objects, std::uint32_t uid,
                          std::function<std::string(const JobProgress &)> work,
                          std::function<bool()> spares_exhausted = {},
                          std::optional<std::string> cancel_by_suspending = std::nullopt);

private:
    // Monitor thread: queues one refresh per name, however many events.
    void on_uevent(const std::string &name);

    std::unique_ptr<sdbus::IConnection> connection_;
    Authorizer authorizer_;
    std::unique_ptr<RootObject> root_;
    std::unique_ptr<ManagerObject> manager_;
    std::map<std::string, std::unique_ptr<DeviceObject>> devices_;
    std::map<std::uint64_t, std::unique_ptr<JobObject>> jobs_;
    std::uint64_t next_job_ = 1;
    bool dm_unavailable_logged_ = false;

    std::mutex pending_mutex_;
    std::set<std::string> pending_; // names with a refresh queued; "" = all

    Worker worker_;
    std::unique_ptr<UeventMonitor> monitor_;
};

} // namespace dmremap::daemon
