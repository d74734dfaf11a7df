"""Engagement activities (events, trainings attended), with points."""

from collections.abc import Callable
from typing import Any

from partners.ingestion.parsing import MAX_POINTS, _date, _id, _RowError, _text
from partners.ingestion.pipeline import _Ingestion
from partners.models import (
    ActivityType,
    EngagementActivity,
)


class ActivitiesIngestion(_Ingestion):
    kind = "activities"
    model = EngagementActivity
    fields = frozenset({"external_id", "partner", "activity_type", "points", "occurred_on", "description"})
    compared = ("partner_id", "activity_type_id", "points", "occurred_on", "description")

    def parsers(self) -> dict[str, Callable[[dict], Any]]:
        def points(r):
            value = r.get("points")
            if value is None:
                return None
            if not isinstance(value, int) or isinstance(value, bool):
                raise _RowError("points", "Expected a whole number of points.")
            if not 0 <= value <= MAX_POINTS:
                raise _RowError("points", f"Points lie between 0 and {MAX_POINTS:,}.")
            return value

        return {
            "partner": lambda r: _id(r, "partner"),
            "activity_type": lambda r: _text(r, "activity_type", max_length=50, required=True),
            "points": points,
            "occurred_on": lambda r: _date(r, "occurred_on", latest=self.latest),
            "description": lambda r: _text(r, "description", max_length=300),
        }

    def load_references(self, rows, partner_regions) -> None:
        codes = {row.clean["activity_type"] for row in rows}
        self.types = {
            code: (type_id, points)
            for code, type_id, points in ActivityType.objects.filter(code__in=codes).values_list(
                "code", "id", "default_points"
            )
        }

    def resolve(self, row, partner_regions) -> None:
        clean = row.clean
        found = self.types.get(clean["activity_type"])
        if found is None:
            row.reject("activity_type", f"No activity type has the code {clean['activity_type']!r}.")
            return
        type_id, default_points = found
        row.values = {
            "partner_id": clean["partner"],
            "activity_type_id": type_id,
            "points": default_points if clean["points"] is None else clean["points"],
            "occurred_on": clean["occurred_on"],
            "description": clean["description"],
        }


# --- certifications --------------------------------------------------------------------------------
