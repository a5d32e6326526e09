// SPDX-License-Identifier: GPL-2.0-or-later
// One card per dm-remap device: its disks (named and linked as the
// Storage page names them), health with reasons and forecast, spare use
// over time, jobs with progress and Cancel, the last scan, and a paged
// remap table. Built again on every change; what it fetched (history,
// remap pages) is kept per device in `state` and fetched again when the
// device's metadata sequence moves.

import { _, alert, bytes, button, date, descriptions, h, label, link, number, progress } from "./dom.js";
import { unvariant } from "./client.js";
import { spareChart } from "./chart.js";
import * as actions from "./actions.js";

const PAGE = 25;
const HISTORY_POINTS = 200;
const HEALTH_COLOR = { ok: "green", warning: "orange", failing: "red" };
const STATE_COLOR = { active: "green", degraded: "orange", "member-failed": "red", "spare-exhausted": "red" };
const OPERATION = { scan: _("Media scan"), replace: _("Replacing the data disk"), "spare-evacuate": _("Evacuating a spare") };

export class DeviceView {
    constructor(client) {
        this.client = client;
        this.state = new Map(); // path → what was fetched and what to show
    }

    stateOf(path) {
        if (!this.state.has(path))
            this.state.set(path, { starts: [0], remaps: null, remapsKey: null, history: null, historyKey: null });
        return this.state.get(path);
    }

    render(dev) {
        const st = this.stateOf(dev.path);
        const admin = this.client.admin === true;
        const fail = ex => {
            st.error = ex;
            this.client.changed();
        };
        this.fetch(dev, st);
        const data = this.client.describe(dev.DataDevice);
        const node = this.client.describe(dev.DeviceNode);
        const health = dev.HealthState || "ok";
        const forecast = unvariant(dev.Forecast);
        const spares = dev.Spares || [];
        const jobs = this.client.jobsOf(dev.path);
        return h("article.pf-c-card.dmr-device", { dataset: { test: "device", name: dev.Name } },
                 h("div.pf-c-card__header", {},
                   h("div.pf-c-card__title", {},
                     h("h2.pf-c-title.pf-m-lg", {},
                       node.storage ? link(dev.Name, () => cockpit.jump(node.storage), "device-link") : dev.Name),
                     h("div.dmr-labels", {},
                       label(dev.State, STATE_COLOR[dev.State] || "blue", "state"),
                       label(cockpit.format(_("Health: $0"), health), HEALTH_COLOR[health], "health"))),
                   admin
                       ? h("div.pf-c-card__actions.dmr-actions", {},
                           button(_("Add spare"), () => actions.addSpare(this.client, dev), { test: "add-spare" }),
                           button(_("Scan"), () => actions.startScan(this.client, dev, fail),
                                  { test: "start-scan", disabled: jobs.length > 0 }),
                           button(_("Remap block"), () => actions.remapBlock(this.client, dev, msg => {
                               st.message = msg;
                               this.client.changed();
                           }), { test: "remap" }),
                           button(_("Replace disk"), () => actions.replaceDisk(this.client, dev, fail),
                                  { test: "replace", disabled: jobs.length > 0 }))
                       : null),
                 h("div.pf-c-card__body", {},
                   st.error
                       ? h("div.dmr-card-alert", {},
                           alert("danger", _("The operation failed"), st.error.message || String(st.error), "card-error"),
                           link(_("Dismiss"), () => { st.error = null; this.client.changed() }))
                       : null,
                   st.message
                       ? h("div.dmr-card-alert", {},
                           alert("info", st.message, null, "card-message"),
                           link(_("Dismiss"), () => { st.message = null; this.client.changed() }))
                       : null,
                   (dev.HealthReasons || []).length
                       ? h("ul.pf-c-list.dmr-reasons", { dataset: { test: "reasons" } },
                           dev.HealthReasons.map(([code, severity, text]) =>
                               h("li", { dataset: { code, severity } }, text)))
                       : null,
                   jobs.map(j => this.job(j, admin, fail)),
                   descriptions([
                       [_("Data disk"), this.disk(data), "data-disk"],
                       [_("Remapped blocks"), number(dev.Remapped), "remapped"],
                       [_("Pending blocks"), number(dev.Pending), "pending"],
                       dev.Unavailable ? [_("On a missing spare"), number(dev.Unavailable), "unavailable"] : null,
                       [_("Errors"), cockpit.format(_("$0 read, $1 write"), number(dev.ReadErrors), number(dev.WriteErrors)),
                           "errors"],
                       [_("Spare use"), progress(dev.SpareTotal ? dev.SpareUsed / dev.SpareTotal : 0, _("All spares"),
                                                 cockpit.format(_("$0 of $1 blocks"), number(dev.SpareUsed),
                                                                number(dev.SpareTotal)),
                                                 health === "ok" ? null : (health === "failing" ? "danger" : "warning")),
                       "spare-use"],
                       [_("Forecast"), forecast.summary || _("Not known yet"), "forecast"],
                       [_("Last scan"), this.lastScan(unvariant(dev.LastScan)), "last-scan"]
                   ]),
                   h("h3.pf-c-title.pf-m-md", {}, _("Spares")),
                   this.spareTable(dev, spares, admin, fail),
                   h("h3.pf-c-title.pf-m-md", {}, _("Spare use over time")),
                   this.history(dev, st, forecast),
                   h("h3.pf-c-title.pf-m-md", {}, _("Remapped and pending blocks")),
                   this.remapTable(dev, st)));
    }

    disk(d) {
        const text = [d.drive, d.size ? bytes(d.size) : null].filter(Boolean).join(", ");
        return h("span", {},
                 d.storage ? link(d.node, () => cockpit.jump(d.storage), "disk-link") : d.node || _("missing"),
                 text ? h("span.dmr-muted", {}, " " + text) : null);
    }

    job(j, admin, fail) {
        const name = OPERATION[j.Operation] || j.Operation;
        const phase = j.Phase ? " (" + j.Phase + ")" : "";
        return h("div.dmr-job", { dataset: { test: "job", operation: j.Operation } },
                 progress(j.ProgressValid ? j.Progress : 0, name + phase,
                          j.ProgressValid ? Math.floor(j.Progress * 100) + " %" : _("Starting…")),
                 admin && j.Cancelable
                     ? button(_("Cancel"), () => this.client.cancelJob(j.path).catch(fail),
                              { test: "job-cancel", small: true })
                     : null);
    }

    lastScan(ls) {
        if (!ls.end && ls.position === undefined)
            return _("Never");
        const parts = [];
        if (ls.end)
            parts.push(cockpit.format(_("ended $0: $1 blocks, $2 unreadable"), date(ls.end), number(ls.blocks || 0),
                                      number(ls.bad_count || 0)));
        if (ls.position !== undefined && ls.position_blocks)
            parts.push(cockpit.format(_("a pass is $0% done"), Math.floor(100 * ls.position / ls.position_blocks)));
        return parts.join("; ");
    }

    spareTable(dev, spares, admin, fail) {
        const head = [_("Member"), _("Disk"), _("State"), _("Use"), ""];
        return h("table.pf-c-table.pf-m-compact.pf-m-grid-md", { role: "grid", dataset: { test: "spares" } },
                 h("thead", {}, h("tr", {}, head.map(t => h("th", { scope: "col" }, t)))),
                 h("tbody", {}, spares.map(sp => {
                     const [index, node, majmin, total, used, , state] = sp;
                     const d = this.client.describe(node);
                     const internal = index === 0;
                     return h("tr", { dataset: { test: "spare", index, node } },
                              h("td", { "data-label": head[0] }, internal ? _("internal") : String(index)),
                              h("td", { "data-label": head[1] }, node ? this.disk(d) : majmin),
                              h("td", { "data-label": head[2] }, label(state, state === "ok" ? "green" : "red")),
                              h("td", { "data-label": head[3] },
                                progress(total ? used / total : 0, "", cockpit.format(_("$0 of $1"), number(used), number(total)),
                                         null, internal ? _("Use of the internal spare") : cockpit.format(_("Use of spare $0"), index))),
                              h("td.pf-c-table__action", {},
                                admin && !internal
                                    ? button(_("Remove"), () => actions.removeSpare(this.client, dev, sp, fail),
                                             { test: "remove-spare", small: true })
                                    : null));
                 })));
    }

    firstPage(st) {
        st.starts = [0];
        st.remapsKey = null;
        this.client.changed();
    }

    remapTable(dev, st) {
        if (!st.remaps)
            return h("p.dmr-muted", {}, _("Loading…"));
        if (st.remaps.error)
            return h("div.dmr-card-alert", {},
                     alert("warning", _("The remap table could not be read"), st.remaps.error, "remaps-error"),
                     link(_("Try again"), () => { st.remapsKey = null; this.client.changed() }, "remaps-retry"),
                     st.starts.length > 1 ? link(_("First page"), () => this.firstPage(st), "remaps-first") : null);
        const first = st.starts[st.starts.length - 1];
        const rows = st.remaps.rows;
        const head = [_("Block"), _("State"), _("Spare member"), _("Spare block")];
        const nav = h("div.dmr-pager", {},
                      h("span.dmr-muted", { dataset: { test: "remaps-range" } },
                        rows.length ? cockpit.format(_("Blocks $0 to $1"), number(rows[0][0]), number(rows[rows.length - 1][0]))
                                    : _("None")),
                      button(_("Previous"), () => { st.starts.pop(); st.remapsKey = null; this.client.changed() },
                             { small: true, disabled: st.starts.length < 2, test: "remaps-prev" }),
                      button(_("Next"), () => {
                          st.starts.push(rows[rows.length - 1][0] + 1);
                          st.remapsKey = null;
                          this.client.changed();
                      }, { small: true, disabled: rows.length < PAGE, test: "remaps-next" }));
        if (!rows.length && first === 0)
            return h("p.dmr-muted", { dataset: { test: "remaps-none" } }, _("No block is remapped or pending."));
        return h("div", {},
                 h("table.pf-c-table.pf-m-compact.pf-m-grid-md", { role: "grid", dataset: { test: "remaps" } },
                   h("thead", {}, h("tr", {}, head.map(t => h("th", { scope: "col" }, t)))),
                   h("tbody", {}, rows.map(([block, pending, member, spareBlock, onMissing]) =>
                       h("tr", { dataset: { test: "remap-row", block } },
                         h("td", { "data-label": head[0] }, String(block)),
                         h("td", { "data-label": head[1] },
                           pending ? label(_("pending"), "orange")
                                   : (onMissing ? label(_("on a missing spare"), "red") : label(_("remapped"), "blue"))),
                         h("td", { "data-label": head[2] }, pending ? "" : String(member)),
                         h("td", { "data-label": head[3] }, pending ? "" : String(spareBlock)))))),
                 nav);
    }

    // History and the remap page, fetched again when the metadata moved
    // (Seq) or another page was asked for. The daemon answers from a pool,
    // so replies may come out of order: one that is no longer the latest
    // request is dropped.
    fetch(dev, st) {
        const seq = String(dev.Seq) + "/" + dev.Remapped + "/" + dev.Pending;
        const first = st.starts[st.starts.length - 1];
        const remapsKey = seq + "@" + first;
        if (st.remapsKey !== remapsKey) {
            if (!st.remapsKey || !st.remapsKey.endsWith("@" + first))
                st.remaps = null; // another page: "Loading", not the old rows under the new position
            st.remapsKey = remapsKey;
            this.client.device(dev.path, "GetRemaps", [first, PAGE, {}], "tua{sv}")
                    .then(([rows]) => ({ rows }), ex => ({ error: ex.message || String(ex) }))
                    .then(r => {
                        if (st.remapsKey === remapsKey) {
                            st.remaps = r;
                            this.client.changed();
                        }
                    });
        }
        const historyKey = seq + "/" + dev.SpareUsed;
        if (st.historyKey !== historyKey) {
            st.historyKey = historyKey;
            this.client.device(dev.path, "GetHistory", [0, HISTORY_POINTS, {}], "xua{sv}")
                    .then(([rows]) => ({ rows }), ex => ({ error: ex.message || String(ex) }))
                    .then(r => {
                        if (st.historyKey === historyKey) {
                            st.history = r;
                            this.client.changed();
                        }
                    });
        }
    }

    history(dev, st, forecast) {
        if (!st.history)
            return h("p.dmr-muted", {}, _("Loading…"));
        if (st.history.error)
            return alert("warning", _("The history could not be read"), st.history.error, "history-error");
        return spareChart(st.history.rows, forecast.exhaustion || null);
    }

    forget(paths) {
        for (const p of this.state.keys())
            if (!paths.includes(p))
                this.state.delete(p);
    }
}
