"""Artist studio: publish releases from local files, see sales, delegate a sales agent."""

from __future__ import annotations

import csv
import io
import logging
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from app.services.core import Core
from app.services.covers import check_cover_image
from app.services.errors import UserError
from app.services.money import format_amount, parse_amount
from content.format import new_track_key, pack
from ledger.features.selling import MAX_RESERVED_BPS
from ledger.features.shares import purchase_payouts
from ledger.keys import can_receive_sealed, seal_to
from ledger.state import Listing, Purchase
from player.formats import BadAudioFile, read_audio
from player.preview import PREVIEW_MIME, PreviewError, make_preview

log = logging.getLogger(__name__)

Progress = Callable[[int, int, str], None]  # done, total, what

#: The longest preview an artist may set. Each track's preview is also at most half the track,
#: so a preview never gives a short track away whole (it is clear, unencrypted audio).
MAX_PREVIEW_S = 90.0
PREVIEW_SHARE = 0.5


def preview_length(setting_s: float, duration_ms: int) -> float:
    """The preview a track of ``duration_ms`` gets for the artist's setting: at most half the
    track; 0 (no preview) when the setting is 0 or the track's length is not known."""
    if setting_s <= 0 or duration_ms <= 0:
        return 0.0
    return min(setting_s, duration_ms / 1000 * PREVIEW_SHARE)


def _with_label_shares(core: Core, split: list[ShareSpec]) -> list[ShareSpec]:
    """The split with what the labels we accepted signings of are owed (docs/PROTOCOL.md,
    "Signings"), taken from our own share; the ledger refuses a listing without it."""
    now = int(time.time() * 1000)
    state = core.ledger.state
    owed = state.binding_shares(core.me, now, state.releases_to_name(core.me, now))
    given = {s.to: s.bps for s in split}
    short = {label: bps - given.get(label, 0) for label, bps in owed.items()}
    short = {label: n for label, n in sorted(short.items()) if n > 0}
    if not short:
        return split
    mine = given.get(core.me, 0)
    if sum(short.values()) > mine:
        raise UserError(
            "the labels you signed with are owed more of the split than your own share",
            hint="give the labels their signed share: "
            + ", ".join(f"{label.hex()[:12]} {bps / 100:g}%" for label, bps in owed.items()),
        )
    need = sum(short.values())
    out = []
    for share in split:
        bps = share.bps + short.get(share.to, 0) - (need if share.to == core.me else 0)
        if bps > 0:
            out.append(ShareSpec(share.to, bps))
    present = {share.to for share in split}
    return out + [ShareSpec(label, n) for label, n in short.items() if label not in present]


@dataclass(frozen=True)
class ShareSpec:
    """A collaborator's share in basis points (10,000 = everything)."""

    to: bytes
    bps: int


@dataclass(frozen=True)
class ReleaseDraft:
    """What the publish wizard collects; ``files`` are local audio files in track order."""

    files: tuple[Path, ...]
    title: str
    artist_name: str
    price: str  # decimal text in the asset's unit; the minimum when ``name_your_price``
    asset: bytes
    name_your_price: bool = False
    track_price: str | None = None  # sell tracks one by one at this price
    genre: str = ""
    tags: tuple[str, ...] = ()
    description: str = ""
    track_titles: tuple[str, ...] = ()  # overrides of the files' own titles
    split: tuple[ShareSpec, ...] = ()  # empty: everything to the artist
    remainder: bytes | None = None
    preview_seconds: float = 30.0
    artwork: Path | None = None
    supersedes: bytes | None = None
    seeders_bps: int = 0  # kept for the seeders that serve each buyer (their receipt pays it)
    referrer_bps: int = 0  # paid to a referrer the buyer names
    gate: bytes | None = None  # a gate (holding a coin) the release is gated on
    holders_only: bool = False  # only holders with an active claim on ``gate`` may buy
    holder_discount_bps: int = 0  # off the price for holders with an active claim
    campaign: bytes | None = None  # this is that campaign's release: its backers' reward


@dataclass(frozen=True)
class SaleLine:
    purchase: bytes
    listing: Listing
    buyer: bytes
    amount: int
    my_share: int
    asset: bytes
    timestamp: int
    fulfilled: bool


@dataclass
class PublishResult:
    listing: Listing
    contents: list[bytes] = field(default_factory=list)
    previews: list[bytes | None] = field(default_factory=list)


def _make_preview(path: Path, seconds: float) -> tuple[bytes, str] | None:
    """A real encoded excerpt of the track (Ogg Opus with fades), or None if it cannot be made."""
    if seconds <= 0:
        return None
    with tempfile.TemporaryDirectory(prefix="cooptracks-preview-") as tmp:
        dest = Path(tmp) / "preview.opus"
        try:
            make_preview(path, dest, length_s=seconds)
            return dest.read_bytes(), PREVIEW_MIME
        except (PreviewError, OSError) as exc:  # a preview is optional; the track still sells
            log.warning("no preview for %s: %s", path.name, exc)
            return None


class StudioService:
    def __init__(self, core: Core) -> None:
        self.core = core

    def publish(self, draft: ReleaseDraft, progress: Progress | None = None) -> PublishResult:
        """Encrypt every track with its own key, store the chunks, then sign the listing."""
        self.core.require_writable()
        core = self.core
        if not draft.files:
            raise UserError("pick at least one audio file")
        asset = core.ledger.state.assets.get(draft.asset)
        if asset is None:
            raise UserError("unknown asset for the price")
        price = parse_amount(draft.price, asset.precision)
        track_price = (
            None if draft.track_price is None else parse_amount(draft.track_price, asset.precision)
        )
        smallest = format_amount(1, asset.precision, asset.symbol)
        for what, amount in (("price", price), ("track price", track_price)):
            if amount is not None and amount < 1:
                # A purchase pays at least one unit, so a price of 0 could never be bought.
                raise UserError(
                    f"the {what} must be at least {smallest}",
                    hint="free releases are not supported: a purchase always pays "
                    "something, even with name your price",
                )
        _check_terms(draft, core.ledger.state)
        if not 0 <= draft.preview_seconds <= MAX_PREVIEW_S:
            raise UserError(
                f"a preview lasts at most {MAX_PREVIEW_S:.0f} seconds (0: none)",
                hint="each preview is also at most half of its track",
            )
        split = list(draft.split)
        listed = sum(s.bps for s in split)
        if listed > 10_000 or any(s.bps <= 0 for s in split):
            raise UserError(
                "the collaborators' shares must be above 0% and add up to at most 100%",
                hint="what they do not take goes to you",
            )
        if listed < 10_000:  # the rest is the artist's, listed or not
            mine = next((i for i, s in enumerate(split) if s.to == core.me), None)
            if mine is None:
                split.append(ShareSpec(core.me, 10_000 - listed))
            else:
                split[mine] = ShareSpec(core.me, split[mine].bps + 10_000 - listed)
        split = _with_label_shares(core, split)
        infos = []
        for path in draft.files:
            try:
                infos.append(read_audio(Path(path)))
            except BadAudioFile as err:
                raise UserError(f"{Path(path).name}: {err}") from err
            except OSError as err:
                raise UserError(f"{Path(path).name}: {err.strerror}") from err
        chosen_art = None
        if draft.artwork is not None:
            try:
                chosen_art = Path(draft.artwork).read_bytes()
            except OSError as err:
                raise UserError(f"{Path(draft.artwork).name}: {err.strerror}") from err
            check_cover_image(chosen_art)  # fans refuse anything else; say so before writing
        stored: list[bytes] = []  # content this publish added, removed again if it fails
        try:
            return self._publish(
                draft, infos, asset.id, price, track_price, split, stored, progress, chosen_art
            )
        except (OSError, UserError) as exc:  # a full disk, a ledger that cannot be written
            for content in stored:  # leave no partial pack and no unlisted content behind
                try:
                    core.chunks.remove_content(content)
                except OSError:
                    log.warning("could not remove the partial content %s", content.hex()[:12])
            if isinstance(exc, UserError):
                raise
            raise UserError(
                f"could not store the release: {exc.strerror or exc}",
                hint="free some disk space and publish again; nothing was published",
            ) from exc

    def _publish(
        self,
        draft: ReleaseDraft,
        infos: list,
        asset: bytes,
        price: int,
        track_price: int | None,
        split: Sequence[ShareSpec],
        stored: list[bytes],
        progress: Progress | None,
        chosen_art: bytes | None,
    ) -> PublishResult:
        core = self.core

        def put(packed_manifest: bytes, chunks: Sequence[bytes], content: bytes) -> bytes:
            if not core.chunks.has_manifest(content):
                stored.append(content)  # before writing: a write that fails half-way counts
            return core.chunks.put_packed(packed_manifest, list(chunks))

        result_contents: list[bytes] = []
        previews: list[bytes | None] = []
        tracks = []
        total = len(draft.files)
        for i, (path, info) in enumerate(zip(draft.files, infos, strict=True)):
            if progress:
                progress(i, total, Path(path).name)
            key = new_track_key()
            with open(path, "rb") as fh:
                packed = pack(fh, key, mime=info.mime)
            put(packed.manifest_bytes, packed.chunks, packed.content_id)
            core.keys.put(packed.content_id, key, "own")
            preview_id = None
            clip = _make_preview(
                Path(path), preview_length(draft.preview_seconds, info.duration_ms)
            )
            if clip is not None:
                clip_data, clip_mime = clip
                clear = pack(clip_data, None, mime=clip_mime)
                preview_id = put(clear.manifest_bytes, clear.chunks, clear.content_id)
            title = (
                draft.track_titles[i]
                if i < len(draft.track_titles) and draft.track_titles[i]
                else info.title or Path(path).stem
            )
            tracks.append(
                {
                    "title": title[:200],
                    "content": packed.content_id,
                    "preview": preview_id,
                    "duration_ms": info.duration_ms,
                    "prices": (
                        []
                        if track_price is None
                        else [{"asset": asset, "amount": track_price, "nyp": draft.name_your_price}]
                    ),
                }
            )
            result_contents.append(packed.content_id)
            previews.append(preview_id)
        artwork_id = None
        art_bytes, art_mime = None, "image/jpeg"
        if chosen_art is not None:
            art_bytes = chosen_art
            art_mime = "image/png" if art_bytes[:4] == b"\x89PNG" else "image/jpeg"
        elif infos[0].artwork is not None:
            art_bytes, art_mime = infos[0].artwork.data, infos[0].artwork.mime
            try:
                check_cover_image(art_bytes)
            except UserError as err:  # the file's own picture is optional: leave it out
                log.info("the cover embedded in %s is left out: %s", draft.files[0], err)
                art_bytes = None
        if art_bytes:
            art = pack(art_bytes, None, mime=art_mime)
            artwork_id = put(art.manifest_bytes, art.chunks, art.content_id)
        body = {
            "title": draft.title.strip()[:200] or (infos[0].album or "Untitled"),
            "artist_name": (
                draft.artist_name.strip() or infos[0].artist or self._public_name() or "Unknown"
            )[:80],
            "genre": (draft.genre or infos[0].genre)[:60],
            "tags": sorted({t.strip()[:40] for t in draft.tags if t.strip()})[:16],
            "description": draft.description[:4000],
            "artwork": artwork_id,
            "tracks": tracks,
            "prices": [{"asset": asset, "amount": price, "nyp": draft.name_your_price}],
            "split": [{"to": s.to, "bps": s.bps} for s in split],
            "remainder": draft.remainder or core.me,
            "supersedes": draft.supersedes,
        }
        deps = self._sale_terms(draft, body)
        released = core.ledger.state.releases_to_name(core.me, int(time.time() * 1000))
        deps += [r for r in released if r not in deps]  # frees us of released signings
        entry = core.append("listing", body, deps)
        stored.clear()  # published: nothing to remove any more
        self._hand_keys_to_agents(entry.hash, result_contents)
        if progress:
            progress(total, total, "signed")
        return PublishResult(core.ledger.state.listings[entry.hash], result_contents, previews)

    def _public_name(self) -> str:
        """The artist's name: its ledger profile, else the name its identity was made with."""
        profile = self.core.ledger.state.profiles.get(self.core.me)
        if profile is not None and profile.name:
            return profile.name
        from app.services.identity import IdentityService

        try:
            return IdentityService(self.core.profile).info().name
        except UserError:  # a profile without an identity file (tests, replicas)
            return ""

    def _sale_terms(self, draft: ReleaseDraft, body: dict) -> list[bytes]:
        """Add the draft's shares, gate and campaign to a listing body; returns the deps."""
        if draft.campaign is not None:
            camp = self.core.ledger.state.campaigns.get(draft.campaign)
            if camp is None or camp.artist != self.core.me:
                raise UserError("that is not one of your campaigns")
            body["campaign"] = draft.campaign
        if draft.seeders_bps or draft.referrer_bps:
            body["shares"] = {"seeders": draft.seeders_bps, "referrer": draft.referrer_bps}
        if draft.gate is None:
            return []
        body["gate"] = {
            "gate": draft.gate,
            "holders_only": draft.holders_only,
            "discount_bps": draft.holder_discount_bps,
        }
        gate = self.core.ledger.state.gates[draft.gate]
        return [] if gate.author == self.core.me else [gate.id]

    def _hand_keys_to_agents(self, listing: bytes, contents: Sequence[bytes]) -> None:
        """An agent delegated "all my releases" sells this one too: it gets its keys, sealed
        to it, in a delegation for this release (one per such agent)."""
        core = self.core
        for agent in self.agents_for_all():
            keys = [
                {"content": c, "sealed": seal_to(agent, core.keys.get(c))}  # type: ignore[arg-type]
                for c in contents
            ]
            core.append("delegate", {"agent": agent, "listings": [listing], "keys": keys})
            log.info(
                "handed the keys of %s to the sales agent %s", listing.hex()[:12], agent.hex()[:12]
            )

    def agents_for_all(self) -> list[bytes]:
        """Agents with an active delegation of every release of ours."""
        state = self.core.ledger.state
        return sorted(
            {
                d.agent
                for d in state.delegations.values()
                if d.artist == self.core.me and d.revoked_at is None and not d.listings
            }
        )

    def agent_coverage(self) -> dict[bytes, tuple[list[Listing], list[Listing]]]:
        """For each active sales agent: the live releases of ours it can sell (it covers them
        and holds every track's key) and those it cannot. The Studio shows both."""
        state = self.core.ledger.state
        me = self.core.me
        held: dict[bytes, set[bytes]] = {}
        for d in state.delegations.values():
            if d.artist == me and d.revoked_at is None:
                held.setdefault(d.agent, set()).update(d.sealed)
        out: dict[bytes, tuple[list[Listing], list[Listing]]] = {}
        for agent, keys in held.items():
            can: list[Listing] = []
            cannot: list[Listing] = []
            for li in self.releases():
                ok = state.agent_delegation(agent, li) is not None and all(
                    c in keys for c in li.contents(None)
                )
                (can if ok else cannot).append(li)
            out[agent] = (can, cannot)
        return out

    def releases(self) -> list[Listing]:
        return [li for li in self.core.ledger.state.current_listings() if li.artist == self.core.me]

    def sales(self) -> list[SaleLine]:
        state = self.core.ledger.state
        me = self.core.me
        lines = []
        for p in state.sales_of(me):
            listing = state.listings[p.listing]
            share = _my_share(p, listing, me)
            lines.append(
                SaleLine(
                    p.id,
                    listing,
                    p.buyer,
                    p.amount,
                    share,
                    p.asset,
                    p.timestamp,
                    bool(p.granted_by),
                )
            )
        return lines

    def sales_csv(self) -> str:
        """The sales ledger as CSV, for a spreadsheet or an accountant."""
        state = self.core.ledger.state
        out = io.StringIO()
        writer = csv.writer(out)
        writer.writerow(
            [
                "timestamp_ms",
                "purchase",
                "release",
                "buyer",
                "asset",
                "amount",
                "my_share",
                "fulfilled",
            ]
        )
        for s in self.sales():
            a = state.assets.get(s.asset)
            prec, sym = (a.precision, a.symbol) if a else (0, "")
            writer.writerow(
                [
                    s.timestamp,
                    s.purchase.hex(),
                    s.listing.title,
                    s.buyer.hex(),
                    sym,
                    format_amount(s.amount, prec),
                    format_amount(s.my_share, prec),
                    "yes" if s.fulfilled else "no",
                ]
            )
        return out.getvalue()

    def delegate(self, agent: bytes, listings: Sequence[bytes] = ()) -> bytes:
        """Make ``agent`` (a seeder) a sales agent: it may grant purchases while we are away.

        The content keys of the covered releases travel sealed to the agent in the entry.
        """
        core = self.core
        if not can_receive_sealed(agent):
            raise UserError(
                "that key cannot receive sealed content keys", hint="check the agent's public key"
            )
        mine = {li.id: li for li in self.releases()}
        chosen = list(listings) or list(mine)
        keys = []
        for lid in chosen:
            if lid not in mine:
                raise UserError("you can delegate only your own live releases")
            for track in mine[lid].tracks:
                key = core.keys.get(track.content)
                if key is None:
                    raise UserError(f"the key of {track.title!r} is not in this profile")
                keys.append({"content": track.content, "sealed": seal_to(agent, key)})
        return core.append(
            "delegate", {"agent": agent, "listings": sorted(set(listings)), "keys": keys}
        ).hash

    def revoke(self, delegation: bytes) -> bytes:
        """Revoke a delegation; revoking an "all my releases" one also revokes the delegations
        that publishing wrote for later releases to the same agent."""
        state = self.core.ledger.state
        revoked = state.delegations.get(delegation)
        entry = self.core.append("revoke", {"delegation": delegation}).hash
        if revoked is not None and not revoked.listings:
            for d in list(state.delegations.values()):
                if (
                    d.agent == revoked.agent
                    and d.artist == self.core.me
                    and d.listings
                    and d.seq > revoked.seq
                    and d.revoked_at is None
                ):
                    self.core.append("revoke", {"delegation": d.id})
        return entry


def _check_terms(draft: ReleaseDraft, state: object) -> None:
    """UserError for shares or a gate the ledger would refuse (before anything is stored)."""
    if draft.seeders_bps < 0 or draft.referrer_bps < 0:
        raise UserError("shares for seeders and referrers are zero or more")
    if draft.seeders_bps + draft.referrer_bps > MAX_RESERVED_BPS:
        raise UserError(
            f"seeders and referrers get at most {MAX_RESERVED_BPS // 100}% of a sale together"
        )
    if draft.gate is None:
        if draft.holders_only or draft.holder_discount_bps:
            raise UserError("holders only and holder discounts need a gate")
        return
    if draft.gate not in state.gates:  # type: ignore[attr-defined]
        raise UserError("no such gate in the local replica", hint="`cooptracks pass tiers`")
    if not 0 <= draft.holder_discount_bps < 10_000:
        raise UserError("a holders' discount is from 0 to under 100%")
    if not draft.holders_only and not draft.holder_discount_bps:
        raise UserError("a gated release is for holders only or gives holders a discount")


def _my_share(purchase: Purchase, listing: Listing, me: bytes) -> int:
    payouts, _held = purchase_payouts(listing, purchase.amount, purchase.terms.get("referrer"))
    return sum(p.amount for p in payouts if p.to == me)
