import json

import pytest

from diffusers_s2acc import LeadSheet, Segment
from diffusers_s2acc.music import FrameConditioning, coerce_segments, parse_chord
from diffusers_s2acc.music.chords import NUM_CHORD_CLASSES, chord_to_index, index_to_chord_name
from diffusers_s2acc.music.frames import BEAT_DOWNBEAT, BEAT_ON, MELODY_REST
from diffusers_s2acc.music.lead_sheet import coerce_lead_sheet, lead_sheets_per_prompt, repeat_chart_to_length
from diffusers_s2acc.music.structure import segments_per_prompt


@pytest.mark.parametrize(
    "symbol, root, quality, pcs",
    [
        ("C", 0, "maj", {0, 4, 7}),
        ("Am", 9, "min", {9, 0, 4}),
        ("Bbmaj7", 10, "maj7", {10, 2, 5, 9}),
        ("F#m7b5", 6, "hdim7", {6, 9, 0, 4}),
        ("G7", 7, "7", {7, 11, 2, 5}),
        ("C/E", 0, "maj", {0, 4, 7}),
        ("D9", 2, "7", {2, 6, 9, 0, 4}),
        ("Ebsus4", 3, "sus4", {3, 8, 10}),
        ("Cm7b5", 0, "hdim7", {0, 3, 6, 10}),
        ("C7#9", 0, "7", {0, 4, 7, 10, 3}),
        ("A:min7", 9, "min7", {9, 0, 4, 7}),
        ("Bb:maj/3", 10, "maj", {10, 2, 5}),
    ],
)
def test_parse_chord(symbol, root, quality, pcs):
    chord = parse_chord(symbol)
    assert (chord.root, chord.quality, set(chord.pitch_classes)) == (root, quality, pcs)


def test_chord_index_round_trip_covers_vocabulary():
    names = {index_to_chord_name(i) for i in range(NUM_CHORD_CLASSES)}
    assert len(names) == NUM_CHORD_CLASSES
    assert chord_to_index("N.C.") == 0
    assert index_to_chord_name(chord_to_index("Bbm7")) == "Bb:min7"


@pytest.mark.parametrize("symbol", ["H", "Cxyz", "Am|", "7", 5, "C:weird", "H:maj"])
def test_unparseable_chord_names_the_symbol(symbol):
    with pytest.raises(ValueError, match="(?i)chord symbol"):
        parse_chord(symbol)


def test_chart_times_follow_tempo_and_meter():
    sheet = LeadSheet.from_chart("C | Am | F G | %", bpm=120, meter="4/4")
    spans = [(c.symbol, c.start, c.end) for c in sheet.chords]
    assert spans == [
        ("C", 0.0, 2.0),
        ("Am", 2.0, 4.0),
        ("F", 4.0, 5.0),
        ("G", 5.0, 6.0),
        ("F", 6.0, 7.0),
        ("G", 7.0, 8.0),
    ]
    waltz = LeadSheet.from_chart("C - | Dm", bpm=90, meter="3/4")
    assert waltz.chords[0].end == pytest.approx(2.0) and waltz.duration == pytest.approx(4.0)


@pytest.mark.parametrize(
    "chart, kwargs, message",
    [
        ("C | Hm", {}, "Hm"),
        ("", {}, "empty"),
        ("C | | G", {}, "bar 2"),
        ("C", {"bpm": 10}, "tempo"),
        ("C", {"bpm": float("nan")}, "tempo"),
        ("C", {"meter": "4-4"}, "Meter"),
        ("% | C", {}, "repeat"),
    ],
)
def test_bad_charts_raise_clear_errors(chart, kwargs, message):
    with pytest.raises(ValueError, match=message):
        LeadSheet.from_chart(chart, **kwargs)


def test_lead_sheet_dict_and_json_round_trip(tmp_path):
    sheet = LeadSheet.from_dict(
        {"bpm": 96, "meter": "3/4", "bars": ["C", "G7"], "melody": [{"start": 0, "end": 0.5, "pitch": 60}]}
    )
    path = tmp_path / "sheet.json"
    path.write_text(json.dumps(sheet.to_dict()))
    assert LeadSheet.from_json(path).to_dict() == sheet.to_dict()
    with pytest.raises(ValueError, match="Unknown lead-sheet field"):
        LeadSheet.from_dict({"tempo": 100, "chrods": []})
    with pytest.raises(ValueError, match="pitch"):
        LeadSheet.from_dict({"melody": [{"start": 0, "end": 1, "pitch": 200}]})


def test_segments_validate_and_refuse_overlap():
    assert Segment.from_dict({"start": 0, "end": 2, "label": "Refrain", "text": "x"}).label == "chorus"
    with pytest.raises(ValueError, match="Unknown section label 'drop'"):
        Segment(0, 1, "drop")
    with pytest.raises(ValueError, match="end"):
        Segment(2, 1, "verse")
    with pytest.raises(ValueError, match="finite"):
        Segment(0, float("inf"), "verse")
    with pytest.raises(ValueError, match="overlap"):
        coerce_segments([{"start": 0, "end": 2}, {"start": 1.5, "end": 3}])


def test_frame_conditioning_rasterises_sections_chords_beats_melody():
    sheet = LeadSheet.from_dict({"tempo": 120, "chart": "C | G", "melody": [{"start": 0.0, "end": 1.0, "pitch": 64}]})
    segments = coerce_segments([Segment(0, 2, "verse"), Segment(2, 4, "chorus")])
    cond = FrameConditioning.build(40, 10.0, segments, sheet)  # 10 frames per second
    assert cond.section_ids[:20].unique().tolist() == [2] and cond.section_ids[20:].unique().tolist() == [4]
    assert cond.segment_ids[19] == 1 and cond.segment_ids[20] == 2
    assert cond.section_position[0] == 0 and cond.section_position[19] == 1
    assert cond.chord_ids[0] == chord_to_index("C") + 1 and cond.chord_ids[25] == chord_to_index("G") + 1
    assert cond.pitch_classes[0].nonzero().flatten().tolist() == [0, 4, 7]
    assert cond.melody_ids[5] == 2 + 64 and cond.melody_ids[15] == MELODY_REST
    beats = (cond.beat_ids >= BEAT_ON).nonzero().flatten().tolist()
    assert beats == [0, 5, 10, 15, 20, 25, 30, 35]  # 120 BPM = a beat every 0.5 s
    assert cond.beat_ids[0] == BEAT_DOWNBEAT and cond.beat_ids[20] == BEAT_DOWNBEAT and cond.beat_ids[5] == BEAT_ON
    targets = cond.semantic_targets()
    assert targets["chord"][0] == chord_to_index("C")
    empty = FrameConditioning.build(40, 10.0).semantic_targets()
    assert (empty["chord"] == -100).all() and (empty["beat"] == -100).all()


# Issue 11, item 2: the notes that sound. Sus chords have no third, altered fifths replace the perfect one.
@pytest.mark.parametrize(
    "symbol, pcs",
    [
        ("C7sus4", {0, 5, 7, 10}),
        ("C7sus", {0, 5, 7, 10}),
        ("C9sus4", {0, 2, 5, 7, 10}),
        ("C7sus2", {0, 2, 7, 10}),
        ("C7b5", {0, 4, 6, 10}),
        ("C7#5", {0, 4, 8, 10}),
        ("C+7", {0, 4, 8, 10}),
        ("Caug7", {0, 4, 8, 10}),
        ("C7alt", {0, 1, 3, 4, 6, 8, 10}),
        ("C5", {0, 7}),
    ],
)
def test_chord_pitch_classes_are_the_notes_that_sound(symbol, pcs):
    assert set(parse_chord(symbol).pitch_classes) == pcs


# Issue 11, item 6: common spellings keyboards and lead sheets produce.
@pytest.mark.parametrize(
    "symbol, name",
    [
        ("C\u22067", "C:maj7"),  # INCREMENT, what keyboards type for the triangle
        ("C\u03947", "C:maj7"),  # Greek capital delta
        ("C°", "C:dim"),
        ("C°7", "C:dim7"),
        ("Cm7♭5", "C:hdim7"),
        ("n.c.", "N"),
        ("CMaj", "C:maj"),
        ("Cmaj7#11", "C:maj7"),
        ("C7alt", "C:7"),
        ("C7sus2", "C:7"),
    ],
)
def test_common_chord_spellings_are_accepted(symbol, name):
    assert parse_chord(symbol).name == name


def test_numbered_section_labels_are_their_kind():
    assert Segment(0, 1, "Verse 1").label == "verse" and Segment(0, 1, "chorus2").label == "chorus"
    assert Segment(0, 1, "Pre-Chorus 2").label == "pre-chorus"


def test_compound_meters_beat_on_dotted_quarters_and_bpm_counts_them():
    sheet = LeadSheet.from_chart("C | G", bpm=60, meter="6/8")
    assert sheet.duration == pytest.approx(4.0)  # two dotted-quarter beats of 1 s per bar
    assert sheet.beat_times(4.0) == [(0.0, True), (1.0, False), (2.0, True), (3.0, False)]
    twelve = LeadSheet.from_chart("C", bpm=90, meter="12/8")
    assert [t for t, _ in twelve.beat_times(twelve.duration)] == pytest.approx([0, 2 / 3, 4 / 3, 2])
    assert LeadSheet.from_chart("C", bpm=60, meter="3/4").duration == pytest.approx(3.0)  # simple meters unchanged


def test_a_short_chart_repeats_as_a_form():
    sheet = LeadSheet.from_chart("C | Am | F | G", bpm=100)  # 9.6 s
    assert sheet.repeats and sheet.form_length == pytest.approx(9.6)
    looped = sheet.repeat_until(24.0)
    assert [c.symbol for c in looped.chords] == ["C", "Am", "F", "G"] * 2 + ["C", "Am"]
    assert looped.chords[4].start == pytest.approx(9.6) and looped.chords[-1].end == pytest.approx(24.0)
    assert sheet.repeat_until(5.0) is sheet
    assert not LeadSheet.from_dict({"chords": [{"start": 0, "end": 1, "symbol": "C"}]}).repeats


def test_a_chart_repeats_to_the_piece_with_a_notice(caplog):
    sheet = LeadSheet.from_chart("C | G", bpm=240)  # 2 s
    looped = repeat_chart_to_length(sheet, 5.0)
    assert [c.symbol for c in looped.chords] == ["C", "G", "C", "G", "C"] and looped.chords[-1].end == 5.0
    assert "repeating its 2 bar(s) as a form" in caplog.text
    caplog.clear()
    fixed = LeadSheet.from_dict({"chords": [{"start": 0, "end": 1, "symbol": "C"}]})  # not a form: kept as given
    assert repeat_chart_to_length(fixed, 5.0) is fixed and repeat_chart_to_length(sheet, 2.0) is sheet
    assert repeat_chart_to_length(None, 5.0) is None and caplog.text == ""


def test_lead_sheets_and_segments_per_prompt():
    sheet = LeadSheet.from_chart("C | G")
    assert coerce_lead_sheet(None) is None and coerce_lead_sheet(sheet) is sheet
    assert coerce_lead_sheet("C | G") == sheet == coerce_lead_sheet({"chart": "C | G"})
    assert lead_sheets_per_prompt("C | G", 2) == [sheet, sheet]
    assert lead_sheets_per_prompt([None, "C | G"], 2) == [None, sheet]
    with pytest.raises(ValueError, match="1 lead sheets given for 2 prompts"):
        lead_sheets_per_prompt(["C"], 2)
    verse = {"start": 0, "end": 1, "label": "verse"}
    assert segments_per_prompt(None, 2) == segments_per_prompt([], 2) == [None, None]
    shared = segments_per_prompt([verse], 2)
    assert shared == [[Segment(0, 1, "verse")]] * 2 and shared[0] is not shared[1]
    assert segments_per_prompt([None, [verse]], 2) == [None, [Segment(0, 1, "verse")]]
    with pytest.raises(ValueError, match="3 lists of segments given for 2 prompts"):
        segments_per_prompt([[verse], None, None], 2)


@pytest.mark.parametrize(
    "data, message",
    [
        (
            {"chords": [{"start": 0, "end": 2, "symbol": "C"}, {"start": 1, "end": 3, "symbol": "G"}]},
            "overlap.*'C'.*'G'",
        ),
        ({"chords": [{"start": 0, "end": 1}]}, "missing field.*symbol"),
        ({"chords": "C | Am"}, "`chords` must be a list.*chart"),
        ({"chords": ["C"]}, "Each chord"),
        ({"melody": [{"start": 0, "end": 1, "note": 60}]}, "unknown field.*note"),
        ({"meter": 3}, "Meter"),
        ({"bars": "C | G"}, "`bars`"),
        ({"chart": 5}, "chord chart must be a string"),
    ],
)
def test_lead_sheet_json_of_the_wrong_shape_is_a_value_error(data, message):
    with pytest.raises(ValueError, match=message):
        LeadSheet.from_dict(data)


def test_missing_lead_sheet_file_says_it_does_not_exist(tmp_path):
    with pytest.raises(ValueError, match="does not exist"):
        LeadSheet.from_json(tmp_path / "sheet.json")
    with pytest.raises(ValueError, match="folder"):
        LeadSheet.from_json(tmp_path)
