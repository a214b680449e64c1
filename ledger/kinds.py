"""The closed registry of entry kinds and the shape (schema) of each kind's body.

Level 2 of validation: a body must have exactly the fields its kind names, each of the right type
and within its bounds. The rules that need state (balances, listings, ...) live in ledger/state.py.
New kinds are added here with a new name; an existing kind's schema never changes meaning.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from ledger.encoding import INT_MAX
from ledger.errors import SchemaError

Validator = Callable[[Any], None]

BPS_TOTAL = 10_000
MAX_TRACKS = 100
MAX_SPLIT = 16
MAX_TRANSFERS_PER_RECEIVE = 64
MAX_SEALED = 128  # a sealed 32-byte key is 80 bytes


class _Invalid(Exception):
    """A field fails its check. The path to it is assembled on the way out, so that a valid body
    (the usual case) costs no string formatting at all."""

    def __init__(self, why: str) -> None:
        super().__init__(why)
        self.why = why
        self.path: list[str] = []


def text(max_len: int, min_len: int = 0, pattern: str | None = None) -> Validator:
    compiled = re.compile(pattern) if pattern else None
    control = re.compile(r"[\x00-\x08\x0b-\x1f]")  # control characters other than \t and \n

    def check(value: Any) -> None:
        if type(value) is not str:
            raise _Invalid("must be text")
        if not min_len <= len(value) <= max_len:
            raise _Invalid(f"must be {min_len}..{max_len} characters")
        if compiled is not None and not compiled.fullmatch(value):
            raise _Invalid(f"must match {compiled.pattern}")
        if value and control.search(value):
            raise _Invalid("must not contain control characters")

    return check


def integer(minimum: int = 0, maximum: int = INT_MAX) -> Validator:
    def check(value: Any) -> None:
        if type(value) is not int or not minimum <= value <= maximum:
            raise _Invalid(f"must be an integer in {minimum}..{maximum}")

    return check


def boolean(value: Any) -> None:
    if type(value) is not bool:
        raise _Invalid("must be true or false")


def hash32(value: Any) -> None:
    if type(value) is not bytes or len(value) != 32:
        raise _Invalid("must be 32 bytes")


public_key = hash32


def blob(max_len: int) -> Validator:
    def check(value: Any) -> None:
        if type(value) is not bytes or len(value) > max_len:
            raise _Invalid(f"must be at most {max_len} bytes")

    return check


def nullable(inner: Validator) -> Validator:
    def check(value: Any) -> None:
        if value is not None:
            inner(value)

    return check


def one_of(*choices: str) -> Validator:
    def check(value: Any) -> None:
        if value not in choices or type(value) is not str:
            raise _Invalid(f"must be one of {', '.join(choices)}")

    return check


def array(item: Validator, max_len: int, min_len: int = 0, unique: bool = False) -> Validator:
    def check(value: Any) -> None:
        if type(value) is not list or not min_len <= len(value) <= max_len:
            raise _Invalid(f"must be a list of {min_len}..{max_len} items")
        i = 0
        try:
            for i, v in enumerate(value):  # noqa: B007 - i names the failing item
                item(v)
        except _Invalid as err:
            err.path.append(f"[{i}]")
            raise
        if unique and len({_freeze(v) for v in value}) != len(value):
            raise _Invalid("must not repeat an item")

    return check


def record(**fields: Validator) -> Validator:
    names = frozenset(fields)
    checks = tuple(fields.items())

    def check(value: Any) -> None:
        if type(value) is not dict:
            raise _Invalid("must be a map")
        if value.keys() != names:
            keys = set(value)
            missing, extra = sorted(names - keys), sorted(str(k) for k in keys - names)
            raise _Invalid(f"fields missing {missing} or unknown {extra}")
        name = ""
        try:
            for name, validator in checks:
                validator(value[name])
        except _Invalid as err:
            err.path.append(f".{name}")
            raise

    return check


def _freeze(value: Any) -> Any:
    if isinstance(value, dict):
        return tuple(sorted((k, _freeze(v)) for k, v in value.items()))
    if isinstance(value, list):
        return tuple(_freeze(v) for v in value)
    return value


# -- the kinds -------------------------------------------------------------------------------------

PRICE = record(asset=hash32, amount=integer(0), nyp=boolean)
SEALED_KEY = record(content=hash32, sealed=blob(MAX_SEALED))
TRACK = record(
    title=text(200, 1),
    content=hash32,
    preview=nullable(hash32),
    duration_ms=integer(0, 24 * 3600 * 1000),
    prices=array(PRICE, 8, unique=True),
)
SHARE = record(to=public_key, bps=integer(1, BPS_TOTAL))
PAYOUT = record(to=public_key, amount=integer(1))


@dataclass(frozen=True)
class Kind:
    name: str
    schema: Validator
    summary: str


KINDS: dict[str, Kind] = {
    k.name: k
    for k in [
        Kind("profile", record(name=text(80, 1), bio=text(2000), links=array(text(200), 8)),
             "Set the author's public name, bio and links; the highest seq wins."),
        Kind("asset.issue",
             record(symbol=text(12, 1, r"[A-Z0-9]+"), name=text(80, 1),
                    precision=integer(0, 18), max_supply=integer(1),
                    flags=array(one_of("stable", "artistcoin"), 2, unique=True)),
             "Create an asset issued by the author; its ID is this entry's hash."),
        Kind("asset.mint", record(asset=hash32, amount=integer(1)),
             "The issuer credits itself new units, up to the asset's maximum supply."),
        Kind("send", record(asset=hash32, to=public_key, amount=integer(1), memo=text(280)),
             "Move units from the author to another identity (in flight until received)."),
        Kind("receive", record(transfers=array(hash32, MAX_TRANSFERS_PER_RECEIVE, 1, unique=True)),
             "Accept the in-flight transfers to the author made by the entries named."),
        Kind("listing",
             record(title=text(200, 1), artist_name=text(80, 1), genre=text(60),
                    tags=array(text(40, 1), 16, unique=True), description=text(4000),
                    artwork=nullable(hash32), tracks=array(TRACK, MAX_TRACKS, 1),
                    prices=array(PRICE, 8, 1, unique=True),
                    split=array(SHARE, MAX_SPLIT, 1), remainder=public_key,
                    supersedes=nullable(hash32)),
             "Offer a release for sale: tracks, prices per accepted asset, and the split."),
        Kind("purchase",
             record(listing=hash32, track=nullable(integer(0, MAX_TRACKS - 1)), asset=hash32,
                    amount=integer(1), payouts=array(PAYOUT, MAX_SPLIT + 1, 1)),
             "Pay for a release (track = null) or one track, following the listing's split."),
        Kind("grant", record(purchase=hash32, keys=array(SEALED_KEY, MAX_TRACKS, 1)),
             "The seller (artist or delegated agent) seals the content keys to the buyer."),
        Kind("delegate",
             record(agent=public_key, listings=array(hash32, 256, unique=True),
                    keys=array(SEALED_KEY, 1024)),
             "Make another identity a sales agent for some (or, if empty, all) listings."),
        Kind("revoke", record(delegation=hash32), "End a delegation made earlier in this feed."),
    ]
}


def validate_body(kind: str, body: Mapping[str, Any]) -> None:
    """Level 2: the kind exists and the body matches its schema. Raises SchemaError."""
    spec = KINDS.get(kind)
    if spec is None:
        raise SchemaError(f"unknown kind {kind!r}")
    try:
        spec.schema(body)
    except _Invalid as err:
        path = kind + "".join(reversed(err.path))
        raise SchemaError(f"{path}: {err.why}") from None
