// SPDX-License-Identifier: GPL-2.0-or-later
// The dm-remap page: a card per device, built again whenever dm-remapd's
// objects, UDisks2's or the session's access change. body[data-ready]
// tells tests (and nothing else) that the first answer was drawn.

import { _, alert, h, replace } from "./dom.js";
import { Client } from "./client.js";
import { DeviceView } from "./device.js";
import { createDevice } from "./actions.js";

document.documentElement.lang = cockpit.language;
document.documentElement.dir = cockpit.language_direction;
cockpit.translate();

const client = new Client();
const view = new DeviceView(client);
const devicesEl = document.getElementById("devices");
const noticesEl = document.getElementById("notices");
const createEl = document.getElementById("create");
createEl.addEventListener("click", () => createDevice(client));

function render() {
    if (!client.ready)
        return;
    if (client.missing) {
        createEl.hidden = true;
        replace(noticesEl);
        replace(devicesEl, emptyState(_("The dm-remap service is not available"),
                                      cockpit.format(_("dm-remapd could not be reached: $0. Install the dm-remap package, " +
                                                       "or check the dm-remapd service."),
                                                     client.missing.message || String(client.missing)),
                                      "no-service"));
        document.body.dataset.ready = "1";
        return;
    }
    const admin = client.admin === true;
    createEl.hidden = !admin;
    replace(noticesEl,
            client.admin === false
                ? alert("info", _("Read only"),
                        _("Changing dm-remap devices needs administrative access. Turn it on in the top bar."),
                        "read-only")
                : null);
    const devices = client.deviceList();
    view.forget(devices.map(d => d.path));
    if (!devices.length) {
        replace(devicesEl, emptyState(_("No dm-remap device"),
                                      _("A dm-remap device moves failing blocks of a disk to spare blocks, so that " +
                                        "writes keep succeeding while the disk wears out."),
                                      "no-devices"));
    } else {
        // The cards are built again on every change (a job's progress, many
        // times a second): keyboard focus goes back where it was.
        const focused = document.activeElement;
        const where = devicesEl.contains(focused) && focused.dataset.test
            ? [focused.closest("[data-test=device]")?.dataset.name, focused.dataset.test, focused.closest("tr")?.dataset.index]
            : null;
        replace(devicesEl, h("div.dmr-devices", {}, devices.map(d => view.render(d))));
        if (where)
            refocus(...where);
    }
    document.body.dataset.ready = "1";
}

function refocus(device, test, row) {
    const card = [...devicesEl.querySelectorAll("[data-test=device]")].find(c => c.dataset.name === device);
    const candidates = [...(card || devicesEl).querySelectorAll("[data-test]")]
            .filter(e => e.dataset.test === test && (row === undefined || e.closest("tr")?.dataset.index === row));
    candidates[0]?.focus();
}

function emptyState(title, text, test) {
    return h("div.pf-c-empty-state", { dataset: { test } },
             h("div.pf-c-empty-state__content", {},
               h("h2.pf-c-title.pf-m-lg", {}, title),
               h("div.pf-c-empty-state__body", {}, text)));
}

client.onChange(render);
