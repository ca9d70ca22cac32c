"""Money as integer minor units plus an ISO 4217 code, and its display."""

from decimal import Decimal

# Currencies Stripe charges in whole units (no minor unit), from
# https://docs.stripe.com/currencies#zero-decimal
ZERO_DECIMAL_CURRENCIES = frozenset(
    "bif clp djf gnf jpy kmf krw mga pyg rwf ugx vnd vuv xaf xof xpf".split()
)

SYMBOLS = {"gbp": "£", "usd": "$", "eur": "€", "jpy": "¥"}


def minor_unit_exponent(currency):
    return 0 if currency.lower() in ZERO_DECIMAL_CURRENCIES else 2


def major_units(amount, currency):
    """Return minor units as a plain decimal string of major units: 9900 gbp is "99.00", 50000 jpy is "50000"."""
    exponent = minor_unit_exponent(currency)
    return f"{Decimal(amount).scaleb(-exponent):.{exponent}f}"


def format_amount(amount, currency):
    """Format minor units for people: 9900 gbp is £99.00, 50000 jpy is ¥50,000."""
    if amount is None or not currency:
        return "—"

    code = currency.lower()
    exponent = minor_unit_exponent(code)
    major = Decimal(amount).scaleb(-exponent)
    number = f"{major:,.{exponent}f}"

    symbol = SYMBOLS.get(code)
    return f"{symbol}{number}" if symbol else f"{number} {code.upper()}"
