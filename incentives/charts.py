"""Charts drawn on the server as inline SVG: no script, no external asset, readable without colour.

Each chart carries a title and a description listing its figures for screen
readers, and a tooltip (``<title>``) on every bar.
"""

from decimal import Decimal

from django.utils.html import format_html
from django.utils.safestring import SafeString, mark_safe

from incentives.engine import round_amount


def _figure(amount: Decimal, currency: str) -> str:
    rounded = round_amount(amount, currency)
    return f"{rounded:,f} {currency}"


def _short(amount: Decimal) -> str:
    value = abs(amount)
    sign = "-" if amount < 0 else ""
    for limit, suffix in ((Decimal(1_000_000), "M"), (Decimal(1_000), "k")):
        if value >= limit:
            return f"{sign}{(value / limit).quantize(Decimal('0.1')).normalize():f}{suffix}"
    return f"{sign}{value.quantize(Decimal(1)):f}"


def bar_chart(
    bars: list[tuple[str, Decimal]],
    *,
    currency: str,
    title: str,
    chart_id: str,
    budget: Decimal | None = None,
    width: int = 640,
    height: int = 220,
) -> SafeString:
    """Vertical bars for ``(label, amount)`` pairs, with a zero line and an optional dashed budget line."""
    left, right, top, bottom = 56, 8, 12, 28
    plot_width, plot_height = width - left - right, height - top - bottom
    values = [amount for _, amount in bars] + ([budget] if budget is not None else [])
    highest = max([Decimal(0), *values])
    lowest = min([Decimal(0), *values])
    span = (highest - lowest) or Decimal(1)

    def y(amount: Decimal) -> float:
        return round(float(top + (highest - amount) / span * plot_height), 1)

    slot = plot_width / max(len(bars), 1)
    bar_width = round(max(slot * 0.7, 1), 1)
    zero = y(Decimal(0))
    parts = [
        format_html(
            '<svg class="chart" viewBox="0 0 {} {}" width="100%" role="img" aria-labelledby="{}-title {}-desc" '
            'xmlns="http://www.w3.org/2000/svg">',
            width,
            height,
            chart_id,
            chart_id,
        ),
        format_html('<title id="{}-title">{}</title>', chart_id, title),
        format_html(
            '<desc id="{}-desc">{}</desc>',
            chart_id,
            "; ".join(f"{label}: {_figure(amount, currency)}" for label, amount in bars)
            + (f"; budget {_figure(budget, currency)}" if budget is not None else ""),
        ),
        format_html(
            '<line x1="{}" y1="{}" x2="{}" y2="{}" class="chart-axis" stroke="#5b6675" stroke-width="1"/>',
            left,
            zero,
            width - right,
            zero,
        ),
        format_html(
            '<text x="{}" y="{}" text-anchor="end" font-size="11" fill="#5b6675">{}</text>',
            left - 6,
            round(y(highest) + 4, 1),
            _short(highest),
        ),
        format_html(
            '<text x="{}" y="{}" text-anchor="end" font-size="11" fill="#5b6675">0</text>',
            left - 6,
            round(zero + 4, 1),
        ),
    ]
    if lowest < 0:
        parts.append(
            format_html(
                '<text x="{}" y="{}" text-anchor="end" font-size="11" fill="#5b6675">{}</text>',
                left - 6,
                round(y(lowest) + 4, 1),
                _short(lowest),
            )
        )
    for index, (label, amount) in enumerate(bars):
        x = round(left + index * slot + (slot - bar_width) / 2, 1)
        top_y, bottom_y = (y(amount), zero) if amount >= 0 else (zero, y(amount))
        css = "chart-bar" if amount >= 0 else "chart-bar negative"
        fill = "#0b5cad" if amount >= 0 else "#a31d1d"
        parts.append(
            format_html(
                '<rect class="{}" x="{}" y="{}" width="{}" height="{}" fill="{}">'
                "<title>{}: {}</title></rect>",
                css,
                x,
                top_y,
                bar_width,
                round(max(bottom_y - top_y, 0.5 if amount else 0), 1),
                fill,
                label,
                _figure(amount, currency),
            )
        )
        parts.append(
            format_html(
                '<text x="{}" y="{}" text-anchor="middle" font-size="11" fill="#1b2430">{}</text>',
                round(x + bar_width / 2, 1),
                height - 10,
                label,
            )
        )
    if budget is not None:
        parts.append(
            format_html(
                '<line class="chart-budget" x1="{}" y1="{}" x2="{}" y2="{}" stroke="#8a5a00" '
                'stroke-width="2" stroke-dasharray="6 4"><title>Budget: {}</title></line>',
                left,
                y(budget),
                width - right,
                y(budget),
                _figure(budget, currency),
            )
        )
    parts.append(mark_safe("</svg>"))
    return mark_safe("".join(str(part) for part in parts))  # noqa: S308 - every part is built by format_html
