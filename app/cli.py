"""The ``cooptracks`` command line. Subcommands live in ``app/commands``."""

from __future__ import annotations

import argparse
import importlib
import logging
import sqlite3
import sys
from collections.abc import Sequence
from pathlib import Path

from app.commands import COMMAND_MODULES
from app.profile import Profile, default_profile_dir
from app.services.errors import UserError
from ledger.errors import LedgerError


def build_parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    # SUPPRESS so that "--profile X" works both before and after the subcommand.
    common.add_argument(
        "--profile",
        type=Path,
        default=argparse.SUPPRESS,
        help="profile directory (default: the platform's user data folder)",
    )
    common.add_argument(
        "--passphrase-file",
        type=Path,
        default=argparse.SUPPRESS,
        help="read the identity passphrase from this file (or set COOPTRACKS_PASSPHRASE)",
    )
    common.add_argument(
        "-v", "--verbose", action="store_true", default=argparse.SUPPRESS, help="log debug messages"
    )
    parser = argparse.ArgumentParser(
        prog="cooptracks", parents=[common], description="A music store with no server."
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    parser.set_defaults(handler=None, common_parent=common)
    for name in COMMAND_MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name == name:  # command module not built yet
                continue
            raise
        module.register(sub, common)
    return parser


def profile_from_args(args: argparse.Namespace) -> Profile:
    profile = getattr(args, "profile", None)
    return Profile(profile.expanduser() if profile else default_profile_dir())


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    args.verbose = getattr(args, "verbose", False)
    args.passphrase_file = getattr(args, "passphrase_file", None)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    logging.getLogger("multiaddr").setLevel(logging.INFO)  # its debug lines drown ours
    if args.handler is None:
        parser.print_help()
        return 2
    args.profile_obj = profile_from_args(args)
    try:
        return int(args.handler(args) or 0)
    except (UserError, LedgerError) as err:  # both carry a sentence for people
        print(f"cooptracks: {err}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    except (OSError, sqlite3.Error) as exc:  # the disk or the profile folder, not a bug
        logging.getLogger("cooptracks").debug("command failed", exc_info=True)
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        where = f" ({exc.filename})" if isinstance(exc, OSError) and exc.filename else ""
        print(
            f"cooptracks: the profile {args.profile_obj.root} could not be used: {reason}{where}",
            file=sys.stderr,
        )
        return 1


if __name__ == "__main__":
    sys.exit(main())
