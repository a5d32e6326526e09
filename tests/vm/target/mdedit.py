#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""Find and damage dm-remap metadata on members (layout: docs/FORMAT.md).

  mdedit.py locate DEV
      JSON of the live structures: superblock copies, the live snapshot slot
      and the journal records replayed on top of it, each with the sector of
      every metadata copy ("copies"; "sector" is copy 0's). Cross-checked against
      `dmremapctl dump --json DEV` (seq and remaps must agree), so a damage
      aimed with it hits what the loader really uses.
  mdedit.py corrupt SECTOR DEV...
      flips the stored checksum of the 4 KiB block at SECTOR (bit rot, torn write)
  mdedit.py OP ARGS... -- DEV...
      semantic damage with valid framing: the field is changed (in every
      metadata copy) and every checksum that covers it is recomputed, so
      only the meaning is wrong.
        record-update SEQ FIELD VALUE   the first remapped update of record SEQ
        record-count SEQ VALUE          nr_updates of record SEQ
        slot-count VALUE                nr_entries of the live slot
        slot-entry I FIELD VALUE        entry I of the live slot
        member-flags I VALUE            flags of member I in the live slot
        member-image I PATH             image_path of member I in the live slot
        sb FIELD VALUE                  both superblock copies
      FIELD of an entry: data_block, spare_block, spare_index, state;
      of a superblock: spare_offset, spare_sectors, data_offset.
"""
import json
import mmap
import os
import struct
import subprocess
import sys

BLOCK = 4096
SB_MAGIC, SNAP_MAGIC, JRNL_MAGIC = b"DM-REMAP", b"DMR-SNAP", b"DMR-JRNL"
REMAPPED = 1
ENTRY = struct.Struct("<QIHH")  # data_block, spare_block, spare_index, state
ENTRY_FIELDS = ("data_block", "spare_block", "spare_index", "state")
SB_FIELDS = {"data_offset": 128, "spare_offset": 144, "spare_sectors": 152}
CTL = os.path.join(os.environ.get("DMREMAP_BUILD", "build"), "tools", "dmremapctl")


def _crc_table():
    table = []
    for i in range(256):
        c = i
        for _ in range(8):
            c = (c >> 1) ^ 0x82F63B78 if c & 1 else c >> 1
        table.append(c)
    return table


CRC_TABLE = _crc_table()


def crc32c(data):
    c = 0xFFFFFFFF
    for b in data:
        c = CRC_TABLE[(c ^ b) & 0xFF] ^ (c >> 8)
    return c ^ 0xFFFFFFFF


def block_csum(blk):
    return crc32c(bytes(blk[:8]) + bytes(4) + bytes(blk[12:]))


def seal(blk):
    """Recompute the checksum of a superblock, snapshot header or journal record."""
    struct.pack_into("<I", blk, 8, block_csum(blk))


class Member:
    """Direct I/O: the target writes with bios that bypass the page cache."""

    def __init__(self, path):
        self.path = path
        self.fd = os.open(path, os.O_RDWR | os.O_DIRECT)
        sb = self.read(0, 1)
        if sb[:8] != SB_MAGIC or block_csum(sb) != struct.unpack_from("<I", sb, 8)[0]:
            sb = self.read(8, 1)
        (self.generation, self.md_offset, _, self.max_entries, self.journal_blocks) = \
            struct.unpack_from("<QQQII", sb, 80)[:1] + struct.unpack_from("<QQII", sb, 104)
        self.set_uuid = bytes(sb[32:48])
        self.slot_blocks = 1 + 4 + self.max_entries // 256
        # DMR_INCOMPAT_MD_MIRROR: the metadata area twice, one copy after the other.
        self.copies = 2 if struct.unpack_from("<I", sb, 24)[0] & 1 else 1
        self.copy_sectors = (2 * self.slot_blocks + self.journal_blocks) * 8

    def read(self, sector, blocks):
        buf = mmap.mmap(-1, blocks * BLOCK)
        if os.preadv(self.fd, [buf], sector * 512) != len(buf):
            sys.exit(f"{self.path}: short read at sector {sector}")
        return bytearray(buf)

    def write(self, sector, data):
        buf = mmap.mmap(-1, len(data))
        buf[:] = bytes(data)
        os.pwritev(self.fd, [buf], sector * 512)
        os.fsync(self.fd)

    def slot_sector(self, slot, copy=0):
        return self.md_offset + copy * self.copy_sectors + slot * self.slot_blocks * 8

    def journal_sector(self, seq, copy=0):
        return self.slot_sector(2, copy) + (seq % self.journal_blocks) * 8

    def sb_copy(self, copy):
        blk = self.read(copy * 8, 1)
        return {"copy": copy, "sector": copy * 8, "valid": blk[:8] == SB_MAGIC and
                block_csum(blk) == struct.unpack_from("<I", blk, 8)[0] and
                struct.unpack_from("<IQ", blk, 68) == (copy, copy * 8)}

    def slot(self, slot, copy=0):
        """The slot's header and entries if it is a valid snapshot of this generation."""
        s = self.slot_sector(slot, copy)
        h = self.read(s, 1)
        csum, nslot = struct.unpack_from("<II", h, 8)
        seq, gen, nr, ecsum, mcsum = struct.unpack_from("<QQIII", h, 32)
        if h[:8] != SNAP_MAGIC or csum != block_csum(h) or nslot != slot or bytes(h[16:32]) != self.set_uuid \
                or gen != self.generation or nr > self.max_entries:
            return None
        if crc32c(self.read(s + 8, 4)) != mcsum:
            return None
        raw = self.read(s + 40, max(1, -(-nr * 16 // BLOCK)))[:nr * 16] if nr else b""
        if crc32c(raw) != ecsum:
            return None
        return {"slot": slot, "sector": s, "seq": seq, "nr_entries": nr,
                "copies": [self.slot_sector(slot, c) for c in range(self.copies)],
                "entries": [ENTRY.unpack_from(raw, i * 16) for i in range(nr)]}

    def record(self, seq, copy=0):
        blk = self.read(self.journal_sector(seq, copy), 1)
        csum, nr = struct.unpack_from("<II", blk, 8)
        rseq, gen = struct.unpack_from("<QQ", blk, 32)
        if blk[:8] != JRNL_MAGIC or csum != block_csum(blk) or bytes(blk[16:32]) != self.set_uuid \
                or rseq != seq or gen != self.generation or nr > 252:
            return None
        return {"seq": seq, "sector": self.journal_sector(seq),
                "copies": [self.journal_sector(seq, c) for c in range(self.copies)],
                "updates": [ENTRY.unpack_from(blk, 64 + i * 16) for i in range(nr)]}

    def live_slot(self, copy=0):
        slots = [s for s in (self.slot(0, copy), self.slot(1, copy)) if s]
        if not slots:
            sys.exit(f"{self.path}: no valid snapshot slot in metadata copy {copy}")
        return max(slots, key=lambda s: s["seq"])


def locate(path):
    m = Member(path)
    dump = json.loads(subprocess.run([CTL, "dump", "--json", path], check=True, capture_output=True).stdout)
    live = m.live_slot()
    remaps = {e[0]: (e[2], e[1]) for e in live["entries"] if e[3] == REMAPPED}
    records = []
    while (rec := m.record(live["seq"] + len(records) + 1)):
        for blk, sblk, idx, state in rec["updates"]:
            if state == REMAPPED:
                remaps[blk] = (idx, sblk)
            else:
                remaps.pop(blk, None)
        records.append(rec)
    end = live["seq"] + len(records)
    want = {r["block"]: (r["spare_member"], r["spare_block"]) for r in dump["remaps"] if r["state"] == "remapped"}
    if end != dump["seq"] or remaps != want:
        sys.exit(f"{path}: parsed state (seq {end}, {remaps}) is not dump's (seq {dump['seq']}, {want})")
    copies = [m.sb_copy(0), m.sb_copy(1)]
    if [c["valid"] for c in copies] != dump["member"]["superblock_copies_valid"]:
        sys.exit(f"{path}: superblock validity differs from dump's")
    for r in records:
        r["remaps"] = [u[0] for u in r["updates"] if u[3] == REMAPPED]
        del r["updates"]
    live["remaps"] = [e[0] for e in live["entries"] if e[3] == REMAPPED]
    del live["entries"]
    return {"superblocks": copies, "slot": live, "records": records,
            "metadata_end": m.md_offset + m.copies * m.copy_sectors}


def set_entry(buf, off, field, value):
    e = list(ENTRY.unpack_from(buf, off))
    e[ENTRY_FIELDS.index(field)] = value
    ENTRY.pack_into(buf, off, *e)


def edit_member_table(m, copy, change):
    """The live snapshot's member table (4 blocks after its header), changed
    and its checksum in the header sealed again."""
    s = m.live_slot(copy)["copies"][copy]
    h, table = m.read(s, 1), m.read(s + 8, 4)
    change(table)
    m.write(s + 8, table)
    struct.pack_into("<I", h, 56, crc32c(table))
    seal(h)
    m.write(s, h)


def edit(m, op, args, copy):
    if op == "record-update" or op == "record-count":
        seq = int(args[0])
        s = m.journal_sector(seq, copy)
        if not m.record(seq, copy):
            sys.exit(f"{m.path}: no valid record {seq}")
        blk = m.read(s, 1)
        if op == "record-count":
            struct.pack_into("<I", blk, 12, int(args[1]))
        else:
            nr = struct.unpack_from("<I", blk, 12)[0]
            i = next(i for i in range(nr) if ENTRY.unpack_from(blk, 64 + i * 16)[3] == REMAPPED)
            set_entry(blk, 64 + i * 16, args[1], int(args[2]))
        seal(blk)
        m.write(s, blk)
    elif op == "slot-count" or op == "slot-entry":
        # This copy's own live slot: editing copy 0 first may have made
        # it invalid there already.
        live = m.live_slot(copy)
        s = live["copies"][copy]
        h = m.read(s, 1)
        if op == "slot-count":
            struct.pack_into("<I", h, 48, int(args[0]))
        else:
            nr = live["nr_entries"]
            n = -(-nr * 16 // BLOCK)
            ents = m.read(s + 40, n)
            set_entry(ents, int(args[0]) * 16, args[1], int(args[2]))
            m.write(s + 40, ents)
            struct.pack_into("<I", h, 52, crc32c(ents[:nr * 16]))
        seal(h)
        m.write(s, h)
    elif op == "member-flags":
        edit_member_table(m, copy, lambda t: struct.pack_into("<I", t, int(args[0]) * 256 + 20, int(args[1])))
    elif op == "member-image":
        path = args[1].encode()
        off = int(args[0]) * 256 + 48
        edit_member_table(m, copy, lambda t: t.__setitem__(slice(off, off + 208), path + bytes(208 - len(path))))
    elif op == "sb":
        for sb in (0, 1):
            blk = m.read(sb * 8, 1)
            struct.pack_into("<Q", blk, SB_FIELDS[args[0]], int(args[1]))
            seal(blk)
            m.write(sb * 8, blk)
    else:
        sys.exit(f"unknown operation {op}")


def main(argv):
    if argv[0] == "locate":
        json.dump(locate(argv[1]), sys.stdout, indent=1)
        print()
    elif argv[0] == "corrupt":
        for path in argv[2:]:
            m = Member(path)
            blk = m.read(int(argv[1]), 1)
            blk[8] ^= 0xFF
            m.write(int(argv[1]), blk)
    else:
        sep = argv.index("--")
        for path in argv[sep + 1:]:
            m = Member(path)
            for copy in range(m.copies if argv[0] != "sb" else 1):
                edit(m, argv[0], argv[1:sep], copy)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
