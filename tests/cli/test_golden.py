#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""Golden images: the checked-in members in tests/data must still decode to
exactly golden.json, and regenerating them must give the same bytes. A
failure here means the on-disk format changed: bump the version and say so
in docs/FORMAT.md, or fix the regression."""
import json
import os
import subprocess
import sys
import tempfile
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
DATA = os.path.join(HERE, "..", "data")
CTL = os.environ.get("DMREMAPCTL", os.path.join(HERE, "..", "..", "build", "tools", "dmremapctl"))


def run(*args):
    return subprocess.run([CTL, *args], capture_output=True, text=True, check=False)


class Golden(unittest.TestCase):
    def setUp(self):
        with open(os.path.join(DATA, "golden.json"), encoding="utf-8") as f:
            self.spec = json.load(f)
        self.members = [os.path.join(DATA, "golden-data.img"), os.path.join(DATA, "golden-spare.img")]

    def test_checked_in_images_are_clean(self):
        r = run("check", *self.members)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertIn("clean: 0 errors, 0 warnings; newest state is commit 42 with 5 entries", r.stdout)

    def test_checked_in_images_decode_to_the_spec(self):
        for path in self.members:
            r = run("dump", "--json", path)
            self.assertEqual(r.returncode, 0, r.stderr)
            dump = json.loads(r.stdout)
            for key in ("set_uuid", "name", "block_size", "data_offset_sectors", "data_sectors", "max_entries",
                        "journal_blocks", "ctime", "generation", "retired"):
                self.assertEqual(dump[key], self.spec[key], key)
            self.assertEqual(dump["seq"], self.spec["seq"] + 1)  # restore commits above the dump
            # golden.json predates "lost" and "failed": restoring it must give
            # neither, and the rest must be exactly what it says.
            self.assertEqual([{k: r[k] for k in self.spec["remaps"][0]} for r in dump["remaps"]],
                             self.spec["remaps"])
            self.assertEqual([r["lost"] for r in dump["remaps"]], [False] * len(self.spec["remaps"]))
            self.assertEqual([m["failed"] for m in dump["members"]], [False] * len(self.spec["members"]))
            got = [{k: m[k] for k in self.spec["members"][0]} for m in dump["members"]]
            self.assertEqual(got, self.spec["members"])

    def test_regenerating_gives_identical_bytes(self):
        with tempfile.TemporaryDirectory() as tmp:
            subprocess.run([os.path.join(DATA, "make-golden"), CTL, tmp], check=True)
            for name in ("golden-data.img", "golden-spare.img"):
                with open(os.path.join(tmp, name), "rb") as a, open(os.path.join(DATA, name), "rb") as b:
                    new, old = a.read(), b.read()
                self.assertEqual(len(new), len(old), name)
                diff = next((i for i in range(len(new)) if new[i] != old[i]), None) if new != old else None
                self.assertIsNone(diff, f"{name} differs first at byte {diff}")


if __name__ == "__main__":
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    import testmain
    sys.exit(testmain.main())
