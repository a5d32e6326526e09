// SPDX-License-Identifier: GPL-2.0-or-later
// The health model's values in the Device interface's D-Bus shapes.
#pragma once

#include <health.hpp>
#include <scan_record.hpp>
#include <scanner.hpp>

#include <map>
#include <optional>
#include <string>
#include <tuple>
#include <vector>

#include <sdbus-c++/sdbus-c++.h>

namespace dmremap::daemon {

using Dict = std::map<std::string, sdbus::Variant>;
using ReasonRow = std::tuple<std::string, std::string, std::string>; // code, severity, message

std::vector<ReasonRow> reason_rows(const Health &h);
Dict forecast_dict(const Forecast &f);
// Empty when there was no completed pass and none is under way.
Dict last_scan_dict(const std::optional<ScanRecord> &last, const std::optional<ScanRecord> &checkpoint);
// StartScan's result.
Dict scan_result_dict(const ScanOutcome &o);

} // namespace dmremap::daemon
