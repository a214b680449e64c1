"""``cooptracks ledger export | import | verify | state``."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from app.commands._io import add_json_flag, emit
from app.services.errors import UserError
from app.services.money import format_amount
from ledger.keys import peer_id

if TYPE_CHECKING:  # the ledger and its codecs load when a command runs
    from app.services import ledger_io
    from ledger.ledger import Ledger


def _open(args: argparse.Namespace, switch_interval: float | None = None) -> Ledger:
    from ledger.ledger import Ledger

    return Ledger.open(args.profile_obj.ensure().ledger_db, switch_interval=switch_interval)


def _export(args: argparse.Namespace) -> int:
    from app.services import ledger_io

    with _open(args) as ledger:
        out = open(args.out, "w", encoding="utf-8") if args.out else sys.stdout
        try:
            for line in ledger_io.export_lines(ledger):
                out.write(line + "\n")
        finally:
            if args.out:
                out.close()
    return 0


def _stream(path: Path | None):
    """The input as binary lines: a line that is not UTF-8 text is reported on its own."""
    if path is None or str(path) == "-":
        return sys.stdin.buffer
    try:
        return open(path, "rb")
    except OSError as exc:
        raise UserError(f"cannot read {path}: {exc.strerror}") from exc


def _print_result(args: argparse.Namespace, result: ledger_io.ImportResult, verb: str) -> int:
    doc = {
        "lines": result.lines,
        "accepted": result.accepted,
        "duplicates": result.duplicates,
        "pending": result.pending,
        "rejected": [{"line": n, "reason": r} for n, r in result.rejected],
    }
    lines = [f"line {n}: rejected: {r}" for n, r in result.rejected]
    lines.append(
        f"{verb}: {result.accepted} accepted, {result.duplicates} already held, "
        f"{len(result.rejected)} rejected, {result.pending} waiting for dependencies"
    )
    emit(args, doc, "\n".join(lines))
    return 1 if result.rejected else 0


def _import(args: argparse.Namespace) -> int:
    from app.services import ledger_io
    from ledger.ledger import FAST_SWITCH_INTERVAL

    # A command-line import owns its process (no GUI thread to starve): let verifier threads
    # take the GIL back quickly, which makes a large import faster.
    with _open(args, switch_interval=FAST_SWITCH_INTERVAL) as ledger:
        return _print_result(args, ledger_io.import_stream(ledger, _stream(args.file)), "import")


def _verify(args: argparse.Namespace) -> int:
    from app.services import ledger_io

    if args.file is not None:
        return _print_result(args, ledger_io.verify_file(_stream(args.file)), "verify")
    with _open(args) as ledger:
        problems = ledger_io.verify_store(ledger)
        emit(
            args,
            {"entries": ledger.count(), "problems": problems},
            "\n".join(problems) or f"ok: {ledger.count()} entries verified",
        )
        return 1 if problems else 0


def _state(args: argparse.Namespace) -> int:
    with _open(args) as ledger:
        state = ledger.state
        balances: list[dict[str, Any]] = []
        for (account, asset_id), amount in sorted(state.balances.items()):
            if not amount:
                continue
            asset = state.assets[asset_id]
            balances.append(
                {
                    "account": account.hex(),
                    "peer_id": peer_id(account),
                    "asset": asset_id.hex(),
                    "symbol": asset.symbol,
                    "amount": amount,
                    "display": format_amount(amount, asset.precision, asset.symbol),
                }
            )
        doc: dict[str, Any] = {
            "state_hash": ledger.state_hash().hex(),
            "entries": ledger.count(),
            "pending": ledger.pending_count(),
            "forks": [{"author": p.author.hex(), "seq": p.seq} for p in ledger.fork_proofs()],
            "balances": balances,
        }
        text = [f"state hash  {doc['state_hash']}", f"entries     {ledger.count()}"]
        text += [f"{b['peer_id'][-8:]}  {b['display']}" for b in balances]
        text += [f"FORK: {f['author'][:12]} equivocated at seq {f['seq']}" for f in doc["forks"]]
        emit(args, doc, "\n".join(text))
    return 0


def register(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    led = sub.add_parser("ledger", parents=[common], help="export, import, verify, state")
    lsub = led.add_subparsers(dest="ledger_command", metavar="ACTION", required=True)
    p = lsub.add_parser("export", parents=[common], help="write every entry as JSON lines")
    p.add_argument("--out", type=Path, default=None, help="file (default: standard output)")
    p.set_defaults(handler=_export)
    p = lsub.add_parser("import", parents=[common], help="ingest JSON lines (file or -)")
    p.add_argument("file", type=Path, nargs="?", default=None)
    add_json_flag(p)
    p.set_defaults(handler=_import)
    p = lsub.add_parser(
        "verify", parents=[common], help="re-verify the local ledger, or check a JSON-lines file"
    )
    p.add_argument("file", type=Path, nargs="?", default=None)
    add_json_flag(p)
    p.set_defaults(handler=_verify)
    p = lsub.add_parser("state", parents=[common], help="state hash, balances, forks")
    add_json_flag(p)
    p.set_defaults(handler=_state)
