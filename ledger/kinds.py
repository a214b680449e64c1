"""The closed registry of entry kinds and the shape (schema) of each kind's body.

Level 2 of validation: a body must have exactly the fields its kind names, each of the right type
and within its bounds. Each kind's schema lives with its feature in ``ledger/features/``
(registered in ``ledger/features/__init__.py``); the rules that need state are there too.
New kinds are added with a new name; an existing kind's schema never changes meaning.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ledger.errors import SchemaError
from ledger.features import FEATURES
from ledger.features.money import MAX_TRANSFERS_PER_RECEIVE
from ledger.features.selling import (
    BPS_TOTAL,
    MAX_SPLIT,
    MAX_TRACKS,
    PAYOUT,
    PRICE,
    SHARE,
    TRACK,
)
from ledger.schema import (
    MAX_SEALED,
    SEALED_KEY,
    Kind,
    Validator,
    _Invalid,
    array,
    blob,
    boolean,
    hash32,
    integer,
    nullable,
    one_of,
    public_key,
    record,
    text,
)

__all__ = [
    "BPS_TOTAL",
    "KINDS",
    "MAX_SEALED",
    "MAX_SPLIT",
    "MAX_TRACKS",
    "MAX_TRANSFERS_PER_RECEIVE",
    "PAYOUT",
    "PRICE",
    "SEALED_KEY",
    "SHARE",
    "TRACK",
    "Kind",
    "Validator",
    "array",
    "blob",
    "boolean",
    "hash32",
    "integer",
    "nullable",
    "one_of",
    "public_key",
    "record",
    "text",
    "validate_body",
]

KINDS: dict[str, Kind] = {k.name: k for feature in FEATURES for k in feature.kinds}


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
