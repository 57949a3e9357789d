"""The Space's takes: the server's store of their files and latents, and the history kept in each visitor's browser
(no Gradio here, so it is testable alone, like `form`).

The server keeps every take in a folder of its own, with its latents for editing, by take id (the newest
`SERVER_TAKES`). The browser keeps only ids and settings (`take_record`): a path coming back from a visitor's storage
is never served, so nobody can ask the server for a file it did not make for them.
"""

from __future__ import annotations

import time
import uuid
from collections import OrderedDict
from pathlib import Path
from typing import Any, Sequence

from ..audio import check_output_path
from .form import NO_KEY, SongPlan


#: Takes kept in the visitor's browser, and takes whose audio the server keeps to restore it.
BROWSER_TAKES = 30
SERVER_TAKES = 200
HISTORY_HEADERS = ["#", "when", "prompt", "tempo", "meter", "bars", "seconds", "seed", "steps"]


class TakeStore:
    """The takes this server made, by take id: their files, summary and latents, the newest `capacity` kept.

    Args:
        folder: where every take gets its own new folder; checked (and made) here, before the first take.
        capacity: how many takes to remember; the oldest is forgotten first (its files stay on disk).
    """

    def __init__(self, folder: str | Path, capacity: int = SERVER_TAKES):
        self.folder = Path(folder)
        self.capacity = capacity
        check_output_path(self.folder, folder=True)  # before the first take, not after it is generated
        self.folder.mkdir(parents=True, exist_ok=True)
        self._takes: OrderedDict[str, dict[str, Any]] = OrderedDict()

    def check_folder(self) -> None:
        """Raise a `ValueError` saying why when the folder can no longer be written (removed, made read-only, ...)."""
        check_output_path(self.folder, folder=True)

    def new_folder(self) -> tuple[str, Path]:
        """A fresh id and its own new folder: `mkdir` without `exist_ok`, so a take never lands in another's folder."""
        while True:
            take_id = uuid.uuid4().hex[:12]
            folder = self.folder / take_id
            try:
                folder.mkdir(parents=True)
            except FileExistsError:
                continue  # the 48-bit id collided: draw another rather than mix two takes' files
            return take_id, folder

    def add(self, take_id: str, **take: Any) -> None:
        """Remember take `take_id` (its `audio`, `files`, `picture`, `summary`, `latents` and `seconds`)."""
        self._takes[take_id] = take
        while len(self._takes) > self.capacity:
            self._takes.popitem(last=False)

    def get(self, take_id: str | None) -> dict[str, Any] | None:
        return self._takes.get(take_id or "")

    def __getitem__(self, take_id: str) -> dict[str, Any]:
        return self._takes[take_id]

    def __len__(self) -> int:
        return len(self._takes)

    def saved_outputs(self, take_id: str | None) -> tuple | None:
        """(audio, files, picture, summary) of a take while the server still has all its files, else None."""
        take = self.get(take_id)
        if take is None or not all(Path(path).exists() for path in take["files"]):
            return None
        return take["audio"], take["files"], take["picture"], take["summary"]


def take_record(take_id: str, plan: SongPlan, settings: dict) -> dict:
    """What the visitor's browser keeps of a take: its id, when, how long, and every setting of the form."""
    return {
        "id": take_id,
        "when": time.strftime("%H:%M:%S"),
        "seconds": round(plan.duration, 2),
        "bars": sum(row.bars for row in plan.rows),
        "settings": {
            "prompt": settings["prompt"] or "",
            "bpm": settings["bpm"],
            "meter": settings["meter"],
            "key": settings["key"] or NO_KEY,
            "sections": [[row.label, row.bars, row.caption, row.chords] for row in plan.rows],
            "seed": settings["seed"],
            "steps": settings["steps"],
            "guidance": settings["guidance"],
            "lead_sheet_guidance": settings["lead_sheet_guidance"],
        },
    }


def add_to_history(record: dict | None, history: list | None) -> list[dict]:
    """The newest take first in the visitor's history (kept to the last `BROWSER_TAKES`); anything in the browser's
    storage that is not a take record is dropped."""
    history = [take for take in (history or []) if isinstance(take, dict)]
    if record:
        history = ([record] + history)[:BROWSER_TAKES]
    return history


def history_rows(history: Sequence[dict] | None) -> list[list]:
    """The history table's rows (`HISTORY_HEADERS`), newest first, numbered down to 1."""
    rows = []
    for number, take in zip(range(len(history or []), 0, -1), history or []):
        settings = take.get("settings", {})
        rows.append(
            [
                number,
                take.get("when", ""),
                (settings.get("prompt") or "")[:40],
                settings.get("bpm"),
                settings.get("meter"),
                take.get("bars"),
                take.get("seconds"),
                settings.get("seed"),
                settings.get("steps"),
            ]
        )
    return rows


def take_choices(history: Sequence[dict] | None) -> list[tuple[str, str]]:
    """(label, take id) for each take of the history, numbered as in `history_rows`."""
    choices = []
    for number, take in zip(range(len(history or []), 0, -1), history or []):
        settings = take.get("settings", {})
        label = f"#{number} {take.get('when', '')} · {(settings.get('prompt') or '(no prompt)')[:32]} · seed {settings.get('seed')}"
        choices.append((label, take.get("id", "")))
    return choices


def find_take(history: list | None, take_id: str | None) -> dict | None:
    """The record of take `take_id` in the visitor's history, or None."""
    return next((t for t in history or [] if isinstance(t, dict) and t.get("id") == take_id), None)


def restored_settings(take: dict, recommended: dict) -> tuple:
    """The form's fields (prompt, tempo, meter, key, sections, seed, steps, guidance, lead-sheet guidance) as take
    `take` had them; a setting missing from an older record falls back to the default, `recommended` for sampling."""
    settings = take.get("settings", {})
    return (
        settings.get("prompt", ""),
        settings.get("bpm", 120),
        settings.get("meter", "4/4"),
        settings.get("key", NO_KEY),
        settings.get("sections", []),
        settings.get("seed", 0),
        settings.get("steps", recommended["num_inference_steps"]),
        settings.get("guidance", recommended["guidance_scale"]),
        settings.get("lead_sheet_guidance", recommended["lead_sheet_guidance_scale"]),
    )
