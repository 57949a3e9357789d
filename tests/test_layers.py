"""The package's import layers: imports only go down, and nothing in `diffusers_s2acc` imports the dataset builder or
the training scripts that sit on top of it (the package must work without them)."""

import ast
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest


SRC = Path(__file__).resolve().parents[1] / "src"
PACKAGE = SRC / "diffusers_s2acc"
#: Top-level packages that import `diffusers_s2acc` and must never be imported by it.
ABOVE = ("dataset_builder", "train")
#: Layers, lowest first; a module may import its own layer and those below. A unit is a top-level module or package of
#: `diffusers_s2acc`, or a module inside one that is named here on its own (`pipelines.loading_utils`): the most
#: specific name wins. Where the shipped models come from sits below the pipelines that load them, the presets build
#: pipelines, `pretrained` loads and writes all of them; the commands sit on top of the Space.
LAYERS = [
    {"music", "audio", "devices"},
    {"analysis", "models", "corpus_schema", "loaders"},
    {"pipelines.loading_utils"},
    {"pipelines"},
    {"presets"},
    {"pretrained"},
    {"training", "evaluation"},
    # The Space: the form (its `__init__` re-exports it) and the picture, the take store and history, the controller,
    # the page, the process entry point.
    {"space.form", "space.figure", "space"},
    {"space.takes"},
    {"space.controller"},
    {"space.layout"},
    {"space.app"},
    # The commands share `cli.common` and never import each other; `cli` (main and the parser) imports them all.
    {"cli.common"},
    {"cli.generate", "cli.evaluate", "cli.accompany", "cli.space"},
    {"cli"},
]
RANK = {unit: rank for rank, units in enumerate(LAYERS) for unit in units}


def _modules() -> list[str]:
    names = []
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(SRC).with_suffix("").parts
        names.append(".".join(parts[:-1] if parts[-1] == "__init__" else parts))
    return names


def _imports(path: Path, module: str) -> list[tuple[str, int]]:
    """Every module `path` imports, at any depth (function-level imports included), with its line."""
    package = module if path.name == "__init__.py" else module.rsplit(".", 1)[0]
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found += [(alias.name, node.lineno) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            # `from . import accompany` and `from diffusers_s2acc import audio` name submodules, `from .x import name`
            # a name in `x`: both are kept as `target.name`, which the readers below cut back to the module.
            found += [(f"{target}.{alias.name}" if target else alias.name, node.lineno) for alias in node.names]
    return found


def _unit(module: str) -> str:
    parts = module.split(".")[1:]
    for end in range(len(parts), 1, -1):  # `pipelines.loading_utils` before `pipelines`
        if ".".join(parts[:end]) in RANK:
            return ".".join(parts[:end])
    return parts[0] if parts else "__init__"


def _import_graph() -> dict[str, set[str]]:
    """Module -> the package's modules it imports, at any depth (function-level imports included). `from .x import
    name` counts as importing `x`; a package counts as its `__init__`."""
    modules = _modules()
    known = set(modules)
    graph = {}
    for path, module in zip(sorted(PACKAGE.rglob("*.py")), modules):
        targets = set()
        for target, _ in _imports(path, module):
            while target not in known and "." in target:  # `pkg.module.Class` -> `pkg.module`
                target = target.rsplit(".", 1)[0]
            if target in known and target != module:
                targets.add(target)
        graph[module] = targets
    return graph


def _import_loops(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of `graph` with more than one module (Tarjan's algorithm, iterative)."""
    index, low, stack, on_stack, loops = {}, {}, [], set(), []
    for root in sorted(graph):
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph[child]))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    loops.append(sorted(component))
    return loops


def test_no_package_module_imports_the_builder_or_the_training_scripts_even_lazily():
    offenders = [
        f"{path.relative_to(SRC)}:{line} imports {target}"
        for path, module in zip(sorted(PACKAGE.rglob("*.py")), _modules())
        for target, line in _imports(path, module)
        if target.split(".")[0] in ABOVE
    ]
    assert not offenders, "\n".join(offenders)


def test_imports_only_go_down_the_layers():
    assert {_unit(m) for m in _modules()} - {"__init__"} <= set(RANK), "a new unit needs a layer in LAYERS"
    offenders = []
    for path, module in zip(sorted(PACKAGE.rglob("*.py")), _modules()):
        source = _unit(module)
        if source == "__init__":  # the top-level exports re-export the public classes of every layer
            continue
        for target, line in _imports(path, module):
            if target.startswith("diffusers_s2acc.") and _unit(target) in RANK and RANK[_unit(target)] > RANK[source]:
                offenders.append(f"{path.relative_to(SRC)}:{line}: {source} (layer {RANK[source]}) imports {target}")
    assert not offenders, "\n".join(offenders)


def test_no_import_loops_even_through_function_level_imports():
    """No two modules of the package import each other, directly or through others: a function-level import hides
    a loop at import time, but the modules still cannot be understood (or moved) one without the other."""
    loops = _import_loops(_import_graph())
    assert not loops, "import loops:\n" + "\n".join(" <-> ".join(loop) for loop in loops)


def test_the_loop_finder_finds_loops():
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}, "e": {"e"}, "f": set()}
    assert _import_loops(graph) == [["a", "b", "c"]]
    assert _import_loops({"a": {"b"}, "b": set()}) == []


def test_units_named_inside_a_package_are_their_own_layer():
    assert _unit("diffusers_s2acc.pipelines.loading_utils") == "pipelines.loading_utils"
    assert _unit("diffusers_s2acc.pipelines.pipeline_s2accompanist") == "pipelines"
    assert _unit("diffusers_s2acc.pipelines") == "pipelines"
    assert RANK["pipelines.loading_utils"] < RANK["pipelines"] < RANK["presets"] < RANK["pretrained"]
    assert RANK["space.takes"] < RANK["space.controller"] < RANK["space.layout"] < RANK["space.app"]
    assert RANK["space.app"] < RANK["cli.common"] < RANK["cli.generate"] == RANK["cli.space"] < RANK["cli"]
    assert _unit("diffusers_s2acc.cli.common") == "cli.common" and _unit("diffusers_s2acc.cli.__main__") == "cli"
    # `from . import generate` in cli/__init__.py imports the module `cli.generate`, not the package itself.
    assert "diffusers_s2acc.cli.generate" in _import_graph()["diffusers_s2acc.cli"]


_IMPORT_ALL = r"""
import importlib, importlib.abc, json, sys, traceback

ABOVE, modules = json.loads(sys.argv[1]), json.loads(sys.argv[2])


class Blocked(ImportError):
    pass


class Blocker(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in ABOVE:
            raise Blocked(f"{name} is above the package and may not be imported by it")
        return None


sys.meta_path.insert(0, Blocker())
for name in ABOVE:
    sys.modules.pop(name, None)
failures = {}
for module in modules:
    try:
        importlib.import_module(module)
    except BaseException as error:  # report every module, not only the first
        chain, cause = [], error
        while cause is not None:
            chain.append(cause)
            cause = cause.__cause__ or cause.__context__
        blocked = any(isinstance(c, Blocked) for c in chain)
        missing = getattr(error, "name", None) if isinstance(error, ImportError) and not blocked else None
        failures[module] = {"blocked": blocked, "missing": missing, "error": traceback.format_exc(limit=-3)}
print(json.dumps(failures))
"""


def test_every_module_imports_with_the_builder_and_training_scripts_unimportable(tmp_path):
    """Each module of the package imports in a fresh interpreter where `dataset_builder` and `train` cannot be
    imported (the repository root is not on the path either, and a finder refuses them)."""
    env = {**os.environ, "PYTHONPATH": str(SRC), "OMP_NUM_THREADS": "1"}
    result = subprocess.run(
        [sys.executable, "-c", _IMPORT_ALL, json.dumps(ABOVE), json.dumps(_modules())],
        capture_output=True,
        text=True,
        cwd=tmp_path,  # not the repository root, where `dataset_builder/` would be importable from the cwd
        env=env,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    failures = json.loads(result.stdout.strip().splitlines()[-1])
    blocked = {m: f["error"] for m, f in failures.items() if f["blocked"]}
    assert not blocked, "modules that import the builder or the training scripts:\n" + "\n".join(
        f"{m}:\n{e}" for m, e in blocked.items()
    )
    # Anything else that fails to import is a broken module, unless an optional extra is simply not installed.
    optional = {"gradio", "matplotlib", "librosa", "mir_eval", "basic_pitch", "datasets", "evaluate", "soxr"}
    broken = {m: f["error"] for m, f in failures.items() if (f["missing"] or "").split(".")[0] not in optional}
    assert not broken, "\n".join(f"{m}:\n{e}" for m, e in broken.items())


@pytest.mark.parametrize(
    "args",
    [["--help"], ["generate", "--help"]],
    ids=["help", "generate-help"],
)
def test_cli_start_up_prints_no_third_party_warnings(args):
    result = subprocess.run(
        [sys.executable, "-c", "from diffusers_s2acc.cli import main; main()", *args],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(SRC), "OMP_NUM_THREADS": "1"},
        timeout=300,
    )
    assert result.returncode == 0 and "usage: s2acc" in result.stdout
    assert result.stderr == "", result.stderr


NOISE = ("torchvision", "ImageProcessor", "Tensorflow", "Coremltools", "tflite", "pkg_resources", "Loading weights")


def test_generate_and_import_print_nothing_but_their_own_output(tmp_path):
    """`import diffusers_s2acc` is silent; `s2acc generate` prints its own notice, the step bar and the result only."""
    env = {**os.environ, "PYTHONPATH": str(SRC), "OMP_NUM_THREADS": "1"}
    quiet = subprocess.run([sys.executable, "-c", "import diffusers_s2acc"], capture_output=True, text=True, env=env)
    assert quiet.returncode == 0 and quiet.stdout == "" and quiet.stderr == ""
    out = tmp_path / "a.wav"
    generate = ["generate", "--pipeline", "tiny", "--lead-sheet", "C | G", "--steps", "1", "--duration", "1"]
    result = subprocess.run(
        [sys.executable, "-c", "from diffusers_s2acc.cli import main; main()", *generate, "--out", str(out)],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    assert [n for n in NOISE if n in result.stderr] == [], result.stderr
    lines = [line.strip() for line in result.stderr.replace("\r", "\n").splitlines() if line.strip()]
    others = [line for line in lines if not line.startswith("s2acc: warning: preset") and "it/s]" not in line]
    assert others == [], others
