"""Between two days, a sum over dated facts moves only by the facts that leave or enter its window.

The forecast measures again on every day a fact leaves a rolling window or a
calendar window turns. For sales and activities, whose measures are sums (of
amounts, of points, of ones), it need not read a whole window again on each
of those days. One query reads, per partner and fact day, the sums of the
facts that leave or enter some window within the horizon; a day's measure is
then today's, less what has left, plus what has entered:

    facts in [start(d), end(d)] = facts in [start(t), end(t)]
                                  - facts in [start(t), start(d))
                                  + facts in (end(t), end(d)]

which holds for every window because its bounds never move backwards as the
day moves forward. A window that starts after today's window ends (a quarter
to date once the quarter turned) is made of entered facts alone, so the facts
of a whole calendar period are never read to be subtracted. The sums are kept raw (unrounded) and read once, as the
evaluation reads its own, so a forecast value equals the evaluation's on
that day to the cent.
"""

import bisect
import datetime
from dataclasses import dataclass, field, replace
from typing import Any

from django.db import connection

from core.money import to_decimal
from criteria.tree import Criteria
from criteria.windows import Window
from gates.engine import Measurer, _param, _SourcePlan
from gates.metrics import METRICS, measure_key

# The sources whose every measure is a sum over rows dated by one column.
ADDITIVE_SOURCES = ("sales", "activities")
ONE_DAY = datetime.timedelta(days=1)
# Reading a whole id range beats naming the partners once they are this share of it.
WHOLE_RANGE_SHARE = 0.5


@dataclass
class _Moves:
    """The facts of one partner and one measure that leave (or enter) its window, by fact day."""

    days: list[datetime.date] = field(default_factory=list)
    totals: list[Any] = field(default_factory=list)  # running sums, in day order

    def up_to(self, day: datetime.date, *, inclusive: bool) -> Any:
        """The sum of the facts dated before ``day`` (through it when ``inclusive``)."""
        found = (bisect.bisect_right if inclusive else bisect.bisect_left)(self.days, day)
        return self.totals[found - 1] if found else 0


@dataclass
class _Measure:
    position: int  # in a partner's list of measures
    window: Window
    money: bool
    read: Any
    start_today: datetime.date | None
    end_today: datetime.date
    leaving: tuple[datetime.date, datetime.date] | None
    entering: tuple[datetime.date, datetime.date] | None


class WindowMoves:
    """Today's raw sums of one additive source, and how they move day by day until ``until``."""

    def __init__(
        self,
        measurer: Measurer,
        source: str,
        trees: list[Criteria],
        *,
        until: datetime.date,
        partner_ids: list[int],
        raw_today: dict[int, tuple],
    ):
        assert source in ADDITIVE_SOURCES
        today = measurer.as_of
        plan = measurer.sources[source]
        leaves = {measurer.index[measure_key(leaf)]: leaf for tree in trees for leaf in tree.leaves}
        self.raw_today = raw_today
        self.measures: list[_Measure] = []
        band_columns = []
        for position, column in zip(plan.indices, plan.columns, strict=True):
            leaf = leaves[position]
            window = leaf.params.get("window") or Window()
            start_today, end_today = window.bounds(today)
            end_then = window.bounds(until)[1]
            # The facts that leave while the window still overlaps today's: a window that starts
            # after today's end (a quarter to date that turned) holds only facts that entered.
            overlapping = [
                start
                for start in {
                    window.bounds(today + ONE_DAY * n)[0] for n in range(1, (until - today).days + 1)
                }
                if start is not None and start <= end_today + ONE_DAY
            ]
            last_leaving = max(overlapping, default=None)
            leaving = (
                (start_today, last_leaving - ONE_DAY)
                if start_today is not None and last_leaving is not None and last_leaving > start_today
                else None
            )
            entering = (end_today + ONE_DAY, end_then) if end_then > end_today else None
            self.measures.append(
                _Measure(
                    position,
                    window,
                    column.target_currency is not None,
                    column.read,
                    start_today,
                    end_today,
                    leaving,
                    entering,
                )
            )
            # The same measure over every day: its window is the spans this query reads.
            metric_column = METRICS[leaf.metric].column
            assert metric_column is not None  # a fact table's metric
            band_columns.append(
                metric_column(replace(leaf, params={**leaf.params, "window": Window()}), measurer.refs, until)
            )
        spans = _merged([span for m in self.measures for span in (m.leaving, m.entering) if span])
        self.moves: dict[int, list[tuple[_Moves, _Moves]]] = {}
        self._bounds: dict[datetime.date, list[tuple[datetime.date | None, datetime.date]]] = {}
        if not spans or not partner_ids:
            return
        band_plan = _SourcePlan(list(plan.indices), band_columns, earliest=spans[0][0])
        reader = Measurer([], as_of=until, references=measurer.refs)
        only = named_or_range(partner_ids)
        sql, params = reader._source_sql(
            source, band_plan, partner_ids[0], partner_ids[-1], only, by_day=spans
        )
        with connection.cursor() as cursor:
            cursor.execute(sql, [_param(p) for p in params])
            rows = cursor.fetchall()
        rows.sort(key=lambda row: (row[0], _date(row[1])))
        spans_of = [(index, m.leaving, m.entering, m.money) for index, m in enumerate(self.measures)]
        for partner_id, day, *sums in rows:
            moves = self.moves.get(partner_id)
            if moves is None:
                moves = self.moves[partner_id] = [(_Moves(), _Moves()) for _ in self.measures]
            day = _date(day)
            for index, leaving_span, entering_span, money in spans_of:
                amount = sums[index]
                if not amount:
                    continue
                if money:
                    amount = to_decimal(amount)
                for found, span in ((moves[index][0], leaving_span), (moves[index][1], entering_span)):
                    if span is not None and span[0] <= day <= span[1]:
                        found.days.append(day)
                        found.totals.append(found.totals[-1] + amount if found.totals else amount)

    @staticmethod
    def _number(measure: _Measure, raw: Any) -> Any:
        if measure.money:
            return to_decimal(raw)
        return raw or 0

    def apply(self, partner_ids: list[int], current: dict[int, list[Any]], day: datetime.date) -> None:
        """Bring these partners' measures of this source to ``day`` (no query)."""
        bounds = self._bounds.get(day)
        if bounds is None:
            bounds = self._bounds[day] = [measure.window.bounds(day) for measure in self.measures]
        for partner_id in partner_ids:
            raw = self.raw_today.get(partner_id)
            moves = self.moves.get(partner_id)
            values = current[partner_id]
            for index, measure in enumerate(self.measures):
                start, end = bounds[index]
                if start is not None and start > measure.end_today:
                    # The window no longer overlaps today's: it holds only facts that entered.
                    value = self._number(measure, None)
                    if moves is not None and moves[index][1].days:
                        entering = moves[index][1]
                        value += entering.up_to(end, inclusive=True) - entering.up_to(start, inclusive=False)
                    values[measure.position] = measure.read(value)
                    continue
                value = self._number(measure, raw[index] if raw is not None else None)
                if moves is not None:
                    leaving, entering = moves[index]
                    if start is not None and leaving.days:
                        value -= leaving.up_to(start, inclusive=False)
                    if entering.days:
                        value += entering.up_to(end, inclusive=True)
                values[measure.position] = measure.read(value)


def _merged(spans: list[tuple[datetime.date, datetime.date]]) -> list[tuple[datetime.date, datetime.date]]:
    merged: list[tuple[datetime.date, datetime.date]] = []
    for first, last in sorted(spans):
        if merged and first <= merged[-1][1] + ONE_DAY:
            merged[-1] = (merged[-1][0], max(last, merged[-1][1]))
        else:
            merged.append((first, last))
    return merged


def named_or_range(partner_ids: list[int]) -> list[int] | None:
    """The ids to name in a measuring query, or None when reading their whole id range is cheaper."""
    span = partner_ids[-1] - partner_ids[0] + 1
    return None if len(partner_ids) >= WHOLE_RANGE_SHARE * span else partner_ids


def _date(value: Any) -> datetime.date:
    return value if isinstance(value, datetime.date) else datetime.date.fromisoformat(value)
