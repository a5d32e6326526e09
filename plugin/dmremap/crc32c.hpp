// SPDX-License-Identifier: LGPL-2.1-or-later
#pragma once

#include <cstdint>
#include <span>

namespace dmremap {

// Standard CRC-32C (Castagnoli, as iSCSI/ext4): crc32c("123456789") == 0xe3069283.
// The kernel computes the same value as ~crc32c(~0, p, len).
std::uint32_t crc32c(std::span<const std::uint8_t> data) noexcept;

} // namespace dmremap
