"""Benchmarks: ``cooptracks bench NAME --json``. Each module exposes ``run(quick: bool) -> dict``.

Every figure is reported next to a limit measured in the same run (a ratio), because the machines
that run these are shared and noisy.
"""

BENCHMARKS = {
    "ledger": "app.bench.ledger",
    "swarm": "app.bench.swarm",
    "library": "app.bench.library",
    "app": "app.bench.app",
    "votes": "app.bench.votes",
    "soak": "app.bench.soak",
    "export": "app.bench.export",
    "market": "app.bench.market",
}
ALIASES = {"exchange": "market"}
