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
#: Layers, lowest first; a module may import its own layer and those below. `pipelines`, `presets` and `pretrained`
#: are one layer: a pipeline resolves shipped names, a preset is a pipeline's configuration.
LAYERS = [
    {"music", "audio", "devices"},
    {"analysis", "models", "corpus_schema", "loaders"},
    {"pipelines", "presets", "pretrained"},
    {"training", "evaluation"},
    {"space", "cli", "cli_accompany"},
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
            if target == "diffusers_s2acc":  # `from diffusers_s2acc import audio` names a submodule
                found += [(f"diffusers_s2acc.{alias.name}", node.lineno) for alias in node.names]
            else:
                found.append((target, node.lineno))
    return found


def _unit(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


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
