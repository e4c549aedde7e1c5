#!/usr/bin/env python3
# layercheck: the kernel's include graph follows one layer order, with no cycles.
#
#   tools/layercheck.py [ROOT]                     check; exit 1 with one line per include against the order
#   tools/layercheck.py --graph [-v] [ROOT]        also print the area graph (-v: every include site of each edge)
#   tools/layercheck.py --dot [ROOT]               the area graph for Graphviz (back edges in red), then the check
#   tools/layercheck.py --expect-fail REGEX ROOT   inverted, for testing the checker on a bad tree: passes only if
#                                                  the tree is rejected with a report matching REGEX
#   tools/layercheck.py --self-test                runs the checker on tools/layercheck_fixtures/ and compares
#
# ROOT is the repository (default: the one this script is in). Scanned: core/include, core/src, core/user. Every
# `#include <platypos/...>` (and `#include "..."` that resolves to a scanned file) is mapped to an area by its path:
# platypos/<area>/..., core/src/<area>/..., the top-level platypos/platform*.hpp are `platform`, anything in
# core/user is `user`. A file may include its own area and the areas before it in LAYERS, nothing after it; an area
# with an `only` list may include only those (areas, or single headers as "area/file.hpp"). An area that is not in
# LAYERS is an error too: a new folder gets its place in the order when it is made.
#
# Exit status: 0 clean, 1 violations (or, with --expect-fail, the tree was not rejected as expected), 2 usage.
# Python 3.9+, standard library only.

import argparse
import os
import re
import sys

# The layer order, lowest first. Each area may include itself and the areas listed before it, never one listed after
# it. `only` narrows that for areas that must stay small or separate: they may include only the areas (or single
# headers, "area/file.hpp") listed, besides themselves. Areas listed here need not exist yet.
LAYERS = [
    # abi: what user space sees (ring layout, SQE/CQE, opcodes, status codes, program descriptors). First, so it can
    # include nothing of the kernel: programs and core/user are built against it alone.
    ("abi", None),
    # base: freestanding vocabulary with no machine behind it: types, units, Result/Error, format, assertions and
    # panic/print declarations, intrusive containers, cmdline, random, histogram, fault points.
    ("base", None),
    # platform: the Platform concept (platform.hpp), the types it shares with the backends (platform_types.hpp) and
    # the backend's implementation (platform_impl.hpp, found on the include path). Backends implement this layer.
    ("platform", None),
    # sync: what needs the Platform to be shared between CPUs: Atomic<T> (a simulator scheduling point on every
    # access) and SpinLock.
    ("sync", None),
    # trace: trace events, per-CPU trace rings, the tracer and the wire format. Low, so that everything above can
    # have trace points.
    ("trace", None),
    # mm: physical addresses, the buddy allocator, range pool, slab, kernel heap, reservations and memory accounts.
    ("mm", None),
    # sched: CPUs, tasks, run queues, the dedicated-core scheduler and admission of cores. Knows nothing of
    # capabilities or processes' handles.
    ("sched", None),
    # tracectl: running tracing on a live kernel: trace ring memory from kernel pages (TraceRingMemory), the drain
    # worker task (TraceDrainer), which need mm and sched.
    ("tracectl", None),
    # cap: rights, kernel objects, handle tables, channels, events, blocking waits on objects (through the scheduler).
    ("cap", None),
    # proc: Process (identity, generation, accounts, handle table, teardown), moved out of sched/scheduler.hpp.
    ("proc", None),
    # io: sockets and files as kernel objects (net grants, listeners, streams), their kernel-side queues and the
    # lanes through which a backend's device (hosted: io_uring; the simulator: its models) moves their bytes.
    ("io", None),
    # ring: the kernel side of the system-call rings: SQ consumer, op dispatch and handlers, CQ producer, servers.
    ("ring", None),
    # runtime: programs as processes: launch, spawn, the ring servers The
    # composition root of the kernel; nothing below may reach back to it (it hands the ring a Spawner instead).
    ("runtime", None),
    # ktest: the in-kernel test framework. After every kernel area, so no kernel code includes it; `only` keeps it to
    # what it needs to run and report (the suites in tests/ktest include whatever they test, and are not scanned).
    ("ktest", ("base", "platform", "sync")),
    # user: the user-side runtime (core/user): ring client and coroutine executor for programs. Last, so nothing of
    # the kernel includes it; `only` keeps it to the ABI and the header-only freestanding parts of base (it runs on
    # app cores, outside the kernel, and links none of it).
    ("user", ("abi", "base/types.hpp", "base/units.hpp")),
]

# Top-level headers under platypos/ that belong to the platform area.
PLATFORM_HEADERS = ("platform.hpp", "platform_types.hpp", "platform_impl.hpp")
# The folders scanned, relative to the root.
SCAN_DIRS = ("core/include", "core/src", "core/user")
SOURCE_SUFFIXES = (".hpp", ".h", ".hh", ".inc", ".cpp", ".cc", ".cxx", ".S")

INCLUDE_RE = re.compile(r'^\s*#\s*include\s*([<"])([^>"]+)[>"]')


def rank_of():
    return {name: i for i, (name, _) in enumerate(LAYERS)}


def only_of():
    return {name: only for name, only in LAYERS}


def header_area(header):
    """The area of an include path such as 'platypos/mm/buddy.hpp' (None: not a platypos header)."""
    parts = header.split("/")
    if len(parts) < 2 or parts[0] != "platypos":
        return None
    if len(parts) == 2:
        return "platform" if parts[1] in PLATFORM_HEADERS else "platypos/" + parts[1]
    return parts[1]


def file_area(rel):
    """The area of a scanned file, from its path relative to the root (forward slashes)."""
    if rel.startswith("core/user/"):
        return "user"
    if rel.startswith("core/include/"):
        return header_area(rel[len("core/include/"):]) or rel
    if rel.startswith("core/src/"):
        parts = rel[len("core/src/"):].split("/")
        return parts[0] if len(parts) > 1 else rel
    return rel


def include_lines(text):
    """(line number, '<' or '"', path) of every #include outside comments."""
    out = []
    in_block = False
    for n, line in enumerate(text.splitlines(), 1):
        # Drop /* ... */ comments (possibly spanning lines), then // comments, before looking for a directive.
        code = ""
        i = 0
        while i < len(line):
            if in_block:
                end = line.find("*/", i)
                if end < 0:
                    i = len(line)
                else:
                    in_block = False
                    i = end + 2
            else:
                start = line.find("/*", i)
                if start < 0:
                    code += line[i:]
                    break
                code += line[i:start] + " "
                in_block = True
                i = start + 2
        m = INCLUDE_RE.match(code)
        if m:
            out.append((n, m.group(1), m.group(2)))
    return out


class Include:
    def __init__(self, file, line, spelled, header, src_area, dst_area):
        self.file = file  # relative to the root
        self.line = line
        self.spelled = spelled  # as written: <platypos/mm/buddy.hpp>, "../op.hpp"
        self.header = header  # canonical: platypos/mm/buddy.hpp (or the scanned file a relative include names)
        self.src_area = src_area
        self.dst_area = dst_area


def scan(root):
    """Every scanned file's area and every kernel include: (files {rel: area}, [Include])."""
    files = {}
    includes = []
    for d in SCAN_DIRS:
        top = os.path.join(root, d)
        for dirpath, dirnames, filenames in os.walk(top):
            dirnames.sort()
            for name in sorted(filenames):
                if not name.endswith(SOURCE_SUFFIXES):
                    continue
                path = os.path.join(dirpath, name)
                rel = os.path.relpath(path, root).replace(os.sep, "/")
                files[rel] = file_area(rel)
    for rel in sorted(files):
        with open(os.path.join(root, rel), encoding="utf-8", errors="replace") as f:
            text = f.read()
        for line, delim, header in include_lines(text):
            spelled = "<{}>".format(header) if delim == "<" else '"{}"'.format(header)
            area = header_area(header)
            if area is None and delim == '"':
                # A relative include: its area is that of the file it names, if that is a scanned file.
                target = os.path.normpath(os.path.join(os.path.dirname(rel), header)).replace(os.sep, "/")
                if target in files:
                    area = files[target]
                    header = target[len("core/include/"):] if target.startswith("core/include/") else target
            if area is None:
                continue
            includes.append(Include(rel, line, spelled, header, files[rel], area))
    return files, includes


def allowed(src, dst, header):
    """None if area `src` may include `header` (of area `dst`), else the reason it may not."""
    rank = rank_of()
    if src == dst:
        return None
    only = only_of().get(src)
    if only is not None:
        short = header[len("platypos/"):] if header.startswith("platypos/") else header
        if dst in only or short in only:
            return None
        return "which {} may not include (it may include only {})".format(src, ", ".join(only) or "itself")
    if rank[dst] > rank[src]:
        return "which comes after it in the layer order"
    return None


def layers_problems():
    """What is wrong with LAYERS itself (an edit gone wrong), as error lines."""
    problems = []
    names = [name for name, _ in LAYERS]
    for name in sorted({n for n in names if names.count(n) > 1}):
        problems.append("tools/layercheck.py: LAYERS names area '{}' twice".format(name))
    for name, only in LAYERS:
        for o in only or ():
            if o.split("/")[0] not in names:
                problems.append("tools/layercheck.py: {}'s `only` names '{}', which is not in LAYERS".format(name, o))
    return problems


def check(root):
    """The error lines for the tree at `root` (empty: it follows the order), and the scan."""
    files, includes = scan(root)
    rank = rank_of()
    found = []  # (file, line, message): sorted by place at the end
    for rel, area in files.items():
        if area not in rank:
            found.append((rel, 0, "{}: file in area '{}', which is not in the layer order (add it to LAYERS in "
                          "tools/layercheck.py)".format(rel, area)))
    for inc in includes:
        where = "{}:{}".format(inc.file, inc.line)
        if inc.src_area not in rank:
            continue  # reported once for the file
        if inc.dst_area not in rank:
            found.append((inc.file, inc.line, "{}: {} includes {} (area '{}'), which is not in the layer order".format(
                where, inc.src_area, inc.spelled, inc.dst_area)))
            continue
        why = allowed(inc.src_area, inc.dst_area, inc.header)
        if why is not None:
            found.append((inc.file, inc.line, "{}: {} includes {} (area {}), {}".format(
                where, inc.src_area, inc.spelled, inc.dst_area, why)))
    return layers_problems() + [m for _, _, m in sorted(found)], files, includes


def edges_of(includes):
    """{(src, dst): [Include]} for includes between different areas."""
    edges = {}
    for inc in includes:
        if inc.src_area != inc.dst_area:
            edges.setdefault((inc.src_area, inc.dst_area), []).append(inc)
    return edges


def cycles_of(edges):
    """The strongly connected components of more than one area (Tarjan), each sorted by the layer order."""
    graph = {}
    for (a, b) in edges:
        graph.setdefault(a, set()).add(b)
        graph.setdefault(b, set())
    index, low, on_stack, stack, out = {}, {}, set(), [], []
    counter = [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(comp)

    for v in sorted(graph):
        if v not in index:
            visit(v)
    rank = rank_of()
    return sorted((sorted(c, key=lambda a: (rank.get(a, len(rank)), a)) for c in out),
                  key=lambda c: (rank.get(c[0], len(rank)), c[0]))


def print_graph(files, includes, verbose, out):
    rank = rank_of()
    edges = edges_of(includes)
    areas = sorted(set(files.values()) | {a for e in edges for a in e}, key=lambda a: (rank.get(a, len(rank)), a))
    out.write("layer order: {}\n".format(" < ".join(name for name, _ in LAYERS)))
    out.write("area graph: area -> areas it includes (number of #include lines); '!' marks an include against "
              "the order\n")
    width = max(len(a) for a in areas) if areas else 0
    for a in areas:
        count = sum(1 for f in files.values() if f == a)
        targets = sorted((b for (s, b) in edges if s == a), key=lambda b: (rank.get(b, len(rank)), b))
        parts = []
        for b in targets:
            bad = a not in rank or b not in rank or any(
                allowed(a, b, inc.header) is not None for inc in edges[(a, b)])
            parts.append("{}{}({})".format(b, "!" if bad else "", len(edges[(a, b)])))
        out.write("  {:<{w}}  [{} files] -> {}\n".format(a, count, " ".join(parts) or "-", w=width))
        if verbose:
            for b in targets:
                for inc in edges[(a, b)]:
                    out.write("  {:<{w}}      {} <- {}:{} {}\n".format("", b, inc.file, inc.line, inc.spelled,
                                                                      w=width))
    mutual = sorted({tuple(sorted((a, b), key=lambda x: (rank.get(x, len(rank)), x))) for (a, b) in edges
                     if (b, a) in edges}, key=lambda p: (rank.get(p[0], len(rank)), rank.get(p[1], len(rank))))
    if mutual:
        out.write("areas that include each other directly: {}\n".format(
            ", ".join("{} <-> {}".format(a, b) for a, b in mutual)))
    cycles = cycles_of(edges)
    if cycles:
        out.write("cycles (areas that include one another, directly or through others):\n")
        for c in cycles:
            out.write("  {}\n".format(" <-> ".join(c)))
    else:
        out.write("cycles: none\n")


def print_dot(files, includes, out):
    rank = rank_of()
    edges = edges_of(includes)
    out.write("digraph layers {\n  rankdir=BT;\n  node [shape=box];\n")
    for a in sorted(set(files.values()), key=lambda a: (rank.get(a, len(rank)), a)):
        out.write('  "{}";\n'.format(a))
    for (a, b), incs in sorted(edges.items()):
        bad = a not in rank or b not in rank or any(allowed(a, b, i.header) is not None for i in incs)
        out.write('  "{}" -> "{}" [label="{}"{}];\n'.format(a, b, len(incs), ', color=red' if bad else ""))
    out.write("}\n")


def self_test(fixtures):
    """Checks each fixture tree against its expected.txt (the exact error lines, in order). Returns failures."""
    failures = 0
    names = sorted(n for n in os.listdir(fixtures) if os.path.isdir(os.path.join(fixtures, n)))
    if not names:
        print("layercheck self-test: no fixture trees in {}".format(fixtures))
        return 1
    for name in names:
        tree = os.path.join(fixtures, name)
        with open(os.path.join(tree, "expected.txt"), encoding="utf-8") as f:
            expected = [l for l in f.read().splitlines() if l and not l.startswith("#")]
        errors, _, _ = check(tree)
        if errors == expected:
            print("layercheck self-test: {}: ok ({} errors, as expected)".format(name, len(errors)))
            continue
        failures += 1
        print("layercheck self-test: {}: FAILED".format(name))
        for e in expected:
            if e not in errors:
                print("  expected, not reported: " + e)
        for e in errors:
            if e not in expected:
                print("  reported, not expected: " + e)
        if sorted(errors) == sorted(expected):
            print("  (same errors, different order)")
    # The unit pieces the trees cannot show on their own.
    cases = [
        (header_area("platypos/platform.hpp"), "platform"),
        (header_area("platypos/platform_impl.hpp"), "platform"),
        (header_area("platypos/mm/buddy.hpp"), "mm"),
        (header_area("platypos/odd.hpp"), "platypos/odd.hpp"),
        (header_area("gtest/gtest.h"), None),
        (file_area("core/user/include/platypos/user/task.hpp"), "user"),
        (file_area("core/src/ring/ring.cpp"), "ring"),
        (file_area("core/src/stray.cpp"), "core/src/stray.cpp"),
        (include_lines("// #include <platypos/a/b.hpp>\n/* #include <platypos/c/d.hpp>\n"
                       "*/ #include <platypos/e/f.hpp>\n  #  include <platypos/g/h.hpp> // why\n"),
         [(3, "<", "platypos/e/f.hpp"), (4, "<", "platypos/g/h.hpp")]),
    ]
    for got, want in cases:
        if got != want:
            failures += 1
            print("layercheck self-test: mapping: got {!r}, want {!r}".format(got, want))
    if failures == 0:
        print("layercheck self-test: ok")
    return failures


def main(argv):
    here = os.path.dirname(os.path.abspath(__file__))
    ap = argparse.ArgumentParser(prog="layercheck.py",
                                 description="Checks that the kernel's includes follow the layer order.")
    ap.add_argument("root", nargs="?", default=os.path.dirname(here), help="repository root (default: %(default)s)")
    ap.add_argument("--graph", action="store_true", help="print the area graph before the check")
    ap.add_argument("-v", "--verbose", action="store_true", help="with --graph: every include site of each edge")
    ap.add_argument("--dot", action="store_true", help="print the area graph as Graphviz dot before the check")
    ap.add_argument("--expect-fail", metavar="REGEX",
                    help="pass only if the tree is rejected with an error line matching REGEX")
    ap.add_argument("--self-test", action="store_true",
                    help="check the fixture trees in tools/layercheck_fixtures/ against their expected.txt")
    args = ap.parse_args(argv)

    if args.self_test:
        return 1 if self_test(os.path.join(here, "layercheck_fixtures")) else 0
    if not all(os.path.isdir(os.path.join(args.root, d)) for d in ("core/include", "core/src")):
        print("layercheck: {} has no core/include and core/src: not a PlatypOS tree".format(args.root),
              file=sys.stderr)
        return 2

    errors, files, includes = check(args.root)
    if args.graph:
        print_graph(files, includes, args.verbose, sys.stdout)
    if args.dot:
        print_dot(files, includes, sys.stdout)
    # With --dot, stdout is the graph alone (for `dot -Tsvg`): the check's lines go to stderr.
    report = sys.stderr if args.dot else sys.stdout
    for e in errors:
        print(e, file=report)

    if args.expect_fail is not None:
        pattern = re.compile(args.expect_fail)
        if any(pattern.search(e) for e in errors):
            print("layercheck: rejected as expected (an error matches '{}')".format(args.expect_fail), file=report)
            return 0
        print("layercheck: expected an error matching '{}', got {}".format(
            args.expect_fail, "{} other errors".format(len(errors)) if errors else "none"), file=report)
        return 1
    if errors:
        print("layercheck: {} errors in {} files (the order: LAYERS in tools/layercheck.py)".format(
            len(errors), len(files)), file=report)
        return 1
    print("layercheck: {} files, {} kernel includes, all in layer order".format(len(files), len(includes)),
          file=report)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
