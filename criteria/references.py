"""The reference data criteria name by code, resolved to ids (loaded by ``gates.metrics.load_references``)."""

from dataclasses import dataclass, field
from typing import Any


@dataclass
class References:
    """Codes resolved to ids once per evaluation (codes are what criteria are written in)."""

    product_lines: dict[str, int] = field(default_factory=dict)
    certification_types: dict[str, int] = field(default_factory=dict)
    certification_tracks: dict[str, list[int]] = field(default_factory=dict)
    advanced_certifications: list[int] = field(default_factory=list)
    # Months a certification of each type stays valid (None: no expiry).
    certification_validity: dict[int, int | None] = field(default_factory=dict)
    activity_types: dict[str, int] = field(default_factory=dict)
    offerings: dict[str, int] = field(default_factory=dict)
    programs: dict[str, int] = field(default_factory=dict)
    customer_segments: dict[str, int] = field(default_factory=dict)
    tier_names: dict[tuple[int, int], str] = field(default_factory=dict)
    courses: dict[str, int] = field(default_factory=dict)
    # The courses of each product line, by the product line's code.
    product_line_courses: dict[str, list[int]] = field(default_factory=dict)

    def signature_parts(self) -> dict[str, Any]:
        """What the references mean to a decision, for the definitions' signature (names are left out)."""
        return {
            "product_lines": self.product_lines,
            "certification_types": self.certification_types,
            "certification_tracks": {track: sorted(ids) for track, ids in self.certification_tracks.items()},
            "advanced_certifications": sorted(self.advanced_certifications),
            "certification_validity": {str(k): v for k, v in self.certification_validity.items()},
            "activity_types": self.activity_types,
            "offerings": self.offerings,
            "programs": self.programs,
            "customer_segments": self.customer_segments,
            "courses": self.courses,
            "product_line_courses": {code: sorted(ids) for code, ids in self.product_line_courses.items()},
        }
