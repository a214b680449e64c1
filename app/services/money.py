"""Amounts are integers in an asset's smallest unit; people read and type decimals."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

from app.services.errors import UserError


def parse_amount(text: str | int, precision: int) -> int:
    """``"9.99"`` with precision 2 -> 999. Refuses negatives and too many decimals."""
    if isinstance(text, int):
        return text
    try:
        value = Decimal(str(text).strip())
    except InvalidOperation as exc:
        raise UserError(f"{text!r} is not an amount") from exc
    if not value.is_finite() or value < 0:
        raise UserError(f"{text!r} is not a positive amount")
    units = value * (Decimal(10) ** precision)
    if units != units.to_integral_value():
        raise UserError(f"{text!r} has more than {precision} decimals")
    return int(units)


def format_amount(units: int, precision: int, symbol: str = "") -> str:
    sign = "-" if units < 0 else ""
    units = abs(units)
    whole, frac = divmod(units, 10**precision) if precision else (units, 0)
    text = f"{sign}{whole:,}" + (f".{frac:0{precision}d}" if precision else "")
    return f"{text} {symbol}".strip()
