#!/usr/bin/env python3
"""Import cycles between the scanner library's modules, and files that grew too long.

Why: a module that imports from a module which imports from it back is two ideas that cannot
be understood (or moved, or tested) apart; issue 16 removed such circles and this check keeps
them out. Python 3 standard library only; it reads the sources, it does not build them.

The rule (what counts as an edge, what counts as a circle):
- A node is a file module: `src/a/b.rs` and `src/a/b/mod.rs` are `a::b`, `src/lib.rs` is the
  crate root. Inline `mod x { ... }` blocks belong to their file's node. `main.rs` is another
  crate (the binary) and is not read.
- Module A has an edge to module B when A's code names a path that resolves into B: `use`
  trees (`crate::`, `super::`, `self::`, or a child module's name) and qualified paths in code
  (`crate::x::y::f()`). A path resolves to the longest prefix that is a module; when the next
  name is re-exported there (`pub use child::Name`), it resolves to where that re-export points.
  So `use super::table::Notes` from `disk::gpt` is an edge to `disk::table` unless `Notes`
  lives in a child of `disk::table` (re-exported or named as `table::notes::Notes`).
- Test-only code is not read: `#[cfg(test)]` items and the files of `#[cfg(test)] mod x;`
  (a test may use anything it tests).
- A parent using its child is normal (that is how a folder assembles its parts), and so is a
  child using its parent's items, unless such an item itself uses the child: a child that
  imports `super::Notes` while `Notes` (its definition or its `impl` blocks) names something
  of the child is a circle; then the child gets an edge to the parent. (Approximation: the
  item's text is searched for the child's module name and the names the parent imports from
  the child; `use super::*` takes every item of the parent.) A `mod child;` alone is no edge.
- A circle is a strongly connected component of more than one module.

Usage: modcycles.py [--src scanner/src] [--allow scripts/lib/modcycles.allow] [--max-lines 800]
Exit 1 when a circle is not covered by an allow-list entry, or when an allow-list entry no
longer matches any circle (the list can only shrink: remove the line with the fix).
Allow-list lines: `a::b <-> c::d   # issue N: why it is still there`; a circle is covered when
all its modules are in one entry.
"""

import argparse
import os
import re
import sys

IDENT = r"[A-Za-z_][A-Za-z0-9_]*"


def strip_code(text):
    """Blanks comments, string and char literals (keeps newlines), so regexes see only code."""
    out = []
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if text.startswith("//", i):
            j = text.find("\n", i)
            j = n if j < 0 else j
            out.append(" " * (j - i))
            i = j
        elif text.startswith("/*", i):
            depth, j = 1, i + 2
            while j < n and depth:
                if text.startswith("/*", j):
                    depth, j = depth + 1, j + 2
                elif text.startswith("*/", j):
                    depth, j = depth - 1, j + 2
                else:
                    j += 1
            out.append(re.sub(r"[^\n]", " ", text[i:j]))
            i = j
        elif c in "rb" and re.match(r'(br|r)#*"', text[i:i + 300]) and not (
            i and (text[i - 1].isalnum() or text[i - 1] == "_")
        ):
            m = re.match(r'(br|r)(#*)"', text[i:])
            close = '"' + m.group(2)
            j = text.find(close, i + m.end())
            j = n if j < 0 else j + len(close)
            out.append(re.sub(r"[^\n]", " ", text[i:j]))
            i = j
        elif c == '"':
            j = i + 1
            while j < n and text[j] != '"':
                j += 2 if text[j] == "\\" else 1
            j = min(j + 1, n)
            out.append(re.sub(r"[^\n]", " ", text[i:j]))
            i = j
        elif c == "'":
            m = re.match(r"'(\\(x[0-9a-fA-F]{2}|u\{[0-9a-fA-F]+\}|.)|[^\\'])'", text[i:i + 14])
            if m:
                out.append(" " * m.end())
                i += m.end()
            else:  # a lifetime
                out.append(c)
                i += 1
        else:
            out.append(c)
            i += 1
    return "".join(out)


def matching_brace(code, open_at):
    depth = 0
    for j in range(open_at, len(code)):
        if code[j] == "{":
            depth += 1
        elif code[j] == "}":
            depth -= 1
            if depth == 0:
                return j
    return len(code) - 1


CFG_TEST = re.compile(r"#\[cfg\(test\)\]")
ATTR = re.compile(r"\s*#\[[^\]]*\]")
TEST_MOD_DECL = re.compile(r"\s*(pub(\([^)]*\))?\s+)?mod\s+(" + IDENT + r")\s*;")


def drop_test_code(code):
    """Returns (code without #[cfg(test)] items, names of #[cfg(test)] `mod x;` children)."""
    test_children = []
    while True:
        m = CFG_TEST.search(code)
        if not m:
            return code, test_children
        j = m.end()
        while True:
            a = ATTR.match(code, j)
            if not a:
                break
            j = a.end()
        d = TEST_MOD_DECL.match(code, j)
        semi, brace = code.find(";", j), code.find("{", j)
        if d:
            test_children.append(d.group(3))
            end = d.end()
        elif brace < 0 or (0 <= semi < brace):
            end = semi + 1 if semi >= 0 else len(code)
        else:
            end = matching_brace(code, brace) + 1
        code = code[: m.start()] + re.sub(r"[^\n]", " ", code[m.start():end]) + code[end:]


def expand_use_tree(tree):
    """`a::{b, c::{d, e}}` -> [[a, b], [a, c, d], [a, c, e]] (globs and `self` handled)."""
    tree = re.sub(r"\s+", "", tree)
    results = []

    def walk(prefix, s):
        # split s at top-level commas
        parts, depth, cur = [], 0, ""
        for ch in s:
            if ch == "," and depth == 0:
                parts.append(cur)
                cur = ""
                continue
            depth += ch == "{"
            depth -= ch == "}"
            cur += ch
        parts.append(cur)
        for p in parts:
            if not p:
                continue
            b = p.find("{")
            if b >= 0:
                head = [x for x in p[:b].split("::") if x]
                walk(prefix + head, p[b + 1: p.rfind("}")])
            else:
                results.append(prefix + p.split("::"))

    walk([], tree)
    return results


USE = re.compile(r"(?<![A-Za-z0-9_])(pub(\([^)]*\))?\s+)?use\s+([^;]+);")
QUALIFIED = re.compile(r"(?<![A-Za-z0-9_:])((?:crate|super|self)(?:\s*::\s*" + IDENT + r")+)")


def parse_use(raw):
    """Use-tree paths with `as` aliases removed: returns list of segment lists."""
    raw = re.sub(r"\s+as\s+" + IDENT, "", raw)
    return expand_use_tree(raw)


class Crate:
    def __init__(self, src):
        self.src = src
        self.files = {}  # module tuple -> path
        for root, _dirs, names in os.walk(src):
            for name in names:
                if not name.endswith(".rs"):
                    continue
                path = os.path.join(root, name)
                rel = os.path.relpath(path, src).replace(os.sep, "/")
                if rel == "main.rs" or rel.startswith("bin/"):
                    continue
                parts = rel[:-3].split("/")
                if parts[-1] in ("mod", "lib") and (parts[-1] == "mod" or len(parts) == 1):
                    parts = parts[:-1]
                self.files[tuple(parts)] = path
        self.code = {}
        test_only = set()
        for mod, path in self.files.items():
            with open(path, encoding="utf-8", errors="replace") as f:
                code, test_children = drop_test_code(strip_code(f.read()))
            self.code[mod] = code
            for child in test_children:
                test_only.add(mod + (child,))
        for mod in list(self.files):
            if any(mod[: len(t)] == t for t in test_only):
                del self.files[mod]
                del self.code[mod]
        self.modules = set(self.files)
        self.reexports = {mod: {} for mod in self.modules}  # name -> path segments
        self.uses = {}
        for mod, code in self.code.items():
            paths = []
            for m in USE.finditer(code):
                for segs in parse_use(m.group(3)):
                    paths.append(segs)
                    if m.group(1) and segs and segs[-1] not in ("*", "self"):
                        self.reexports[mod][segs[-1]] = segs
            rest = USE.sub(lambda m: " " * len(m.group(0)), code)
            for m in QUALIFIED.finditer(rest):
                paths.append(re.sub(r"\s+", "", m.group(1)).split("::"))
            self.uses[mod] = paths

    def resolve(self, mod, segs, depth=0):
        """The module a path used in `mod` points into, or None (std, external crates)."""
        segs = [s for s in segs if s]
        if not segs:
            return None
        if segs[0] == "crate":
            base, rest = (), segs[1:]
        elif segs[0] in ("super", "self"):
            base, rest = mod, segs
            while rest and rest[0] in ("super", "self"):
                if rest[0] == "super":
                    base = base[:-1]
                rest = rest[1:]
        elif mod + (segs[0],) in self.modules:
            base, rest = mod, segs
        else:
            return None
        cur = base
        i = 0
        while i < len(rest) and cur + (rest[i],) in self.modules:
            cur = cur + (rest[i],)
            i += 1
        if cur not in self.modules:
            return None
        if i < len(rest) and depth < 8:
            target = self.reexports.get(cur, {}).get(rest[i])
            if target is not None:
                found = self.resolve(cur, target, depth + 1)
                if found is not None:
                    return found
        return cur

    def item_spans(self, mod, item):
        """Text of the definition of `item` in `mod` and of its `impl` blocks."""
        code = self.code[mod]
        spans = []
        pats = [
            r"\b(struct|enum|union|trait|fn|type|const|static|macro_rules!)\s+" + item + r"\b",
            r"\bimpl\b(<[^{;]*?>)?[^{;]*?\b" + item + r"\b[^{;]*\{",
        ]
        for pat in pats:
            for m in re.finditer(pat, code):
                semi, brace = code.find(";", m.start()), code.find("{", m.start())
                if brace < 0 or (0 <= semi < brace and not m.group(0).startswith("impl")):
                    end = semi + 1 if semi >= 0 else len(code)
                else:
                    end = matching_brace(code, brace) + 1
                spans.append(code[m.start():end])
        return spans

    def items_of(self, mod):
        return set(re.findall(
            r"\b(?:struct|enum|union|trait|fn|type|const|static)\s+(" + IDENT + ")", self.code[mod]))

    def depends_on_child(self, parent, child, items):
        """Does one of `items` of `parent` use `child` (the child-imports-parent rule)?"""
        below = lambda m: m is not None and m[: len(child)] == child
        # `child::x` written in the parent, or a name the parent imported from the child
        pats = [r"\b" + child[len(parent)] + r"\s*::"]
        for segs in self.uses[parent]:
            if below(self.resolve(parent, segs)) and segs[-1] not in ("*", "self"):
                pats.append(r"\b" + re.escape(segs[-1]) + r"\b")
        if "*" in items:
            items = self.items_of(parent)
        for item in items:
            for span in self.item_spans(parent, item):
                if any(re.search(p, span) for p in pats):
                    return True
        return False

    def edges(self):
        graph = {m: set() for m in self.modules}
        from_ancestor = {}  # (child, ancestor) -> item names the child takes from it
        for mod, paths in self.uses.items():
            for segs in paths:
                target = self.resolve(mod, segs)
                if target is None or target == mod:
                    continue
                if mod[: len(target)] == target:
                    # the item named right after the module part of the path
                    item = segs[-1] if segs[-1] != "self" else None
                    if item is not None:
                        from_ancestor.setdefault((mod, target), set()).add(item)
                    continue
                graph[mod].add(target)
        for (child, parent), items in from_ancestor.items():
            if self.depends_on_child(parent, child, items):
                graph[child].add(parent)
        return graph


def components(graph):
    """Strongly connected components with more than one node (Tarjan, iterative)."""
    index, low, on_stack, stack, result = {}, {}, set(), [], []
    counter = [0]
    for start in sorted(graph):
        if start in index:
            continue
        work = [(start, iter(sorted(graph[start])))]
        index[start] = low[start] = counter[0]
        counter[0] += 1
        stack.append(start)
        on_stack.add(start)
        while work:
            node, it = work[-1]
            advanced = False
            for nxt in it:
                if nxt not in index:
                    index[nxt] = low[nxt] = counter[0]
                    counter[0] += 1
                    stack.append(nxt)
                    on_stack.add(nxt)
                    work.append((nxt, iter(sorted(graph[nxt]))))
                    advanced = True
                    break
                if nxt in on_stack:
                    low[node] = min(low[node], index[nxt])
            if advanced:
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                comp = []
                while True:
                    w = stack.pop()
                    on_stack.discard(w)
                    comp.append(w)
                    if w == node:
                        break
                if len(comp) > 1:
                    result.append(sorted(comp))
    return sorted(result)


def name(mod):
    return "::".join(mod) if mod else "crate"


def read_allow(path):
    entries = []
    if not path or not os.path.exists(path):
        return entries
    with open(path, encoding="utf-8") as f:
        for lineno, line in enumerate(f, 1):
            body = line.split("#", 1)[0].strip()
            if not body:
                continue
            members = {m.strip() for m in body.split("<->") if m.strip()}
            entries.append((lineno, line.rstrip("\n"), members))
    return entries


def main(argv):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--src", default="scanner/src")
    ap.add_argument("--allow", default=None, help="allow-list file (default: none)")
    ap.add_argument("--max-lines", type=int, default=800)
    ap.add_argument("--edges", action="store_true", help="print every edge inside a circle")
    args = ap.parse_args(argv)

    crate = Crate(args.src)
    graph = crate.edges()
    comps = components(graph)
    allow = read_allow(args.allow)
    used = set()
    failed = False
    for comp in comps:
        names = {name(m) for m in comp}
        covering = [e for e in allow if names <= e[2]]
        inside = sorted(
            f"{name(a)} -> {name(b)}" for a in comp for b in graph[a] if b in comp
        )
        if covering:
            used.update(e[0] for e in covering)
            print(f"allowed circle: {' <-> '.join(sorted(names))}  ({covering[0][1].split('#', 1)[-1].strip()})")
        else:
            failed = True
            print(f"CIRCLE: {' <-> '.join(sorted(names))}")
        if args.edges or not covering:
            for e in inside:
                print(f"    {e}")
    for lineno, line, _members in allow:
        if lineno not in used:
            failed = True
            print(f"STALE allow-list entry (line {lineno}, no such circle now: remove it): {line}")

    long_files = []
    for mod, path in crate.files.items():
        with open(path, encoding="utf-8", errors="replace") as f:
            count = sum(1 for _ in f)
        if count > args.max_lines:
            long_files.append((count, os.path.relpath(path, os.path.dirname(args.src.rstrip("/")) or ".")))
    for count, rel in sorted(long_files, reverse=True):
        print(f"long file: {rel}: {count} lines (over {args.max_lines})")
    print(f"{len(crate.modules)} modules, {sum(len(v) for v in graph.values())} edges, "
          f"{len(comps)} circles, {len(long_files)} files over {args.max_lines} lines")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
