"""The shape of the house: every module of the installed `smallrag`, its imports (those inside
functions too) read with `ast`, checked against the floors of the design card (DESIGN.md).

- the module graph has no circle;
- `smallrag.core` imports nothing of ours outside itself;
- a module imports only its own folder or the floors below it, and the role folders do not
  import each other;
- nothing imports the old top-level names (`rag`, `eval`, ...);
- `import smallrag` stays cheap, and its lazy names resolve.

Nothing here imports the modules it reads (except to find the installed folders), so a broken
module shows as a finding, not as a crash of the test.
"""

from __future__ import annotations

import ast
import importlib
import importlib.util
import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10: pytest itself depends on tomli there
    import tomli as tomllib

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = "smallrag"
# the folders of the design card before they became one package; none may be imported by that name
OLD_TOP_LEVEL = ("rag", "retrievers", "verifiers", "indexes", "eval")

# group -> floor; a module may import its own group, or a group on a lower floor
FLOORS = {
    "core": 0,
    "indexes": 1, "readers": 1,
    "retrievers": 2, "verifiers": 2, "generators": 2, "ingest": 2, "prompt": 2, "conversation": 2,
    "eval": 3,
    "compression": 3,  # scores sentences with the reranker (a role folder), feeds the prompt
    "app": 4,
}
# the app floor: the only code that may import every other floor
APP = {"smallrag", "smallrag.pipeline", "smallrag.policy", "smallrag.attribution", "smallrag.server",
       "smallrag.eval.runner"}
APP_PACKAGES = ("smallrag.cli",)
HEAVY = ("torch", "transformers", "faiss", "sentence_transformers", "llama_cpp")
LAZY_NAMES = ("RAG", "bertscore", "NLIVerifier", "build_index", "open_retriever", "load_documents", "Answer")


# -- reading the package ------------------------------------------------------------------------

def package_folders() -> dict[str, Path]:
    """{package name: folder it is installed from}, for every package pyproject.toml ships."""
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    folders = {}
    for name in config["tool"]["setuptools"]["packages"]:
        spec = importlib.util.find_spec(name)  # imports the parents only: `smallrag` itself is cheap
        assert spec is not None and spec.submodule_search_locations, f"{name} is not installed as a package"
        folders[name] = Path(list(spec.submodule_search_locations)[0])
    return folders


def module_files(folders: dict[str, Path]) -> dict[str, Path]:
    """{module name: source file} over the given package folders (one level each: subpackages
    are packages of their own)."""
    files = {}
    for package, folder in folders.items():
        for path in sorted(folder.glob("*.py")):
            files[package if path.stem == "__init__" else f"{package}.{path.stem}"] = path
    return files


def _resolve_relative(module: str, is_package: bool, level: int, target: str | None) -> str:
    parts = module.split(".") if is_package else module.split(".")[:-1]
    base = parts[: len(parts) - (level - 1)] if level > 1 else parts
    return ".".join(base + ([target] if target else []))


def imported_names(path: Path, module: str, *, relative: bool = True) -> list[tuple[int, str]]:
    """(line, dotted name) of every import in the file, at any depth, relative ones made absolute
    (or left out with relative=False).

    `from a.b import c` yields `a.b.c` (which `edges` narrows to `a.b` when `c` is not a module),
    and `importlib.import_module("a.b")` with a literal name counts as an import of `a.b`."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    is_package = path.name == "__init__.py"
    names = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and (relative or not node.level):
            base = node.module if not node.level else _resolve_relative(module, is_package, node.level, node.module)
            names.append((node.lineno, base))
            names += [(node.lineno, f"{base}.{alias.name}") for alias in node.names if alias.name != "*"]
        elif (isinstance(node, ast.Call) and node.args and isinstance(node.args[0], ast.Constant)
              and isinstance(node.args[0].value, str)
              and (getattr(node.func, "attr", None) or getattr(node.func, "id", None)) == "import_module"):
            names.append((node.lineno, node.args[0].value))
    return names


def edges(files: dict[str, Path]) -> dict[str, dict[str, int]]:
    """{module: {module of ours it imports: first line}}, to the deepest known module of each name."""
    graph: dict[str, dict[str, int]] = {}
    for module, path in files.items():
        out = graph.setdefault(module, {})
        for line, name in imported_names(path, module):
            if name != PACKAGE and not name.startswith(PACKAGE + "."):
                continue
            while name not in files and "." in name:  # `from smallrag.core.types import Answer`
                name = name.rsplit(".", 1)[0]
            if name in files and name != module:
                out.setdefault(name, line)
    return graph


def find_cycle(graph: dict[str, dict[str, int]]) -> list[str] | None:
    """One circle of the graph as [a, b, ..., a], or None (iterative depth-first search)."""
    state: dict[str, int] = {}  # 1 on the current path, 2 done
    for start in sorted(graph):
        if start in state:
            continue
        path, stack = [start], [iter(sorted(graph[start]))]
        state[start] = 1
        while stack:
            for nxt in stack[-1]:
                if state.get(nxt) == 1:
                    return path[path.index(nxt):] + [nxt]
                if nxt not in state:
                    state[nxt] = 1
                    path.append(nxt)
                    stack.append(iter(sorted(graph.get(nxt, ()))))
                    break
            else:
                state[path.pop()] = 2
                stack.pop()
    return None


def group(module: str) -> str | None:
    """The floor group of a module, or None for a module the card does not place yet."""
    if module in APP or any(module == p or module.startswith(p + ".") for p in APP_PACKAGES):
        return "app"
    parts = module.split(".")
    if len(parts) >= 2 and parts[0] == PACKAGE and parts[1] in FLOORS and parts[1] != "app":
        return parts[1]
    return None


def floor_violations(graph: dict[str, dict[str, int]], files: dict[str, Path]) -> list[str]:
    found = []
    for module, targets in sorted(graph.items()):
        mine = group(module)
        if mine is None:
            found.append(f"{module}: no floor; place it in FLOORS/APP of tests/test_architecture.py")
            continue
        for target, line in sorted(targets.items()):
            theirs = group(target)
            if theirs is None or theirs == mine or FLOORS[theirs] < FLOORS[mine]:
                continue
            way = "a sibling folder" if FLOORS[theirs] == FLOORS[mine] else "a higher floor"
            found.append(f"{files[module].relative_to(ROOT) if files[module].is_relative_to(ROOT) else files[module]}"
                         f":{line}: {module} ({mine}) imports {target} ({theirs}), {way}")
    return found


def old_name_imports(paths) -> list[str]:
    found = []
    for path in paths:
        for line, name in imported_names(path, path.stem, relative=False):
            if name.split(".")[0] in OLD_TOP_LEVEL:
                found.append(f"{path}:{line}: imports {name}")
    return found


# -- the package as installed -------------------------------------------------------------------

@pytest.fixture(scope="module")
def installed() -> tuple[dict[str, Path], dict[str, dict[str, int]]]:
    files = module_files(package_folders())
    return files, edges(files)


def test_every_subfolder_with_code_is_a_shipped_package():
    folders = package_folders()
    missing = [f"{name}.{sub.name} ({sub})" for name, folder in folders.items()
               for sub in sorted(folder.iterdir())
               if (sub / "__init__.py").is_file() and f"{name}.{sub.name}" not in folders]
    assert not missing, "folders with code that pyproject.toml does not ship: " + ", ".join(missing)


def test_the_module_graph_has_no_circle(installed):
    files, graph = installed
    assert len(files) > 50, sorted(files)  # the walk found the package, not an empty folder
    cycle = find_cycle(graph)
    assert cycle is None, "import circle: " + " -> ".join(
        f"{a} (line {graph[a][b]})" for a, b in zip(cycle, cycle[1:])) + f" -> {cycle[-1]}"


def test_the_ground_floor_imports_nothing_of_ours_outside_it(installed):
    _, graph = installed
    wrong = [f"{module} imports {target} (line {line})" for module, targets in sorted(graph.items())
             if group(module) == "core" for target, line in sorted(targets.items()) if group(target) != "core"]
    assert not wrong, "\n".join(wrong)


def test_imports_go_to_the_own_folder_or_a_lower_floor(installed):
    files, graph = installed
    found = floor_violations(graph, files)
    assert not found, "\n".join(found)


def test_nothing_imports_the_old_top_level_names(installed):
    files, _ = installed
    outside = [p for folder in ("tests", "benchmarks") for p in sorted((ROOT / folder).rglob("*.py"))]
    found = old_name_imports(list(files.values()) + outside)
    assert not found, "\n".join(found)


def test_import_smallrag_is_cheap():
    code = "import json, sys, smallrag; print(json.dumps(sorted(sys.modules)))"
    loaded = json.loads(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                                       cwd=ROOT).stdout)
    heavy = [m for m in loaded if m.split(".")[0] in HEAVY]
    ours = [m for m in loaded if m.split(".")[0] == PACKAGE and m not in {PACKAGE, "smallrag.core",
                                                                          "smallrag.core.version"}]
    assert not heavy and not ours, f"`import smallrag` loads {heavy + ours}"


def test_the_lazy_names_resolve():
    import smallrag

    for name in LAZY_NAMES:
        value = getattr(smallrag, name)
        assert value is getattr(importlib.import_module(value.__module__), name)
        assert name in dir(smallrag)
    assert isinstance(smallrag.__version__, str)
    with pytest.raises(AttributeError):
        smallrag.no_such_name  # noqa: B018


# -- the checks can fail: a small bad package built here -----------------------------------------

def test_the_checks_find_a_circle_a_wrong_arrow_and_an_old_name(tmp_path):
    def write(relative, code):
        path = tmp_path / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(code), encoding="utf-8")

    write("core/__init__.py", "")
    write("core/types.py", """
        def later():
            from smallrag.pipeline import RAG  # the ground floor reaching for the top, inside a function
    """)
    write("retrievers/__init__.py", "")
    write("retrievers/bm25.py", "from ..verifiers import nli\nimport rag.types\n")
    write("verifiers/__init__.py", "")
    write("verifiers/nli.py", "from smallrag.core.types import later\n")
    write("pipeline.py", "import smallrag.retrievers.bm25\nfrom smallrag.core import types\n")
    folders = {"smallrag": tmp_path, "smallrag.core": tmp_path / "core",
               "smallrag.retrievers": tmp_path / "retrievers", "smallrag.verifiers": tmp_path / "verifiers"}
    files = module_files(folders)
    graph = edges(files)
    # `from package import module` runs the package's __init__ too
    assert graph["smallrag.retrievers.bm25"] == {"smallrag.verifiers": 1, "smallrag.verifiers.nli": 1}
    assert graph["smallrag.pipeline"] == {"smallrag.retrievers.bm25": 1, "smallrag.core": 2, "smallrag.core.types": 2}
    cycle = find_cycle(graph)
    assert cycle is not None and cycle[0] == cycle[-1] and "smallrag.core.types" in cycle
    found = [f.split(": ", 1)[1] for f in floor_violations(graph, files)]
    assert found == [
        "smallrag.core.types (core) imports smallrag.pipeline (app), a higher floor",
        "smallrag.retrievers.bm25 (retrievers) imports smallrag.verifiers (verifiers), a sibling folder",
        "smallrag.retrievers.bm25 (retrievers) imports smallrag.verifiers.nli (verifiers), a sibling folder",
    ]  # verifiers -> core and the app -> anything are allowed
    assert [f.split(": ", 1)[1] for f in old_name_imports([tmp_path / "retrievers/bm25.py"])] == ["imports rag.types"]
