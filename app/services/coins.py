"""Artistcoins tied to sales, for issuers and stakers (no Qt).

``CoinService`` writes a coin's charter, stakes coins with their issuer, distributes what the
charter committed, collects shares, unstakes after the term, and reads a charter's figures.
``settle_coins`` is what a node does by itself from ``Core.settle()``: as an issuer, accept the
stakes waiting on it and distribute what it owes (an issuer behind on its charter cannot spend,
so its node pays as soon as it has received the sales); as a staker, collect its shares and take
back stakes whose term is over. Each item is handled on its own; a failure is logged and the
item skipped for a while.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import partial

from app.services.core import Core, register_settler_duty
from app.services.errors import UserError
from app.services.market import now_ms
from app.services.money import format_amount, parse_amount
from app.services.reports import CoinsSettleReport
from app.services.wallet import WalletService
from ledger.entry import Entry
from ledger.errors import LedgerError
from ledger.features.coins import MAX_COLLECT
from ledger.state import Asset, Delegation, Stake
from ledger.state import CoinCharter as Charter

log = logging.getLogger(__name__)

DAY_MS = 24 * 3600 * 1000
ANSWER_WITHIN_MS = 3600 * 1000  # the issuer (or its node) answers a stake within this
SKIP_FOR_MS = 60 * 1000
BUYBACK_OFFER_MS = 30 * DAY_MS  # a buyback bid stands this long (its rest then comes back)
MAX_SKIPS = 1024


@dataclass(frozen=True)
class CharterView:
    charter: Charter
    coin: Asset
    sales_asset: Asset
    staked: int  # accepted stakes whose term includes now
    stakers: int

    def money(self, units: int) -> str:
        return format_amount(units, self.sales_asset.precision, self.sales_asset.symbol)


class CoinService:
    def __init__(self, core: Core, clock: Callable[[], int] = now_ms) -> None:
        self.core = core
        self.clock = clock
        self.wallet = WalletService(core)

    def _append(self, kind: str, body: dict, deps: list[bytes] | tuple[bytes, ...] = ()) -> Entry:
        self.core.require_writable()
        try:
            return self.core.ledger.append(
                self.core.signer, kind, body, sorted(set(deps)), timestamp=self.clock()
            )
        except LedgerError as err:
            raise UserError(str(err)) from err

    def charter_of(self, coin_ref: str | bytes) -> Charter:
        coin = self.wallet.asset(coin_ref)
        charter = self.core.ledger.state.charter_of(coin.id)
        if charter is None:
            raise UserError(f"{coin.symbol} has no charter: its sales are not shared")
        return charter

    def stake_of(self, ref: str | bytes) -> Stake:
        stakes = self.core.ledger.state.stakes
        if isinstance(ref, bytes):
            found = [ref] if ref in stakes else []
        else:
            prefix = ref.strip().lower()
            found = [k for k in stakes if k.hex().startswith(prefix)] if prefix else []
        if len(found) != 1:
            raise UserError(
                f"no stake {ref if isinstance(ref, str) else ref.hex()[:12]}"
                if not found
                else f"{ref!r} matches several stakes"
            )
        return stakes[found[0]]

    # -- the issuer ------------------------------------------------------------------------------
    def write_charter(
        self, coin_ref: str | bytes, sales_ref: str | bytes, percent: str | int
    ) -> bytes:
        """Commit ``percent`` of the sales we receive in ``sales_ref`` to the coin's stakers."""
        coin, sales = self.wallet.asset(coin_ref), self.wallet.asset(sales_ref)
        if coin.issuer != self.core.me:
            raise UserError(f"you did not issue {coin.symbol}")
        bps = parse_amount(percent, 2)
        if not 1 <= bps <= 10_000:
            raise UserError("the share is between 0.01 and 100 percent")
        deps = [] if sales.issuer == self.core.me else [sales.id]
        return self._append(
            "coin.charter", {"asset": coin.id, "sales_asset": sales.id, "bps": bps}, deps
        ).hash

    def accept(self, stake_ref: str | bytes, accept: bool = True) -> bytes:
        """Answer a stake we settle: as the coin's issuer, or as the agent the stake names."""
        stake = self.stake_of(stake_ref)
        issuer = self.core.ledger.state.coin_charters[stake.charter].issuer
        if (stake.settler or issuer) != self.core.me:
            raise UserError("only the coin's issuer (or the agent the stake names) answers it")
        return self._append(
            "stake.accept" if accept else "stake.refuse", {"stake": stake.id}, [stake.id]
        ).hash

    def distribute(self, coin_ref: str | bytes, amount: str | int | None = None) -> bytes:
        """Pay the stakers what the charter committed (default: all that is owed)."""
        charter = self.charter_of(coin_ref)
        if charter.issuer != self.core.me:
            raise UserError("only the coin's issuer distributes")
        sales = self.core.ledger.state.assets[charter.sales_asset]
        units = charter.owed if amount is None else parse_amount(amount, sales.precision)
        if units <= 0:
            raise UserError(
                "nothing is owed under the charter"
                if amount is None
                else "distribute a positive amount"
            )
        # Our agents' acceptances count up to the agents' latest entries we name.
        state = self.core.ledger.state
        agents = {
            s.settler
            for s in state.stakes_of(charter.id)
            if s.settler not in (b"", self.core.me) and s.accepted_seq is not None
        }
        deps = [state.last_seen[a][1] for a in sorted(agents) if a in state.last_seen]
        return self._append("distribute", {"charter": charter.id, "amount": units}, deps).hash

    # -- the standing buyback --------------------------------------------------------------------
    def set_buyback(self, coin_ref: str | bytes, percent: str | int, price: str) -> dict:
        """Keep ``percent`` of the sales the charter counts from now on as a standing bid for the
        coin at ``price`` (units of the sales asset per whole coin); our node places the bid as
        the sales arrive. ``percent`` 0 stops it. The policy is this node's, in the profile's
        settings: the ledger shows the offers, not a promise."""
        charter = self.charter_of(coin_ref)
        if charter.issuer != self.core.me:
            raise UserError("only the coin's issuer buys it back from its sales")
        state = self.core.ledger.state
        coin, sales = state.assets[charter.asset], state.assets[charter.sales_asset]
        bps = parse_amount(percent, 2)
        if not 0 <= bps <= 10_000 - charter.bps:
            raise UserError(
                f"the buyback is at most {(10_000 - charter.bps) / 100:g}% "
                "(what the stakers' share leaves)"
            )
        per_coin = parse_amount(price, sales.precision)
        if per_coin <= 0:
            raise UserError(f"the price is a positive amount of {sales.symbol} per {coin.symbol}")
        policies = dict(self.core.profile.read_config().get("buyback", {}))
        policy = {
            "bps": bps,
            "per_coin": per_coin,
            "from_sales": charter.sales,  # sales before the policy are not its to spend
            "offered": 0,
        }
        if bps:
            policies[charter.asset.hex()] = policy
        else:
            policies.pop(charter.asset.hex(), None)
        self.core.profile.update_config(buyback=policies)
        return policy

    def buyback_due(self, charter: Charter, policy: Mapping[str, int]) -> tuple[int, int]:
        """(sales units to bid now, coin units they ask) under a buyback policy."""
        funded = (charter.sales - policy["from_sales"]) * policy["bps"] // 10_000
        units = funded - policy["offered"]
        coin = self.core.ledger.state.assets[charter.asset]
        wanted = units * 10**coin.precision // policy["per_coin"] if units > 0 else 0
        return (units, wanted) if wanted >= 1 else (0, 0)

    def place_buyback(self, charter: Charter) -> bytes | None:
        """Bid the buyback share of the sales received since the last bid (None: nothing due)."""
        policies = dict(self.core.profile.read_config().get("buyback", {}))
        policy = policies.get(charter.asset.hex())
        if policy is None:
            return None
        units, wanted = self.buyback_due(charter, policy)
        if not units:
            return None
        now = self.clock()
        entry = self._append(
            "offer",
            {
                "sell": charter.sales_asset,
                "sell_amount": units,
                "want": charter.asset,
                "want_amount": wanted,
                "min_fill": 1,
                "expires": now + BUYBACK_OFFER_MS,
                "fill_or_kill": False,
                "settler": self.core.me,
            },
        )
        policies[charter.asset.hex()] = {**policy, "offered": policy["offered"] + units}
        self.core.profile.update_config(buyback=policies)
        return entry.hash

    # -- the staker ------------------------------------------------------------------------------
    def stake(
        self,
        coin_ref: str | bytes,
        amount: str | int,
        days: float,
        answer_within_ms: int = ANSWER_WITHIN_MS,
        via_agent: bool = False,
    ) -> bytes:
        """Lock ``amount`` of the coin with its issuer for ``days``; the issuer (its node), or
        with ``via_agent`` the agent it delegated (its seeder, which answers while the issuer is
        offline), answers within ``answer_within_ms`` or the stake comes back by deadline
        proof."""
        charter = self.charter_of(coin_ref)
        coin = self.core.ledger.state.assets[charter.asset]
        if charter.issuer == self.core.me:
            raise UserError("an issuer does not stake with itself")
        units = parse_amount(amount, coin.precision)
        if units <= 0 or days <= 0:
            raise UserError("stake a positive amount for a positive number of days")
        self.core.settle()  # incoming units become spendable first
        have = self.core.ledger.state.balance(self.core.me, coin.id)
        if have < units:
            raise UserError(
                f"not enough {coin.symbol}: you have {format_amount(have, coin.precision)}"
            )
        now = self.clock()
        body = {
            "charter": charter.id,
            "amount": units,
            "accept_by": now + answer_within_ms,
            "until": now + max(int(days * DAY_MS), answer_within_ms + 1),
        }
        deps = [charter.id]
        if via_agent:
            delegation = self.issuers_agent(charter.issuer)
            body["settler"] = delegation.agent
            deps.append(delegation.id)
        return self._append("stake", body, deps).hash

    def issuers_agent(self, issuer: bytes) -> Delegation:
        """The issuer's newest unrevoked delegation: the agent that answers stakes for it."""
        state = self.core.ledger.state
        found = [
            d
            for d in state.delegations.values()
            if d.artist == issuer and d.revoked_at is None and d.agent != self.core.me
        ]
        if not found:
            raise UserError(
                "the issuer has delegated no agent",
                hint="stake without --via-agent: the issuer's own node answers",
            )
        return max(found, key=lambda d: d.seq)

    def collect(self) -> list[bytes]:
        """Collect every share due to our stakes (63 distributions per entry)."""
        due: dict[bytes, list[bytes]] = {}
        for stake, dist, _ in self.core.ledger.state.uncollected(self.core.me):
            due.setdefault(stake.id, []).append(dist.id)
        written = []
        for sid, dists in due.items():
            for i in range(0, len(dists), MAX_COLLECT):
                batch = sorted(dists[i : i + MAX_COLLECT])
                written.append(
                    self._append("collect", {"stake": sid, "distributions": batch}, batch).hash
                )
        return written

    def unstake(self, stake_ref: str | bytes) -> bytes:
        stake = self.stake_of(stake_ref)
        state = self.core.ledger.state
        if stake.staker != self.core.me:
            raise UserError("that is not your stake")
        status = state.stake_status(stake)
        if status != "staked":
            raise UserError(f"that stake is {status}")
        if self.clock() <= stake.until:
            raise UserError("the stake's term is not over")
        assert stake.answer is not None  # staked: accepted
        return self._append("reclaim", {"of": stake.id, "proof": stake.id}, [stake.answer]).hash

    # -- reading ---------------------------------------------------------------------------------
    def view(self, coin_ref: str | bytes) -> CharterView:
        charter = self.charter_of(coin_ref)
        state = self.core.ledger.state
        now = self.clock()
        live = [
            s for s in state.stakes_of(charter.id) if s.accepted_seq is not None and s.until >= now
        ]
        return CharterView(
            charter,
            state.assets[charter.asset],
            state.assets[charter.sales_asset],
            sum(s.amount for s in live),
            len({s.staker for s in live}),
        )

    def my_stakes(self) -> list[tuple[Stake, str, int]]:
        """(stake, status, shares collected so far)."""
        state = self.core.ledger.state
        out = []
        for s in state.stakes_by(self.core.me):
            got = sum(d.share(s) for d in state.distributions_of(s.charter) if s.id in d.collected)
            out.append((s, state.stake_status(s), got))
        return out


def settle_coins(core: Core, clock: Callable[[], int] = now_ms) -> CoinsSettleReport:
    report = CoinsSettleReport()
    if core.awaiting_own_feed:
        return report
    service = CoinService(core, clock)
    state = core.ledger.state
    skips: dict[bytes, int] = core.coin_skips

    def attempt(item: bytes, what: str, fn: Callable[[], object]) -> object | None:
        now = clock()
        if skips.get(item, 0) > now:
            return None
        try:
            return fn()
        except (UserError, LedgerError) as err:
            log.warning("coins: skipped %s %s: %s", what, item.hex()[:12], err)
            report.skipped.append((item, str(err)))
            if len(skips) >= MAX_SKIPS:
                for key in sorted(skips, key=skips.__getitem__)[: MAX_SKIPS // 4]:
                    del skips[key]
            skips[item] = now + SKIP_FOR_MS
            return None

    for stake in state.stakes_to_answer(core.me):
        if (
            clock() <= stake.accept_by
            and attempt(stake.id, "stake", partial(service.accept, stake.id)) is not None
        ):
            report.accepted.append(stake.id)
    for charter in state.charters_by(core.me):
        if charter.owed and state.balance(core.me, charter.sales_asset) >= charter.owed:
            done = attempt(charter.id, "distribution", partial(service.distribute, charter.asset))
            if done is not None:
                report.distributed.append(done)  # type: ignore[arg-type]
    for charter in state.charters_by(core.me):
        if not charter.owed:  # the stakers first: an issuer behind on them cannot bid
            done = attempt(charter.asset, "buyback", partial(service.place_buyback, charter))
            if done is not None:
                report.buyback.append(done)  # type: ignore[arg-type]
    if state.uncollected(core.me):
        done = attempt(core.me, "collect", service.collect)
        if isinstance(done, list):
            report.collected.extend(done)
    for stake in state.stakes_by(core.me):
        if (
            state.stake_status(stake) == "staked"
            and clock() > stake.until
            and attempt(stake.id, "unstake", partial(service.unstake, stake.id)) is not None
        ):
            report.unstaked.append(stake.id)
    if report.anything:
        log.info(
            "coins: %d stakes accepted, %d distributions, %d collects, %d unstaked",
            len(report.accepted),
            len(report.distributed),
            len(report.collected),
            len(report.unstaked),
        )
    return report


__all__ = ["CharterView", "CoinService", "CoinsSettleReport", "settle_coins"]


register_settler_duty("coins", settle_coins, order=30)
