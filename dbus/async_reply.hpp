// SPDX-License-Identifier: GPL-2.0-or-later
// How an async method handler hands its work on: the bus thread checks
// arguments (pure, cheap) and captures, the authorizer's thread waits for
// polkit, a pool thread does the work and replies, or the pool's watchdog
// replies TimedOut when a device keeps the work past its deadline. Every
// failure, whatever its type and wherever it happens, becomes a D-Bus
// error reply through ErrorTranslator, and every call is answered once.
#pragma once

#include "authorizer.hpp"
#include "error_translator.hpp"
#include "task_pool.hpp"

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <tuple>
#include <type_traits>
#include <utility>

#include <sdbus-c++/MethodResult.h>

namespace dmremap::daemon {

// Where and how long a call's work may run: `uid` is charged for it in the
// pool; `timeout` nullopt: no deadline (a job the caller can watch and
// cancel). `what` names the call in a TimedOut message.
struct Placement {
    TaskPool &pool;
    TaskPool::Deadline timeout;
    std::string what;
};

namespace detail {

// One call's reply: the work and its deadline race, the first one answers.
template <typename... R> struct Reply {
    explicit Reply(sdbus::Result<R...> &&r) : result(std::move(r)) {}
    sdbus::Result<R...> result;
    std::atomic<bool> sent{false};
    bool claim() { return !sent.exchange(true); }
};
template <typename... R> using SharedReply = std::shared_ptr<Reply<R...>>;

template <typename... R>
void reply_error(const SharedReply<R...> &reply, std::exception_ptr e,
                 const std::function<bool()> &spares_exhausted = {}) noexcept
{
    if (!reply->claim())
        return;
    try {
        reply->result.returnError(ErrorTranslator::translate(e, spares_exhausted));
    } catch (...) {
        // The caller is gone or the bus is: nobody left to tell.
    }
}

// Queues `work` (called with `args`) on the pool, charged to `uid`; the
// pool thread replies, or the watchdog at the deadline.
template <typename... R, typename F, typename... A>
void post_work(const Placement &where, std::uint32_t uid, const SharedReply<R...> &reply, F work,
               std::function<bool()> spares_exhausted, A... args)
{
    try {
        std::function<void()> on_timeout;
        if (where.timeout)
            on_timeout = [reply, what = where.what, timeout = *where.timeout] {
                if (!reply->claim())
                    return;
                try {
                    reply->result.returnError(ErrorTranslator::timed_out(what, timeout));
                } catch (...) {
                }
            };
        where.pool.post(
            uid,
            [reply, work = std::move(work), spares_exhausted, args...]() mutable {
                try {
                    if constexpr (sizeof...(R) == 0) {
                        work(args...);
                        if (reply->claim())
                            reply->result.returnResults();
                    } else if constexpr (sizeof...(R) == 1) {
                        auto v = work(args...);
                        if (reply->claim())
                            reply->result.returnResults(v);
                    } else {
                        auto v = work(args...);
                        if (reply->claim())
                            std::apply([&](const auto &...x) { reply->result.returnResults(x...); }, v);
                    }
                } catch (...) {
                    reply_error(reply, std::current_exception(), spares_exhausted);
                }
            },
            where.timeout, std::move(on_timeout));
    } catch (...) {
        reply_error(reply, std::current_exception());
    }
}

} // namespace detail

// Bus thread: runs `parse` (checks of arguments and options that touch
// nothing) and returns what it returns; when it throws, replies with the
// translated error and returns nullopt.
template <typename... R, typename P>
auto parse_or_reply(sdbus::Result<R...> &result, P parse) -> std::optional<decltype(parse())>
{
    try {
        return parse();
    } catch (...) {
        try {
            result.returnError(ErrorTranslator::translate(std::current_exception()));
        } catch (...) {
            // The caller is gone: nobody left to tell.
        }
        return std::nullopt;
    }
}

// For changing methods: asks the authorizer for `sender` and `action`
// without waiting, and only once allowed queues `work` on the pool. A
// refusal (or a sender over its limit) is the reply; the pool never sees
// the call. `work` takes nothing, or the caller's uid (std::uint32_t).
template <typename... R, typename F>
void dispatch_authorized(const Placement &where, Authorizer &authorizer, sdbus::Result<R...> &&result,
                         const std::string &sender, const Authorizer::Action &action, bool interactive, F work,
                         std::function<bool()> spares_exhausted = {})
{
    auto reply = std::make_shared<detail::Reply<R...>>(std::move(result));
    try {
        authorizer.authorize_async(
            sender, action, interactive, std::nullopt,
            [where, reply, work = std::move(work), spares_exhausted](std::exception_ptr error,
                                                                      std::uint32_t uid) mutable {
                if (error) {
                    detail::reply_error(reply, error);
                    return;
                }
                if constexpr (std::is_invocable_v<F, std::uint32_t>)
                    detail::post_work(where, uid, reply, std::move(work), std::move(spares_exhausted), uid);
                else
                    detail::post_work(where, uid, reply, std::move(work), std::move(spares_exhausted));
            });
    } catch (...) {
        detail::reply_error(reply, std::current_exception());
    }
}

// For methods open to everyone: asks the bus who `sender` is (without
// waiting; the per-caller limit on checks applies) and queues `work` on
// the pool charged to that uid. `work` returns nothing, the one result,
// or a tuple of the results; it takes nothing, or the uid.
template <typename... R, typename F>
void dispatch_open(const Placement &where, Authorizer &authorizer, sdbus::Result<R...> &&result,
                   const std::string &sender, F work)
{
    dispatch_authorized(where, authorizer, std::move(result), sender, Authorizer::Action{}, false, std::move(work));
}

} // namespace dmremap::daemon
