"""diffusers' own pipeline test suite (`PipelineTesterMixin`) on `S2AccompanistPipeline`, through
bench/run_diffusers_pipeline_tests.py.

diffusers' wheel ships no tests, so the suite needs a local diffusers checkout named by `$S2ACC_DIFFUSERS_CHECKOUT`
(and diffusers' test requirements `parameterized` and `requests-mock`, in the `dev` extra); without one that test is skipped, and
nothing is ever fetched. The harness's own plumbing is tested without a checkout.
"""

import os

import pytest

from bench import run_diffusers_pipeline_tests as harness


CHECKOUT = os.environ.get(harness.CHECKOUT_ENV)

# The tests of the suite that run on a CPU and check this pipeline's behaviour (not ones that return early for
# features it lacks): a harness that skipped or lost them would otherwise still look green.
CORE_TESTS = {
    "test_save_load_local",
    "test_save_load_optional_components",
    "test_pipeline_call_signature",
    "test_inference_batch_consistent",
    "test_inference_batch_single_identical",
    "test_dict_tuple_outputs_equivalent",
    "test_callback_inputs",
    "test_callback_cfg",
    "test_encode_prompt_works_in_isolation",
    "test_loading_with_variants",
    "test_dtype_dict",
    "test_layerwise_casting_inference",
}


@pytest.mark.skipif(
    not CHECKOUT,
    reason=f"set {harness.CHECKOUT_ENV} to a local diffusers checkout to run diffusers' PipelineTesterMixin",
)
def test_diffusers_pipeline_tester_mixin_passes():
    result = harness.run_suite(CHECKOUT, timeout=1800)
    bad = {name: result.messages[name] for name, outcome in result.outcomes.items() if outcome in ("failed", "error")}
    assert result.ok, f"{result.summary()} (pytest exit status {result.returncode}): {bad}"
    not_passed = {
        name: result.outcomes.get(name, "missing") for name in CORE_TESTS if result.outcomes.get(name) != "passed"
    }
    assert not not_passed, not_passed


def _fake_checkout(root):
    (root / "tests" / "pipelines").mkdir(parents=True)
    (root / "tests" / "__init__.py").write_text("")
    (root / "tests" / harness.COMMON_MODULE).write_text("")
    return root


def test_a_checkout_or_its_tests_folder_is_accepted_and_anything_else_refused(tmp_path):
    root = _fake_checkout(tmp_path / "diffusers")
    assert harness.resolve_tests_dir(root) == (root / "tests").resolve()
    assert harness.resolve_tests_dir(root / "tests") == (root / "tests").resolve()
    with pytest.raises(ValueError, match="neither a diffusers checkout"):
        harness.resolve_tests_dir(tmp_path)


def test_without_a_checkout_the_harness_refuses_before_any_work(monkeypatch, capsys):
    monkeypatch.delenv(harness.CHECKOUT_ENV, raising=False)
    with pytest.raises(SystemExit) as exit_info:
        harness.main([])
    assert exit_info.value.code == 2 and harness.CHECKOUT_ENV in capsys.readouterr().err


def test_missing_test_requirements_are_named_with_the_dev_extra_that_installs_them(tmp_path, monkeypatch):
    monkeypatch.setitem(harness.TEST_REQUIREMENTS, "no_such_module_s2acc", "no-such-package")
    with pytest.raises(RuntimeError, match=r"no-such-package.*pip install -e \.\[dev\]"):
        harness.run_suite(_fake_checkout(tmp_path / "diffusers"))


def test_the_dev_extra_lists_every_test_requirement_of_the_harness():
    from pathlib import Path

    from packaging.requirements import Requirement

    tomllib = pytest.importorskip("tomllib")  # Python 3.11+

    pyproject = tomllib.loads((Path(__file__).resolve().parents[1] / "pyproject.toml").read_text())
    dev = {Requirement(r).name for r in pyproject["project"]["optional-dependencies"]["dev"]}
    assert set(harness.TEST_REQUIREMENTS.values()) <= dev


def test_the_junit_report_is_read_into_outcomes_with_skip_reasons(tmp_path):
    report = tmp_path / "report.xml"
    report.write_text(
        '<testsuites><testsuite name="pytest">'
        '<testcase classname="m.C" name="test_a"/>'
        '<testcase classname="m.C" name="test_b"><skipped type="pytest.skip" message="needs CUDA">x</skipped>'
        "</testcase>"
        '<testcase classname="m.C" name="test_c"><failure message="AssertionError: 1 != 2">trace</failure>'
        "</testcase>"
        '<testcase classname="m.C" name="test_c"><error message="teardown">trace</error></testcase>'
        "</testsuite></testsuites>"
    )
    result = harness.parse_junit(report)
    assert result.outcomes == {"test_a": "passed", "test_b": "skipped", "test_c": "failed"}
    assert result.messages["test_b"] == "needs CUDA"
    assert not result.ok and result.summary() == "3 tests: 1 passed, 1 failed, 0 error, 1 skipped"
    result.outcomes["test_c"] = "passed"
    assert result.ok
    result.returncode = 1  # pytest itself failed (e.g. a collection error no test case records)
    assert not result.ok
