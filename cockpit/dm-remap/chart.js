// SPDX-License-Identifier: GPL-2.0-or-later
// The spare-use chart: spare blocks used over time (Device.GetHistory),
// against the spare blocks there are, and where the forecast says the
// line meets them. A plain SVG that scales with its card.

import { _, day, h, number, s } from "./dom.js";

const W = 600, H = 160, L = 48, R = 12, T = 12, B = 28;

// samples: [[time, used, total, remapped, pending], ...] oldest first;
// exhaustion: unix seconds of the projected exhaustion, or null.
export function spareChart(samples, exhaustion) {
    if (samples.length < 2)
        return h("p.dmr-muted", { dataset: { test: "chart-empty" } },
                 _("The chart needs two samples of history; the daemon takes one when a counter moves and daily."));
    const t0 = samples[0][0];
    let t1 = samples[samples.length - 1][0];
    const showExhaustion = exhaustion && exhaustion > t1 && exhaustion - t0 < 4 * (t1 - t0 + 86400);
    if (showExhaustion)
        t1 = exhaustion;
    const total = Math.max(1, ...samples.map(p => p[2]));
    const x = t => L + (W - L - R) * (t1 === t0 ? 1 : (t - t0) / (t1 - t0));
    const y = v => T + (H - T - B) * (1 - v / total);
    const points = samples.map(p => x(p[0]).toFixed(1) + "," + y(p[1]).toFixed(1)).join(" ");
    const last = samples[samples.length - 1];
    const title = cockpit.format(_("Spare blocks used, $0 to $1"), day(t0), day(samples[samples.length - 1][0]));
    return h("figure.dmr-chart", { dataset: { test: "chart", samples: samples.length } },
             s("svg", { viewBox: `0 0 ${W} ${H}`, role: "img", "aria-label": title, preserveAspectRatio: "none" },
               s("title", {}, title),
               s("line", { x1: L, x2: W - R, y1: y(total), y2: y(total), class: "dmr-chart-total" }),
               s("line", { x1: L, x2: W - R, y1: y(0), y2: y(0), class: "dmr-chart-axis" }),
               s("text", { x: L - 6, y: y(total) + 4, class: "dmr-chart-label", "text-anchor": "end" }, number(total)),
               s("text", { x: L - 6, y: y(0) + 4, class: "dmr-chart-label", "text-anchor": "end" }, "0"),
               s("text", { x: L, y: H - 8, class: "dmr-chart-label" }, day(t0)),
               s("text", { x: W - R, y: H - 8, class: "dmr-chart-label", "text-anchor": "end" }, day(t1)),
               s("polyline", { points, class: "dmr-chart-line" }),
               showExhaustion
                   ? s("line", {
                       x1: x(last[0]), y1: y(last[1]), x2: x(exhaustion), y2: y(total),
                       class: "dmr-chart-forecast"
                   })
                   : null),
             h("figcaption.dmr-muted", {}, title));
}
