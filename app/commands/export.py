"""``cooptracks export``: owned music out of the app as plain audio files.

    cooptracks export RELEASE [--track N] --format FMT --to DIR [--json]
    cooptracks export --all --format FMT --to DIR [--json]

``--format`` and ``--to`` default to what the app's Settings remember. A track that is owned but
not downloaded yet is fetched from the swarm first (the profile's bootstrap peers and the LAN).
"""

from __future__ import annotations

import argparse
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from app.commands._io import add_json_flag, emit, passphrase
from app.services.core import Core
from app.services.errors import UserError
from app.services.export import (
    FORMAT_KEYS,
    ExportProgress,
    ExportService,
    export_settings,
    lossless_warning,
)

if TYPE_CHECKING:  # libp2p loads only when a download is needed
    from app.services.swarm import SwarmNetwork


CONNECT_WAIT_S = 10.0


class _SwarmOnDemand:
    """Starts this profile's node the first time a track has to be downloaded."""

    def __init__(self, core: Core) -> None:
        self.core = core
        self.network: SwarmNetwork | None = None

    def fetch(
        self, content: bytes, progress: Callable[[int, int], None], cancel: threading.Event
    ) -> None:
        from app.services.swarm import SwarmNetwork, SwarmSettings

        if self.network is None:
            print("starting the swarm node to download what is missing…", file=sys.stderr)
            settings = SwarmSettings.from_profile(self.core.profile)
            network = SwarmNetwork(settings)
            network.start(self.core)
            self.network = network
            if settings.bootstrap:  # give the bootstrap dials a moment to connect
                deadline = time.monotonic() + CONNECT_WAIT_S
                while not network.status(self.core).online and time.monotonic() < deadline:
                    time.sleep(0.1)
            network.sync(self.core)
        self.network.fetch(self.core, content, progress, cancel)

    def close(self) -> None:
        if self.network is not None:
            self.network.close()


def _progress_printer(quiet: bool) -> Callable[[ExportProgress], None]:
    tty = sys.stderr.isatty()

    def show(p: ExportProgress) -> None:
        if quiet:
            return
        line = (
            f"[{p.track + 1}/{p.tracks}] {p.title}: {p.stage} "
            f"{int(p.track_fraction * 100):3d}%  (total {p.percent}%)"
        )
        if tty:
            print("\r" + line.ljust(78), end="", file=sys.stderr, flush=True)
            if p.stage in ("written", "skipped"):
                print(file=sys.stderr)
        elif p.stage in ("written", "skipped"):
            print(line, file=sys.stderr)

    return show


def _export(args: argparse.Namespace) -> int:
    if args.all == bool(args.release):
        raise UserError("name one release, or pass --all for the whole collection")
    if args.all and args.track is not None:
        raise UserError("--track goes with a release, not with --all")
    profile = args.profile_obj
    remembered_fmt, remembered_dir = export_settings(profile)
    fmt = args.format or remembered_fmt
    folder = Path(args.to).expanduser() if args.to else remembered_dir
    with Core.open(profile, passphrase(args)) as core:
        swarm = _SwarmOnDemand(core)
        try:
            service = ExportService(core, fetch=swarm.fetch)
            if args.all:
                plan = service.plan_all()
            else:
                track = None if args.track is None else args.track - 1
                plan = service.plan_release(args.release, track)
            warning = lossless_warning(plan, fmt)
            if warning:
                print(f"warning: {warning}", file=sys.stderr)
            report = service.export(plan, fmt, folder, _progress_printer(args.json))
        finally:
            swarm.close()
    doc = {
        "folder": str(report.folder),
        "format": fmt,
        "what": plan.what,
        "written": report.written,
        "skipped": report.skipped,
        "warning": warning,
        "files": [
            {
                "path": str(f.path),
                "title": f.title,
                "skipped": f.skipped,
                "bytes": f.size,
                "content": f.content.hex(),
            }
            for f in report.files
        ],
    }
    emit(args, doc, f"{plan.what}: {report.summary()}")
    return 0


def register(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser(
        "export",
        parents=[common],
        help="save owned music as plain audio files (FLAC, MP3, …)",
        description="Save a release you own (or bought a track of), or your "
        "whole collection, as plain audio files named "
        "Artist/Album/NN Title.ext.",
    )
    p.add_argument("release", nargs="?", help="release ID (a unique prefix is enough)")
    p.add_argument("--track", type=int, default=None, help="only this track number (1-based)")
    p.add_argument("--all", action="store_true", help="everything you own")
    p.add_argument(
        "--format",
        choices=FORMAT_KEYS,
        default=None,
        help="original (the published file, byte for byte), flac, mp3 (V0), "
        "mp3-320, aac, alac, opus or wav (default: the one Settings remember)",
    )
    p.add_argument(
        "--to",
        default=None,
        metavar="DIR",
        help="folder to write into (default: the one Settings remember)",
    )
    add_json_flag(p)
    p.set_defaults(handler=_export)
