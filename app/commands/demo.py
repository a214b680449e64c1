"""``cooptracks demo``: a whole store on this machine, alive in one command.

Demo artists with releases of generated music, a credits gateway, an always-on seeder and you as
a fan holding 25 demo credits. The world is built once (about 10 s) under the user cache folder
and reused; ``--fresh`` rebuilds it, ``--root`` puts it elsewhere. The seeder, the gateway and the
artists who are online run as real nodes (``cooptracks seed`` processes on 127.0.0.1, stopped
with the app); the app's own node bootstraps to them. ``--headless --check`` runs the fan's whole
flow on that swarm (browse, search, preview, buy, grant, download, decrypt, compare and decode;
a trade on the exchange; a pledge and a holder pass checked on a second replica, one line each:
``trade ok``, ``pledge ok``, ``pass ok``) without a window and exits non-zero on failure, for CI.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path


def _demo(args: argparse.Namespace) -> int:
    from app.demo import build_world, default_demo_root, run_check
    from app.services.errors import UserError

    if args.headless:
        root = args.root or Path(tempfile.mkdtemp(prefix="cooptracks-demo-check-"))
        try:
            timings = run_check(root / "world")
        except (AssertionError, UserError) as exc:
            print(f"demo check FAILED: {exc}", file=sys.stderr)
            return 1
        print("demo check passed: " + ", ".join(f"{k} {v:.1f}" for k, v in timings.items()))
        return 0

    from app.ui.display import display_problem

    problem = display_problem()
    if problem:
        raise UserError(problem)
    root = args.root or default_demo_root()
    started = time.monotonic()

    def progress(done: int, total: int) -> None:
        print(f"\rbuilding the demo world: {done}/{total}", end="", file=sys.stderr, flush=True)

    world = build_world(root, quick=args.quick, fresh=args.fresh, progress=progress)
    print(
        f"\rdemo world ready in {time.monotonic() - started:.1f} s at {root}{' ' * 20}",
        file=sys.stderr,
    )
    print(f"you are the fan; passphrase: {world.fan_passphrase}", file=sys.stderr)
    from app.demo import DemoSwarm
    from app.profile import Profile
    from app.services.swarm import SwarmNetwork
    from app.ui.app import run

    # Started from the main thread, before the window: the nodes come up while the app loads.
    with DemoSwarm(world) as swarm:
        names = ", ".join(f"{r.actor.name} ({r.actor.role})" for r in swarm.running)
        print(
            f"demo nodes starting on 127.0.0.1: {names}; addresses in {swarm.manifest}",
            file=sys.stderr,
        )
        settings = swarm.settings()
        return run(
            Profile(world.fan),
            lambda: SwarmNetwork(settings),
            passphrase=world.fan_passphrase,
            title_note="demo",
        )


def register(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser(
        "demo", parents=[common], help="a local swarm with demo artists, a gateway and a seeder"
    )
    p.add_argument("--root", type=Path, default=None, help="where the demo profiles live")
    p.add_argument("--fresh", action="store_true", help="rebuild the demo world")
    p.add_argument("--quick", action="store_true", help="short tracks (faster to build)")
    p.add_argument("--headless", action="store_true", help="no window")
    p.add_argument(
        "--check", action="store_true", help="with --headless: run the fan's whole flow and report"
    )
    p.set_defaults(handler=_demo)
