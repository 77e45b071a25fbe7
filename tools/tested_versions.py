"""Write src/polytune/tested.json from the lock: the tested version of each library `polytune doctor` checks.

    python tools/tested_versions.py constraints.txt src/polytune/tested.json
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from polytune.environment import LIBRARIES  # noqa: E402


def locked_versions(lock: Path) -> dict[str, str]:
    """name -> version of every `name==version` line. Example: "torch==2.13.0" -> {"torch": "2.13.0"}"""
    pins = {}
    for line in lock.read_text(encoding="utf-8").splitlines():
        match = re.match(r"^([A-Za-z0-9_.\-]+)==([^\s;#]+)", line)
        if match:
            pins[match.group(1).lower().replace("_", "-")] = match.group(2)
    return pins


def main(lock: str, out: str) -> None:
    pins = locked_versions(Path(lock))
    tested = {name: pins[name] for name in LIBRARIES if name in pins}
    Path(out).write_text(json.dumps(tested, indent=2, sort_keys=True) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main(*sys.argv[1:3])
