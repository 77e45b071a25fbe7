"""`polytune doctor`: library versions, devices, demo assets, and versions outside the tested window.

    polytune doctor [--json]
"""

from __future__ import annotations

import argparse
import importlib.util


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add this module's subcommand to the `polytune` parser."""
    parser = subparsers.add_parser("doctor", help="versions, devices and demo assets; warns outside the tested window")
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    parser.set_defaults(handler=_doctor)


def _devices() -> dict | None:
    """CUDA/MPS devices when torch is installed (reading them imports it), else None."""
    if importlib.util.find_spec("torch") is None:
        return None
    from polytune.models.devices import devices

    return devices()


def _doctor(args: argparse.Namespace) -> int:
    from polytune.cli.common import print_json
    from polytune.environment import report

    info = report(_devices())
    if args.json:
        print_json(info)
        return 0
    print(f"polytune {info['polytune']}  python {info['python']}  {info['platform']}")
    for name, version in info["packages"].items():
        print(f"  {name:<16} {version or 'not installed'}")
    dev = info.get("devices")
    if dev:
        cuda = f"CUDA {dev['cuda_version']}: {', '.join(dev['cuda_devices'])}" if dev["cuda"] else "no CUDA device"
        print(f"devices: {cuda}; MPS {'available' if dev['mps'] else 'not available'}")
    missing = [name for name, present in info["assets"].items() if not present]
    print("demo assets: " + ("all installed" if not missing else f"missing {', '.join(missing)} "
                             "(pip install 'polytune[demo]')"))  # fmt: skip
    for warning in info["warnings"]:
        print(f"warning: {warning}")
    return 0
