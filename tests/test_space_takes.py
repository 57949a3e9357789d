"""The Space's Gradio-free parts that `SpaceApp` delegates to: the take store, the browser history and the sections
table's row editing (the Space's own tests drive them through the app; these need neither Gradio nor a model)."""

import pytest

from diffusers_s2acc.space.form import FormError, add_row, move_row, plan_song, remove_row, row_index
from diffusers_s2acc.space.takes import (
    BROWSER_TAKES,
    TakeStore,
    add_to_history,
    find_take,
    history_rows,
    restored_settings,
    take_choices,
    take_record,
)


def _files(folder, name):
    path = folder / name
    path.write_text("x")
    return {"audio": str(path), "files": [str(path)], "picture": str(path), "summary": name, "latents": None}


def test_the_store_keeps_the_newest_takes_and_forgets_files_that_are_gone(tmp_path):
    store = TakeStore(tmp_path / "takes", capacity=2)
    ids = []
    for name in ("a", "b", "c"):
        take_id, folder = store.new_folder()
        assert folder.parent == tmp_path / "takes" and folder.is_dir()
        store.add(take_id, seconds=1.0, **_files(folder, name))
        ids.append(take_id)
    assert len(store) == 2 and store.get(ids[0]) is None and store[ids[2]]["summary"] == "c"
    assert store.saved_outputs(ids[1])[3] == "b"
    (tmp_path / "takes" / ids[1] / "b").unlink()
    assert store.saved_outputs(ids[1]) is None and store.saved_outputs(None) is None


def test_the_store_refuses_a_folder_that_is_a_file(tmp_path):
    (tmp_path / "takes").write_text("not a folder")
    with pytest.raises(ValueError, match="is a file, not a folder"):
        TakeStore(tmp_path / "takes")


def test_history_is_newest_first_capped_and_restores_the_form():
    plan = plan_song("pop", 120, "4/4", None, [["verse", 2, "piano", "C | G"]])
    settings = dict(
        prompt="pop", bpm=120.0, meter="4/4", key=None, seed=3, steps=2, guidance=4.0, lead_sheet_guidance=1
    )
    records = [take_record(f"id{n}", plan, {**settings, "seed": n}) for n in range(BROWSER_TAKES + 2)]
    history = ["junk from the browser's storage"]
    for record in records:
        history = add_to_history(record, history)
    assert len(history) == BROWSER_TAKES and history[0]["id"] == records[-1]["id"]
    assert history_rows(history)[0][0] == BROWSER_TAKES and history_rows(history)[-1][0] == 1
    assert take_choices(history)[0][1] == records[-1]["id"]
    take = find_take(history, records[-1]["id"])
    recommended = {"num_inference_steps": 8, "guidance_scale": 3.0, "lead_sheet_guidance_scale": 1.0}
    expected = ("pop", 120.0, "4/4", "(not set)", [["verse", 2, "piano", "C | G"]], BROWSER_TAKES + 1, 2, 4.0, 1)
    assert restored_settings(take, recommended) == expected
    assert restored_settings({"id": "old"}, recommended)[6:] == (8, 3.0, 1.0)  # an older record: the defaults
    assert find_take(history, "nope") is None


def test_rows_are_edited_and_a_missing_row_is_named():
    rows = [["verse", 2, "", ""], ["chorus", 2, "", ""]]
    assert row_index(rows, 2) == 1 and row_index(rows, 3) is None and row_index(rows, "x") is None
    assert add_row(rows, None) == (rows + [["verse", 4, "", ""]], 3)
    assert move_row(rows, 1, 5) == ([rows[1], rows[0]], 2)
    assert remove_row([rows[0]], 1) == ([["", "", "", ""]], 1)
    with pytest.raises(FormError, match=r"^Row: choose a row between 1 and 2 \(click a cell of the table\)\.$"):
        remove_row(rows, 0)
