// SPDX-License-Identifier: GPL-2.0-or-later
// Building DOM without a framework. Cockpit's CSP forbids inline styles
// and scripts, so everything is made through the DOM API: classes, text
// nodes and listeners, never innerHTML.

export const _ = cockpit.gettext;

// h("div.pf-c-card.dmr-x", {id: "a", onclick: f, dataset: {test: "x"}}, child, "text", [more])
export function h(tag, attrs, ...children) {
    const [name, ...classes] = tag.split(".");
    const el = name === "svg" || attrs?.svg
        ? document.createElementNS("http://www.w3.org/2000/svg", name)
        : document.createElement(name);
    if (classes.length)
        el.setAttribute("class", classes.join(" "));
    for (const [k, v] of Object.entries(attrs || {})) {
        if (v === undefined || v === null || v === false || k === "svg")
            continue;
        if (k.startsWith("on"))
            el.addEventListener(k.slice(2), v);
        else if (k === "dataset")
            Object.assign(el.dataset, v);
        else if (k === "class")
            el.setAttribute("class", [el.getAttribute("class"), v].filter(Boolean).join(" "));
        else if (k === "value")
            el.value = v;
        else
            el.setAttribute(k, v === true ? "" : v);
    }
    append(el, children);
    return el;
}

function append(el, children) {
    for (const c of children) {
        if (c === undefined || c === null || c === false)
            continue;
        if (Array.isArray(c))
            append(el, c);
        else
            el.append(c instanceof Node ? c : String(c));
    }
}

// An SVG element (a child of an <svg>, created in the SVG namespace).
export function s(tag, attrs, ...children) {
    return h(tag, { ...attrs, svg: true }, ...children);
}

export function replace(el, ...children) {
    el.replaceChildren();
    append(el, children);
}

const UNITS = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"];

export function bytes(n) {
    let i = 0;
    while (n >= 1024 && i < UNITS.length - 1) {
        n /= 1024;
        i++;
    }
    return (i === 0 ? String(n) : n.toFixed(n < 10 ? 1 : 0)) + " " + UNITS[i];
}

export function number(n) {
    return Number(n).toLocaleString(cockpit.language);
}

export function date(unixSeconds) {
    return new Date(unixSeconds * 1000).toLocaleString(cockpit.language, { dateStyle: "medium", timeStyle: "short" });
}

export function day(unixSeconds) {
    return new Date(unixSeconds * 1000).toLocaleDateString(cockpit.language, { dateStyle: "medium" });
}

// A PatternFly progress bar: value 0..1. title "" shows none; the bar is
// then named by ariaLabel.
export function progress(value, title, valueText, variant, ariaLabel) {
    const pct = Math.max(0, Math.min(100, value * 100));
    const bar = h("div.pf-c-progress__indicator");
    bar.style.width = pct.toFixed(1) + "%";
    return h("div.pf-c-progress.pf-m-sm", { class: variant ? "pf-m-" + variant : undefined },
             title ? h("div.pf-c-progress__description", {}, title) : null,
             h("div.pf-c-progress__status", {}, h("span.pf-c-progress__measure", {}, valueText)),
             h("div.pf-c-progress__bar", {
                 role: "progressbar", "aria-valuemin": 0, "aria-valuemax": 100,
                 "aria-valuenow": pct.toFixed(0), "aria-label": ariaLabel || title
             }, bar));
}

export function label(text, color, test) {
    return h("span.pf-c-label", { class: color ? "pf-m-" + color : undefined, dataset: test ? { test } : undefined },
             h("span.pf-c-label__content", {}, text));
}

export function button(text, onclick, opts = {}) {
    return h("button.pf-c-button", {
        type: "button",
        class: "pf-m-" + (opts.variant || "secondary") + (opts.small ? " pf-m-small" : ""),
        onclick,
        disabled: opts.disabled,
        title: opts.title,
        dataset: opts.test ? { test: opts.test } : undefined
    }, text);
}

export function link(text, onclick, test) {
    return h("button.pf-c-button.pf-m-link.pf-m-inline", { type: "button", onclick, dataset: test ? { test } : undefined },
             text);
}

export function alert(variant, title, text, test) {
    return h("div.pf-c-alert.pf-m-inline", { class: "pf-m-" + variant, dataset: test ? { test } : undefined },
             h("p.pf-c-alert__title", {}, title),
             text ? h("div.pf-c-alert__description", {}, h("p", {}, text)) : null);
}

export function descriptions(rows) {
    return h("dl.pf-c-description-list.pf-m-horizontal-on-sm.pf-m-compact",
             {},
             rows.filter(Boolean).map(([term, value, test]) =>
                 h("div.pf-c-description-list__group", {},
                   h("dt.pf-c-description-list__term", {}, h("span.pf-c-description-list__text", {}, term)),
                   h("dd.pf-c-description-list__description", {},
                     h("div.pf-c-description-list__text", { dataset: test ? { test } : undefined }, value)))));
}
