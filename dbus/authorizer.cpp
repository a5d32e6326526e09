// SPDX-License-Identifier: GPL-2.0-or-later
#include "authorizer.hpp"

#include "error_translator.hpp"

#include <error.hpp>

#include <cerrno>
#include <chrono>
#include <iostream>
#include <system_error>

#include <poll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <sdbus-c++/sdbus-c++.h>

namespace dmremap::daemon {
namespace {

// An interactive check waits for a person typing a password in an agent;
// a non-interactive one should answer at once.
constexpr auto kInteractiveTimeout = std::chrono::minutes(5);
constexpr auto kQuickTimeout = std::chrono::seconds(25);

} // namespace

// One check in flight: holds the sender's place in pending_ until it is
// answered, or, when it never is (the proxy dropping its calls at
// shutdown), until the last callback holding it goes away.
class Authorizer::Slot {
public:
    Slot(Authorizer &owner, std::string sender, Done done)
        : owner_(owner), sender_(std::move(sender)), done_(std::move(done))
    {
    }
    ~Slot() { give_back(); }
    Slot(const Slot &) = delete;
    Slot &operator=(const Slot &) = delete;

    const std::string &sender() const { return sender_; }

    // The checks' thread. The place is given back first: the answer may
    // reach the caller (through the worker) before the library drops the
    // callback holding this slot, and the caller's next call must find
    // its place free. `done` runs on the answering thread; nothing may
    // escape into the event loop: it would end the loop and with it every
    // later check.
    void answer(std::exception_ptr error, std::uint32_t uid) noexcept
    {
        give_back();
        if (!done_)
            return;
        auto done = std::move(done_);
        done_ = nullptr;
        try {
            owner_.answers_.post([done = std::move(done), error, uid] { done(error, uid); });
        } catch (const std::exception &e) {
            std::cerr << "dm-remapd: cannot hand on an authorization answer: " << e.what() << "\n";
        }
    }
    void refuse(const std::string &message) noexcept
    {
        answer(std::make_exception_ptr(ErrorTranslator::not_authorized(message)), 0);
    }

private:
    void give_back() noexcept
    {
        if (!held_)
            return;
        held_ = false;
        owner_.release(sender_);
    }

    Authorizer &owner_;
    const std::string sender_;
    Done done_;
    bool held_ = true; // touched by one thread at a time: the caller's, then the checks'
};

Authorizer::Authorizer()
    : bus_(sdbus::createSystemBusConnection()),
      dbus_(sdbus::createProxy(*bus_, "org.freedesktop.DBus", "/org/freedesktop/DBus")),
      polkit_(sdbus::createProxy(*bus_, "org.freedesktop.PolicyKit1", "/org/freedesktop/PolicyKit1/Authority"))
{
    wake_fd_ = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (wake_fd_ < 0)
        throw std::system_error(errno, std::generic_category(), "eventfd");
    // Our own loop rather than enterEventLoop(): requests are issued on
    // this thread (see post()); a loop that fails (the bus went away) is
    // logged, not the end of the process through an exception leaving a
    // thread.
    try {
        loop_ = std::thread([this] { run_loop(); });
    } catch (...) {
        ::close(wake_fd_);
        throw;
    }
}

Authorizer::~Authorizer()
{
    stop();
    // Pending calls' callbacks go with the proxies; their slots give back
    // their places, which pending_mutex_ (still alive) guards.
    polkit_.reset();
    dbus_.reset();
    bus_.reset();
    if (wake_fd_ >= 0)
        ::close(wake_fd_);
}

std::string Authorizer::caller(sdbus::IObject &object) noexcept
{
    try {
        const sdbus::Message *msg = object.getCurrentlyProcessedMessage();
        return msg ? msg->getSender() : std::string();
    } catch (...) {
        return {};
    }
}

void Authorizer::stop()
{
    if (loop_.joinable()) {
        {
            std::lock_guard lock(requests_mutex_);
            stopping_ = true;
        }
        const std::uint64_t one = 1;
        [[maybe_unused]] const auto n = ::write(wake_fd_, &one, sizeof one);
        loop_.join();
        // Requests never issued: their slots give back their places.
        std::vector<std::function<void()>> dropped;
        std::lock_guard lock(requests_mutex_);
        dropped.swap(requests_);
    }
    // The answers already given still go out.
    answers_.stop();
}

void Authorizer::post(std::function<void()> request)
{
    {
        std::lock_guard lock(requests_mutex_);
        if (stopping_)
            throw Error(Error::Code::Failed, "the daemon is stopping");
        requests_.push_back(std::move(request));
    }
    const std::uint64_t one = 1;
    // Nonblocking: a counter already high enough wakes the loop anyway.
    [[maybe_unused]] const auto n = ::write(wake_fd_, &one, sizeof one);
}

void Authorizer::run_loop()
{
    try {
        for (;;) {
            std::vector<std::function<void()>> requests;
            {
                std::lock_guard lock(requests_mutex_);
                if (stopping_)
                    return;
                requests.swap(requests_);
            }
            for (auto &request : requests) {
                try {
                    request();
                } catch (const std::exception &e) {
                    std::cerr << "dm-remapd: authorization request: " << e.what() << "\n";
                }
            }
            requests.clear();
            while (bus_->processPendingRequest()) {
            }
            const auto data = bus_->getEventLoopPollData();
            pollfd fds[2] = {{data.fd, data.events, 0}, {wake_fd_, POLLIN, 0}};
            const int r = ::poll(fds, 2, data.getPollTimeout());
            if (r < 0 && errno != EINTR)
                throw std::system_error(errno, std::generic_category(), "poll");
            if (fds[1].revents & POLLIN) {
                std::uint64_t count = 0;
                [[maybe_unused]] const auto n = ::read(wake_fd_, &count, sizeof count);
            }
        }
    } catch (const sdbus::Error &e) {
        std::cerr << "dm-remapd: authorization bus: " << e.getName() << ": " << e.getMessage() << "\n";
    } catch (const std::exception &e) {
        std::cerr << "dm-remapd: authorization bus: " << e.what() << "\n";
    }
}

void Authorizer::release(const std::string &sender)
{
    std::lock_guard lock(pending_mutex_);
    const auto it = pending_.find(sender);
    if (it != pending_.end() && --it->second == 0)
        pending_.erase(it);
}

std::string Authorizer::devices(const std::vector<std::string> &paths)
{
    std::string out;
    for (const auto &p : paths)
        out += (out.empty() ? "" : " ") + p;
    return out;
}

Authorizer::Action Authorizer::action(const char *id, const std::string &name, const std::string &device,
                                      const std::string &message)
{
    Action a{id, {{"polkit.message", message}}};
    if (!name.empty())
        a.details["name"] = name;
    if (!device.empty())
        a.details["device"] = device;
    return a;
}

void Authorizer::authorize_async(const std::string &sender, const Action &action, bool interactive,
                                 std::optional<std::uint32_t> owner, Done done)
{
    {
        std::lock_guard lock(pending_mutex_);
        unsigned &n = pending_[sender];
        if (n >= kMaxPendingPerSender) {
            throw Error(Error::Code::Busy, "caller " + sender + ": already " + std::to_string(n) +
                                               " authorization checks waiting, the limit per caller; "
                                               "retry once one is answered");
        }
        ++n;
    }
    // From here the slot owns the place.
    auto slot = std::make_shared<Slot>(*this, sender, std::move(done));
    try {
        post([this, slot, action, interactive, owner] { identify(slot, action, interactive, owner); });
    } catch (const std::exception &e) {
        slot->refuse("cannot identify the caller " + sender + ": " + e.what());
    }
}

void Authorizer::identify(const std::shared_ptr<Slot> &slot, const Action &action, bool interactive,
                          std::optional<std::uint32_t> owner)
{
    try {
        dbus_->callMethodAsync("GetConnectionUnixUser")
            .onInterface("org.freedesktop.DBus")
            .withArguments(slot->sender())
            .uponReplyInvoke([this, slot, action, interactive, owner](const sdbus::Error *e, std::uint32_t uid) {
                if (e) {
                    slot->refuse("cannot identify the caller " + slot->sender() + ": " + e->getMessage());
                    return;
                }
                // No action: only who is calling was asked.
                if (uid == 0 || (owner && *owner == uid) || action.id.empty()) {
                    slot->answer(nullptr, uid);
                    return;
                }
                check_polkit(slot, uid, action, interactive);
            });
    } catch (const sdbus::Error &e) {
        slot->refuse("cannot identify the caller " + slot->sender() + ": " + e.getMessage());
    }
}

void Authorizer::check_polkit(const std::shared_ptr<Slot> &slot, std::uint32_t uid, const Action &act,
                              bool interactive)
{
    const std::string &action = act.id;
    using Subject = sdbus::Struct<std::string, std::map<std::string, sdbus::Variant>>;
    using Result = sdbus::Struct<bool, bool, std::map<std::string, std::string>>;
    const auto failed = [slot, uid, action](const std::string &why) {
        // Polkit unreachable or erroring: refuse (fail closed).
        std::cerr << "dm-remapd: polkit check for uid " << uid << " failed: " << why << "\n";
        slot->refuse(action + ": cannot check authorization (polkit: " + why + ")");
    };
    try {
        const Subject subject{"system-bus-name", {{"name", sdbus::Variant(slot->sender())}}};
        const std::uint32_t flags = interactive ? 1 : 0; // AllowUserInteraction
        const auto timeout = interactive ? std::chrono::duration_cast<std::chrono::microseconds>(kInteractiveTimeout)
                                         : std::chrono::duration_cast<std::chrono::microseconds>(kQuickTimeout);
        polkit_->callMethodAsync("CheckAuthorization")
            .onInterface("org.freedesktop.PolicyKit1.Authority")
            .withTimeout(timeout)
            .withArguments(subject, action, act.details, flags, std::string())
            .uponReplyInvoke([slot, uid, action, failed](const sdbus::Error *e, Result result) {
                if (e) {
                    failed(e->getName() + ": " + e->getMessage());
                    return;
                }
                if (!std::get<0>(result)) {
                    // is_challenge: the user could authenticate, but no
                    // agent answered (ssh without pkttyagent, or a
                    // non-interactive call): say so, not "not authorized".
                    if (std::get<1>(result)) {
                        slot->refuse(action + ": authentication required and no polkit agent answered for uid " +
                                     std::to_string(uid) +
                                     "; run it as root, or with an agent (pkttyagent, a desktop session)");
                        return;
                    }
                    slot->refuse(action + ": not authorized for uid " + std::to_string(uid));
                    return;
                }
                slot->answer(nullptr, uid);
            });
    } catch (const sdbus::Error &e) {
        failed(e.getName() + ": " + e.getMessage());
    }
}

sdbus::IConnection &Authorizer::sync_bus()
{
    if (!sync_bus_)
        sync_bus_ = sdbus::createSystemBusConnection();
    return *sync_bus_;
}

std::uint32_t Authorizer::uid_of(const std::string &sender)
{
    try {
        auto proxy = sdbus::createProxy(sync_bus(), "org.freedesktop.DBus", "/org/freedesktop/DBus");
        std::uint32_t uid = 0;
        proxy->callMethod("GetConnectionUnixUser")
            .onInterface("org.freedesktop.DBus")
            .withArguments(sender)
            .storeResultsTo(uid);
        return uid;
    } catch (const sdbus::Error &e) {
        // A broken connection stays broken: make a new one next time.
        sync_bus_.reset();
        throw ErrorTranslator::not_authorized("cannot identify the caller " + sender + ": " + e.getMessage());
    }
}

} // namespace dmremap::daemon
