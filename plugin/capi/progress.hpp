// SPDX-License-Identifier: LGPL-2.1-or-later
// Long operations reported through libblockdev's progress utils
// (bd_utils_report_started/progress/finished). libblockdev looks the
// reporting function up per thread (bd_utils_init_prog_reporting_thread
// takes precedence over the global one), while the core calls its progress
// callback from a polling thread: so the work runs on a worker and every
// report is made on the calling thread.
#pragma once

#include <remap_device.hpp>

#include <functional>
#include <string>

namespace dmremap::capi {

// Reports `started`, then the percentage of `work`'s progress callback
// (done * 100 / total) each time it grows, then finished: "Completed", or
// the message of what `work` threw, which is then rethrown here.
void run_reporting_progress(const std::string &started,
                            const std::function<void(const RemapDevice::Progress &)> &work);

} // namespace dmremap::capi
