"""``cooptracks bench NAME [--json] [--quick]``: measured figures as ratios to same-run limits."""

from __future__ import annotations

import argparse
import importlib
import json
import platform
import time

from app.bench import ALIASES, BENCHMARKS
from app.services.errors import UserError


def _run(args: argparse.Namespace) -> int:
    name = ALIASES.get(args.name, args.name)
    names = list(BENCHMARKS) if name == "all" else [name]
    results = {}
    for name in names:
        if name not in BENCHMARKS:
            raise UserError(f"no benchmark {name!r}; choose from {', '.join(BENCHMARKS)}")
        try:
            module = importlib.import_module(BENCHMARKS[name])
        except ModuleNotFoundError as exc:
            raise UserError(f"benchmark {name} is not available: {exc}") from exc
        started = time.perf_counter()
        result = module.run(quick=args.quick)
        result["wall_seconds"] = round(time.perf_counter() - started, 2)
        results[name] = result
    doc = results[names[0]] if len(names) == 1 else results
    if isinstance(doc, dict):
        doc = {
            **doc,
            "machine": {
                "python": platform.python_version(),
                "cpu": platform.processor() or platform.machine(),
            },
        }
    if args.json:
        print(json.dumps(doc, indent=2, sort_keys=True, default=str))
    else:
        for key, value in sorted(doc.items()):
            print(f"{key:40} {value}")
    return 0


def register(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser(
        "bench", parents=[common], help="run a benchmark: " + ", ".join([*BENCHMARKS, "all"])
    )
    p.add_argument("name", choices=[*BENCHMARKS, *ALIASES, "all"])
    p.add_argument("--json", action="store_true")
    p.add_argument("--quick", action="store_true", help="smaller workloads")
    p.set_defaults(handler=_run)
