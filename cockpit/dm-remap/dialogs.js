// SPDX-License-Identifier: GPL-2.0-or-later
// The page's dialogs: each asks for what one D-Bus method needs, says
// what it will change (destructive ones with a danger button naming
// it), and shows the daemon's error inline, keeping what was typed.

import { _, alert, bytes, h, replace } from "./dom.js";
import { variant } from "./client.js";

const root = () => document.getElementById("dialog");

export function closeDialog() {
    replace(root());
}

// fields: elements; action(): a promise; its rejection is shown in the
// dialog. opts: {danger, primary (label), body (text above the fields), test}
export function openDialog(title, fields, action, opts = {}) {
    const error = h("div.dmr-dialog-error");
    const primary = h("button.pf-c-button", {
        type: "submit",
        class: opts.danger ? "pf-m-danger" : "pf-m-primary",
        dataset: { test: "dialog-apply" }
    }, opts.primary || _("Apply"));
    const cancel = h("button.pf-c-button.pf-m-link", { type: "button", onclick: closeDialog, dataset: { test: "dialog-cancel" } },
                     _("Cancel"));
    const form = h("form.pf-c-form", {
        onsubmit: ev => {
            ev.preventDefault();
            primary.disabled = true;
            primary.classList.add("pf-m-progress", "pf-m-in-progress");
            replace(error);
            Promise.resolve()
                    .then(action)
                    .then(closeDialog, ex => {
                        primary.disabled = false;
                        primary.classList.remove("pf-m-progress", "pf-m-in-progress");
                        replace(error, alert("danger", errorTitle(ex), ex.message || String(ex), "dialog-error"));
                    });
        }
    },
                   opts.body ? h("p", {}, opts.body) : null,
                   fields,
                   error,
                   h("div.pf-c-form__group.pf-m-action", {},
                     h("div.pf-c-form__actions", {}, primary, cancel)));
    replace(root(),
            h("div.pf-c-backdrop", {},
              h("div.pf-l-bullseye", {},
                h("div.pf-c-modal-box.pf-m-sm", {
                    role: "dialog", "aria-modal": "true", "aria-labelledby": "dmr-dialog-title",
                    dataset: { test: opts.test || "dialog" }
                },
                  h("header.pf-c-modal-box__header", {},
                    h("h1.pf-c-modal-box__title", { id: "dmr-dialog-title" }, title)),
                  h("div.pf-c-modal-box__body", {}, form)))));
    form.querySelector("input, select")?.focus();
}

// The daemon's error names (org.dmremap1.Error.Busy, ...) read as their
// last part; the message is the daemon's own text, shown as it is.
export function errorTitle(ex) {
    const name = ex && ex.name ? String(ex.name) : "";
    if (name.endsWith(".NotAuthorized"))
        return _("Not authorized");
    if (name.endsWith(".Busy"))
        return _("The device is busy");
    if (name.endsWith(".ServiceUnknown") || name === "not-found")
        return _("The dm-remap service is not available");
    return _("The operation failed");
}

export function field(labelText, input, helper) {
    const id = "dmr-f-" + Math.random().toString(36).slice(2);
    input.id = id;
    return h("div.pf-c-form__group", {},
             h("div.pf-c-form__group-label", {},
               h("label.pf-c-form__label", { for: id }, h("span.pf-c-form__label-text", {}, labelText))),
             h("div.pf-c-form__group-control", {}, input,
               helper ? h("p.pf-c-form__helper-text", {}, helper) : null));
}

export function textInput(value, test, type = "text") {
    return h("input.pf-c-form-control", { type, value, dataset: { test } });
}

export function checkbox(labelText, checked, test) {
    const id = "dmr-c-" + Math.random().toString(36).slice(2);
    const input = h("input.pf-c-check__input", { type: "checkbox", id, checked, dataset: { test } });
    return [h("div.pf-c-check", {}, input, h("label.pf-c-check__label", { for: id }, labelText)), input];
}

// A <select> of disks: unused ones first; those that look used disabled,
// with why. exclude: nodes to leave out.
export function diskSelect(client, test, exclude = []) {
    const options = client.candidates().filter(c => !exclude.includes(c.node));
    const sel = h("select.pf-c-form-control", { dataset: { test } },
                  options.map(c => h("option", { value: c.node, disabled: !!c.used },
                                     diskText(c) + (c.used ? " — " + cockpit.format(_("in use: $0"), c.used) : ""))));
    const firstFree = options.find(c => !c.used);
    if (firstFree)
        sel.value = firstFree.node;
    return sel;
}

export function diskText(c) {
    return [c.node, c.drive, c.size ? bytes(c.size) : null].filter(Boolean).join(", ");
}

export function noInteraction(extra = {}) {
    // No polkit agent in a browser: an answer now, never a prompt that
    // nobody sees.
    return { "auth.no_user_interaction": variant("b", true), ...extra };
}
