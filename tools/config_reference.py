"""Regenerate the README's config reference from the config dataclasses (run from the repo root)."""

import dataclasses

from polytune.pipeline import SECTIONS

DERIVED = {
    "sources": "out",
    "lid": "input out",
    "filter": "inputs out",
    "augment": "input out",
    "class_weights": "input out",
    "balance": "input out",
    "tokenizer": "base input out guard_input",
    "analyze": "tokenizers input out",
    "language_adapter": "base input lang out tokenizer source_lang",
    "task_adapter": "base input lang out class_weights",
    "evaluation": "base task_adapter input out systems baseline",
}
TOP = {"seed", "langs", "source_lang"}
# What a run sets unless the section does.
RUN_DEFAULT = {
    ("filter", "backend"): "*`fasttext`, trained by the run's `lid` step*",
    ("filter", "model"): "*the `lid` step's model*",
}


def default(f):
    if f.default is not dataclasses.MISSING:
        d = f.default
        return f"`{d}`" if hasattr(d, "__fspath__") else f"`{d!r}`"
    if f.default_factory is not dataclasses.MISSING:
        return f"`{f.default_factory()!r}`"
    return "required"


out = []
for name, cls in SECTIONS.items():
    derived = DERIVED[name].split()
    out.append(f"\n`{name}:` — {cls.__doc__.strip().splitlines()[0]}\n")
    out.append("| key | default | meaning |\n| --- | --- | --- |")
    for f in dataclasses.fields(cls):
        d = "*set by `polytune run`*" if f.name in derived else "*top-level value*" if f.name in TOP else default(f)
        d = RUN_DEFAULT.get((name, f.name), d)
        out.append(f"| `{f.name}` | {d} | {f.metadata.get('help', '').replace('|', '&#124;')} |")
text = "\n".join(out).strip() + "\n"
readme = open("README.md").read()
start = readme.index("<!-- config-reference:start -->") + len("<!-- config-reference:start -->")
end = readme.index("<!-- config-reference:end -->")
open("README.md", "w").write(readme[:start] + "\n" + text + readme[end:])
