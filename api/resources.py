"""The resources of the API, which an integration token's resource scopes name.

A token's coarse scope (read, or read and write) is often too blunt: a learning system
that pushes certifications needs to write facts and nothing else. A token may therefore
carry *resource scopes* such as ``facts:write`` or ``gates:read``. With some set, a call
needs ``<resource>:read`` or ``<resource>:write`` to read the endpoint's resource and
``<resource>:write`` to change it; with none set, the coarse scope alone decides, as it
always has. Resource scopes narrow a token, never widen it: a write scope needs a
read-write token, and the token still sees no more than its issuer.

This module is the one registry: the model validates the scopes against it, every API
viewset names its resource with a ``resource`` attribute, the permission (``api.permissions``)
checks it, the admin offers its scopes and the OpenAPI document lists them.
"""

from collections.abc import Iterable
from dataclasses import dataclass

from django.core.exceptions import ValidationError

READ = "read"
WRITE = "write"


@dataclass(frozen=True)
class Resource:
    name: str
    description: str
    writable: bool = True

    @property
    def scopes(self) -> tuple[str, ...]:
        return (f"{self.name}:{READ}", f"{self.name}:{WRITE}") if self.writable else (f"{self.name}:{READ}",)


RESOURCES: dict[str, Resource] = {
    resource.name: resource
    for resource in (
        Resource("partners", "Partners, their people, proficiencies, programs and standing."),
        Resource("facts", "Certifications, sales, activities and xAPI statements."),
        Resource("reference", "Reference codes (certification types, product lines…) and exchange rates."),
        Resource("definitions", "Programs, tiers, benefits and segments."),
        Resource(
            "gates",
            "Gates, gate statuses and forecasts, tiers reached, segment memberships, benefit grants "
            "and evaluations.",
        ),
        Resource("deals", "Deal registrations and MDF requests."),
        Resource("incentives", "Incentive rules, statements, ledger entries and customer activations."),
        Resource("webhooks", "Webhook subscriptions and their deliveries."),
        Resource("analytics", "The gate funnel and tier movements.", writable=False),
    )
}

SCOPES: tuple[str, ...] = tuple(scope for resource in RESOURCES.values() for scope in resource.scopes)
MAX_SCOPES = len(SCOPES)


class Undeclared:
    """The ``resource`` of a view that has not named one: a token with resource scopes is refused."""

    def __repr__(self) -> str:
        return "UNDECLARED"


UNDECLARED = Undeclared()


def needed_scope(resource: str, *, write: bool) -> str:
    return f"{resource}:{WRITE if write else READ}"


def scopes_allow(scopes: Iterable[str], resource: str, *, write: bool) -> bool:
    """Whether ``scopes`` let a call read (or, with ``write``, change) ``resource``: a write
    scope includes reading."""
    held = set(scopes)
    if write:
        return needed_scope(resource, write=True) in held
    return bool(held & {needed_scope(resource, write=False), needed_scope(resource, write=True)})


def has_write_scope(scopes: Iterable[str]) -> bool:
    return any(scope.endswith(f":{WRITE}") for scope in scopes)


def validate_resource_scopes(value) -> None:
    """A list of distinct scopes of the registry."""
    if not isinstance(value, list) or not all(isinstance(scope, str) for scope in value):
        raise ValidationError("Give a list of scopes such as “facts:write”.", code="invalid")
    unknown = [scope for scope in value if scope not in SCOPES]
    if unknown:
        raise ValidationError(
            "Unknown scope(s): %(unknown)s. The scopes are: %(known)s.",
            code="invalid_choice",
            params={"unknown": ", ".join(unknown), "known": ", ".join(SCOPES)},
        )
    if len(set(value)) != len(value):
        raise ValidationError("Name each scope once.", code="invalid")


def scopes_description() -> str:
    """The scopes as the OpenAPI document lists them (Markdown)."""
    lines = [f"- `{'`, `'.join(resource.scopes)}`: {resource.description}" for resource in RESOURCES.values()]
    return "\n".join(lines)
