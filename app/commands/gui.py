"""``cooptracks gui``: the desktop app on a profile (first run shows onboarding).

Once unlocked, the app runs the identity's node on the swarm: it listens as the profile's
``config.json`` says (``listen``, default all interfaces on a free port) and dials the
``bootstrap`` peers there and those given with ``--peer``. With ``--passphrase-file`` or
``COOPTRACKS_PASSPHRASE`` an existing identity is unlocked without the unlock window."""

from __future__ import annotations

import argparse


def _gui(args: argparse.Namespace) -> int:
    from app.services.errors import UserError
    from app.ui.display import display_problem

    problem = display_problem()
    if problem:
        raise UserError(problem)
    from app.services.identity import read_passphrase_source
    from app.ui.app import run

    profile = args.profile_obj
    peers = tuple(args.peer or ())
    # --passphrase-file or $COOPTRACKS_PASSPHRASE unlock at once, as for every other command
    # (a wrong one leaves the unlock window up with the reason); a new profile still onboards.
    given = read_passphrase_source(args.passphrase_file) if profile.identity_file.exists() else None

    def network():
        # On unlock, off the GUI thread: libp2p is imported only when the node starts.
        from dataclasses import replace

        from app.services.swarm import SwarmNetwork, SwarmSettings

        settings = SwarmSettings.from_profile(profile)
        return SwarmNetwork(replace(settings, bootstrap=settings.bootstrap + peers))

    return run(profile, network, passphrase=given)


def register(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser("gui", parents=[common], help="open the desktop app")
    p.add_argument(
        "--peer",
        action="append",
        metavar="MULTIADDR",
        help="a peer to connect to (/ip4/…/tcp/…/p2p/…), besides the profile's "
        "bootstrap list; repeatable",
    )
    p.set_defaults(handler=_gui)
