"""Issue 23, the Space's side: every file a take writes goes through the package's one atomic writer, never replaces
an earlier take (the visitor's own or anyone's), and an output folder that stops being writable is a clear
`gradio.Error` (the visitor sees a sentence, not a traceback).

`SpaceApp` is driven directly (no server, no browser) on the untrained `tiny` preset, with 1-bar songs at 1 step.
"""

import errno
import os

import pytest

from diffusers_s2acc import audio as audio_module
from diffusers_s2acc import presets
from diffusers_s2acc.space import figure


os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")  # before gradio is imported: tests never call home
gr = pytest.importorskip("gradio", reason="the Space needs the `space` extra (pip install -e '.[space]')")

ONE_BAR = [["verse", 1, "soft piano", "C"]]


@pytest.fixture(scope="module")
def pipe():
    return presets.build_pipeline("tiny", seed=0)


@pytest.fixture
def app(pipe, tmp_path):
    from diffusers_s2acc.space.controller import SpaceApp

    return SpaceApp(pipe, "tiny", output_dir=tmp_path / "takes")


def _take(app, seed=0):
    """One 1-bar take at 240 BPM (1 s), 1 step: (wav, [wav, flac], picture, summary, record)."""
    return app.generate("pop", 240, "4/4", None, ONE_BAR, seed, 1, 4.0, 1.0)


def _count_pipeline_calls(app, monkeypatch):
    """A list that grows by one each time the pipeline runs (`pipe(...)` looks `__call__` up on the class)."""
    calls = []
    monkeypatch.setattr(type(app.pipe), "__call__", lambda *args, **kwargs: calls.append(1))
    return calls


def _files(folder):
    return sorted(path for path in folder.rglob("*") if path.is_file())


def test_every_file_of_a_take_goes_through_the_atomic_writer(app, monkeypatch):
    written = []
    real = audio_module.write_atomically

    def recording(path, write):
        written.append(os.fspath(path))
        return real(path, write)

    # write_audio looks the writer up in its module; the picture imported it by name.
    monkeypatch.setattr(audio_module, "write_atomically", recording)
    monkeypatch.setattr(figure, "write_atomically", recording)
    wav, files, picture, _, _ = _take(app)
    on_disk = [os.fspath(path) for path in _files(app.output_dir)]
    assert sorted(written) == on_disk and len(on_disk) == 3
    assert set(on_disk) == {wav, *files, picture}
    assert not any(".partial" in path for path in on_disk)


def test_a_second_take_with_the_same_settings_never_replaces_the_first(app):
    first = _take(app)
    before = {path: path.read_bytes() for path in _files(app.output_dir)}
    second = _take(app)
    assert first[0] != second[0] and os.path.basename(first[0]) == os.path.basename(second[0])
    assert first[4]["id"] != second[4]["id"]
    for path, data in before.items():
        assert path.read_bytes() == data  # the earlier take is there, byte for byte
    assert len(_files(app.output_dir)) == 6


def test_a_colliding_take_id_gets_a_new_folder(app, monkeypatch):
    from diffusers_s2acc.space import takes

    first = _take(app)
    taken = first[4]["id"]

    class Ids:
        """uuid4 stand-in: first the id already on disk, then a fresh one."""

        values = iter([taken + "0" * 20, "f" * 32])

        @staticmethod
        def uuid4():
            return type("U", (), {"hex": next(Ids.values)})()

    monkeypatch.setattr(takes, "uuid", Ids)
    second = _take(app)
    assert second[4]["id"] == "f" * 12 and os.path.exists(first[0]) and os.path.exists(second[0])


def test_an_output_folder_that_became_a_file_is_refused_before_the_model_runs(app, monkeypatch):
    calls = _count_pipeline_calls(app, monkeypatch)
    app.output_dir.rmdir()
    app.output_dir.write_text("not a folder any more")
    with pytest.raises(gr.Error, match="cannot save takes: .*takes is a file, not a folder") as caught:
        _take(app)
    assert caught.value.title == "Cannot save the take" and "PosixPath" not in str(caught.value)
    assert not calls


def test_a_read_only_output_folder_is_refused_before_the_model_runs(app, monkeypatch):
    real_access = os.access
    folder = os.fspath(app.output_dir)
    # os.access, not chmod: the tests may run as root, for whom every folder is writable.
    monkeypatch.setattr(
        os, "access", lambda path, mode: False if os.fspath(path) == folder else real_access(path, mode)
    )
    calls = _count_pipeline_calls(app, monkeypatch)
    with pytest.raises(gr.Error, match=r"cannot save takes: cannot write to .*takes \(permission denied\)"):
        _take(app)
    assert _files(app.output_dir) == [] and not calls


@pytest.mark.parametrize("code, reason", [(errno.ENOSPC, "No space left on device"), (errno.EACCES, "Permission")])
def test_a_folder_that_fails_while_the_take_is_saved_is_one_clear_error(app, monkeypatch, code, reason):
    import soundfile

    def failing_write(file, *args, **kwargs):
        open(file, "wb").write(b"half a take")  # what a full disk leaves behind
        raise OSError(code, os.strerror(code), os.fspath(file))

    monkeypatch.setattr(soundfile, "write", failing_write)
    with pytest.raises(gr.Error, match=f"generated but could not be saved .*{reason}") as caught:
        _take(app)
    message = str(caught.value)
    assert caught.value.title == "Cannot save the take"
    assert len(message.splitlines()) == 1 and "PosixPath" not in message and "Traceback" not in message
    assert _files(app.output_dir) == []  # no partial file is left to be served
