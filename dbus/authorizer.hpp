// SPDX-License-Identifier: GPL-2.0-or-later
// Who may change things: root always, anyone else when polkit says so.
// The check is asynchronous, on a bus connection of its own served by its
// own thread: a polkit agent may wait minutes for a password, and neither
// the serving connection's thread nor the worker may wait with it.
//
// Every call on that connection is made on its thread (see post()).
//
// Answers go out from a third thread. sdbus-c++ holds a connection's lock
// while it runs that connection's callbacks: the serving thread holds its
// own while it asks us (taking ours), so our loop, holding ours, must not
// reply on the serving connection (taking its lock): that is a deadlock
// (seen in the VM: the daemon stopped answering after a Cancel).
#pragma once

#include "worker.hpp"

#include <cstdint>
#include <exception>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <sdbus-c++/IConnection.h>
#include <sdbus-c++/IObject.h>
#include <sdbus-c++/IProxy.h>

namespace dmremap::daemon {

class Authorizer {
public:
    // The polkit actions, by consequence (org.dmremap1.policy).
    static constexpr const char *kCreate = "org.dmremap1.create";     // formats disks
    static constexpr const char *kAssemble = "org.dmremap1.assemble"; // starts and stops sets
    static constexpr const char *kSpare = "org.dmremap1.spare";       // adds (formats) and removes spares
    static constexpr const char *kRemap = "org.dmremap1.remap";       // moves one block
    static constexpr const char *kScan = "org.dmremap1.scan";         // reads every block
    static constexpr const char *kReplace = "org.dmremap1.replace";   // formats a new data disk, moves the set
    static constexpr const char *kCancel = "org.dmremap1.cancel-job"; // another user's job
    // An action with its polkit details: `device` and `name` let rules
    // tell devices apart; polkit.message names them in the dialog.
    struct Action {
        std::string id;
        std::map<std::string, std::string> details;
    };
    static Action action(const char *id, const std::string &name, const std::string &device,
                         const std::string &message);
    // Device paths as one detail (and message) text: "a b c".
    static std::string devices(const std::vector<std::string> &paths);
    // Checks one sender may have waiting at once: enough for any honest
    // client, and a bound on what a flood can make us hold.
    static constexpr unsigned kMaxPendingPerSender = 8;

    // Connects and starts the thread that serves the checks.
    Authorizer();
    ~Authorizer();
    Authorizer(const Authorizer &) = delete;
    Authorizer &operator=(const Authorizer &) = delete;

    // The unique bus name of the caller whose method call `object` is
    // handling (bus thread, inside a handler). "" when it cannot be told,
    // which fails authorization (no such bus name): never a way in.
    static std::string caller(sdbus::IObject &object) noexcept;

    // Ends the checks' thread; checks still waiting never call back.
    void stop();

    // `error` is null when allowed; then `uid` is the caller's. Runs on
    // the answering thread, which holds no bus lock.
    using Done = std::function<void(std::exception_ptr error, std::uint32_t uid)>;
    // Any thread; never blocks. Allowed without polkit: uid 0, and
    // `owner` when given (who started what is being acted on); an action
    // with an empty id only identifies the caller (allowed, with its uid). `done`
    // runs exactly once unless the sender is over
    // its limit: then this throws Busy and `done` never runs. `done` runs
    // on the answering thread.
    void authorize_async(const std::string &sender, const Action &action, bool interactive,
                         std::optional<std::uint32_t> owner, Done done);

    // Worker thread, blocking (a quick question to the bus daemon): the
    // caller's uid, the bus daemon's word, not the caller's.
    std::uint32_t uid_of(const std::string &sender);

private:
    class Slot;
    // The loop thread: the caller's uid, then polkit unless allowed.
    void identify(const std::shared_ptr<Slot> &slot, const Action &action, bool interactive,
                  std::optional<std::uint32_t> owner);
    void check_polkit(const std::shared_ptr<Slot> &slot, std::uint32_t uid, const Action &action, bool interactive);
    void release(const std::string &sender);
    sdbus::IConnection &sync_bus();

    // The loop thread: serves bus_ and runs the queued requests.
    void run_loop();
    // Any thread: `request` runs on the loop thread, which alone issues
    // calls on bus_. sdbus-c++ 1.2 (before upstream PR #313) may leak a
    // pending call's record when callMethodAsync runs on another thread
    // than the one processing its reply.
    void post(std::function<void()> request);

    // The checks' own connection, its proxies (kept: a proxy's pending
    // calls die with it) and the thread serving it.
    std::unique_ptr<sdbus::IConnection> bus_;
    std::unique_ptr<sdbus::IProxy> dbus_;
    std::unique_ptr<sdbus::IProxy> polkit_;
    // Wakes the loop: a request queued, or stop.
    int wake_fd_ = -1;
    // requests_mutex_ protects requests_ and stopping_.
    std::mutex requests_mutex_;
    std::vector<std::function<void()>> requests_;
    bool stopping_ = false;
    std::thread loop_;

    // pending_mutex_ protects pending_: checks waiting per sender, taken by
    // callers' threads and released on the checks' thread.
    std::mutex pending_mutex_;
    std::map<std::string, unsigned> pending_;

    // Worker thread only, for uid_of: a blocking call must not share the
    // connection another thread is serving.
    std::unique_ptr<sdbus::IConnection> sync_bus_;

    // Runs the Done callbacks, outside every bus lock (see the top). Last:
    // destroyed first, after stop() ran what it had queued.
    Worker answers_;
};

} // namespace dmremap::daemon
