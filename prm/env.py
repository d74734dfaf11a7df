"""Strict readers for settings that come from the environment.

A value that cannot be understood raises at start-up instead of silently
falling back to a default: a typo in ``DEBUG=flase`` must not run production
in debug mode.
"""

import os
import re
from pathlib import Path

from django.core.exceptions import ImproperlyConfigured


def env_str(name: str, default: str = "") -> str:
    """Read ``NAME``, or the contents of the file named by ``NAME_FILE`` (for secrets)."""
    file_path = os.environ.get(f"{name}_FILE")
    if file_path:
        try:
            return Path(file_path).read_text().strip()
        except OSError as exc:
            raise ImproperlyConfigured(f"{name}_FILE points at {file_path!r}: {exc}") from exc
    return os.environ.get(name, default)


def env_bool(name: str, default: bool) -> bool:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    if raw in ("True", "true", "1", "yes", "on"):
        return True
    if raw in ("False", "false", "0", "no", "off"):
        return False
    raise ImproperlyConfigured(f"{name} must be True or False, not {raw!r}")


def env_int(name: str, default: int, *, minimum: int | None = None) -> int:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError as exc:
        raise ImproperlyConfigured(f"{name} must be an integer, not {raw!r}") from exc
    if minimum is not None and value < minimum:
        raise ImproperlyConfigured(f"{name} must be at least {minimum}, not {value}")
    return value


RATE_UNITS = {
    **dict.fromkeys(("s", "sec", "second"), 1),
    **dict.fromkeys(("m", "min", "minute"), 60),
    **dict.fromkeys(("h", "hour"), 3600),
    **dict.fromkeys(("d", "day"), 86400),
}


def parse_rate(text: str) -> tuple[int, int]:
    """``"10/min"`` as (10, 60): a number of events per second, minute, hour or day."""
    count, _, unit = text.strip().partition("/")
    if not count.isdigit() or int(count) < 1 or unit not in RATE_UNITS:
        raise ValueError(f"expected a rate such as 10/min (units: s, min, hour, day), not {text!r}")
    return int(count), RATE_UNITS[unit]


def env_rate(name: str, default: str) -> tuple[int, int]:
    """A rate such as ``10/min`` or ``3/hour``, as (events, seconds)."""
    raw = os.environ.get(name) or default
    try:
        return parse_rate(raw)
    except ValueError as exc:
        raise ImproperlyConfigured(f"{name}: {exc}") from exc


def env_list(name: str, default: list[str]) -> list[str]:
    raw = os.environ.get(name)
    if raw is None:
        return default
    return [item.strip() for item in raw.split(",") if item.strip()]


_HEADER_NAME = re.compile(r"^[A-Za-z0-9]+(-[A-Za-z0-9]+)*$")


def env_header(name: str, value: str) -> tuple[str, str] | None:
    """A request header named in ``NAME`` (``X-Forwarded-Proto``), as Django's META key and ``value``.

    Unset or empty means no header; anything but a header name is refused.
    """
    raw = os.environ.get(name, "").strip()
    if not raw:
        return None
    if not _HEADER_NAME.match(raw):
        raise ImproperlyConfigured(f"{name} must name a header such as X-Forwarded-Proto, not {raw!r}")
    return ("HTTP_" + raw.upper().replace("-", "_"), value)
