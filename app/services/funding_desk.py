"""Campaigns, stakes, dividends and passes as the desktop app shows them (Qt-free, synchronous,
called on worker threads).

``FundingDesk`` shapes ``CampaignService``, ``CoinService`` and ``PassService`` for the Campaigns
view and the wallet: every campaign with its progress, deadline, tiers and the user's pledges
(refundable ones with a reclaim); a pledge plan that says what a pledge locks, until when, and
when it comes back, before anything is signed; the user's stakes and the dividends they earned
(collect); the holder passes the user can claim or holds, a pass shown as a ``ctpass1:`` proof
and its QR code. ``watch`` turns distributions received, campaign closes and refunds into
notices as they arrive.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from app.services.coins import CoinService
from app.services.core import Core
from app.services.errors import UserError
from app.services.events import Notice
from app.services.exchange_desk import ago, now_ms
from app.services.funding import DEFAULT_CLOSE_WINDOW_S, CampaignService
from app.services.money import format_amount, parse_amount
from app.services.passes import DAY_MS, PassService
from app.services.profiles import display_name
from app.services.watch import StatusWatch
from ledger.features.campaigns import MAX_TIERS
from ledger.state import Asset, Campaign, State

SEEN_RECENTLY_MS = 15 * 60 * 1000  # a settler seen within this is shown as live
MAX_STAKE_DAYS = 3650
MAX_CAMPAIGN_DAYS = 365  # a campaign's deadline is at most this far ahead
MAX_FORM_TIERS = 5  # reward tiers the new-campaign form offers (the ledger allows MAX_TIERS)


def when(ms: int) -> str:
    """A moment in the user's local time: ``"12 Mar 2027 18:00"``."""
    return dt.datetime.fromtimestamp(ms / 1000).strftime("%d %b %Y %H:%M")


def left(ms: int) -> str:
    """Time left in words: ``"3 days left"``, ``"5 h left"``, ``"ended"``."""
    return f"{ago(ms)} left" if ms > 0 else "ended"


# -- view models ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class TierView:
    name: str
    minimum: str
    reward: str


@dataclass(frozen=True)
class MyPledge:
    id: bytes
    amount: str
    status: str  # pending, counted, accepted, refundable, reclaimed
    text: str  # the status in a sentence
    refundable: bool  # the reclaim button applies now


@dataclass(frozen=True)
class CampaignCard:
    id: bytes
    title: str
    description: str
    artist: str
    artist_key: bytes
    symbol: str
    goal: str
    pledged: str
    fraction: float
    deadline: int
    close_by: int
    status: str  # open, closing, funded, failed, lapsed
    headline: str  # the status in plain words (success or refund)
    time_text: str  # "12 days left · pledges until 12 Mar 2027 18:00"
    settler: str  # "Always-on Seeder, seen 40 s ago"
    settler_live: bool
    tiers: tuple[TierView, ...]
    backers: int
    mine: tuple[MyPledge, ...]
    my_reward: str  # the tier the user's accepted pledges earned, once funded
    can_pledge: bool
    own: bool  # the user runs or settles it


@dataclass(frozen=True)
class PledgePlan:
    campaign: bytes
    units: int
    amount: str  # "10.00 CRED"
    title: str
    lines: tuple[str, ...]  # what it locks, until when, refundable when, the tier it reaches
    balance_after: str


@dataclass(frozen=True)
class SettlerChoice:
    key: bytes
    name: str  # "You" or the agent's name
    seen: str  # "you", "seen 40 s ago", "never seen"
    live: bool


@dataclass(frozen=True)
class CampaignForm:
    """What the new-campaign form holds, as typed."""

    title: str
    description: str
    goal: str
    asset: str  # symbol or asset ID
    days: str
    settler: bytes | None  # None: yourself
    tiers: tuple[tuple[str, str, str], ...]  # (name, minimum, reward)


@dataclass(frozen=True)
class CampaignPlan:
    """A campaign as it would be signed, with what it means in sentences."""

    form: CampaignForm
    title: str
    description: str
    asset: bytes
    goal_units: int
    goal: str  # "150.00 CRED"
    deadline: int  # ms
    close_by: int  # ms
    settler: bytes
    settler_text: str  # "you" or "Always-on Seeder (seen 40 s ago)"
    settler_live: bool
    tiers: tuple[tuple[str, int, str], ...]  # (name, minimum in units, reward), increasing
    lines: tuple[str, ...]


@dataclass(frozen=True)
class StakeLine:
    id: bytes
    coin: str
    amount: str
    status: str  # waiting for the artist, staked, refused, ended, withdrawn
    until: int
    collected: str
    can_unstake: bool


@dataclass(frozen=True)
class DividendLine:
    timestamp: int
    coin: str
    amount: str
    collected: bool


@dataclass(frozen=True)
class StakeableCoin:
    id: bytes
    symbol: str
    artist: str
    balance: str
    charter: str  # "20 % of CRED sales to stakers"


@dataclass(frozen=True)
class StakesView:
    stakes: tuple[StakeLine, ...]
    dividends: tuple[DividendLine, ...]  # newest first
    received: str  # collected in total, per asset: "1.23 CRED"
    due: str  # not collected yet, or ""
    coins: tuple[StakeableCoin, ...]


@dataclass(frozen=True)
class GateView:
    id: bytes
    title: str
    description: str
    artist: str
    coin: str
    need: str
    qualifies: bool
    active_claim: bytes | None
    claim_until: int | None


@dataclass(frozen=True)
class ClaimView:
    id: bytes
    title: str
    coin: str
    locked: str
    until: int
    active: bool


@dataclass(frozen=True)
class PassesView:
    gates: tuple[GateView, ...]
    claims: tuple[ClaimView, ...]


@dataclass(frozen=True)
class ShownPass:
    text: str  # the ctpass1: proof
    qr: tuple[tuple[bool, ...], ...]  # its QR code, dark modules True
    title: str
    until: int


def qr_matrix(text: str) -> tuple[tuple[bool, ...], ...]:
    """The QR code of ``text`` (error correction M), as rows of dark (True) modules."""
    import segno

    code = segno.make(text, error="m", boost_error=False)
    return tuple(tuple(bool(m) for m in row) for row in code.matrix)


# -- the desk --------------------------------------------------------------------------------------
class FundingDesk:
    """The Campaigns view's and the wallet's funding services for one identity (``core``)."""

    def __init__(
        self,
        core: Core,
        sync: Callable[[], object] | None = None,
        lock: threading.RLock | None = None,
        clock: Callable[[], int] = now_ms,
    ) -> None:
        self.core = core
        self.clock = clock
        self.campaigns_service = CampaignService(core, clock)
        self.coins = CoinService(core, clock)
        self.passes = PassService(core, clock)
        self._sync = sync
        self._lock = lock or threading.RLock()
        self._watch = StatusWatch()  # pledges, campaigns, dividends due -> last status

    @property
    def state(self) -> State:
        return self.core.ledger.state

    def _sync_soon(self) -> None:
        if self._sync is not None:
            try:
                self._sync()
            except Exception:  # the next sync round carries it
                pass

    def _money(self, units: int, asset: Asset) -> str:
        return format_amount(units, asset.precision, asset.symbol)

    def _seen_text(self, key: bytes, now: int) -> tuple[str, bool]:
        if key == self.core.me:
            return "you", True
        seen = self.state.last_seen.get(key)
        if seen is None:
            return "never seen", False
        live = now - seen[0] <= SEEN_RECENTLY_MS
        return (
            f"seen {ago(now - seen[0])} ago" if live else f"not seen for {ago(now - seen[0])}"
        ), live

    # -- campaigns -------------------------------------------------------------------------------
    def campaigns(self) -> list[CampaignCard]:
        """Every campaign this replica holds: open ones first (soonest deadline), then the
        closed ones, newest first."""
        with self._lock:
            now = self.clock()
            cards = [self._card(c, now) for c in self.state.campaigns.values()]
        order = {"open": 0, "closing": 1}
        return sorted(
            cards,
            key=lambda c: (
                order.get(c.status, 2),
                c.deadline if c.status == "open" else -c.deadline,
            ),
        )

    def campaign(self, ref: bytes) -> CampaignCard:
        with self._lock:
            state = self.state
            if ref not in state.campaigns:
                raise UserError("this replica does not hold that campaign")
            return self._card(state.campaigns[ref], self.clock())

    def _card(self, c: Campaign, now: int) -> CampaignCard:
        state = self.state
        asset = state.assets[c.asset]
        status = state.campaign_status(c, now)
        pledged = state.pledged(c.id)
        money = lambda n: self._money(n, asset)  # noqa: E731
        artist = display_name(state, c.artist)
        settler, live = self._seen_text(c.settler, now)
        settler_name = "the artist" if c.settler == c.artist else display_name(state, c.settler)
        mine = []
        for p in state.pledges_of(c.id):
            if p.backer != self.core.me:
                continue
            st = state.pledge_status(p)
            refundable = st == "refundable" or (st in ("pending", "counted") and now > c.close_by)
            text = {
                "pending": "waiting for the close",
                "counted": "counted by the settler; waiting for the close",
                "accepted": "went to the artist: the campaign is funded",
                "refundable": "refundable: take it back",
                "reclaimed": "back in your balance",
            }.get(st, st)
            if refundable and st != "refundable":
                text = "nobody closed the campaign in time: take it back"
            mine.append(MyPledge(p.id, money(p.amount), st, text, refundable))
        backers = state.backers(c)
        reward = state.reward_of(c, self.core.me)
        headline = {
            "open": f"Open: {money(pledged)} pledged of {money(c.goal)}"
            + (" — the goal is reached" if pledged >= c.goal else ""),
            "closing": "Pledging has ended; waiting for "
            f"{settler_name} to close it (by {when(c.close_by)})",
            "funded": f"Funded: {money(c.counted)} went to {artist}; backers get their rewards",
            "failed": "Not funded: every pledge is refunded to its backer",
            "lapsed": "Nobody closed it in time: every pledge is refunded to its backer",
        }[status]
        time_text = (
            f"{left(c.deadline - now)} · pledges until {when(c.deadline)}"
            if status == "open"
            else f"pledging ended {when(c.deadline)}"
        )
        own = self.core.me in (c.artist, c.settler)
        return CampaignCard(
            c.id,
            c.title,
            c.description,
            artist,
            c.artist,
            asset.symbol,
            money(c.goal),
            money(pledged),
            min(1.0, pledged / c.goal) if c.goal else 0.0,
            c.deadline,
            c.close_by,
            status,
            headline,
            time_text,
            f"{settler_name} ({settler})",
            live,
            tuple(TierView(t.name, money(t.min), t.reward) for t in c.tiers),
            len(backers) if backers else len({p.backer for p in state.pledges_of(c.id)}),
            tuple(mine),
            (
                f"Your reward: {reward.tier.name} — {reward.tier.reward}"
                if reward and reward.tier
                else ""
            ),
            status == "open" and not own,
            own,
        )

    def plan_pledge(self, campaign: bytes, amount: str) -> PledgePlan:
        """What a pledge of ``amount`` would do, in sentences, before anything is signed."""
        with self._lock:
            state = self.state
            if campaign not in state.campaigns:
                raise UserError("this replica does not hold that campaign")
            c = state.campaigns[campaign]
            asset = state.assets[c.asset]
            now = self.clock()
            if self.core.me in (c.artist, c.settler):
                raise UserError("you cannot pledge to a campaign you run or settle")
            status = state.campaign_status(c, now)
            if status != "open":
                raise UserError(f"that campaign is {status}; pledging has ended")
            if not amount.strip():
                raise UserError(f"enter an amount of {asset.symbol} to pledge")
            units = parse_amount(amount, asset.precision)
            if units <= 0:
                raise UserError("pledge a positive amount")
            have = state.balance(self.core.me, asset.id) + sum(
                t.amount for t in state.incoming(self.core.me) if t.asset == asset.id
            )
            if have < units:
                raise UserError(f"not enough {asset.symbol}: you have {self._money(have, asset)}")
            money = lambda n: self._money(n, asset)  # noqa: E731
            settler = "the artist" if c.settler == c.artist else display_name(state, c.settler)
            already = sum(
                p.amount
                for p in state.pledges_of(c.id)
                if p.backer == self.core.me and state.pledge_status(p) in ("pending", "counted")
            )
            lines = [
                f"Locks {money(units)} from your balance now: it is in flight to "
                f"{display_name(state, c.artist)}, and nobody can spend it meanwhile.",
                f"If the pledges reach {money(c.goal)} by {when(c.deadline)}, {settler} closes "
                "the campaign funded and the pledge becomes the artist's.",
                f"If they do not, it is refunded: your node takes it back once {settler} closes "
                f"the campaign as failed, or by itself if nobody closes it by {when(c.close_by)}.",
            ]
            tier = None
            for t in c.tiers:
                if already + units >= t.min:
                    tier = t
            if tier is not None:
                lines.append(f"It earns the tier “{tier.name}”: {tier.reward}")
            elif c.tiers:
                lines.append(
                    f"The first reward tier, “{c.tiers[0].name}”, starts at "
                    f"{money(c.tiers[0].min)}."
                )
            return PledgePlan(
                c.id, units, money(units), c.title, tuple(lines), money(max(0, have - units))
            )

    def pledge(self, campaign: bytes, amount: str, expect: PledgePlan | None = None) -> str:
        """Sign the pledge (after ``plan_pledge``); returns what to tell the user."""
        with self._lock:
            plan = self.plan_pledge(campaign, amount)
            if expect is not None and expect.units != plan.units:
                raise UserError("the amount changed since you confirmed; check it again")
            self.campaigns_service.pledge(campaign, plan.units)
        self._sync_soon()
        return (
            f"Pledged {plan.amount} to “{plan.title}”. It stays locked until the campaign "
            "closes; if it fails, it comes back."
        )

    # -- starting a campaign ---------------------------------------------------------------------
    def settler_choices(self) -> list[SettlerChoice]:
        """Who may settle a new campaign of ours: ourselves, then each agent we delegated to
        (an always-on seeder keeps closing it while we are away)."""
        with self._lock:
            state = self.state
            now = self.clock()
            me = self.core.me
            agents = sorted(
                {
                    d.agent
                    for d in state.delegations.values()
                    if d.artist == me and d.revoked_at is None and d.agent != me
                }
            )
            out = [SettlerChoice(me, "You", "you", True)]
            for key in agents:
                seen, live = self._seen_text(key, now)
                out.append(SettlerChoice(key, display_name(state, key), seen, live))
            return out

    def plan_campaign(
        self,
        title: str,
        description: str,
        goal: str,
        asset: str,
        days: str,
        settler: bytes | None = None,
        tiers: Sequence[tuple[str, str, str]] = (),
    ) -> CampaignPlan:
        """Check the new-campaign form and say what the campaign would be, before anything is
        signed. Tier rows left wholly blank are ignored."""
        form = CampaignForm(
            title,
            description,
            goal,
            asset,
            days,
            settler,
            tuple((str(n), str(m), str(r)) for n, m, r in tiers),
        )
        with self._lock:
            return self._plan(form)

    def _plan(self, form: CampaignForm) -> CampaignPlan:
        now = self.clock()
        if not form.title.strip():
            raise UserError("give the campaign a title")
        if not form.goal.strip():
            raise UserError("enter the goal: how much the campaign must raise")
        asset = self.campaigns_service.wallet.asset(form.asset.strip() or "CRED")
        try:
            units = parse_amount(form.goal.strip(), asset.precision)
        except UserError:
            raise UserError(
                f"the goal “{form.goal.strip()}” is not an amount of {asset.symbol}"
            ) from None
        if units <= 0:
            raise UserError("the goal must be more than zero")
        try:
            n_days = float(form.days.strip())
        except ValueError:
            raise UserError(
                f"“{form.days.strip() or 'nothing'}” is not a number of days until the deadline"
            ) from None
        if not n_days > 0:
            raise UserError("the deadline must be in the future: at least a day from now")
        if n_days > MAX_CAMPAIGN_DAYS:
            raise UserError(f"the deadline can be at most {MAX_CAMPAIGN_DAYS} days away")
        rows = [t for t in form.tiers if any(x.strip() for x in t)]
        if len(rows) > min(MAX_FORM_TIERS, MAX_TIERS):
            raise UserError(f"at most {min(MAX_FORM_TIERS, MAX_TIERS)} reward tiers")
        tiers = []
        for name, minimum, reward in rows:
            label = name.strip() or "a tier"
            if not name.strip():
                raise UserError("each reward tier needs a name")
            if not minimum.strip():
                raise UserError(f"the tier “{label}” needs a minimum pledge")
            try:
                m = parse_amount(minimum.strip(), asset.precision)
            except UserError:
                raise UserError(
                    f"the tier “{label}”: “{minimum.strip()}” is not an amount of {asset.symbol}"
                ) from None
            if m <= 0:
                raise UserError(f"the tier “{label}” needs a minimum above zero")
            tiers.append((name.strip(), m, reward.strip()))
        tiers.sort(key=lambda t: t[1])
        if len({m for _, m, _ in tiers}) != len(tiers):
            raise UserError("two reward tiers have the same minimum; give each its own")
        if len({n for n, _, _ in tiers}) != len(tiers):
            raise UserError("two reward tiers have the same name")
        me = self.core.me
        settler = form.settler or me
        choices = {c.key: c for c in self.settler_choices()}
        if settler not in choices:
            raise UserError("the settler must be you or an agent you delegated to")
        choice = choices[settler]
        settler_text = "you" if settler == me else f"{choice.name} ({choice.seen})"
        deadline = now + int(n_days * DAY_MS)
        close_by = deadline + DEFAULT_CLOSE_WINDOW_S * 1000
        money = lambda n: self._money(n, asset)  # noqa: E731
        lines = [
            f"Raises {money(units)}, pledged until {when(deadline)} ({n_days:g} "
            f"day{'s' if n_days != 1 else ''} from now).",
            f"All or nothing: if the goal is not met by {when(deadline)}, every pledge is "
            "refunded.",
            (
                "You settle it: your node closes it after the deadline, so open the app by "
                f"{when(close_by)} or the pledges go back."
                if settler == me
                else f"{choice.name} settles it while you are away ({choice.seen})."
            ),
        ]
        if settler != me and not choice.live:
            lines.append(
                f"⚠ {choice.name} has not been seen recently: if nobody closes the campaign by "
                f"{when(close_by)}, every pledge goes back."
            )
        if tiers:
            lines.extend(
                f"Tier “{n}”: from {money(m)} — {r or 'no reward text'}" for n, m, r in tiers
            )
        else:
            lines.append("No reward tiers: backers pledge without a reward.")
        return CampaignPlan(
            form,
            form.title.strip(),
            form.description.strip(),
            asset.id,
            units,
            money(units),
            deadline,
            close_by,
            settler,
            settler_text,
            choice.live,
            tuple(tiers),
            tuple(lines),
        )

    def start_campaign(self, plan: CampaignPlan) -> str:
        """Sign exactly the confirmed ``plan``; refuses if the form or what it means changed
        since (the settler's delegation revoked, the plan altered)."""
        with self._lock:
            now = self.clock()
            fresh = self._plan(plan.form)
            same = (
                fresh.title,
                fresh.description,
                fresh.asset,
                fresh.goal_units,
                fresh.settler,
                fresh.tiers,
            ) == (
                plan.title,
                plan.description,
                plan.asset,
                plan.goal_units,
                plan.settler,
                plan.tiers,
            )
            if not same or plan.close_by - plan.deadline != DEFAULT_CLOSE_WINDOW_S * 1000:
                raise UserError("the campaign changed since you confirmed it; check it again")
            if plan.deadline <= now:
                raise UserError("the deadline has passed since you confirmed; check it again")
            self.campaigns_service.create(
                plan.title,
                plan.goal_units,
                plan.asset,
                deadline_in_s=(plan.deadline - now) / 1000,
                deadline_at=plan.deadline,
                tiers=[(n, m, r) for n, m, r in plan.tiers],
                description=plan.description,
                settler=plan.settler,
            )
        self._sync_soon()
        return (
            f"Campaign “{plan.title}” started: {plan.goal} by {when(plan.deadline)}, all or "
            "nothing."
        )

    def refund(self, pledge: bytes) -> str:
        with self._lock:
            self.campaigns_service.refund(pledge)
        self._sync_soon()
        return "Reclaimed: the pledge is back in your balance once your node receives it."

    # -- stakes and dividends --------------------------------------------------------------------
    def stakes(self) -> StakesView:
        with self._lock:
            state = self.state
            now = self.clock()
            me = self.core.me
            lines = []
            received: dict[bytes, int] = {}
            due: dict[bytes, int] = {}
            dividends = []
            for s in state.stakes_by(me):
                charter = state.coin_charters[s.charter]
                coin = state.assets[charter.asset]
                sales = state.assets[charter.sales_asset]
                status = state.stake_status(s)
                got = 0
                for d in state.distributions_of(s.charter):
                    share = d.share(s)
                    if s.id in d.collected:
                        got += share
                        dividends.append(
                            DividendLine(d.timestamp, coin.symbol, self._money(share, sales), True)
                        )
                    elif (
                        share
                        and s.accepted_seq is not None
                        and s.accepted_seq < d.seq
                        and (s.until >= d.timestamp)
                    ):
                        due[sales.id] = due.get(sales.id, 0) + share
                        dividends.append(
                            DividendLine(d.timestamp, coin.symbol, self._money(share, sales), False)
                        )
                received[sales.id] = received.get(sales.id, 0) + got
                shown = {
                    "pending": "waiting for the artist to accept",
                    "refused": "refused; the coins came back",
                    "reclaimed": "not answered; the coins came back",
                    "withdrawn": "ended; the coins are back",
                }.get(status, status)
                can_unstake = status == "staked" and now > s.until
                if status == "staked" and now > s.until:
                    shown = "term over: unstake"
                lines.append(
                    StakeLine(
                        s.id,
                        coin.symbol,
                        self._money(s.amount, coin),
                        shown,
                        s.until,
                        self._money(got, sales),
                        can_unstake,
                    )
                )
            coins = []
            for charter in state.coin_charters.values():
                coin = state.assets[charter.asset]
                have = state.balance(me, coin.id)
                if have <= 0 or charter.issuer == me:
                    continue
                sales = state.assets[charter.sales_asset]
                coins.append(
                    StakeableCoin(
                        coin.id,
                        coin.symbol,
                        display_name(state, charter.issuer),
                        self._money(have, coin),
                        f"{charter.bps / 100:g} % of the artist's {sales.symbol} sales go "
                        "to stakers",
                    )
                )

            def total(per: dict[bytes, int]) -> str:
                return ", ".join(
                    self._money(v, state.assets[a]) for a, v in sorted(per.items()) if v
                )

            dividends.sort(key=lambda d: -d.timestamp)
            return StakesView(
                tuple(reversed(lines)),
                tuple(dividends),
                total(received) or "nothing yet",
                total(due),
                tuple(sorted(coins, key=lambda c: c.symbol)),
            )

    def stake(self, coin: bytes, amount: str, days: str) -> str:
        with self._lock:
            try:
                n_days = float(days.strip())
            except ValueError:
                raise UserError(f"{days.strip() or 'nothing'} is not a number of days") from None
            if not 0 < n_days <= MAX_STAKE_DAYS:
                raise UserError(f"stake for 1 to {MAX_STAKE_DAYS} days")
            if not amount.strip():
                raise UserError("enter how many coins to stake")
            asset = self.state.assets.get(coin)
            if asset is None:
                raise UserError("this replica does not hold that coin")
            self.coins.stake(coin, amount.strip(), n_days)
        self._sync_soon()
        return (
            f"Staked {amount.strip()} {asset.symbol} for {n_days:g} days: it counts once the "
            "artist's node accepts it; until then it is locked and comes back if refused."
        )

    def unstake(self, stake: bytes) -> str:
        with self._lock:
            self.coins.unstake(stake)
        self._sync_soon()
        return "Unstaked: the coins are back in your balance."

    def collect(self) -> str:
        with self._lock:
            due = self.state.uncollected(self.core.me)
            if not due:
                raise UserError(
                    "no dividends to collect: your node collects new ones by itself as they arrive"
                )
            total: dict[bytes, int] = {}
            for stake, _, share in due:
                sales = self.state.coin_charters[stake.charter].sales_asset
                total[sales] = total.get(sales, 0) + share
            self.coins.collect()
            text = ", ".join(self._money(v, self.state.assets[a]) for a, v in total.items())
        self._sync_soon()
        return f"Collected {text} of dividends."

    # -- passes ----------------------------------------------------------------------------------
    def passes_view(self) -> PassesView:
        """The holder passes on coins the user holds (or has claimed), and the user's claims."""
        with self._lock:
            state = self.state
            now = self.clock()
            me = self.core.me
            active = {c.gate: c for c in state.claims_of(me) if state.claim_active(c, now)}
            held = set(state.balances_of(me))
            gates = []
            for g in sorted(state.gates.values(), key=lambda g: (g.asset, g.min, g.id)):
                if g.asset not in held and g.id not in active:
                    continue
                coin = state.assets[g.asset]
                held_for = f" held {g.held_ms / DAY_MS:g} days" if g.held_ms else ""
                claim = active.get(g.id)
                gates.append(
                    GateView(
                        g.id,
                        g.title,
                        g.description,
                        display_name(state, g.author),
                        coin.symbol,
                        f"{self._money(g.min, coin)}{held_for} · locks "
                        f"{g.lock_ms / DAY_MS:g} day{'s' if g.lock_ms != DAY_MS else ''}",
                        state.qualifies(me, g, now),
                        claim.id if claim else None,
                        claim.until if claim else None,
                    )
                )
            claims = []
            for c in reversed(state.claims_of(me)):
                g = state.gates[c.gate]
                coin = state.assets[g.asset]
                claims.append(
                    ClaimView(
                        c.id,
                        g.title,
                        coin.symbol,
                        self._money(g.min, coin),
                        c.until,
                        state.claim_active(c, now),
                    )
                )
            return PassesView(tuple(gates), tuple(claims))

    def claim(self, gate: bytes) -> str:
        with self._lock:
            g = self.passes.gate(gate)
            self.passes.claim(gate)
            coin = self.state.assets[g.asset]
        self._sync_soon()
        return (
            f"Pass claimed: “{g.title}”. {self._money(g.min, coin)} stay locked for "
            f"{g.lock_ms / DAY_MS:g} day{'s' if g.lock_ms != DAY_MS else ''}; show the pass at "
            "the door."
        )

    def show_pass(self, claim: bytes, challenge: str = "") -> ShownPass:
        """The pass as a signed ``ctpass1:`` text (fresh for a few minutes) and its QR code."""
        with self._lock:
            text = self.passes.show(claim, challenge.strip())
            c = self.passes.claim_of(claim)
            title = self.state.gates[c.gate].title
        return ShownPass(text, qr_matrix(text), title, c.until)

    # -- notices ---------------------------------------------------------------------------------
    def _statuses(self) -> dict[bytes, str]:
        state = self.state
        me = self.core.me
        out: dict[bytes, str] = {}
        for p in state.pledges.values():
            if p.backer == me:
                out[p.id] = state.pledge_status(p)
        for c in state.campaigns.values():
            if c.artist == me or c.settler == me:
                out[c.id] = c.outcome or "open"
        for s in state.stakes_by(me):
            for d in state.distributions_of(s.charter):
                if d.share(s) and (
                    s.id in d.collected
                    or (
                        s.accepted_seq is not None
                        and s.accepted_seq < d.seq
                        and s.until >= d.timestamp
                    )
                ):
                    out[s.id[:16] + d.id[:16]] = "due"
        return out

    def watch(self) -> list[str]:
        """Sentences for distributions received, campaign closes and refunds since the last
        call (the first call only looks); each is also emitted as a ``Notice``."""
        with self._lock:
            state = self.state
            texts = []
            for item, was, status in self._watch.changes(self._statuses()):
                if item in state.pledges:
                    p = state.pledges[item]
                    c = state.campaigns[p.campaign]
                    amount = self._money(p.amount, state.assets[c.asset])
                    if status == "accepted":
                        texts.append(
                            f"“{c.title}” is funded: your pledge of {amount} went to "
                            f"{display_name(state, c.artist)}."
                        )
                    elif status == "refundable" and was != "reclaimed":
                        texts.append(
                            f"“{c.title}” closed without your pledge of {amount}: it is being "
                            "refunded."
                        )
                    elif status == "reclaimed":
                        texts.append(f"Refunded: your pledge of {amount} to “{c.title}” is back.")
                elif item in state.campaigns and status in ("funded", "failed"):
                    c = state.campaigns[item]
                    texts.append(
                        f"Your campaign “{c.title}” closed "
                        + ("funded." if status == "funded" else "without reaching its goal.")
                    )
                elif was is None and len(item) == 32 and status == "due":
                    texts.append(self._dividend_notice(item))
        for text in texts:
            if text:
                self.core.events.emit(Notice(text))
        return [t for t in texts if t]

    def _dividend_notice(self, key: bytes) -> str:
        state = self.state
        for s in state.stakes_by(self.core.me):
            if s.id[:16] != key[:16]:
                continue
            for d in state.distributions_of(s.charter):
                if d.id[:16] == key[16:]:
                    charter = state.coin_charters[s.charter]
                    coin = state.assets[charter.asset]
                    sales = state.assets[charter.sales_asset]
                    return (
                        f"Dividend: {self._money(d.share(s), sales)} from your {coin.symbol} "
                        "stake (the artist's sales)."
                    )
        return ""


__all__ = [
    "CampaignCard",
    "CampaignForm",
    "CampaignPlan",
    "ClaimView",
    "DividendLine",
    "FundingDesk",
    "GateView",
    "MyPledge",
    "PassesView",
    "PledgePlan",
    "SettlerChoice",
    "ShownPass",
    "StakeLine",
    "StakeableCoin",
    "StakesView",
    "TierView",
    "qr_matrix",
    "when",
]
