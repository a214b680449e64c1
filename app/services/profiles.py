"""Public profiles: the name, bio and links an identity publishes as a ledger ``profile`` entry.

The name chosen at ``identity new --name``, in onboarding or in Settings is public: it is signed
into the identity's own feed, replicates with the ledger like every other entry, and the latest
one (highest seq) is what every peer shows for that key. ``identity.json`` keeps a local copy for
the unlock screen, which is shown before the ledger is open.

Peers are named from these entries wherever one appears: a release's artist (the listing's
signer, not the free-text ``artist_name`` the listing carries, which is only the fallback), the
peers on the Network page, the people in the catalog.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from app.services.core import Core
from app.services.errors import UserError
from app.services.identity import IdentityService
from ledger.entry import Entry
from ledger.keys import peer_id
from ledger.state import Listing, State

# The ledger's limits for the ``profile`` kind (ledger/kinds.py), checked here first so that the
# user gets a sentence instead of a schema error.
MAX_NAME = 80
MAX_BIO = 2000
MAX_LINKS = 8
MAX_LINK = 200


@dataclass(frozen=True)
class PublicProfile:
    """What an identity says about itself, as the ledger holds it."""

    public_key: bytes
    name: str
    bio: str
    links: tuple[str, ...]

    @property
    def peer_id(self) -> str:
        return peer_id(self.public_key)


def profile_of(state: State, public_key: bytes) -> PublicProfile | None:
    """The latest profile ``public_key`` published, if any."""
    p = state.profiles.get(public_key)
    return PublicProfile(public_key, p.name, p.bio, p.links) if p else None


def display_name(state: State, public_key: bytes, fallback: str = "") -> str:
    """How to name ``public_key`` to a user: its published name, else ``fallback``, else a short
    form of its peer ID."""
    p = state.profiles.get(public_key)
    if p is not None:
        return p.name
    return fallback or short_peer_id(public_key)


def artist_name(state: State, listing: Listing) -> str:
    """A release's artist, named by identity: the signer's published name, or the listing's own
    ``artist_name`` when the artist has published no profile."""
    return display_name(state, listing.artist, listing.artist_name)


_B58 = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"
_ED25519_PEER_PREFIX = b"\x00\x24\x08\x01\x12\x20"  # identity multihash of PublicKey{Ed25519}


def public_key_of_peer(pid: str) -> bytes | None:
    """The ed25519 public key a libp2p peer ID encodes (the inverse of ``ledger.keys.peer_id``),
    or None for an ID that is not an inlined ed25519 key."""
    n = 0
    for ch in pid:
        digit = _B58.find(ch)
        if digit < 0:
            return None
        n = n * 58 + digit
    raw = n.to_bytes((n.bit_length() + 7) // 8, "big")
    raw = b"\0" * (len(pid) - len(pid.lstrip("1"))) + raw
    if len(raw) != len(_ED25519_PEER_PREFIX) + 32 or not raw.startswith(_ED25519_PEER_PREFIX):
        return None
    return raw[len(_ED25519_PEER_PREFIX) :]


def peer_name(state: State, pid: str, fallback: str = "") -> str:
    """How to name a peer the network reports by its ID: the published name of the identity it
    is (a node's libp2p key is its ledger key), else ``fallback``, else a short form of the ID."""
    key = public_key_of_peer(pid)
    p = state.profiles.get(key) if key else None
    if p is not None:
        return p.name
    return fallback or "peer " + pid[-6:]


def short_peer_id(public_key: bytes) -> str:
    pid = peer_id(public_key)
    return pid[:8] + "…" + pid[-6:]


def checked(name: str, bio: str, links: Sequence[str]) -> tuple[str, str, list[str]]:
    """The profile fields trimmed, or a UserError saying what is wrong."""
    name = name.strip()
    bio = bio.strip()
    links = [link.strip() for link in links if link.strip()]
    if not name:
        raise UserError("a public profile needs a name")
    if len(name) > MAX_NAME:
        raise UserError(f"the name is {len(name)} characters; at most {MAX_NAME} fit")
    if len(bio) > MAX_BIO:
        raise UserError(f"the bio is {len(bio)} characters; at most {MAX_BIO} fit")
    if len(links) > MAX_LINKS:
        raise UserError(f"{len(links)} links given; at most {MAX_LINKS} fit")
    for link in links:
        if len(link) > MAX_LINK:
            raise UserError(
                f"a link is {len(link)} characters; at most {MAX_LINK} fit: {link[:40]}…"
            )
    if len(set(links)) != len(links):
        raise UserError("a link is given twice")
    return name, bio, links


class ProfileService:
    """Publishes this identity's profile and names others by theirs."""

    def __init__(self, core: Core, identity: IdentityService | None = None) -> None:
        self.core = core
        self.identity = identity or IdentityService(core.profile)

    def mine(self) -> PublicProfile | None:
        return profile_of(self.core.ledger.state, self.core.me)

    def publish(
        self, name: str, bio: str | None = None, links: Sequence[str] | None = None
    ) -> Entry | None:
        """Sign a ``profile`` entry; ``bio`` and ``links`` left as None keep the published ones.

        Also keeps the local name in ``identity.json``. Returns None when nothing changed (no
        entry is written then). Bad input raises UserError and writes nothing.
        """
        current = self.mine()
        if bio is None:
            bio = current.bio if current else ""
        if links is None:
            links = current.links if current else ()
        name, bio, clean_links = checked(name, bio, links)
        entry = None
        if current is None or (current.name, current.bio, list(current.links)) != (
            name,
            bio,
            clean_links,
        ):
            entry = self.core.append("profile", {"name": name, "bio": bio, "links": clean_links})
        if self.identity.exists() and self.identity.info().name != name:
            self.identity.rename(name)
        return entry

    def name_of(self, public_key: bytes, fallback: str = "") -> str:
        return display_name(self.core.ledger.state, public_key, fallback)

    def as_dict(self, profile: PublicProfile | None) -> Mapping[str, object]:
        if profile is None:
            return {"name": "", "bio": "", "links": [], "published": False}
        return {
            "name": profile.name,
            "bio": profile.bio,
            "links": list(profile.links),
            "published": True,
            "peer_id": profile.peer_id,
            "public_key": profile.public_key.hex(),
        }
