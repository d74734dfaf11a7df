"""Optimistic concurrency: ``ETag`` on detail responses, ``If-Match`` on writes.

The tag is a digest of the object's representation as the caller sees it, so it changes
whenever anything the caller could have read changes, whoever changed it (the API, the admin,
a nightly evaluation). A client sends the tag it read back as ``If-Match`` on PUT, PATCH or
DELETE; if the object has changed since, the write answers 412 and changes nothing, and the
client reads again. ``If-None-Match`` on a GET answers 304 when the client's copy is current.
"""

import hashlib
import json

from rest_framework import status
from rest_framework.exceptions import APIException
from rest_framework.utils.encoders import JSONEncoder


class PreconditionFailed(APIException):
    status_code = status.HTTP_412_PRECONDITION_FAILED
    default_detail = (
        "The object has changed since the ETag you sent in If-Match: read it again and retry your change."
    )
    default_code = "precondition_failed"


def etag(data) -> str:
    """The strong entity tag of a representation, quoted as the header carries it."""
    canonical = json.dumps(data, cls=JSONEncoder, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return '"' + hashlib.sha256(canonical.encode("utf-8")).hexdigest()[:32] + '"'


def _tags(header: str) -> list[str]:
    return [tag.strip().removeprefix("W/") for tag in header.split(",") if tag.strip()]


def matches(header: str | None, current: str) -> bool:
    """Whether an ``If-Match`` / ``If-None-Match`` value names the current tag (``*`` names any)."""
    if header is None:
        return False
    tags = _tags(header)
    return "*" in tags or current in tags
