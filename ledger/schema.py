"""Schema building blocks for entry bodies (validation level 2), and ``Kind``.

Each feature module in ``ledger/features`` describes its kinds' bodies with these validators;
``ledger/kinds.py`` assembles the closed registry from them.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ledger.encoding import INT_MAX

Validator = Callable[[Any], None]


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


class optional:  # lower case: used like the other validators
    """A field a record may leave out (terms added to a kind after v1, such as a listing's shares:
    a body without the field encodes, hashes and validates as it always did)."""

    def __init__(self, inner: Validator) -> None:
        self.inner = inner

    def __call__(self, value: Any) -> None:
        self.inner(value)


def record(**fields: Validator) -> Validator:
    names = frozenset(fields)
    required = frozenset(n for n, v in fields.items() if not isinstance(v, optional))
    checks = tuple(fields.items())

    def check(value: Any) -> None:
        if type(value) is not dict:
            raise _Invalid("must be a map")
        if value.keys() != names and not (required <= value.keys() <= names):
            keys = set(value)
            missing, extra = sorted(required - keys), sorted(str(k) for k in keys - names)
            raise _Invalid(f"fields missing {missing} or unknown {extra}")
        name = ""
        try:
            for name, validator in checks:
                if name in value:
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


@dataclass(frozen=True)
class Kind:
    name: str
    schema: Validator
    summary: str


MAX_SEALED = 128  # a sealed 32-byte key is 80 bytes
SEALED_KEY = record(content=hash32, sealed=blob(MAX_SEALED))  # a content key sealed to a key
