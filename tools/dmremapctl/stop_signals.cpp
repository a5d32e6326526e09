// SPDX-License-Identifier: GPL-2.0-or-later
#include "stop_signals.hpp"

namespace dmremap::cli {
namespace {

std::atomic<bool> stop_requested{false};
static_assert(std::atomic<bool>::is_always_lock_free, "set from a signal handler");

extern "C" void on_stop_signal(int) { stop_requested.store(true); }

} // namespace

StopSignals::StopSignals()
{
    stop_requested.store(false);
    struct sigaction sa = {};
    sa.sa_handler = on_stop_signal;
    sigemptyset(&sa.sa_mask);
    // No SA_RESTART: a wait in poll() returns to look at the flag.
    ::sigaction(SIGINT, &sa, &old_int_);
    ::sigaction(SIGTERM, &sa, &old_term_);
}

StopSignals::~StopSignals()
{
    ::sigaction(SIGINT, &old_int_, nullptr);
    ::sigaction(SIGTERM, &old_term_, nullptr);
}

const std::atomic<bool> &StopSignals::requested() { return stop_requested; }

} // namespace dmremap::cli
