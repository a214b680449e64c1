"""``cooptracks profile set | show``: the public name, bio and links, published in the ledger."""

from __future__ import annotations

import argparse

from app.commands._io import add_json_flag, emit, passphrase
from app.services.core import Core
from app.services.errors import UserError


def _set(args: argparse.Namespace) -> int:
    from app.services.profiles import ProfileService

    if args.name is None and args.bio is None and args.link is None:
        raise UserError("nothing to set", hint="give --name, --bio or --link")
    with Core.open(args.profile_obj, passphrase(args)) as core:
        service = ProfileService(core)
        current = service.mine()
        name = args.name if args.name is not None else (current.name if current else "")
        links = [] if args.no_links else args.link
        entry = service.publish(name, args.bio, links)
        mine = service.mine()
        doc = {**service.as_dict(mine), "entry": entry.hash.hex() if entry else None}
        emit(
            args,
            doc,
            (
                f"published the profile of {mine.name!r} ({entry.hash.hex()[:12]})"
                if entry and mine
                else "the profile is unchanged; nothing was written"
            ),
        )
    return 0


def _show(args: argparse.Namespace) -> int:
    from app.services.identity import IdentityService
    from app.services.profiles import profile_of
    from ledger.ledger import Ledger

    if args.key:
        try:
            key = bytes.fromhex(args.key)
        except ValueError:
            key = b""
        if len(key) != 32:
            raise UserError("a public key is 64 hex characters")
    else:
        key = IdentityService(args.profile_obj).info().public_key
    ledger = Ledger.open(args.profile_obj.ledger_db)
    try:
        found = profile_of(ledger.state, key)
    finally:
        ledger.close()
    if found is None:
        emit(
            args,
            {"public_key": key.hex(), "published": False},
            f"{key.hex()} has published no profile",
        )
        return 0
    emit(
        args,
        {
            "public_key": key.hex(),
            "peer_id": found.peer_id,
            "name": found.name,
            "bio": found.bio,
            "links": list(found.links),
            "published": True,
        },
        "\n".join(
            [
                f"name     {found.name}",
                f"peer id  {found.peer_id}",
                *([f"bio      {found.bio}"] if found.bio else []),
                *(f"link     {link}" for link in found.links),
            ]
        ),
    )
    return 0


def register(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    prof = sub.add_parser(
        "profile",
        parents=[common],
        help="your public name, bio and links (published in the ledger)",
    )
    psub = prof.add_subparsers(dest="profile_command", metavar="ACTION", required=True)
    p = psub.add_parser(
        "set", parents=[common], help="publish a new name, bio or links (unchanged ones are kept)"
    )
    p.add_argument("--name", default=None, help="public display name (up to 80 characters)")
    p.add_argument("--bio", default=None, help="a few words about you (up to 2,000 characters)")
    p.add_argument(
        "--link",
        action="append",
        default=None,
        metavar="URL",
        help="a link (repeatable, up to 8); replaces the published links",
    )
    p.add_argument("--no-links", action="store_true", help="remove the published links")
    add_json_flag(p)
    p.set_defaults(handler=_set)
    p = psub.add_parser(
        "show", parents=[common], help="show your published profile, or another identity's"
    )
    p.add_argument("key", nargs="?", default=None, help="a public key (hex); default: yours")
    add_json_flag(p)
    p.set_defaults(handler=_show)
