"""Rows of the hand-written chart benchmark from `s2acc evaluate --json` files: all charts, non-diatonic, diatonic.

    python bench/report_handwritten.py --scores run_a.json [run_b.json ...] --tags /tmp/bench_hw/tags.json \
        [--floor floor.json] [--json rows.json]

Several score files (one run split over processes, say) are read as one. A spec id `<chart>_s<seed>` is a take of
`<chart>`: rows are means over takes, so each chart weighs as many takes as it was generated with. `--floor` is a
run of the same charts with the lead sheet dropped (spec ids `<chart>_s<seed>_floor`, scored against the chart), and
gives the no-lead-sheet column. The reference column is the MMA render of the same chart through the same judge.
"""

from __future__ import annotations

import argparse
import json
import statistics
from pathlib import Path

from diffusers_s2acc.audio import check_output_path


METRICS = ("chord_majmin", "chord_root", "tempo_acc1")


def _rows(paths: list[Path]) -> list[dict]:
    rows = []
    for path in paths:
        rows.extend(json.loads(path.read_text(encoding="utf-8"))["rows"])
    return rows


def _spec_id(row_id: str) -> str:
    return row_id[: -len("_floor")] if row_id.endswith("_floor") else row_id


def summarise(rows: list[dict], tags: dict[str, list[str]], column: str) -> dict[str, dict[str, float]]:
    """Means of `column`'s metrics over all rows, the non-diatonic and the diatonic ones, with their counts."""
    groups = {"all": rows}
    for tag in ("non_diatonic", "diatonic"):
        groups[tag] = [row for row in rows if tag in tags.get(_spec_id(row["id"]), [])]
    summary = {}
    for name, members in groups.items():
        members = [row for row in members if column in row]
        if not members:
            continue
        summary[name] = {metric: statistics.fmean(row[column][metric] for row in members) for metric in METRICS}
        summary[name]["takes"] = len(members)
        summary[name]["charts"] = len({_spec_id(row["id"]).rsplit("_s", 1)[0] for row in members})
    return summary


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scores", type=Path, nargs="+", required=True, help="s2acc evaluate --json files")
    parser.add_argument("--tags", type=Path, required=True, help="tags.json of bench/render_handwritten.py")
    parser.add_argument("--floor", type=Path, nargs="*", default=[], help="runs with the lead sheet dropped")
    parser.add_argument("--json", type=Path, help="write the rows here")
    parser.add_argument("--overwrite", action="store_true", help="replace an existing --json file")
    args = parser.parse_args(argv)
    if args.json is not None:
        # Before reading anything: never replace a file without --overwrite (the input score files included).
        try:
            check_output_path(args.json, overwrite=args.overwrite, protect=(*args.scores, *args.floor, args.tags))
        except ValueError as error:
            raise SystemExit(f"error: --json: {error}") from None
    tags = json.loads(args.tags.read_text(encoding="utf-8"))
    rows = _rows(args.scores)
    unknown = sorted({row["id"] for row in rows if row["id"] not in tags})
    if unknown:
        raise SystemExit(f"error: spec ids not in {args.tags}: {', '.join(unknown[:5])}")
    table = {"generated": summarise(rows, tags, "generated"), "reference": summarise(rows, tags, "reference")}
    if args.floor:
        table["no_lead_sheet"] = summarise(_rows(args.floor), tags, "generated")
    print("| charts | column | takes (charts) | chord majmin | chord root | tempo Acc1 |")
    print("|---|---|---|---|---|---|")
    for group in ("all", "non_diatonic", "diatonic"):
        for column, summary in table.items():
            if group in summary:
                s = summary[group]
                print(
                    f"| {group} | {column} | {s['takes']} ({s['charts']}) | {s['chord_majmin']:.3f} | "
                    f"{s['chord_root']:.3f} | {s['tempo_acc1']:.3f} |"
                )
    if args.json is not None:
        args.json.write_text(json.dumps(table, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
