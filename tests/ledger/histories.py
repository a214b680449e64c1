"""What the vector generators, the vector tests and the property tests of the ledger's features
share: histories signed from fixed seeds, judged in order or delivered in any order, and the
checks every feature's history must pass.

* Vectors (``*_vectors.py``, ``test_*_vectors.py``): :class:`Steps` signs each step at its
  signer's head from fixed seeds and timestamps; :func:`judged` replays the steps in the listed
  order, checking each outcome; :func:`vector_steps`, :func:`seed_names`, :func:`named_balances`
  and :func:`accounting_by_symbol` give the JSON's parts; :func:`check_outcomes_in_order`,
  :func:`check_documented_accounting` and :func:`check_accepted_in_any_order` check a checked-in
  file.
* Properties (``test_*_properties.py``): :func:`drawn_ops` draws operations, :class:`DrawnHistory`
  interprets them into a history a reference ledger accepted entry by entry, and
  :func:`check_any_delivery_order`, :func:`check_judged_on_closure_alone`,
  :func:`check_accounting` hold it to the ledger's invariants.
"""

from __future__ import annotations

import json
import random
import sys
import tempfile
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

from ledger.entry import Entry, create_entry
from ledger.keys import Signer
from ledger.ledger import Ledger
from tests.ledger.factory import Head
from tests.ledger.vectors import to_json

# -- vectors ---------------------------------------------------------------------------------------
T0 = 1_700_000_000_000
HOUR = 3_600_000
VECTORS = Path(__file__).resolve().parents[1] / "vectors"


class Steps:
    """A history from fixed seeds: each step signed at its signer's head, with its expected
    outcome ("accepted", or a phrase of the rejection reason). A rejected step does not move its
    signer's head."""

    def __init__(self, seeds: dict[str, str]) -> None:
        self.s = {name: Signer.from_seed(bytes.fromhex(seed)) for name, seed in seeds.items()}
        self.pk = {n: x.public_key for n, x in self.s.items()}
        self.heads: dict[bytes, Entry] = {}
        self.steps: list[dict[str, Any]] = []

    def add(
        self,
        case: str,
        name: str,
        kind: str,
        body: dict[str, Any],
        deps: Sequence[Entry] = (),
        at: float = 0,
        expect: str = "accepted",
    ) -> Entry:
        """Sign ``kind`` by ``name``: at ``at`` hours after T0, or a second after its head."""
        who = self.s[name]
        head = self.heads.get(who.public_key)
        ts = T0 + int(at * HOUR) if at else (head.timestamp if head else T0) + 1000
        e = create_entry(
            who,
            head.seq + 1 if head else 1,
            head.hash if head else None,
            ts,
            kind,
            body,
            sorted({d.hash for d in deps}),
        )
        if expect == "accepted":
            self.heads[who.public_key] = e
        self.steps.append({"case": case, "signer": name, "entry": e, "expect": expect})
        return e

    def credits(self, flags: Sequence[str] = ("stable",)) -> Entry:
        """The gateway's CRD (precision 2), issued and 100 000 minted: the setup every history
        starts from."""
        crd = self.add(
            "setup",
            "gateway",
            "asset.issue",
            {
                "symbol": "CRD",
                "name": "Credits",
                "precision": 2,
                "max_supply": 10**9,
                "flags": list(flags),
            },
            at=0.01,
        )
        self.add("setup", "gateway", "asset.mint", {"asset": crd.hash, "amount": 100_000})
        return crd

    def pay(
        self, sender: str, asset: Entry, to: str, amount: int, at: float = 0, received: float = 0
    ) -> Entry:
        """A setup send of ``amount`` of ``asset`` (at ``at``) and its receipt (at ``received``)."""
        sent = self.add(
            "setup",
            sender,
            "send",
            {"asset": asset.hash, "to": self.pk[to], "amount": amount, "memo": ""},
            at=at,
        )
        self.add("setup", to, "receive", {"transfers": [sent.hash]}, [sent], at=received)
        return sent


@contextmanager
def judged(steps: list[dict[str, Any]]) -> Iterator[Ledger]:
    """A fresh ledger that judged ``steps`` in order, each with its expected outcome."""
    with tempfile.TemporaryDirectory() as d:
        led = Ledger.open(Path(d) / "x.sqlite", verify_threads=1)
        try:
            for step in steps:
                report = led.ingest([step["entry"].wire])
                got = "accepted" if report.accepted else report.rejected[0].reason
                assert (got == "accepted") == (step["expect"] == "accepted"), (step["case"], got)
                assert step["expect"] in got, (step["case"], got)
            yield led
        finally:
            led.close()


def seed_names(seeds: dict[str, str]) -> dict[bytes, str]:
    """Each seed's public key and its name."""
    return {Signer.from_seed(bytes.fromhex(v)).public_key: k for k, v in seeds.items()}


def named_balances(led: Ledger, seeds: dict[str, str]) -> dict[str, int]:
    """Every balance that is not zero, as "signer SYMBOL": amount, sorted."""
    state = led.state
    names = seed_names(seeds)
    symbols = {a.id: a.symbol for a in state.assets.values()}
    balances = {
        f"{names[acct]} {symbols[asset]}": v
        for (acct, asset), v in sorted(state.balances.items())
        if v
    }
    return dict(sorted(balances.items()))


def accounting_by_symbol(led: Ledger) -> dict[str, dict[str, int]]:
    state = led.state
    symbols = {a.id: a.symbol for a in state.assets.values()}
    return {symbols[a]: vars(state.accounting(a)) for a in state.assets}


def vector_steps(steps: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The steps as the JSON lists them."""
    return [
        {
            "case": s["case"],
            "signer": s["signer"],
            "kind": s["entry"].kind,
            "timestamp": s["entry"].timestamp,
            "body": to_json(dict(s["entry"].body)),
            "deps": [x.hex() for x in s["entry"].deps],
            "hash": s["entry"].hash.hex(),
            "wire": s["entry"].wire.hex(),
            "expect": s["expect"],
        }
        for s in steps
    ]


def print_vectors(build: Callable[[], dict[str, Any]]) -> None:
    """A generator's ``main``: the vectors as JSON on stdout."""
    json.dump(build(), sys.stdout, indent=1)
    sys.stdout.write("\n")


def load_vectors(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((VECTORS / name).read_text())
    return data


def check_outcomes_in_order(data: dict[str, Any], led: Ledger) -> None:
    """Judged in the listed order, each step has its documented outcome, and the state hash
    is the documented one."""
    for step in data["steps"]:
        report = led.ingest([bytes.fromhex(step["wire"])])
        if step["expect"] == "accepted":
            assert [e.hash.hex() for e in report.accepted] == [step["hash"]], step["case"]
        else:
            assert not report.accepted and step["expect"] in report.rejected[0].reason, (
                step["case"],
                report,
            )
    assert led.state_hash().hex() == data["state_hash"]


def check_documented_accounting(data: dict[str, Any], led: Ledger) -> None:
    """The documented accounting names every asset of ``led`` and conserves each one."""
    assert {a.symbol for a in led.state.assets.values()} == set(data["accounting"])
    for acc in data["accounting"].values():
        assert acc["supply"] == acc["balances"] + acc["locked"] + acc["in_flight"]


def check_accepted_in_any_order(
    data: dict[str, Any], open_ledger: Callable[..., Ledger], seed: int
) -> None:
    """The accepted entries, delivered one by one in reverse and in a shuffled order, are all
    taken and give the documented state hash."""
    wires = [bytes.fromhex(s["wire"]) for s in data["steps"] if s["expect"] == "accepted"]
    orders = [list(reversed(wires)), random.Random(seed).sample(wires, len(wires))]
    for n, order in enumerate(orders):
        led = open_ledger(f"r{n}.sqlite")
        for w in order:
            assert not led.ingest([w]).rejected
        assert led.pending_count() == 0
        assert led.state_hash().hex() == data["state_hash"]


# -- properties ------------------------------------------------------------------------------------
Op = tuple[str, int, int, int]  # (operation, a, b, n): the numbers choose who, what and how much


def property_settings(max_examples: int) -> settings:
    return settings(
        max_examples=max_examples,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )


def drawn_ops(names: list[str], a_max: int, n_max: int) -> st.SearchStrategy[list[Op]]:
    """15 to 60 operations drawn from ``names`` (repeat a name to draw it more often)."""
    return st.lists(
        st.tuples(
            st.sampled_from(names), st.integers(0, a_max), st.integers(0, 50), st.integers(1, n_max)
        ),
        min_size=15,
        max_size=60,
    )


def fixed_ops(names: list[str], seed: int, count: int, a_max: int, n_max: int) -> list[Op]:
    """A long history from one seed, for checking that an interpreter keeps every operation."""
    rnd = random.Random(seed)
    return [
        (rnd.choice(names), rnd.randint(0, a_max), rnd.randint(0, 50), rnd.randint(1, n_max))
        for _ in range(count)
    ]


class DrawnHistory:
    """Drawn operations interpreted into a history the reference ledger accepted entry by entry.

    A subclass sets ``sc`` (the scenario that signs), ``ref``, ``people`` and ``now`` and
    defines ``op_<name>(a, b, n) -> bool`` (whether the operation kept an entry), then calls
    :meth:`run`. Operations the reference ledger refuses are kept in ``refused``: impossible
    ones are tried on purpose, and must be refused on their dependency closure alone too."""

    sc: Any
    ref: Ledger
    people: list[Any]
    now: int

    def __init__(self) -> None:
        self.tried: Counter[str] = Counter()
        self.kept: Counter[str] = Counter()
        self.refused: list[Entry] = []  # attempts the reference ledger rejected

    def run(self, ops: list[Op]) -> None:
        for name, a, b, n in ops:
            self.tried[name] += 1
            if getattr(self, "op_" + name)(a, b, n):
                self.kept[name] += 1

    def try_make(
        self,
        who: Any,
        kind: str,
        body: dict[str, Any],
        deps: Sequence[Any] = (),
        ts: int | None = None,
    ) -> Entry | None:
        """Sign at ``who``'s head; keep the entry only if the reference ledger accepts it."""
        head = self.sc.heads.get(who.public_key)
        stamp = max(ts or self.now, head.timestamp if head else 0)
        e: Entry = self.sc.make(who, kind, body, deps, timestamp=stamp, advance=False)
        if not self.ref.ingest([e.wire]).accepted:
            self.refused.append(e)
            return None
        self.sc.heads[who.public_key] = Head(e.seq, e.hash, e.timestamp)
        self.sc.entries.append(e)
        return e

    def who(self, key: bytes) -> Any:
        return next(p for p in self.people if p.public_key == key)


@contextmanager
def ledgers() -> Iterator[Any]:
    """``make(name)`` opens a fresh ledger file; all are closed at the end."""
    with tempfile.TemporaryDirectory() as d:
        opened: list[Ledger] = []

        def make(name: str = "l") -> Ledger:
            led = Ledger.open(Path(d) / f"{name}{len(opened)}.sqlite", verify_threads=1)
            opened.append(led)
            return led

        try:
            yield make
        finally:
            for led in opened:
                led.close()


def deliver_shuffled(led: Ledger, wires: list[bytes], rnd: random.Random) -> None:
    """Every wire, shuffled, in batches of random size; none may be rejected."""
    order = list(wires)
    rnd.shuffle(order)
    i = 0
    while i < len(order):
        step = rnd.randint(1, max(1, len(order) // 3))
        report = led.ingest(order[i : i + step])
        assert not report.rejected, report.rejected
        i += step


def ingest_a_random_part(led: Ledger, wires: list[bytes], rnd: random.Random) -> None:
    """Any subset of a history, in any order (some entries then wait for their deps)."""
    led.ingest(rnd.sample(wires, rnd.randint(0, len(wires))))


def check_any_delivery_order(
    make: Callable[..., Ledger],
    ref: Ledger,
    wires: list[bytes],
    rnd: random.Random,
    check: Callable[[Ledger], None],
    same: Callable[[Ledger], Any] | None = None,
    rounds: int = 2,
) -> None:
    """Fresh replicas given ``wires`` in shuffled batches take every entry, reach ``ref``'s
    state hash (and what ``same`` reads, as on ``ref``) and pass ``check``."""
    for _ in range(rounds):
        other = make()
        deliver_shuffled(other, wires, rnd)
        assert other.pending_count() == 0 and other.count() == ref.count()
        assert other.state_hash() == ref.state_hash()
        if same is not None:
            assert same(other) == same(ref)
        check(other)


def closure(h: Any, entry: Entry) -> list[bytes]:
    """Wires of everything ``entry`` relies on: its deps and feed prefixes, transitively (among
    the entries of ``h.sc``)."""
    by_hash = {e.hash: e for e in h.sc.entries}
    need: set[bytes] = set()
    todo = [*entry.deps, *([entry.prev] if entry.prev else [])]
    while todo:
        d = todo.pop()
        if d in need:
            continue
        need.add(d)
        todo.extend(by_hash[d].deps)
        if by_hash[d].prev:
            todo.append(by_hash[d].prev)
    return [e.wire for e in h.sc.entries if e.hash in need]


def check_judged_on_closure_alone(
    make: Callable[..., Ledger], h: Any, kept: list[Entry], refused: list[Entry]
) -> None:
    """What makes the state order independent, checked entry by entry: an entry is judged the
    same on a replica that holds only its dependency closure as on one that holds everything
    (kept ones accepted, refused ones refused)."""
    for entry, should_accept in [*((e, True) for e in kept), *((e, False) for e in refused)]:
        led = make()
        assert not led.ingest(closure(h, entry)).rejected
        report = led.ingest([entry.wire])
        assert bool(report.accepted) == should_accept, (entry.kind, report)


def check_refused_on_closure_alone(
    make: Callable[..., Ledger], h: Any, refused: list[Entry]
) -> None:
    for entry in refused:
        led = make()
        led.ingest(closure(h, entry))
        assert not led.ingest([entry.wire]).accepted, entry.kind


def check_accounting(led: Ledger) -> None:
    """Every asset is conserved: supply = balances + locked + in flight; no balance is
    negative."""
    state = led.state
    for asset in state.assets:
        acc = state.accounting(asset)
        assert acc.supply == acc.balances + acc.locked + acc.in_flight, acc
        assert all(v >= 0 for (_, a), v in state.balances.items() if a == asset)
