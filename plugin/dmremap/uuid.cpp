// SPDX-License-Identifier: LGPL-2.1-or-later
#include "uuid.hpp"

#include "error.hpp"

#include <cerrno>
#include <cstring>
#include <sys/random.h>

namespace dmremap {

Uuid::Uuid(const std::uint8_t *bytes) { std::memcpy(b_.data(), bytes, b_.size()); }

Uuid Uuid::random()
{
    Uuid u;
    std::size_t got = 0;
    while (got < u.b_.size()) {
        ssize_t n = getrandom(u.b_.data() + got, u.b_.size() - got, 0);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            throw Error::from_errno(Error::Code::Failed, "getrandom", errno);
        }
        got += static_cast<std::size_t>(n);
    }
    u.b_[6] = (u.b_[6] & 0x0f) | 0x40;
    u.b_[8] = (u.b_[8] & 0x3f) | 0x80;
    return u;
}

std::optional<Uuid> Uuid::parse(std::string_view text)
{
    if (text.size() != 36)
        return std::nullopt;
    Uuid u;
    std::size_t byte = 0;
    for (std::size_t i = 0; i < text.size();) {
        if (i == 8 || i == 13 || i == 18 || i == 23) {
            if (text[i] != '-')
                return std::nullopt;
            i++;
            continue;
        }
        auto hex = [](char c) -> int {
            if (c >= '0' && c <= '9') return c - '0';
            if (c >= 'a' && c <= 'f') return c - 'a' + 10;
            if (c >= 'A' && c <= 'F') return c - 'A' + 10;
            return -1;
        };
        int hi = hex(text[i]), lo = hex(text[i + 1]);
        if (hi < 0 || lo < 0)
            return std::nullopt;
        u.b_[byte++] = static_cast<std::uint8_t>(hi << 4 | lo);
        i += 2;
    }
    return u;
}

std::string Uuid::str() const
{
    static const char digits[] = "0123456789abcdef";
    std::string s;
    for (std::size_t i = 0; i < b_.size(); i++) {
        if (i == 4 || i == 6 || i == 8 || i == 10)
            s += '-';
        s += digits[b_[i] >> 4];
        s += digits[b_[i] & 0xf];
    }
    return s;
}

bool Uuid::is_nil() const
{
    for (auto c : b_)
        if (c)
            return false;
    return true;
}

void Uuid::copy_to(std::uint8_t *out) const { std::memcpy(out, b_.data(), b_.size()); }

} // namespace dmremap
