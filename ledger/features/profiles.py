"""Profiles: an identity's public name, bio and links (kind ``profile``)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ledger.entry import Entry
from ledger.features.base import DepIndex, Feature
from ledger.schema import Kind, array, record, text

if TYPE_CHECKING:
    from ledger.state import State


@dataclass(frozen=True)
class Profile:
    name: str
    bio: str
    links: tuple[str, ...]
    seq: int


class ProfilesView:
    profiles: dict[bytes, Profile]


def apply_profile(state: State, entry: Entry, body: Mapping[str, Any], _d: DepIndex) -> None:
    """The latest effective profile in the author's feed wins (feeds apply in seq order)."""
    state.profiles[entry.author] = Profile(
        body["name"], body["bio"], tuple(body["links"]), entry.seq
    )


def _tables(state: State) -> None:
    state.profiles = {}


def _hash_sections(state: State) -> dict[str, Any]:
    return {
        "profiles": sorted([k, p.name, p.bio, list(p.links)] for k, p in state.profiles.items())
    }


FEATURE = Feature(
    name="profiles",
    kinds=(
        Kind(
            "profile",
            record(name=text(80, 1), bio=text(2000), links=array(text(200), 8)),
            "Set the author's public name, bio and links; the highest seq wins.",
        ),
    ),
    rules={"profile": apply_profile},
    tables=_tables,
    view=ProfilesView,
    hash_sections=_hash_sections,
)
