// SPDX-License-Identifier: GPL-2.0-or-later
#pragma once

#include <cstdint>
#include <optional>
#include <string>

namespace dmremap::cli {

// "4096", "64K", "10M", "1.5GiB", "2T" (binary units). nullopt if malformed.
std::optional<std::uint64_t> parse_size(const std::string &s);
std::optional<std::uint64_t> parse_uint(const std::string &s);
// "1.0 GiB" style, for humans.
std::string human_size(std::uint64_t bytes);

} // namespace dmremap::cli
