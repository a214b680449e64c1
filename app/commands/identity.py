"""``cooptracks identity new | show | export-phrase | restore``."""

from __future__ import annotations

import argparse
import sys

from app.commands._io import add_json_flag, emit, passphrase
from app.services.errors import UserError
from app.services.identity import IdentityInfo, IdentityService


def _doc(info: IdentityInfo) -> dict:
    return {"public_key": info.public_key_hex, "peer_id": info.peer_id, "name": info.name}


def _new(args: argparse.Namespace) -> int:
    secret = passphrase(args, confirm=True)
    service = IdentityService(args.profile_obj)
    info = service.create(secret, args.name)
    published = ""
    if args.name.strip():
        # The name is public: sign it into our feed as the profile entry peers show.
        from app.services.core import Core
        from app.services.profiles import ProfileService

        with Core(args.profile_obj, service.unlock(secret)) as core:
            ProfileService(core, service).publish(args.name)
        published = f"\npublished the profile {args.name.strip()!r}"
    emit(
        args,
        _doc(info),
        f"created identity {info.peer_id}\npublic key {info.public_key_hex}"
        f"{published}\nwrite down the recovery phrase: cooptracks identity export-phrase",
    )
    return 0


def _show(args: argparse.Namespace) -> int:
    info = IdentityService(args.profile_obj).info()
    emit(
        args,
        _doc(info),
        f"name        {info.name or '-'}\npeer id     {info.peer_id}\n"
        f"public key  {info.public_key_hex}\nprofile     {args.profile_obj.root}",
    )
    return 0


def _export(args: argparse.Namespace) -> int:
    print(IdentityService(args.profile_obj).export_phrase(passphrase(args)))
    return 0


def _restore(args: argparse.Namespace) -> int:
    if args.phrase_file:
        phrase = args.phrase_file.read_text(encoding="utf-8")
    elif not sys.stdin.isatty():
        phrase = sys.stdin.readline()
    else:
        phrase = input("Recovery phrase (24 words): ")
    if not phrase.strip():
        raise UserError("no recovery phrase given")
    info = IdentityService(args.profile_obj).restore(
        phrase, passphrase(args, confirm=True), args.name
    )
    emit(args, _doc(info), f"restored identity {info.peer_id}")
    return 0


def register(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    ident = sub.add_parser("identity", parents=[common], help="create, show, back up, restore")
    isub = ident.add_subparsers(dest="identity_command", metavar="ACTION", required=True)
    p = isub.add_parser("new", parents=[common], help="create a new identity")
    p.add_argument(
        "--name", default="", help="public display name, published in the ledger as your profile"
    )
    add_json_flag(p)
    p.set_defaults(handler=_new)
    p = isub.add_parser("show", parents=[common], help="show the public key and peer ID")
    add_json_flag(p)
    p.set_defaults(handler=_show)
    p = isub.add_parser("export-phrase", parents=[common], help="print the 24-word recovery phrase")
    p.set_defaults(handler=_export)
    p = isub.add_parser(
        "restore",
        parents=[common],
        help="restore from a recovery phrase (read from stdin or --phrase-file)",
    )
    p.add_argument("--phrase-file", type=__import__("pathlib").Path, default=None)
    p.add_argument("--name", default="")
    add_json_flag(p)
    p.set_defaults(handler=_restore)
