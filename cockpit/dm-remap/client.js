// SPDX-License-Identifier: GPL-2.0-or-later
// The page's view of the system: dm-remapd's objects (one ObjectManager
// watch on /org/dmremap1, the only bus name the page changes anything
// through), UDisks2's blocks and drives (read-only, to name disks the way
// the Storage page does and to link to it), and whether this session may
// administer (Cockpit's superuser state).
//
// Listeners registered with onChange() run after any of them changed.

const DM = "org.dmremap1";
const DEVICE = DM + ".Device";
const JOB = DM + ".Job";
const MANAGER = DM + ".Manager";
const UD = "org.freedesktop.UDisks2";

export class Client {
    constructor() {
        this.listeners = [];
        this.ready = false;      // the first reply of the watch came
        this.missing = null;     // why dm-remapd cannot be reached, or null
        this.admin = null;       // true, false; null while unknown

        this.dm = cockpit.dbus(DM, { bus: "system", superuser: "try" });
        this.devices = this.dm.proxies(DEVICE, "/org/dmremap1", { watch: false });
        this.jobs = this.dm.proxies(JOB, "/org/dmremap1", { watch: false });
        this.dm.addEventListener("notify", () => this.changed());
        this.dm.addEventListener("owner", (_ev, owner) => {
            // dm-remapd is activated on demand and may exit when idle: its
            // objects come back with it, and the watch sees them.
            if (owner === null && this.missing === null && this.ready)
                this.changed();
        });
        this.dm.watch({ path_namespace: "/org/dmremap1" })
                .then(() => {
                    this.ready = true;
                    this.changed();
                }, ex => {
                    this.ready = true;
                    this.missing = ex;
                    this.changed();
                });

        this.startUDisks();
        this.startSuperuser();
    }

    onChange(f) {
        this.listeners.push(f);
    }

    changed() {
        if (this.pending)
            return;
        // Signals come in bursts (a commit changes a dozen properties):
        // one render per frame.
        this.pending = true;
        window.requestAnimationFrame(() => {
            this.pending = false;
            for (const f of this.listeners)
                f();
        });
    }

    deviceList() {
        return Object.values(this.devices)
                .filter(d => d.valid && d.Name !== undefined)
                .sort((a, b) => a.Name.localeCompare(b.Name));
    }

    jobsOf(path) {
        return Object.values(this.jobs).filter(j => j.valid && (j.Objects || []).includes(path));
    }

    // A method call; rejects with the daemon's error ({name, message}).
    call(path, iface, method, args, type) {
        return this.dm.call(path, iface, method, args, { type, timeout: 24 * 3600 * 1000 });
    }

    device(path, method, args, type) {
        return this.call(path, DEVICE, method, args, type);
    }

    manager(method, args, type) {
        return this.call("/org/dmremap1/Manager", MANAGER, method, args, type);
    }

    cancelJob(path) {
        return this.call(path, JOB, "Cancel", [{}], "a{sv}");
    }

    // --- UDisks2: names, models and links ---

    startUDisks() {
        this.ud = cockpit.dbus(UD, { superuser: "try" });
        this.blocks = this.ud.proxies(UD + ".Block", "/org/freedesktop/UDisks2", { watch: false });
        this.drives = this.ud.proxies(UD + ".Drive", "/org/freedesktop/UDisks2", { watch: false });
        this.filesystems = this.ud.proxies(UD + ".Filesystem", "/org/freedesktop/UDisks2", { watch: false });
        this.tables = this.ud.proxies(UD + ".PartitionTable", "/org/freedesktop/UDisks2", { watch: false });
        this.ud.addEventListener("notify", () => {
            this.slashdevs = null;
            this.changed();
        });
        // Without udisks2 the page still works, with raw paths and no links.
        this.ud.watch({ path_namespace: "/org/freedesktop/UDisks2" }).catch(() => {});
    }

    // Every name a block goes by (/dev/sdb, /dev/disk/by-id/...) → its proxy.
    blockByNode(node) {
        if (!node)
            return null;
        if (!this.slashdevs) {
            this.slashdevs = {};
            for (const b of Object.values(this.blocks)) {
                if (!b.valid)
                    continue;
                for (const n of [b.Device, b.PreferredDevice, ...(b.Symlinks || [])])
                    if (n)
                        this.slashdevs[decodeFilename(n)] = b;
            }
        }
        return this.slashdevs[node] || null;
    }

    // {node, kernel, drive: "Vendor Model (Serial)" or null, size, storage: "/storage#/sdb"}
    describe(node) {
        const b = this.blockByNode(node);
        const out = { node, kernel: node ? node.replace(/^\/dev\//, "") : "", drive: null, size: null, storage: null };
        if (!b)
            return out;
        const dev = decodeFilename(b.Device);
        out.kernel = dev.replace(/^\/dev\//, "");
        out.size = b.Size;
        out.storage = "/storage#/" + encodeURIComponent(out.kernel);
        const drive = b.Drive && b.Drive !== "/" ? this.drives[b.Drive] : null;
        if (drive && drive.valid) {
            const id = drive.Serial || drive.WWN;
            out.drive = [drive.Vendor, drive.Model].filter(Boolean).join(" ") + (id ? " (" + id + ")" : "");
        }
        return out;
    }

    // Whole disks and partitions a new device could be made of, with why
    // not when they look used (the daemon has the last word: it refuses
    // in-use disks whatever the page thinks).
    candidates() {
        const out = [];
        const members = new Set();
        for (const d of this.deviceList())
            for (const n of [d.DataDevice, ...(d.Spares || []).map(sp => sp[1])])
                members.add(n);
        for (const b of Object.values(this.blocks)) {
            if (!b.valid || !b.Size || b.ReadOnly)
                continue;
            const node = decodeFilename(b.Device);
            if (/^\/dev\/(loop|dm-|sr|zram|ram)/.test(node))
                continue;
            let used = null;
            if (b.IdUsage)
                used = b.IdType ? b.IdType : b.IdUsage;
            if (this.filesystems[b.path]?.valid && (this.filesystems[b.path].MountPoints || []).length)
                used = "mounted";
            if (this.tables[b.path]?.valid)
                used = "partition table";
            if (members.has(node))
                used = "dm-remap";
            out.push({ ...this.describe(node), used });
        }
        return out.sort((a, b) => a.node.localeCompare(b.node));
    }

    // --- Cockpit's superuser: read-only when not administrator ---

    startSuperuser() {
        const su = cockpit.dbus(null, { bus: "internal" }).proxy("cockpit.Superuser", "/superuser");
        const update = () => {
            let admin = null;
            if (su.valid && su.Current !== "init")
                admin = su.Current !== "none";
            if (admin === this.admin)
                return;
            const first = this.admin === null;
            this.admin = admin;
            // A "try" channel keeps the privileges it opened with: after a
            // change of access the page starts again, as Cockpit's do.
            if (!first && admin !== null)
                window.location.reload();
            this.changed();
        };
        su.addEventListener("changed", update);
        su.wait(() => {
            if (su.valid) {
                update();
                return;
            }
            // An older bridge without cockpit.Superuser.
            const perm = cockpit.permission({ admin: true });
            const fromPerm = () => {
                this.admin = perm.allowed === null ? null : perm.allowed === true;
                this.changed();
            };
            perm.addEventListener("changed", fromPerm);
            fromPerm();
        });
    }
}

// UDisks2's "ay" file names arrive base64-coded with a trailing NUL.
export function decodeFilename(s) {
    if (!s)
        return "";
    return cockpit.utf8_decoder().decode(cockpit.base64_decode(s).slice(0, -1));
}

// a{sv} from cockpit.dbus: {key: {t, v}} → {key: v}
export function unvariant(dict) {
    const out = {};
    for (const [k, v] of Object.entries(dict || {}))
        out[k] = v && typeof v === "object" && "v" in v ? v.v : v;
    return out;
}

export function variant(type, value) {
    return cockpit.variant(type, value);
}
