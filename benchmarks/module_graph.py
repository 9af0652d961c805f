"""Module graph of a smallrag source tree: import cycles (strongly connected components) and the
imports that cross folders (rag/'s subfolders core/, generators/, cli/ counted as their own).
Reads the files with ast (imports inside functions too); imports nothing of the tree.

Usage:  python benchmarks/module_graph.py [TREE] [--layout before|after]
`before` reads the layout before the one-name change (top-level rag, retrievers, verifiers,
indexes, eval); `after` (default) the smallrag.* layout. Ends with ONE JSON line."""
import ast, os, sys
from collections import defaultdict
import argparse
import json

_parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
_parser.add_argument("tree", nargs="?", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
_parser.add_argument("--layout", choices=("before", "after"), default="after")
_args = _parser.parse_args()
tree, era = _args.tree, _args.layout
if era == "before":
    folders = {"rag": "rag", "retrievers": "retrievers", "verifiers": "verifiers", "indexes": "indexes", "eval": "eval"}
else:
    folders = {"rag": "smallrag", "retrievers": "smallrag.retrievers", "verifiers": "smallrag.verifiers",
               "indexes": "smallrag.indexes", "eval": "smallrag.eval"}
mods = {}
for folder, pkg in folders.items():
    for dp, _, fs in os.walk(os.path.join(tree, folder)):
        if "__pycache__" in dp or "/models" in dp: continue
        for f in fs:
            if not f.endswith(".py"): continue
            rel = os.path.relpath(os.path.join(dp, f), os.path.join(tree, folder))[:-3].replace("/", ".")
            name = pkg if rel == "__init__" else pkg + "." + (rel[:-9] if rel.endswith(".__init__") else rel)
            # a file under rag/ that belongs to a mapped subpackage folder is never here (folders are disjoint)
            mods[name] = os.path.join(dp, f)
def folder_of(name):
    # the physical folder a module lives in, with rag/'s subfolders as their own
    path = os.path.relpath(mods[name], tree)
    parts = path.split("/")
    return "/".join(parts[:2]) if parts[0] == "rag" and len(parts) > 2 else parts[0]
def resolve(target):
    while target and target not in mods:
        target = target.rpartition(".")[0]
    return target or None
edges = defaultdict(set)
for name, path in mods.items():
    for node in ast.walk(ast.parse(open(path).read())):
        targets = []
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = name.split(".")
                base = base[:len(base) - node.level + (1 if path.endswith("__init__.py") else 0)]
                mod = ".".join(base + ([node.module] if node.module else []))
            else:
                mod = node.module or ""
            targets = [mod] + [f"{mod}.{a.name}" for a in node.names]
        for t in targets:
            r = resolve(t)
            if r and r != name and not (name.startswith(r + ".") and r in (folders.values())):
                edges[name].add(r)
# Tarjan SCC
index, low, stack, on, sccs, counter = {}, {}, [], set(), [], [0]
sys.setrecursionlimit(10000)
def strong(v):
    index[v] = low[v] = counter[0]; counter[0] += 1; stack.append(v); on.add(v)
    for w in edges[v]:
        if w not in index: strong(w); low[v] = min(low[v], low[w])
        elif w in on: low[v] = min(low[v], index[w])
    if low[v] == index[v]:
        comp = []
        while True:
            w = stack.pop(); on.discard(w); comp.append(w)
            if w == v: break
        if len(comp) > 1: sccs.append(sorted(comp))
for v in list(mods):
    if v not in index: strong(v)
cross = defaultdict(int)
for a, targets in edges.items():
    for b in targets:
        fa, fb = folder_of(a), folder_of(b)
        if fa != fb: cross[(fa, fb)] += 1
print(f"{len(mods)} modules, {sum(len(t) for t in edges.values())} import edges")
print(f"import cycles: {len(sccs)}")
for c in sccs: print("  cycle:", " <-> ".join(c))
print("imports between folders (from -> to: count):")
for (a, b), n in sorted(cross.items()): print(f"  {a} -> {b}: {n}")
print(json.dumps({"modules": len(mods), "edges": sum(len(t) for t in edges.values()), "cycles": sccs,
                  "cross_folder": {f"{a} -> {b}": n for (a, b), n in sorted(cross.items())}}))
