// SPDX-License-Identifier: GPL-2.0-or-later
// How an async method handler hands its work to the worker: the bus
// thread only captures, the worker computes and replies. Every failure,
// whatever its type, becomes a D-Bus error reply through ErrorTranslator.
#pragma once

#include "error_translator.hpp"
#include "worker.hpp"

#include <functional>
#include <memory>
#include <tuple>
#include <utility>

#include <sdbus-c++/MethodResult.h>

namespace dmremap::daemon {

// `work` returns nothing, the one result, or a tuple of the results.
template <typename... R, typename F>
void dispatch_to_worker(Worker &worker, sdbus::Result<R...> &&result, F work,
                        std::function<bool()> spares_exhausted = {})
{
    // std::function must be copyable; sdbus::Result is move-only.
    auto reply = std::make_shared<sdbus::Result<R...>>(std::move(result));
    auto fail = [reply](std::exception_ptr e, const std::function<bool()> &exhausted) {
        try {
            reply->returnError(ErrorTranslator::translate(e, exhausted));
        } catch (...) {
            // The caller is gone or the bus is: nobody left to tell.
        }
    };
    try {
        worker.post([reply, fail, work = std::move(work), spares_exhausted]() mutable {
            try {
                if constexpr (sizeof...(R) == 0) {
                    work();
                    reply->returnResults();
                } else if constexpr (sizeof...(R) == 1) {
                    reply->returnResults(work());
                } else {
                    std::apply([&](const auto &...v) { reply->returnResults(v...); }, work());
                }
            } catch (...) {
                fail(std::current_exception(), spares_exhausted);
            }
        });
    } catch (...) {
        fail(std::current_exception(), {});
    }
}

} // namespace dmremap::daemon
