"""What each settler duty did in one settle round (``SettleReport.duties`` in
``app/services/core.py``): the exchange's, the votes', the campaigns' and the coins'.

Here, apart from the services that write them, so that ``Core`` can name them without importing
the services, which import ``Core``.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class MarketSettleReport:
    filled: list[bytes] = field(default_factory=list)
    refused: list[bytes] = field(default_factory=list)
    cancelled: list[bytes] = field(default_factory=list)
    reclaimed: list[bytes] = field(default_factory=list)
    checkpoints: int = 0
    skipped: list[tuple[bytes, str]] = field(default_factory=list)

    @property
    def anything(self) -> bool:
        return bool(
            self.filled or self.refused or self.cancelled or self.reclaimed or self.checkpoints
        )


@dataclass
class GovernanceSettleReport:
    counted: list[bytes] = field(default_factory=list)  # count entries written
    closed: list[bytes] = field(default_factory=list)  # proposals we closed
    carried_out: list[bytes] = field(default_factory=list)  # proposals our charter carried out
    reclaimed: list[bytes] = field(default_factory=list)  # our vote locks taken back
    skipped: list[tuple[bytes, str]] = field(default_factory=list)

    @property
    def anything(self) -> bool:
        return bool(self.counted or self.closed or self.carried_out or self.reclaimed)


@dataclass
class FundingSettleReport:
    counted: list[bytes] = field(default_factory=list)  # count entries written
    funded: list[bytes] = field(default_factory=list)  # campaigns closed funded
    failed: list[bytes] = field(default_factory=list)  # campaigns closed failed
    refunded: list[bytes] = field(default_factory=list)  # our pledges taken back
    rewarded: list[bytes] = field(default_factory=list)  # campaign.reward entries written
    unlocked: list[bytes] = field(default_factory=list)  # rewards whose keys we now hold
    skipped: list[tuple[bytes, str]] = field(default_factory=list)

    @property
    def anything(self) -> bool:
        return bool(
            self.counted
            or self.funded
            or self.failed
            or self.refunded
            or self.rewarded
            or self.unlocked
        )


@dataclass
class CoinsSettleReport:
    accepted: list[bytes] = field(default_factory=list)
    distributed: list[bytes] = field(default_factory=list)
    collected: list[bytes] = field(default_factory=list)
    unstaked: list[bytes] = field(default_factory=list)
    buyback: list[bytes] = field(default_factory=list)  # buyback offers placed
    skipped: list[tuple[bytes, str]] = field(default_factory=list)

    @property
    def anything(self) -> bool:
        return bool(
            self.accepted or self.distributed or self.collected or self.unstaked or self.buyback
        )
