// SPDX-License-Identifier: GPL-2.0-or-later
// How an async method handler hands its work on: the bus thread checks
// arguments (pure, cheap) and captures, the authorizer's thread waits for
// polkit, the worker computes and replies. Every failure, whatever its
// type and wherever it happens, becomes a D-Bus error reply through
// ErrorTranslator.
#pragma once

#include "authorizer.hpp"
#include "error_translator.hpp"
#include "worker.hpp"

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
namespace detail {

template <typename... R> using SharedResult = std::shared_ptr<sdbus::Result<R...>>;

template <typename... R>
void reply_error(const SharedResult<R...> &reply, std::exception_ptr e,
                 const std::function<bool()> &spares_exhausted = {}) noexcept
{
    try {
        reply->returnError(ErrorTranslator::translate(e, spares_exhausted));
    } catch (...) {
        // The caller is gone or the bus is: nobody left to tell.
    }
}

// Queues `work` (called with `args`) on the worker, which replies.
template <typename... R, typename F, typename... A>
void post_work(Worker &worker, const SharedResult<R...> &reply, F work, std::function<bool()> spares_exhausted,
               A... args)
{
    try {
        worker.post([reply, work = std::move(work), spares_exhausted, args...]() mutable {
            try {
                if constexpr (sizeof...(R) == 0) {
                    work(args...);
                    reply->returnResults();
                } else if constexpr (sizeof...(R) == 1) {
                    reply->returnResults(work(args...));
                } else {
                    std::apply([&](const auto &...v) { reply->returnResults(v...); }, work(args...));
                }
            } catch (...) {
                reply_error(reply, std::current_exception(), spares_exhausted);
            }
        });
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

// For methods open to everyone. `work` returns nothing, the one result, or
// a tuple of the results.
template <typename... R, typename F>
void dispatch_to_worker(Worker &worker, sdbus::Result<R...> &&result, F work,
                        std::function<bool()> spares_exhausted = {})
{
    // std::function must be copyable; sdbus::Result is move-only.
    auto reply = std::make_shared<sdbus::Result<R...>>(std::move(result));
    detail::post_work(worker, reply, std::move(work), std::move(spares_exhausted));
}

// For changing methods: asks the authorizer for `sender` and `action`
// without waiting, and only once allowed queues `work` on the worker. A
// refusal (or a sender over its limit) is the reply; the worker never sees
// the call. `work` takes nothing, or the caller's uid (std::uint32_t).
template <typename... R, typename F>
void dispatch_authorized(Worker &worker, Authorizer &authorizer, sdbus::Result<R...> &&result,
                         const std::string &sender, const Authorizer::Action &action, bool interactive, F work,
                         std::function<bool()> spares_exhausted = {})
{
    auto reply = std::make_shared<sdbus::Result<R...>>(std::move(result));
    try {
        authorizer.authorize_async(
            sender, action, interactive, std::nullopt,
            [&worker, reply, work = std::move(work), spares_exhausted](std::exception_ptr error,
                                                                        std::uint32_t uid) mutable {
                if (error) {
                    detail::reply_error(reply, error);
                    return;
                }
                if constexpr (std::is_invocable_v<F, std::uint32_t>)
                    detail::post_work(worker, reply, std::move(work), std::move(spares_exhausted), uid);
                else
                    detail::post_work(worker, reply, std::move(work), std::move(spares_exhausted));
            });
    } catch (...) {
        detail::reply_error(reply, std::current_exception());
    }
}

} // namespace dmremap::daemon
