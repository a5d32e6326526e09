// SPDX-License-Identifier: GPL-2.0-or-later
// What the page changes, each through one org.dmremap1 method: create,
// add and remove a spare, remap a block, replace the data disk, start a
// scan, cancel a job. Long ones (a scan, a replace, an evacuation) run as
// a Job the device card follows; their call's failure lands on the card.

import { _, h } from "./dom.js";
import { checkbox, diskSelect, field, noInteraction, openDialog, textInput } from "./dialogs.js";
import { variant } from "./client.js";

export function createDevice(client) {
    const data = diskSelect(client, "create-data");
    const spare = diskSelect(client, "create-spare");
    spare.prepend(h("option", { value: "" }, _("None")));
    spare.value = "";
    const name = textInput("", "create-name");
    const percent = textInput("2", "create-internal", "number");
    percent.min = 0;
    percent.max = 50;
    openDialog(_("Create a dm-remap device"), [
        field(_("Data disk"), data),
        field(_("Spare disk"), spare, _("Optional: spares can be added later.")),
        field(_("Name"), name, _("Empty: a name is chosen.")),
        field(_("Internal spare (% of the data disk)"), percent)
    ], () => {
        if (!data.value)
            throw new Error(_("No unused disk to make the device of."));
        const devices = [data.value];
        if (spare.value) {
            if (spare.value === data.value)
                throw new Error(_("The spare disk must not be the data disk."));
            devices.push(spare.value);
        }
        const opts = { internal_spare_percent: variant("u", Number(percent.value) || 0) };
        if (name.value.trim())
            opts.name = variant("s", name.value.trim());
        return client.manager("Create", [devices, noInteraction(opts)], "asa{sv}");
    }, {
        danger: true,
        primary: _("Erase and create"),
        body: _("Everything on the chosen disks is erased."),
        test: "create-dialog"
    });
}

export function addSpare(client, dev) {
    const exclude = [dev.DataDevice, ...(dev.Spares || []).map(sp => sp[1])];
    const disk = diskSelect(client, "spare-disk", exclude);
    disk.prepend(h("option", { value: "" }, _("An image file instead")));
    const image = textInput("", "spare-image");
    image.placeholder = "/var/lib/dm-remap/spares/" + dev.Name + ".img";
    const size = textInput("64", "spare-size", "number");
    openDialog(cockpit.format(_("Add a spare to $0"), dev.Name), [
        field(_("Disk"), disk),
        field(_("Image file"), image, _("With no disk chosen: a new file, fully allocated, on a loop device.")),
        field(_("Image size (MiB)"), size)
    ], () => {
        if (disk.value)
            return client.device(dev.path, "AddSpare", [disk.value, noInteraction()], "sa{sv}");
        if (!image.value.trim())
            throw new Error(_("Choose a disk, or name an image file."));
        const opts = noInteraction({
            image: variant("s", image.value.trim()),
            size: variant("t", Math.round(Number(size.value) * 1024 * 1024))
        });
        return client.device(dev.path, "AddSpare", ["", opts], "sa{sv}");
    }, { danger: true, primary: _("Add spare"), body: _("Everything on the chosen disk is erased."), test: "spare-dialog" });
}

export function removeSpare(client, dev, spare, fail) {
    const [check, evacuate] = checkbox(_("Move the blocks living on it to other spares first"), true, "spare-evacuate");
    // A member out of the table (failed, missing) has no node: it goes by
    // its index (Device.RemoveSpare).
    const which = spare[1] || "index=" + spare[0];
    openDialog(cockpit.format(_("Remove spare $0 from $1"), spare[1] || cockpit.format(_("number $0"), spare[0]), dev.Name),
               [check], () => {
        // An evacuation may take long: it runs as a Job the card shows;
        // the dialog closes once it started.
        client.device(dev.path, "RemoveSpare", [which, noInteraction({ evacuate: variant("b", evacuate.checked) })],
                      "sa{sv}").catch(fail);
    }, {
        danger: true,
        primary: _("Remove spare"),
        body: _("Without moving them, blocks living on this spare lose their data."),
        test: "remove-dialog"
    });
}

export function remapBlock(client, dev, done) {
    const block = textInput("", "remap-block", "number");
    block.min = 0;
    openDialog(cockpit.format(_("Remap a block of $0"), dev.Name), [
        field(_("Data block"), block, cockpit.format(_("In blocks of $0 bytes, from 0."), dev.BlockSize))
    ], () => {
        if (block.value === "" || Number(block.value) < 0)
            throw new Error(_("A block number, 0 or more."));
        return client.device(dev.path, "Remap", [Number(block.value), noInteraction()], "ta{sv}")
                .then(([remapped]) => done(remapped
                    ? cockpit.format(_("Block $0 now lives on a spare."), block.value)
                    : cockpit.format(_("Block $0 could not be read: it is pending until it is written."), block.value)));
    }, { primary: _("Remap"), test: "remap-dialog" });
}

export function replaceDisk(client, dev, fail) {
    const exclude = [dev.DataDevice, ...(dev.Spares || []).map(sp => sp[1])];
    const disk = diskSelect(client, "replace-disk", exclude);
    const [keepCheck, keep] = checkbox(_("Keep the spares"), true, "replace-keep");
    openDialog(cockpit.format(_("Replace the data disk of $0"), dev.Name), [field(_("New data disk"), disk), keepCheck], () => {
        if (!disk.value)
            throw new Error(_("No unused disk to move the device to."));
        client.device(dev.path, "Replace", [disk.value, noInteraction({ keep_spares: variant("b", keep.checked) })], "sa{sv}")
                .catch(fail);
    }, {
        danger: true,
        primary: _("Erase and replace"),
        body: cockpit.format(_("$0 is copied to the new disk while it stays in use. Everything on the new disk is erased."),
                             dev.Name),
        test: "replace-dialog"
    });
}

export function startScan(client, dev, fail) {
    client.device(dev.path, "StartScan", [noInteraction()], "a{sv}").catch(fail);
}
