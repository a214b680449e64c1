"""Store commands on the local replica: ``publish``, ``catalog``, ``buy``, ``send``, ``wallet``,
``issue``, ``mint``, ``trust``, ``delegate``, ``settle``, ``sales``.

Each works offline against the profile's ledger; the swarm (``cooptracks seed`` or the app)
spreads the new entries and brings back grants. ``--sync PEER`` is offered by the swarm commands.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path

from app.commands._io import add_json_flag, emit, passphrase
from app.services.core import Core
from app.services.errors import UserError
from app.services.money import format_amount, parse_amount
from app.services.passes import PassService
from app.services.shop import ShopService
from app.services.wallet import WalletService
from ledger.keys import peer_id

# Said after a command that wrote an entry other people need: the CLI works offline.
TO_PEERS = (
    "\n(signed here; `cooptracks sync`, or an app or seeder running on this profile, "
    "hands it to peers)"
)


def _key(text: str) -> bytes:
    """A public key as its peer ID (12D3KooW…) or as 64 hex characters."""
    from app.services.identity import parse_public_key

    return parse_public_key(text)


def _with_core(
    fn: Callable[[argparse.Namespace, Core], int],
) -> Callable[[argparse.Namespace], int]:
    def run(args: argparse.Namespace) -> int:
        with Core.open(args.profile_obj, passphrase(args)) as core:
            return fn(args, core)

    return run


def _bps(percent: str | None) -> int:
    """``"5"`` or ``"5%"`` as basis points (500); None as 0."""
    if percent is None:
        return 0
    try:
        return round(float(percent.strip().rstrip("%")) * 100)
    except ValueError:
        raise UserError(f"{percent!r} is not a percentage") from None


def _campaign(core: Core, ref: str) -> bytes:
    from app.services.funding import CampaignService

    return CampaignService(core).campaign_view(ref).id


def _publish(args: argparse.Namespace, core: Core) -> int:
    from app.services.studio import ReleaseDraft, ShareSpec, StudioService  # numpy, PyAV

    wallet = WalletService(core)
    asset = wallet.asset(args.asset)
    split = []
    for item in args.split or []:
        who, _, pct = item.partition("=")
        split.append(ShareSpec(_key(who), round(float(pct.rstrip("%")) * 100)))
    draft = ReleaseDraft(
        files=tuple(args.files),
        title=args.title,
        artist_name=args.artist,
        price=args.price,
        asset=asset.id,
        name_your_price=args.nyp,
        track_price=args.track_price,
        genre=args.genre,
        tags=tuple(args.tag or ()),
        description=args.description,
        split=tuple(split),
        preview_seconds=args.preview_seconds,
        seeders_bps=_bps(args.seeders_share),
        referrer_bps=_bps(args.referrer_share),
        gate=None if args.gate is None else PassService(core).gate(args.gate).id,
        holders_only=args.holders_only,
        holder_discount_bps=_bps(args.holder_discount),
        campaign=None if args.campaign is None else _campaign(core, args.campaign),
    )
    result = StudioService(core).publish(draft, progress=lambda d, t, w: None)
    li = result.listing
    emit(
        args,
        {
            "listing": li.id.hex(),
            "title": li.title,
            "tracks": [
                {
                    "title": t.title,
                    "content": t.content.hex(),
                    "preview": t.preview.hex() if t.preview else None,
                }
                for t in li.tracks
            ],
        },
        f"published {li.title!r} ({len(li.tracks)} tracks) as {li.id.hex()}" + TO_PEERS,
    )
    return 0


def _catalog(args: argparse.Namespace, core: Core) -> int:
    from app.services.profiles import artist_name

    shop = ShopService(core)
    rows, docs = [], []
    for li in shop.catalog():
        price = li.prices[0]
        artist = artist_name(core.ledger.state, li)  # the signer's published name
        rows.append(
            f"{li.id.hex()[:12]}  {artist} — {li.title}  "
            f"({len(li.tracks)} tracks, {shop.price_text(li).shown})"
        )
        docs.append(
            {
                "listing": li.id.hex(),
                "artist": artist,
                "title": li.title,
                "artist_key": li.artist.hex(),
                "price": price.amount,
                "asset": price.asset.hex(),
                "nyp": price.nyp,
                "tracks": [
                    {
                        "title": t.title,
                        "content": t.content.hex(),
                        "preview": t.preview.hex() if t.preview else None,
                    }
                    for t in li.tracks
                ],
            }
        )
    emit(args, docs, "\n".join(rows) or "the catalog is empty (run `cooptracks sync` first)")
    return 0


def _buy(args: argparse.Namespace, core: Core) -> int:
    track = None if args.track is None else args.track - 1
    shop = ShopService(core)
    referrer = None if args.referrer is None else _key(args.referrer)
    quote = shop.quote(args.listing, track=track, amount=args.amount, referrer=referrer)
    if not args.yes and sys.stdin.isatty():  # scripts (no terminal) are not asked
        what = (
            quote.listing.title
            if track is None
            else f"{quote.listing.tracks[track].title} (track {track + 1} of {quote.listing.title})"
        )
        print(
            f"Buy {what} by {quote.listing.artist_name or 'its artist'} "
            f"({quote.listing.id.hex()[:16]}) for {quote.shown}?"
        )
        for line in quote.split_text:
            print(f"  {line}")
        if input("Sign this purchase? [y/N] ").strip().lower() not in ("y", "yes"):
            print("nothing was bought")
            return 1
    purchase = shop.buy(args.listing, track=track, amount=args.amount, referrer=referrer)
    emit(
        args,
        {"purchase": purchase.hex()},
        f"purchase {purchase.hex()} signed; it is fulfilled when a seller's node sees it"
        + TO_PEERS,
    )
    return 0


def _send(args: argparse.Namespace, core: Core) -> int:
    entry = WalletService(core).send(_key(args.to), args.asset, args.amount, args.memo)
    emit(args, {"send": entry.hex()}, f"sent ({entry.hex()[:12]})" + TO_PEERS)
    return 0


def _wallet(args: argparse.Namespace, core: Core) -> int:
    core.settle()
    lines = WalletService(core).balances()
    docs = [
        {
            "asset": b.asset.id.hex(),
            "symbol": b.asset.symbol,
            "amount": b.amount,
            "incoming": b.incoming,
            "trusted": b.trusted,
            "display": b.text,
        }
        for b in lines
    ]
    text = [f"{b.text:>20}  {'' if b.trusted else '(untrusted issuer)'}" for b in lines]
    emit(args, docs, "\n".join(text) or "no balances yet")
    return 0


def _issue(args: argparse.Namespace, core: Core) -> int:
    asset = WalletService(core).issue(
        args.symbol, args.name, args.precision, args.max_supply, tuple(args.flag or ())
    )
    emit(args, {"asset": asset.id.hex()}, f"issued {asset.symbol} as {asset.id.hex()}")
    return 0


def _mint(args: argparse.Namespace, core: Core) -> int:
    wallet = WalletService(core)
    asset = wallet.asset(args.asset)
    entry = wallet.mint(asset.id, args.amount)
    shown = format_amount(parse_amount(args.amount, asset.precision), asset.precision, asset.symbol)
    emit(args, {"entry": entry.hex(), "asset": asset.id.hex(), "minted": shown}, f"minted {shown}")
    return 0


def _trust(args: argparse.Namespace, core: Core) -> int:
    WalletService(core).set_trusted(_key(args.issuer), not args.remove)
    print("trusted issuers updated")
    return 0


def _delegate(args: argparse.Namespace, core: Core) -> int:
    from app.services.studio import StudioService  # numpy and PyAV: only when needed

    listings = [ShopService(core).listing(ref).id for ref in args.listing or ()]
    entry = StudioService(core).delegate(_key(args.agent), listings)
    agent = peer_id(_key(args.agent))
    emit(args, {"delegation": entry.hex()}, f"delegation {entry.hex()} to {agent}")
    return 0


def _settle(args: argparse.Namespace, core: Core) -> int:
    report = core.settle()
    skipped = [{"item": item.hex(), "reason": why} for item, why in report.skipped]
    emit(
        args,
        {
            "received": len(report.received),
            "granted": len(report.granted),
            "unlocked": len(report.unlocked),
            "skipped": skipped,
        },
        f"received {len(report.received)}, granted {len(report.granted)}, "
        f"unlocked {len(report.unlocked)}"
        + "".join(f"\nskipped {s['item'][:12]}: {s['reason']}" for s in skipped),
    )
    return 0


def _sales(args: argparse.Namespace, core: Core) -> int:
    from app.services.studio import StudioService  # numpy and PyAV: only when needed

    studio = StudioService(core)
    if args.csv:
        print(studio.sales_csv(), end="")
        return 0
    sales = studio.sales()
    assets = core.ledger.state.assets

    def shown(units: int, asset: bytes) -> str:
        info = assets.get(asset)
        return format_amount(units, info.precision, info.symbol) if info else str(units)

    emit(
        args,
        [
            {
                "purchase": s.purchase.hex(),
                "release": s.listing.title,
                "amount": s.amount,
                "my_share": s.my_share,
                "asset": s.asset.hex(),
                "amount_text": shown(s.amount, s.asset),
                "my_share_text": shown(s.my_share, s.asset),
                "fulfilled": s.fulfilled,
            }
            for s in sales
        ],
        "\n".join(
            f"{s.listing.title}: {shown(s.my_share, s.asset)} of "
            f"{shown(s.amount, s.asset)} ({'fulfilled' if s.fulfilled else 'open'})"
            for s in sales
        )
        or "no sales yet",
    )
    return 0


def register(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    def cmd(name: str, fn: Callable[[argparse.Namespace, Core], int], help: str):
        p = sub.add_parser(name, parents=[common], help=help)
        add_json_flag(p)
        p.set_defaults(handler=_with_core(fn))
        return p

    p = cmd("publish", _publish, "publish a release from audio files")
    p.add_argument("files", nargs="+", type=Path)
    p.add_argument("--title", default="")
    p.add_argument("--artist", default="")
    p.add_argument("--price", required=True, help="price (or minimum with --nyp), e.g. 7.50")
    p.add_argument("--asset", required=True, help="asset ID or symbol the price is in")
    p.add_argument("--nyp", action="store_true", help="name your price, --price is the minimum")
    p.add_argument("--track-price", default=None, help="also sell single tracks at this price")
    p.add_argument(
        "--split",
        action="append",
        metavar="KEY=PERCENT",
        help="a collaborator's share (KEY: peer ID or hex key); repeat; what the "
        "shares leave goes to you",
    )
    p.add_argument("--genre", default="")
    p.add_argument("--tag", action="append")
    p.add_argument("--description", default="")
    p.add_argument("--preview-seconds", type=float, default=30.0)
    p.add_argument(
        "--seeders-share",
        metavar="PERCENT",
        help="kept from each sale for the seeders that served the buyer (named in its receipt)",
    )
    p.add_argument("--referrer-share", metavar="PERCENT", help="paid to a referrer the buyer names")
    p.add_argument("--gate", help="a gate (holding a coin) the release is gated on")
    p.add_argument(
        "--holders-only", action="store_true", help="only holders with a claim on --gate buy"
    )
    p.add_argument(
        "--holder-discount", metavar="PERCENT", help="off the price for holders of --gate"
    )
    p.add_argument(
        "--campaign",
        help="this is that campaign's release: backers of its release tiers get it",
    )
    cmd("catalog", _catalog, "list releases in the local replica")
    p = cmd("buy", _buy, "buy a release (or --track N) with credits")
    p.add_argument("listing", help="release ID (a unique prefix is enough)")
    p.add_argument("--track", type=int, default=None, help="track number, to buy one track")
    p.add_argument("--amount", default=None, help="what to pay, for name-your-price releases")
    p.add_argument(
        "--referrer",
        default=None,
        help="who referred you (peer ID or key), paid the release's referrer share",
    )
    p.add_argument(
        "-y",
        "--yes",
        action="store_true",
        help="do not ask for confirmation (asked only on a terminal)",
    )
    p = cmd("send", _send, "send credits or tokens to someone")
    p.add_argument("to", help="the recipient's peer ID (12D3KooW…) or public key (hex)")
    p.add_argument("amount")
    p.add_argument("--asset", required=True)
    p.add_argument("--memo", default="")
    cmd("wallet", _wallet, "show balances")
    p = cmd("issue", _issue, "issue a new asset (gateways, artists)")
    p.add_argument("symbol")
    p.add_argument("name")
    p.add_argument("--precision", type=int, default=2)
    p.add_argument("--max-supply", type=int, default=10**15)
    p.add_argument("--flag", action="append", choices=["stable", "artistcoin"])
    p = cmd("mint", _mint, "mint units of an asset you issued")
    p.add_argument("asset")
    p.add_argument("amount")
    p = cmd("trust", _trust, "trust (or --remove) an asset issuer")
    p.add_argument("issuer")
    p.add_argument("--remove", action="store_true")
    p = cmd("delegate", _delegate, "make a seeder your sales agent")
    p.add_argument("agent", help="the agent's peer ID (12D3KooW…) or public key (hex)")
    p.add_argument("--listing", action="append", help="limit to these releases")
    cmd("settle", _settle, "receive payments, fulfil purchases, collect keys")
    p = cmd("sales", _sales, "your sales")
    p.add_argument("--csv", action="store_true")
