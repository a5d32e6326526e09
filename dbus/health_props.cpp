// SPDX-License-Identifier: GPL-2.0-or-later
#include "health_props.hpp"

namespace dmremap::daemon {
namespace {

std::vector<std::uint64_t> blocks_of(const std::vector<ScanBadBlock> &bad)
{
    std::vector<std::uint64_t> out;
    for (const auto &b : bad)
        out.push_back(b.block);
    return out;
}

std::vector<sdbus::Struct<std::uint64_t, std::uint64_t, std::uint64_t>> found_rows(const std::vector<ScanBadBlock> &bad)
{
    std::vector<sdbus::Struct<std::uint64_t, std::uint64_t, std::uint64_t>> out;
    for (const auto &b : bad)
        out.emplace_back(b.block, b.sector, b.sectors);
    return out;
}

} // namespace

std::vector<ReasonRow> reason_rows(const Health &h)
{
    std::vector<ReasonRow> out;
    for (const auto &r : h.reasons)
        out.emplace_back(r.code, health_state_name(r.severity), r.message);
    return out;
}

Dict forecast_dict(const Forecast &f)
{
    Dict d{{"kind", sdbus::Variant(std::string(forecast_kind_name(f.kind)))},
           {"summary", sdbus::Variant(f.summary)},
           {"samples", sdbus::Variant(static_cast<std::uint64_t>(f.samples))}};
    const std::pair<const char *, const std::optional<double> *> rates[] = {
        {"rate_per_day_1d", &f.rate_1d}, {"rate_per_day_7d", &f.rate_7d}, {"rate_per_day_30d", &f.rate_30d}};
    for (const auto &[key, v] : rates)
        if (*v)
            d[key] = sdbus::Variant(**v);
    const std::pair<const char *, const std::optional<std::int64_t> *> times[] = {
        {"exhaustion", &f.exhaustion}, {"earliest", &f.earliest}, {"latest", &f.latest}};
    for (const auto &[key, v] : times)
        if (*v)
            d[key] = sdbus::Variant(static_cast<std::int64_t>(**v));
    return d;
}

Dict last_scan_dict(const std::optional<ScanRecord> &last, const std::optional<ScanRecord> &checkpoint)
{
    Dict d;
    if (last) {
        d["pass_start"] = sdbus::Variant(static_cast<std::int64_t>(last->pass_start));
        d["end"] = sdbus::Variant(static_cast<std::int64_t>(last->end));
        d["blocks"] = sdbus::Variant(last->blocks);
        d["bad_count"] = sdbus::Variant(last->bad_count);
        d["bad_blocks"] = sdbus::Variant(blocks_of(last->bad));
        d["bytes_read"] = sdbus::Variant(last->bytes_read);
        d["seconds"] = sdbus::Variant(last->seconds);
        d["runs"] = sdbus::Variant(last->runs);
    }
    if (checkpoint && !checkpoint->complete) {
        d["position"] = sdbus::Variant(checkpoint->next_block);
        d["position_blocks"] = sdbus::Variant(checkpoint->blocks);
    }
    return d;
}

Dict scan_result_dict(const ScanOutcome &o)
{
    return {{"complete", sdbus::Variant(o.record.complete)},
            {"first_block", sdbus::Variant(o.first_block)},
            {"next_block", sdbus::Variant(o.record.next_block)},
            {"blocks", sdbus::Variant(o.record.blocks)},
            {"blocks_read", sdbus::Variant(o.blocks_read)},
            {"bad_count", sdbus::Variant(o.record.bad_count)},
            {"found", sdbus::Variant(found_rows(o.found))},
            {"stopped_by_limit", sdbus::Variant(o.stopped_by_limit)}};
}

} // namespace dmremap::daemon
