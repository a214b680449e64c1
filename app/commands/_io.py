"""Shared helpers for CLI commands: passphrases, JSON output, opening the profile's ledger."""

from __future__ import annotations

import argparse
import getpass
import json
import sys
from typing import Any

from app.services.errors import UserError
from app.services.identity import PASSPHRASE_ENV, IdentityService, read_passphrase_source


def passphrase(args: argparse.Namespace, confirm: bool = False) -> str:
    """From --passphrase-file, $COOPTRACKS_PASSPHRASE, or (on a terminal) a prompt."""
    given = read_passphrase_source(args.passphrase_file)
    if given is not None:
        return given
    if not sys.stdin.isatty():
        raise UserError(
            "no passphrase given", hint=f"set {PASSPHRASE_ENV} or pass --passphrase-file"
        )
    first = getpass.getpass("Passphrase: ")
    if confirm and getpass.getpass("Repeat passphrase: ") != first:
        raise UserError("the two passphrases differ")
    return first


def unlock(args: argparse.Namespace):  # -> Signer
    return IdentityService(args.profile_obj).unlock(passphrase(args))


def emit(args: argparse.Namespace, doc: Any, text: str) -> None:
    """Print ``doc`` as JSON with --json, else ``text``."""
    if getattr(args, "json", False):
        print(json.dumps(doc, indent=2, sort_keys=True))
    else:
        print(text)


def add_json_flag(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="print JSON")
