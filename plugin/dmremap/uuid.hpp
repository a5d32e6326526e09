// SPDX-License-Identifier: LGPL-2.1-or-later
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace dmremap {

class Uuid {
public:
    Uuid() = default;
    explicit Uuid(const std::uint8_t *bytes);

    static Uuid random();                                   // version 4
    static std::optional<Uuid> parse(std::string_view text); // 8-4-4-4-12 hex

    std::string str() const;
    bool is_nil() const;
    const std::array<std::uint8_t, 16> &bytes() const { return b_; }
    void copy_to(std::uint8_t *out) const;

    auto operator<=>(const Uuid &) const = default;

private:
    std::array<std::uint8_t, 16> b_{};
};

} // namespace dmremap
