#!/usr/bin/env python
"""Run diffusers' own pipeline test suite (`PipelineTesterMixin`) against `S2AccompanistPipeline`.

    python bench/run_diffusers_pipeline_tests.py --diffusers-tests /path/to/diffusers        # a checkout
    python bench/run_diffusers_pipeline_tests.py --diffusers-tests /path/to/diffusers/tests  # or its tests/
    S2ACC_DIFFUSERS_CHECKOUT=/path/to/diffusers python bench/run_diffusers_pipeline_tests.py -k save_load

diffusers does not ship its tests in the wheel, so this needs a local checkout of the diffusers repository (ideally
at the tag of the installed version); nothing is downloaded. Its test helpers import `parameterized` and
`requests_mock` (diffusers' `[test]` extra), which this project's `dev` extra installs: `pip install -e .[dev]`.

The script writes a temporary pytest module whose test case subclasses diffusers' `PipelineTesterMixin` with the
`tiny` preset's components (as diffusers' own audio pipeline tests, e.g. `StableAudioPipelineFastTests`, do with
their dummy components), runs it with pytest in a subprocess, prints every test's outcome (with the reason of each
skip) and a count, and exits non-zero when a test fails or errors, or when none ran.

`PipelineTesterMixin` is the only mixin of `tests/pipelines/test_pipelines_common.py` that applies: the others test
features this pipeline does not have (IP adapters, image latents and PIL inputs, `StableDiffusionPipeline`-based
`from_pipe` round trips, Karras schedulers, and cache hooks that need diffusers' own transformer blocks).

Which tests run depends on the device diffusers' `testing_utils.torch_device` picks (`DIFFUSERS_TEST_DEVICE`, else
CUDA, XPU, MPS, else the CPU): on a CPU-only machine diffusers itself skips its accelerator tests (fp16, offloading,
`to(device)`), and its xformers test needs CUDA and xformers.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import os
import subprocess
import sys
import tempfile
import unittest
import xml.etree.ElementTree as ET
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any, Iterator


#: Where the checkout (or its `tests/` folder) is given when `--diffusers-tests` is not.
CHECKOUT_ENV = "S2ACC_DIFFUSERS_CHECKOUT"
#: Name under which diffusers' `tests/` package is imported: not `tests`, which would clash with this project's.
TESTS_PACKAGE = "diffusers_tests"
#: Modules diffusers' test helpers import that diffusers itself does not install (module -> pip name); this project's
#: `dev` extra (pyproject.toml) lists them.
TEST_REQUIREMENTS = {"parameterized": "parameterized", "requests_mock": "requests-mock"}
#: How to install them, from the repository root.
INSTALL_HINT = "pip install -e .[dev]"
COMMON_MODULE = "pipelines/test_pipelines_common.py"


def resolve_tests_dir(path: str | os.PathLike) -> Path:
    """diffusers' `tests/` folder from a checkout's root or the folder itself; a `ValueError` says what is missing."""
    path = Path(path).expanduser().resolve()
    for candidate in (path / "tests", path):
        if (candidate / COMMON_MODULE).is_file() and (candidate / "__init__.py").is_file():
            return candidate
    raise ValueError(
        f"{path} is neither a diffusers checkout nor its tests/ folder: no tests/{COMMON_MODULE} or {COMMON_MODULE}."
    )


def missing_requirements() -> list[str]:
    """pip names of the test requirements that cannot be imported."""
    return [pip for module, pip in TEST_REQUIREMENTS.items() if importlib.util.find_spec(module) is None]


def load_diffusers_tests(tests_dir: str | os.PathLike) -> ModuleType:
    """Import diffusers' `tests/pipelines/test_pipelines_common.py` from `tests_dir` (see `resolve_tests_dir`).

    The folder is imported as the package [`TESTS_PACKAGE`], so that its relative imports (`..testing_utils`,
    `..models...`) resolve inside it whatever else is called `tests` on `sys.path`.
    """
    tests_dir = Path(tests_dir)
    if TESTS_PACKAGE not in sys.modules:
        spec = importlib.util.spec_from_file_location(
            TESTS_PACKAGE, tests_dir / "__init__.py", submodule_search_locations=[str(tests_dir)]
        )
        package = importlib.util.module_from_spec(spec)
        sys.modules[TESTS_PACKAGE] = package
        spec.loader.exec_module(package)
    return importlib.import_module(f"{TESTS_PACKAGE}.pipelines.test_pipelines_common")


# ---------------------------------------------------------------------------------------------------- the test case


def build_test_case(common: ModuleType) -> type[unittest.TestCase]:
    """The `unittest.TestCase` running `common.PipelineTesterMixin` (diffusers' suite) on `S2AccompanistPipeline`."""
    import torch
    from diffusers import FlowMatchEulerDiscreteScheduler

    from diffusers_s2acc import S2AccompanistPipeline, presets
    from diffusers_s2acc.models.autoencoder_semantic import SemanticAutoencoder
    from diffusers_s2acc.models.transformer_s2dit import S2DiTTransformer

    testing_utils = importlib.import_module(f"{TESTS_PACKAGE}.testing_utils")
    testing_utils.enable_full_determinism()

    class S2AccompanistPipelineFastTests(common.PipelineTesterMixin, unittest.TestCase):
        pipeline_class = S2AccompanistPipeline
        # The call arguments of a text-to-audio pipeline (diffusers' `TEXT_TO_AUDIO_PARAMS`) as this one names them
        # (`attention_kwargs`, as the transformer pipelines say, not `cross_attention_kwargs`), plus its music.
        params = frozenset(
            [
                "prompt",
                "segments",
                "lead_sheet",
                "audio_length_in_s",
                "guidance_scale",
                "lead_sheet_guidance_scale",
                "negative_prompt",
                "prompt_embeds",
                "negative_prompt_embeds",
                "attention_kwargs",
            ]
        )
        # diffusers' `TEXT_TO_AUDIO_BATCH_PARAMS` and the lead sheet, which is given per prompt like them.
        batch_params = frozenset(["prompt", "negative_prompt", "lead_sheet"])
        # As `StableAudioPipelineFastTests`: an audio pipeline counts waveforms, not images, per prompt; and the
        # step callback is diffusers' current one (the legacy `callback`/`callback_steps` pair is not accepted).
        required_optional_params = frozenset(
            [
                "num_inference_steps",
                "num_waveforms_per_prompt",
                "generator",
                "latents",
                "output_type",
                "return_dict",
                "callback_on_step_end",
                "callback_on_step_end_tensor_inputs",
            ]
        )
        # xformers attention is a processor of diffusers' `Attention`; `S2DiTTransformer` has its own attention.
        test_xformers_attention = False
        # `S2DiTTransformer` is a diffusers `ModelMixin`: `enable_layerwise_casting` (float8 storage, bfloat16
        # compute) applies to it, so the test runs instead of returning early as it does by default.
        test_layerwise_casting = True

        def get_dummy_components(self) -> dict[str, Any]:
            # The `tiny` preset (what this project's own tests use), each component built from a fixed seed.
            torch.manual_seed(0)
            transformer = S2DiTTransformer(**presets.transformer_config("tiny"))
            torch.manual_seed(0)
            vae = SemanticAutoencoder(**presets.vae_config("tiny"))
            torch.manual_seed(0)
            text_encoder, tokenizer = presets.build_text_encoder("tiny")
            return {
                "vae": vae,
                "text_encoder": text_encoder,
                "tokenizer": tokenizer,
                "transformer": transformer,
                "scheduler": FlowMatchEulerDiscreteScheduler(shift=1.0),
            }

        def get_dummy_inputs(self, device, seed: int = 0) -> dict[str, Any]:
            if str(device).startswith("mps"):
                generator = torch.manual_seed(seed)
            else:
                generator = torch.Generator(device=device).manual_seed(seed)
            # Segments are left out: `test_encode_prompt_works_in_isolation` hands every `encode_prompt` argument
            # to `encode_prompt` only, and section captions are encoded with the prompt, so the pipeline without a
            # text encoder would run without sections. The lead sheet goes to the transformer, not the encoder.
            return {
                "prompt": "warm acoustic pop",
                "lead_sheet": "C | G",
                "audio_length_in_s": 0.25,
                "generator": generator,
                "num_inference_steps": 2,
                "guidance_scale": 4.0,
                "output_type": "np",
            }

        def test_attention_slicing_forward_pass(self):
            # As diffusers' audio pipeline tests (StableAudio, AudioLDM) do: the mean-pixel check converts the
            # output to PIL images, which a waveform is not; the max-difference check still runs.
            self._test_attention_slicing_forward_pass(test_mean_pixel_difference=False)

        def test_save_load_optional_components(self):
            # diffusers' test sets the optional components (`text_encoder`, `tokenizer`) to None and then calls the
            # pipeline with `get_dummy_inputs`' prompt string, which no pipeline can encode without a text encoder:
            # ours refuses it with a ValueError, and diffusers' PixArt pipelines (the same optional components) skip
            # the test for that reason. Here it runs unchanged, with the prompt given as what a pipeline without text
            # encoder is called with: its `encode_prompt` states (from a pipeline of the same dummy components).
            pipe = self.pipeline_class(**self.get_dummy_components())
            pipe.text_encoder.eval()  # as the test does with its own: the same states at every call (no dropout)
            get_dummy_inputs = self.get_dummy_inputs

            def inputs_with_prompt_embeds(device, seed: int = 0) -> dict[str, Any]:
                inputs = get_dummy_inputs(device, seed)
                prompt_embeds, _ = pipe.encode_prompt(inputs.pop("prompt"), device=torch.device("cpu"))
                return {**inputs, "prompt_embeds": prompt_embeds.to(device)}

            self.get_dummy_inputs = inputs_with_prompt_embeds
            try:
                super().test_save_load_optional_components()
            finally:
                del self.get_dummy_inputs

        def test_encode_prompt_works_in_isolation(self):
            # diffusers' test finds `encode_prompt`'s return names (which `__call__` arguments its outputs are)
            # through `getattr(diffusers.pipelines, cls.__name__)`, where only diffusers' own pipelines live: make
            # this pipeline findable there for the test, which then runs unchanged.
            with _registered_in_diffusers_pipelines(self.pipeline_class):
                super().test_encode_prompt_works_in_isolation()

    return S2AccompanistPipelineFastTests


@contextmanager
def _registered_in_diffusers_pipelines(pipeline_class: type) -> Iterator[None]:
    import diffusers.pipelines

    name = pipeline_class.__name__
    had, previous = hasattr(diffusers.pipelines, name), getattr(diffusers.pipelines, name, None)
    setattr(diffusers.pipelines, name, pipeline_class)
    try:
        yield
    finally:
        if had:
            setattr(diffusers.pipelines, name, previous)
        else:
            delattr(diffusers.pipelines, name)


# ---------------------------------------------------------------------------------------------------- the run

#: The pytest module written to the temporary folder: the whole test case is `build_test_case`.
_MODULE_TEMPLATE = '''"""diffusers' PipelineTesterMixin on S2AccompanistPipeline (written by {script})."""
import sys

sys.path.insert(0, {repo_root!r})
from bench.run_diffusers_pipeline_tests import build_test_case, load_diffusers_tests  # noqa: E402

S2AccompanistPipelineFastTests = build_test_case(load_diffusers_tests({tests_dir!r}))
'''

_PYTEST_INI = """[pytest]
# Only the generated module: neither this project's pytest settings nor diffusers' conftest apply.
addopts = -p no:cacheprovider
filterwarnings =
    ignore::FutureWarning
    ignore::DeprecationWarning
    # diffusers registers its own marks (gguf, training, ...) in its conftest, which is not loaded here.
    ignore::pytest.PytestUnknownMarkWarning
"""


@dataclass
class SuiteResult:
    """Outcome of one run: test name -> outcome (`passed`, `failed`, `error`, `skipped`) and skip/failure texts."""

    outcomes: dict[str, str] = field(default_factory=dict)
    messages: dict[str, str] = field(default_factory=dict)
    returncode: int = 0

    def count(self, outcome: str) -> int:
        return sum(o == outcome for o in self.outcomes.values())

    @property
    def ok(self) -> bool:
        return self.returncode == 0 and bool(self.outcomes) and not self.count("failed") and not self.count("error")

    def summary(self) -> str:
        counts = ", ".join(f"{self.count(o)} {o}" for o in ("passed", "failed", "error", "skipped"))
        return f"{len(self.outcomes)} tests: {counts}"


def parse_junit(path: Path) -> SuiteResult:
    result = SuiteResult()
    for case in ET.parse(path).getroot().iter("testcase"):
        name = case.get("name")
        outcome, message = "passed", ""
        for child in case:
            if child.tag in ("failure", "error", "skipped"):
                outcome = {"failure": "failed", "error": "error", "skipped": "skipped"}[child.tag]
                lines = (child.text or "").strip().splitlines()
                message = child.get("message") or (lines[-1] if lines else "")
                break
        # A test that passed and then errored in teardown shows both: keep the worst.
        if result.outcomes.get(name) in ("failed", "error"):
            continue
        result.outcomes[name] = outcome
        result.messages[name] = message
    return result


def run_suite(
    diffusers_tests: str | os.PathLike, pytest_args: list[str] | None = None, timeout: float | None = None
) -> SuiteResult:
    """Run diffusers' `PipelineTesterMixin` on `S2AccompanistPipeline` in a pytest subprocess (see the module doc)."""
    tests_dir = resolve_tests_dir(diffusers_tests)
    missing = missing_requirements()
    if missing:
        raise RuntimeError(
            f"diffusers' test helpers need {', '.join(missing)}, which this project's `dev` extra installs: "
            f"{INSTALL_HINT} (from the repository root)."
        )
    with tempfile.TemporaryDirectory(prefix="s2acc_diffusers_suite_") as tmp:
        tmp = Path(tmp)
        module = tmp / "test_s2accompanist_diffusers_suite.py"
        module.write_text(
            _MODULE_TEMPLATE.format(
                script=Path(__file__).name,
                repo_root=str(Path(__file__).resolve().parents[1]),
                tests_dir=str(tests_dir),
            )
        )
        (tmp / "pytest.ini").write_text(_PYTEST_INI)
        report = tmp / "report.xml"
        env = dict(os.environ)
        env.setdefault("HF_HUB_OFFLINE", "1")
        env.setdefault("TRANSFORMERS_OFFLINE", "1")
        env.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
        command = [
            sys.executable, "-m", "pytest", str(module), "-c", str(tmp / "pytest.ini"), "--rootdir", str(tmp),
            "-q", "-rfEs", f"--junitxml={report}", *(pytest_args or []),
        ]  # fmt: skip
        process = subprocess.run(command, cwd=tmp, env=env, timeout=timeout)
        result = parse_junit(report) if report.is_file() else SuiteResult()
        result.returncode = process.returncode
        return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--diffusers-tests",
        default=os.environ.get(CHECKOUT_ENV),
        help=f"a local diffusers checkout or its tests/ folder (default: ${CHECKOUT_ENV})",
    )
    parser.add_argument("-k", dest="keyword", help="run only the tests matching this pytest -k expression")
    parser.add_argument("pytest_args", nargs="*", help="further pytest arguments (after --)")
    args = parser.parse_args(argv)
    if not args.diffusers_tests:
        parser.error(f"give --diffusers-tests PATH or set {CHECKOUT_ENV} (a local diffusers checkout)")
    try:
        tests_dir = resolve_tests_dir(args.diffusers_tests)
    except ValueError as error:
        parser.error(str(error))
    pytest_args = list(args.pytest_args) + (["-k", args.keyword] if args.keyword else [])
    try:
        result = run_suite(tests_dir, pytest_args)
    except RuntimeError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(f"\ndiffusers' PipelineTesterMixin on S2AccompanistPipeline ({tests_dir}):")
    for name, outcome in sorted(result.outcomes.items()):
        message = f"  ({result.messages[name]})" if outcome != "passed" and result.messages[name] else ""
        print(f"  {outcome:<8} {name}{message}")
    print(result.summary())
    return 0 if result.ok else 1


if __name__ == "__main__":
    sys.exit(main())
