"""The demo's exchange: artist coins with a past and a live order book (Qt-free).

Called by ``app.demo.build_world`` before the world's replicas converge. Two artists issue coins
(MOSS, NEON); three makers hold coins and credits. The makers traded with each other over the
last hours (offers they settled themselves, filled whole: the price history), and now rest
offers on both sides of each book that the always-on seeder settles, so a fan's order fills
while the makers are away. One maker, whose node has not been seen for hours, still has cheap
offers in the book: the app flags its settler and orders skip them.

Entries of the past are dated in the past: only each feed's own order constrains timestamps, so
each maker's feed is written oldest first (its history, then its live offers and its profile).
"""

from __future__ import annotations

import random
import time
from dataclasses import dataclass
from pathlib import Path

from app.profile import Profile
from app.services.core import Core
from app.services.identity import IdentityService
from app.services.replica import replicate
from app.services.wallet import WalletService
from ledger.entry import Entry
from ledger.state import Asset

HOUR = 3600 * 1000
DAY = 24 * HOUR
LIVE_OFFER_DAYS = 120  # the demo world is built once and reused: its book stays open


@dataclass(frozen=True)
class CoinPlan:
    symbol: str
    name: str
    mint: int  # more units minted for the market
    price: float  # credits per coin, around which it traded
    asks: tuple[tuple[float, int], ...]  # (price, coins) the makers sell, settled by the seeder
    bids: tuple[tuple[float, int], ...]  # (price, coins) the makers buy
    trades: int  # in the past hours


MOSS = CoinPlan(
    "MOSS",
    "Marrow & Moss supporter token",
    4000,
    0.30,
    asks=((0.32, 40), (0.33, 25), (0.34, 60), (0.36, 80), (0.38, 50), (0.40, 150), (0.45, 200)),
    bids=((0.29, 50), (0.28, 60), (0.27, 80), (0.25, 120), (0.22, 90), (0.20, 200)),
    trades=36,
)
NEON = CoinPlan(
    "NEON",
    "Neon Harbor backer coin",
    3000,
    1.20,
    asks=((1.25, 20), (1.30, 35), (1.40, 60), (1.60, 80)),
    bids=((1.15, 25), (1.10, 40), (1.00, 60)),
    trades=18,
)
MAKERS = ("Quayside Traders", "Fern Collective")
AWAY_MAKER = "Old Pier Desk"  # its node has not been seen for hours


def _identity(root: Path, slug: str, passphrase: str, kdf: tuple[int, int]) -> Core:
    prof = Profile(root / slug)
    ids = IdentityService(prof, *kdf)
    ids.create(passphrase, "")
    prof.update_config(mdns=False)
    return Core(prof, ids.unlock(passphrase))


def _units(price: float, amount: int, cred: Asset, coin: Asset) -> int:
    """Credits (smallest units) for ``amount`` whole coins at ``price`` credits each."""
    return round(price * amount * 10**cred.precision) // 10**coin.precision or 1


def make_market(
    root: Path,
    seeder: Core,
    gateway: Core,
    cred: Asset,
    artists: list[tuple[Core, CoinPlan, Asset | None]],
    passphrase: str,
    kdf: tuple[int, int],
) -> list[Core]:
    """Coins, makers, a traded past and a live book; returns the makers' cores (open)."""
    rng = random.Random(16)
    now = int(time.time() * 1000)
    start = now - 8 * HOUR
    makers = [_identity(root, f"maker-{i + 1}", passphrase, kdf) for i in range(3)]
    coins: list[tuple[Asset, CoinPlan]] = []
    gw = WalletService(gateway)
    for artist, plan, coin in artists:
        wallet = WalletService(artist)
        if coin is None:
            coin = wallet.issue(plan.symbol, plan.name, 0, 10_000, ("artistcoin",))
        wallet.mint(coin.id, str(plan.mint))
        for m in makers:
            wallet.send(m.me, coin.id, str(plan.mint // 4))
        coins.append((coin, plan))
    for m in makers:
        gw.send(m.me, cred.id, "2000.00")
    for m in makers:
        replicate(gateway, m)
        for artist, _, _ in artists:
            replicate(artist, m)
    # every maker receives first, dated at the start of the past
    for m in makers:
        sources = sorted({t.source for t in m.ledger.state.incoming(m.me)})
        m.ledger.append(m.signer, "receive", {"transfers": sources}, sources, timestamp=start)
    away = makers[2]
    away.ledger.append(
        away.signer, "profile", {"name": AWAY_MAKER, "bio": "", "links": []}, timestamp=start + 1
    )

    def share(entry: Entry, *dst: Core) -> None:  # one new entry, to whoever acts on it next
        for d in dst:
            d.ledger.ingest([entry.wire])

    replicate(makers[0], makers[1])  # from here on, each new entry goes to the other maker
    replicate(makers[1], makers[0])
    # the past: makers 1 and 2 trade with each other, each settling its own offers
    events = []
    for coin, plan in coins:
        for i in range(plan.trades):
            events.append(
                (
                    start
                    + 10 * 60_000
                    + i * (7 * HOUR // plan.trades)
                    + rng.randrange(0, 5 * 60_000),
                    coin,
                    plan,
                    i,
                )
            )
    events.sort(key=lambda e: e[0])
    prices = {coin.id: plan.price * 0.85 for coin, plan in coins}
    for ts, coin, plan, i in events:
        price = prices[coin.id] = max(0.05, prices[coin.id] * (1 + rng.uniform(-0.035, 0.05)))
        if i == plan.trades - 1:
            price = plan.price
        maker, taker = (makers[0], makers[1]) if i % 2 == 0 else (makers[1], makers[0])
        amount = rng.randrange(5, 60)
        credits = _units(price, amount, cred, coin)
        if i % 3 == 2:  # the maker buys: it sells credits for coins
            body = {
                "sell": cred.id,
                "sell_amount": credits,
                "want": coin.id,
                "want_amount": amount,
                "min_fill": credits,
            }
            take_amount, pay = credits, amount
        else:
            body = {
                "sell": coin.id,
                "sell_amount": amount,
                "want": cred.id,
                "want_amount": credits,
                "min_fill": amount,
            }
            take_amount, pay = amount, credits
        offer = maker.ledger.append(
            maker.signer,
            "offer",
            {**body, "expires": ts + DAY, "fill_or_kill": True, "settler": maker.me},
            timestamp=ts,
        )
        share(offer, taker)
        take = taker.ledger.append(
            taker.signer,
            "take",
            {"offer": offer.hash, "amount": take_amount, "pay": pay, "deadline": ts + HOUR},
            [offer.hash],
            timestamp=ts + 20_000,
        )
        share(take, maker)
        fill = maker.ledger.append(
            maker.signer, "fill", {"take": take.hash}, [take.hash], timestamp=ts + 40_000
        )
        share(fill, taker)
    # the away maker's offers: cheap, but its node was last seen hours ago
    for coin, plan in coins:
        amount = 30
        away.ledger.append(
            away.signer,
            "offer",
            {
                "sell": coin.id,
                "sell_amount": amount,
                "want": cred.id,
                "want_amount": _units(plan.asks[0][0] * 0.9, amount, cred, coin),
                "min_fill": 1,
                "expires": now + LIVE_OFFER_DAYS * DAY,
                "fill_or_kill": False,
                "settler": away.me,
            },
            timestamp=start + 2 * HOUR,
        )
    # now: the live book, settled by the seeder; then the makers' names
    for coin, plan in coins:
        for side, levels in (("ask", plan.asks), ("bid", plan.bids)):
            for n, (price, amount) in enumerate(levels):
                m = makers[n % 2]
                credits = _units(price, amount, cred, coin)
                if side == "ask":
                    body = {
                        "sell": coin.id,
                        "sell_amount": amount,
                        "want": cred.id,
                        "want_amount": credits,
                    }
                else:
                    body = {
                        "sell": cred.id,
                        "sell_amount": credits,
                        "want": coin.id,
                        "want_amount": amount,
                    }
                m.ledger.append(
                    m.signer,
                    "offer",
                    {
                        **body,
                        "min_fill": 1,
                        "expires": now + LIVE_OFFER_DAYS * DAY,
                        "fill_or_kill": False,
                        "settler": seeder.me,
                    },
                )
    for m, name in zip(makers, MAKERS, strict=False):
        m.ledger.append(
            m.signer,
            "profile",
            {
                "name": name,
                "bio": "Makes markets in artist coins; the seeder settles its offers.",
                "links": [],
            },
        )
    return makers


__all__ = ["MOSS", "NEON", "CoinPlan", "make_market"]
