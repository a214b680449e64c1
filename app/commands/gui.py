"""``cooptracks gui``: the desktop app on a profile (first run shows onboarding)."""

from __future__ import annotations

import argparse


def _gui(args: argparse.Namespace) -> int:
    from app.ui.app import run

    # The libp2p node is not wired into the GUI yet: the app works on the local replica and
    # says so in the Network view. `cooptracks demo` runs a local swarm.
    return run(args.profile_obj)


def register(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser("gui", parents=[common], help="open the desktop app")
    p.set_defaults(handler=_gui)
