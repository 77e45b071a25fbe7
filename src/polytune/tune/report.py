"""What a study writes: best.yaml (runnable, its first line the command), trials.csv/json/md, tune.html (plots).

Plots are matplotlib PNGs embedded in the page: the optimization history (every trial's value, the best so far,
pruned trials at their last reported value) and the parameter importances from optuna's importance API
(fANOVA over the completed trials).
"""

from __future__ import annotations

import base64
import copy
import csv
import html
import io
import json
import logging
from typing import Any

import yaml

from polytune.io import atomic_path, write_json

log = logging.getLogger(__name__)


def trial_rows(study: Any) -> list[dict[str, Any]]:
    """One row per trial: number, state, value (or the last reported value of a pruned trial), parameters."""
    rows = []
    for t in study.get_trials(deepcopy=False):
        last = t.intermediate_values[max(t.intermediate_values)] if t.intermediate_values else None
        rows.append({"number": t.number, "state": t.state.name.lower(), "value": t.value,
                     "last_reported": last, "last_step": max(t.intermediate_values, default=None),
                     "steps": t.user_attrs.get("steps"), "best_step": t.user_attrs.get("best_step"),
                     "seconds": t.user_attrs.get("seconds"), **(t.user_attrs.get("values") or {})})  # fmt: skip
    return rows


def best_yaml(search: Any, best: Any) -> str:
    """The run config with the best trial's values in the searched section (no tune block), as YAML text."""
    raw = copy.deepcopy(search.raw)
    raw.pop("tune", None)
    values = dict(best.user_attrs.get("values") or {})
    if values.get("class_weights") is False:  # off: no class-weights stage, so polytune run derives none
        raw.pop("class_weights", None)
    values.pop("class_weights", None)
    raw[search.tune.step] = {**(raw.get(search.tune.step) or {}), **values}
    path = search.out / "best.yaml"
    head = (f"# polytune run {path}   # best of study {search.study_name}: trial {best.number}, "
            f"{search.metric.name} {best.value:.4f} (from {search.config_path})\n")  # fmt: skip
    return head + yaml.safe_dump(raw, sort_keys=False, allow_unicode=True)


def _markdown(rows: list[dict[str, Any]], columns: list[str]) -> str:
    def cell(value: Any) -> str:
        return f"{value:.4g}" if isinstance(value, float) else "" if value is None else str(value)

    lines = ["| " + " | ".join(columns) + " |", "|" + " --- |" * len(columns)]
    lines += ["| " + " | ".join(cell(r.get(c)) for c in columns) + " |" for r in rows]
    return "\n".join(lines) + "\n"


def _png(fig: Any) -> str:
    import matplotlib.pyplot as plt

    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=100, bbox_inches="tight")
    plt.close(fig)
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def history_plot(rows: list[dict[str, Any]], metric: str, maximize: bool) -> str:
    """The optimization history as a base64 PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 3.5))
    done = [r for r in rows if r["state"] == "complete"]
    pruned = [r for r in rows if r["state"] == "pruned" and r["last_reported"] is not None]
    ax.scatter([r["number"] for r in done], [r["value"] for r in done], label="complete", color="tab:blue")
    ax.scatter([r["number"] for r in pruned], [r["last_reported"] for r in pruned], label="pruned (last report)",
               color="tab:gray", marker="x")  # fmt: skip
    best, xs, ys = None, [], []
    for r in done:
        best = r["value"] if best is None or (r["value"] > best if maximize else r["value"] < best) else best
        xs.append(r["number"])
        ys.append(best)
    ax.step(xs, ys, where="post", color="tab:red", label="best so far")
    ax.set_xlabel("trial")
    ax.set_ylabel(metric)
    ax.legend(loc="best", fontsize="small")
    return _png(fig)


def importances(study: Any) -> dict[str, float]:
    """optuna's parameter importances (fANOVA, seeded); empty with fewer than two completed trials."""
    import optuna
    from optuna.trial import TrialState

    if len(study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))) < 2:
        return {}
    try:
        evaluator = optuna.importance.FanovaImportanceEvaluator(seed=0)
        return dict(optuna.importance.get_param_importances(study, evaluator=evaluator))
    except (RuntimeError, ValueError) as exc:  # e.g. every completed trial has the same value
        log.warning("parameter importances not computed: %s", exc)
        return {}


def importance_plot(values: dict[str, float]) -> str | None:
    if not values:
        return None
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = list(values)[::-1]
    fig, ax = plt.subplots(figsize=(7, 0.4 * len(names) + 1))
    ax.barh(names, [values[n] for n in names], color="tab:green")
    ax.set_xlabel("importance (fANOVA, normalized)")
    return _png(fig)


def page(search: Any, rows: list[dict[str, Any]], history: str, importance: str | None, best: Any) -> str:
    """tune.html: summary, the two plots, the trials table."""
    columns = _columns(rows)
    head = "".join(f"<th>{html.escape(c)}</th>" for c in columns)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(_cell(r.get(c)))}</td>" for c in columns) + "</tr>"
                   for r in rows)  # fmt: skip
    imp = (f'<img alt="parameter importances" src="data:image/png;base64,{importance}">' if importance
           else "<p>Parameter importances need at least two completed trials with different values.</p>")
    title = html.escape(f"polytune tune: {search.study_name}")
    return (f"<!doctype html><html><head><meta charset='utf-8'><title>{title}</title><style>body{{font-family:"
            "sans-serif;margin:2em}table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:2px 6px;"
            f"font-size:small}}</style></head><body><h1>{title}</h1><p>step {search.tune.step}, metric "
            f"{search.metric.name} ({search.metric.direction}), {len(rows)} trials; best: trial {best.number}, "
            f"{best.value:.4f}</p><h2>Optimization history</h2><img alt='optimization history' "
            f"src='data:image/png;base64,{history}'><h2>Parameter importances</h2>{imp}<h2>Trials</h2><table>"
            f"<tr>{head}</tr>{body}</table></body></html>\n")  # fmt: skip


def _cell(value: Any) -> str:
    return f"{value:.4g}" if isinstance(value, float) else "" if value is None else json.dumps(value) \
        if isinstance(value, (list, dict)) else str(value)


def _columns(rows: list[dict[str, Any]]) -> list[str]:
    columns: list[str] = []
    for row in rows:
        columns += [k for k in row if k not in columns]
    return columns


def write_outputs(search: Any, study: Any) -> dict[str, str]:
    """Write best.yaml, trials.{csv,json,md} and tune.html into the study's output folder; return their paths."""
    rows = trial_rows(study)
    columns = _columns(rows)
    best = study.best_trial
    values = importances(study)
    out = search.out
    texts = {
        "best.yaml": best_yaml(search, best),
        "trials.md": _markdown(rows, columns),
        "tune.html": page(search, rows, history_plot(rows, search.metric.name, search.metric.higher_is_better),
                          importance_plot(values), best),
    }
    for name, text in texts.items():
        with atomic_path(out / name) as tmp:
            tmp.write_text(text, encoding="utf-8")
    with atomic_path(out / "trials.csv") as tmp, open(tmp, "w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=columns)
        writer.writeheader()
        writer.writerows([{k: _cell(v) for k, v in r.items()} for r in rows])
    write_json(out / "trials.json", {"study": search.study_name, "metric": search.metric.name,
                                     "direction": search.metric.direction, "best_trial": best.number,
                                     "importances": values, "trials": rows})  # fmt: skip
    return {name: str(out / name) for name in ("best.yaml", "trials.csv", "trials.json", "trials.md", "tune.html")}
