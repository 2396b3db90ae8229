#!/usr/bin/env python3
"""Tests of modcycles.py on tiny fixture trees: a circle must fail, a clean tree must pass."""

import io
import os
import sys
import tempfile
import unittest
from contextlib import redirect_stdout

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import modcycles  # noqa: E402


def tree(files):
    root = tempfile.mkdtemp(prefix="modcycles-")
    for rel, text in files.items():
        path = os.path.join(root, rel)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w", encoding="utf-8") as f:
            f.write(text)
    return root


def run(files, allow=None):
    src = tree(files)
    argv = ["--src", src]
    if allow is not None:
        path = os.path.join(src, "allow")
        with open(path, "w", encoding="utf-8") as f:
            f.write(allow)
        argv += ["--allow", path]
    out = io.StringIO()
    with redirect_stdout(out):
        rc = modcycles.main(argv)
    return rc, out.getvalue()


SIBLINGS = {
    "lib.rs": "pub mod a;\npub mod b;\n",
    "a.rs": "use crate::b::{self, B};\npub struct A;\n",
    "b.rs": "//! uses crate::nothing in a comment\npub struct B(crate::a::A);\n",
}


class Cycles(unittest.TestCase):
    def test_sibling_circle_fails(self):
        rc, out = run(SIBLINGS)
        self.assertEqual(rc, 1, out)
        self.assertIn("CIRCLE: a <-> b", out)

    def test_allowed_circle_passes_and_stale_entry_fails(self):
        rc, out = run(SIBLINGS, allow="a <-> b  # issue 1: test\n")
        self.assertEqual(rc, 0, out)
        rc, out = run(SIBLINGS, allow="a <-> b  # issue 1\nc <-> d  # issue 2\n")
        self.assertEqual(rc, 1, out)
        self.assertIn("STALE", out)

    def test_one_way_tree_passes(self):
        files = dict(SIBLINGS, **{"b.rs": "pub struct B;\n// crate::a::A\nconst S: &str = \"crate::a::A\";\n"})
        rc, out = run(files)
        self.assertEqual(rc, 0, out)

    def test_test_code_is_not_read(self):
        files = dict(SIBLINGS, **{"b.rs": "pub struct B;\n#[cfg(test)]\nmod tests {\n    use crate::a::A;\n    fn f() { let s = \"}\"; }\n}\npub fn g() {}\n"})
        rc, out = run(files)
        self.assertEqual(rc, 0, out)

    def test_child_using_parent_item_that_uses_child(self):
        # the parent's Notes uses the child's type: a circle
        files = {
            "lib.rs": "pub mod t;\n",
            "t/mod.rs": "mod gpt;\nuse gpt::Entry;\npub struct Notes(Vec<Entry>);\npub fn read() { gpt::read(); }\n",
            "t/gpt.rs": "use super::Notes;\npub struct Entry;\npub fn read() {}\n",
        }
        rc, out = run(files)
        self.assertEqual(rc, 1, out)
        self.assertIn("CIRCLE: t <-> t::gpt", out)
        # the parent's item does not depend on the child: a normal folder
        files["t/mod.rs"] = "mod gpt;\npub struct Notes(Vec<String>);\npub fn read() { gpt::read(); }\n"
        rc, out = run(files)
        self.assertEqual(rc, 0, out)

    def test_reexport_resolves_to_where_the_item_lives(self):
        files = {
            "lib.rs": "pub mod disk;\n",
            "disk/mod.rs": "mod gpt;\npub mod table;\n",
            "disk/table/mod.rs": "mod parts;\npub use parts::Notes;\nuse super::gpt;\npub fn r() { gpt::read() }\n",
            "disk/table/parts.rs": "pub struct Notes;\n",
            "disk/gpt.rs": "use super::table::Notes;\npub fn read() {}\n",
        }
        rc, out = run(files)
        self.assertEqual(rc, 0, out)
        files["disk/table/mod.rs"] = "pub struct Notes;\nuse super::gpt;\npub fn r() { gpt::read() }\n"
        rc, out = run(files)
        self.assertEqual(rc, 1, out)

    def test_long_files_are_listed(self):
        rc, out = run({"lib.rs": "//\n" * 900})
        self.assertEqual(rc, 0, out)
        self.assertIn("long file:", out)
        self.assertIn("900 lines", out)


if __name__ == "__main__":
    unittest.main()
