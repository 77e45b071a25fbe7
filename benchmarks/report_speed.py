"""Report speed: polytune's full report (20 languages x 2,000 segments x 3 systems, 1,000 bootstrap resamples, BLEU
and chrF with sacrebleu's own per-language CIs, paired p-values vs a baseline, language-stratified averages, plus
Markdown/HTML with plots) beside sacrebleu's own paired bootstrap (`sacrebleu.significance.PairedTest`, what
`sacrebleu --paired-bs` runs), called once per language, on the same synthetic outputs. Figures as one JSON object on
the last line; CPU seconds beside wall seconds, and the load average, because the machine may be shared.

    .venv/bin/python benchmarks/report_speed.py            # 20 x 2,000 x 3, 1,000 resamples (target < 60 s)
    .venv/bin/python benchmarks/report_speed.py --quick    # 5 x 500 x 3, 200 resamples
"""

from __future__ import annotations

import argparse
import json
import os
import random
import tempfile
import time
from pathlib import Path

from polytune.evaluation.report import build_report
from polytune.langcodes import normalize

LANGS = ["eng", "fra", "deu", "spa", "ita", "por", "nld", "swe", "pol", "ces",
         "tur", "ind", "vie", "swh", "yor", "hau", "nya", "zul", "amh", "ara"]  # fmt: skip
SYSTEMS = {"base": 0.35, "tuned": 0.25, "tuned+vocab": 0.2}  # share of words each system gets wrong


def _write(root: Path, n_langs: int, n_segments: int) -> dict[str, dict[str, list[str]]]:
    """Synthetic references and noisy hypotheses; returns lang -> {"ref": [...], system: [...]}."""
    rng = random.Random(0)
    words = [f"w{i}" for i in range(3000)]
    data: dict[str, dict[str, list[str]]] = {}
    for code in LANGS[:n_langs]:
        lang = normalize(code)
        refs = [rng.choices(words, k=rng.randint(8, 30)) for _ in range(n_segments)]
        data[lang] = {"ref": [" ".join(r) for r in refs]}
        for system, noise in SYSTEMS.items():
            hyps = [" ".join(w if rng.random() > noise else rng.choice(words) for w in r) for r in refs]
            data[lang][system] = hyps
            rows = [
                {"id": str(i), "lang": lang, "label": x, "pred": h}
                for i, (x, h) in enumerate(zip(data[lang]["ref"], hyps, strict=True))
            ]
            (root / system).mkdir(parents=True, exist_ok=True)
            (root / system / f"{lang}.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows), "utf-8")
    return data


def _sacrebleu(data: dict[str, dict[str, list[str]]], n_resamples: int) -> tuple[float, float]:
    from sacrebleu.metrics import BLEU, CHRF
    from sacrebleu.significance import PairedTest

    start, cpu = time.perf_counter(), time.process_time()
    for per in data.values():
        systems = [(s, per[s]) for s in SYSTEMS]
        metrics = {"BLEU": BLEU(references=[per["ref"]]), "chrF": CHRF(references=[per["ref"]])}
        PairedTest(systems, metrics, references=None, test_type="bs", n_samples=n_resamples)()
    return time.perf_counter() - start, time.process_time() - cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="5 languages x 500 segments, 200 resamples")
    args = parser.parse_args()
    n_langs, n_segments, n_resamples = (5, 500, 200) if args.quick else (20, 2000, 1000)
    load_before = os.getloadavg()[0]
    with tempfile.TemporaryDirectory() as tmp:
        data = _write(Path(tmp) / "predictions", n_langs, n_segments)
        start, cpu = time.perf_counter(), time.process_time()
        build_report(Path(tmp), Path(tmp) / "out", baseline="base", metrics=["bleu", "chrf"],
                     n_resamples=n_resamples, seed=13)  # fmt: skip
        polytune_s, polytune_cpu = time.perf_counter() - start, time.process_time() - cpu
        html_kb = (Path(tmp) / "out" / "report.html").stat().st_size / 1024
    baseline_s, baseline_cpu = _sacrebleu(data, n_resamples)
    print(f"polytune report: {polytune_s:.1f} s ({polytune_cpu:.1f} s CPU); "
          f"sacrebleu PairedTest per language: {baseline_s:.1f} s ({baseline_cpu:.1f} s CPU)")  # fmt: skip
    print(json.dumps({
        "languages": n_langs, "segments": n_segments, "systems": len(SYSTEMS), "resamples": n_resamples,
        "metrics": ["bleu", "chrf"], "polytune_s": round(polytune_s, 2), "polytune_cpu_s": round(polytune_cpu, 2),
        "sacrebleu_paired_bs_s": round(baseline_s, 2), "sacrebleu_cpu_s": round(baseline_cpu, 2),
        "speedup": round(baseline_s / polytune_s, 2), "cpu_speedup": round(baseline_cpu / polytune_cpu, 2),
        "html_kb": round(html_kb, 1), "load_avg_1min": [round(load_before, 2), round(os.getloadavg()[0], 2)],
    }))  # fmt: skip


if __name__ == "__main__":
    main()
