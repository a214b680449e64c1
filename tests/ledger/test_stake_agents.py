"""Stakes accepted by the issuer's agent: a stake may name, as its settler, an agent the issuer
delegated (a seeder that is always on), which accepts or refuses it while the issuer is offline;
the issuer's distributions count the stakes that agent accepted up to the agent's feed prefix
they name in deps (docs/PROTOCOL.md, "Coins tied to sales", `stake`)."""

from __future__ import annotations

from typing import Any

from ledger.entry import Entry
from ledger.keys import Signer
from ledger.ledger import Ledger
from tests.ledger.factory import Scenario
from tests.ledger.market import HOUR, checkpoint
from tests.ledger.test_coins import (
    answer,
    collect,
    conserved,
    crd,
    distribute,
    sell,
    stake,
    world,  # noqa: F401 - the fixture
)
from tests.ledger.test_rules import accepted, deliver, refused


def via(
    sc: Scenario, who: Signer, of: Entry, amount: int, agent: Signer, deps: list[Entry], **kw: Any
) -> Entry:
    """A stake naming ``agent`` as its settler, ``deps`` (the delegation) beside the charter."""
    ts = max(sc.next_ts(), sc.heads[who.public_key].timestamp)
    return sc.make(
        who,
        "stake",
        {
            "charter": of.hash,
            "amount": amount,
            "accept_by": ts + HOUR,
            "until": ts + 30 * 24 * HOUR,
            "settler": agent.public_key,
        },
        [of, *deps],
        timestamp=ts,
        **kw,
    )


def test_the_issuers_agent_accepts_a_stake_and_the_issuer_counts_it(
    led: Ledger,
    world: Any,  # noqa: F811
) -> None:
    sc, x = world
    artist, fan, fan2, agent = x["artist"], x["fan"], x["fan2"], x["agent"]
    deleg = sc.delegate(artist, agent)
    deliver(led, sc, deleg)
    s1 = via(sc, fan, x["charter"], 300, agent, [deleg])
    s2 = stake(sc, fan2, x["charter"], 100)  # answered by the issuer itself
    deliver(led, sc, s1, s2)
    assert led.state.locks[s1.hash].settler == agent.public_key
    assert [s.id for s in led.state.stakes_to_answer(agent.public_key)] == [s1.hash]
    assert [s.id for s in led.state.stakes_to_answer(artist.public_key)] == [s2.hash]
    refused(led, answer(sc, artist, s1, advance=False), "or the agent the stake names")
    ok = answer(sc, agent, s1)
    deliver(led, sc, ok, answer(sc, artist, s2))
    assert led.state.stake_status(led.state.stakes[s1.hash]) == "staked"
    sell(led, sc, x)
    # a distribution that does not name the agent's prefix counts only the issuer's own stakes
    d1 = distribute(sc, artist, x["charter"], 100)
    accepted(led, d1)
    assert led.state.distributions[d1.hash].total_staked == 100
    refused(led, collect(sc, fan, s1, d1, advance=False), "does not count")
    # naming the agent's acceptance (or anything later of its feed) counts it from then on
    d2 = distribute(sc, artist, x["charter"], 99, deps=[ok])
    accepted(led, d2)
    assert led.state.distributions[d2.hash].total_staked == 400
    d3 = distribute(sc, artist, x["charter"], 1)  # no deps: the charter remembers the prefix
    accepted(led, d3)
    assert led.state.distributions[d3.hash].total_staked == 400
    accepted(led, collect(sc, fan, s1, d2, d3))
    assert crd(led, fan, x) == 5_000 + 99 * 300 // 400 + 1 * 300 // 400
    conserved(led)


def test_a_stake_names_only_an_agent_the_issuer_delegated(led: Ledger, world: Any) -> None:  # noqa: F811
    sc, x = world
    artist, fan, agent = x["artist"], x["fan"], x["agent"]
    refused(led, via(sc, fan, x["charter"], 10, agent, [], advance=False), "name the delegation")
    other = sc.delegate(x["fan2"], agent)  # someone else's delegation to that agent
    deliver(led, sc, other)
    refused(led, via(sc, fan, x["charter"], 10, agent, [other], advance=False), "delegated")
    deleg = sc.delegate(artist, agent)
    revoked = sc.revoke(artist, deleg)
    deliver(led, sc, deleg, revoked)
    refused(
        led,
        via(sc, fan, x["charter"], 10, agent, [deleg, revoked], advance=False),
        "delegated",
    )
    # at the issuer's prefix before the revoke, the delegation held
    accepted(led, via(sc, fan, x["charter"], 10, agent, [deleg]))
    refused(led, via(sc, fan, x["charter"], 10, fan, [deleg], advance=False), "not its staker")


def test_an_unanswered_stake_comes_back_by_the_agents_deadline_proof(
    led: Ledger,
    world: Any,  # noqa: F811
) -> None:
    sc, x = world
    artist, fan, agent = x["artist"], x["fan"], x["agent"]
    deleg = sc.delegate(artist, agent)
    deliver(led, sc, deleg)
    s = via(sc, fan, x["charter"], 300, agent, [deleg])
    accepted(led, s)
    late_issuer = sc.make(artist, "checkpoint", {"open": 0}, timestamp=s.body["accept_by"] + 1)
    accepted(led, late_issuer)
    refused(
        led,
        sc.make(fan, "reclaim", {"of": s.hash, "proof": late_issuer.hash}, [late_issuer],
                advance=False),
        "settler's feed",
    )  # fmt: skip
    proof = checkpoint(sc, agent, 1, timestamp=s.body["accept_by"] + 1)
    accepted(led, proof)
    refused(led, answer(sc, agent, s, advance=False), "accept_by has passed")
    accepted(led, sc.make(fan, "reclaim", {"of": s.hash, "proof": proof.hash}, [proof]))
    assert led.state.balance(fan.public_key, x["art"].hash) == 300
