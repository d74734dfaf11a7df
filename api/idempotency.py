"""``Idempotency-Key``: a POST sent twice acts once.

A client that does not know whether its POST arrived (a timeout, a dropped connection) sends
it again with the same ``Idempotency-Key`` header. The first request claims the key for its
caller (the token, or the signed-in user); its answer is stored with the key, and the same
request sent again gets that answer back, marked ``Idempotent-Replayed: true``, without acting
a second time. The key sent with another body, or to another path, answers 422: the client
has a bug, and guessing which request it meant would be worse. Bodies are compared by meaning:
JSON aside from key order and spacing, a form (an MDF claim's upload) by its fields and files
aside from the boundary between its parts. While the first request is
still being answered, a second one answers 409 and may be retried.

A view may keep another body than the one it sent (``response.replay_data``): the answer to
issuing a token keeps its secret out of the store, so its replay carries none.

Answers that say the request was done (2xx) or could never be done as sent (400) are kept;
the others (a 403, a 409 conflict, a 429, a failure) release the key, so that the same request
may succeed later. Keys are purged after ``PRM_IDEMPOTENCY_KEY_HOURS`` (24 by default).

Keys are not partner-scoped data: every read is by the caller's own owner and key (or by the
id of the claim the request itself made), so they do not pass the one door.

The approach is the one of Stripe's API and of the IETF draft
``draft-ietf-httpapi-idempotency-key-header``.
"""

import hashlib
import json
import re
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.core.exceptions import SuspiciousOperation
from django.db import IntegrityError, transaction
from django.http import HttpResponse
from django.http.multipartparser import MultiPartParserError
from django.http.request import UnreadablePostError
from django.utils import timezone
from rest_framework import status
from rest_framework.exceptions import APIException, ValidationError
from rest_framework.renderers import JSONRenderer

from api.models import IdempotencyKey
from api.scoping import request_token

HEADER = "Idempotency-Key"
REPLAYED_HEADER = "Idempotent-Replayed"
KEY_PATTERN = r"^[!-~]{1,255}$"
_KEY = re.compile(KEY_PATTERN)


class KeyReused(APIException):
    status_code = status.HTTP_422_UNPROCESSABLE_ENTITY
    default_detail = "This Idempotency-Key was used with another request: send a new key for a new request."
    default_code = "idempotency_key_reused"


class KeyInProgress(APIException):
    status_code = status.HTTP_409_CONFLICT
    default_detail = "A request with this Idempotency-Key is still being answered: retry in a moment."
    default_code = "idempotency_key_in_progress"


@dataclass
class Replay(Exception):
    """The stored answer to send again instead of acting."""

    stored: IdempotencyKey


def owner_of(request) -> str | None:
    token = request_token(request)
    if token is not None:
        return f"token:{token.pk}"
    user = getattr(request, "user", None)
    if user is not None and user.is_authenticated:
        return f"user:{user.pk}"
    return None


FORM_TYPES = ("multipart/form-data", "application/x-www-form-urlencoded")


def fingerprint(request) -> str:
    """The body's digest: JSON by its meaning (key order and spacing aside), a form by its fields
    and files, anything else by bytes."""
    if getattr(request, "content_type", "").split(";")[0].strip().lower() in FORM_TYPES:
        return _form_fingerprint(getattr(request, "_request", request))
    body = request.body
    try:
        canonical = json.dumps(json.loads(body), sort_keys=True, separators=(",", ":")).encode()
    except (ValueError, UnicodeDecodeError):
        canonical = body
    return hashlib.sha256(canonical).hexdigest()


def _form_fingerprint(request) -> str:
    """A form's digest by its fields and its files' names and contents.

    Its bytes cannot be the measure: a multipart body has been read as fields and files before
    any view runs (``prm.middleware`` checks every field), and a client sending it again draws a
    new boundary between the parts. A body that cannot be read digests as empty; the view
    answers it as malformed.
    """
    digest = hashlib.sha256()
    try:
        fields, files = request.POST, request.FILES
    except (SuspiciousOperation, MultiPartParserError, UnreadablePostError):
        return digest.hexdigest()
    parts = {
        "fields": sorted((name, values) for name, values in fields.lists()),
        "files": sorted(
            (name, [[upload.name or "", _file_digest(upload)] for upload in uploads])
            for name, uploads in files.lists()
        ),
    }
    digest.update(json.dumps(parts, separators=(",", ":")).encode())
    return digest.hexdigest()


def _file_digest(upload) -> str:
    digest = hashlib.sha256()
    upload.seek(0)
    for chunk in upload.chunks():
        digest.update(chunk)
    upload.seek(0)  # the view reads it again
    return digest.hexdigest()


def _key(request) -> str | None:
    key = request.headers.get(HEADER)
    if key is None:
        return None
    if not _KEY.match(key):
        raise ValidationError(
            {HEADER: ["A key is 1 to 255 printable ASCII characters without spaces, e.g. a UUID."]}
        )
    return key


def begin(request) -> IdempotencyKey | None:
    """Claim the request's key, or raise: ``Replay`` with the stored answer, ``KeyReused`` or
    ``KeyInProgress``. None when the request is not a POST or carries no key."""
    if request.method != "POST":
        return None
    key = _key(request)
    owner = owner_of(request)
    if key is None or owner is None:
        return None
    expired_before = timezone.now() - timedelta(hours=settings.PRM_IDEMPOTENCY_KEY_HOURS)
    IdempotencyKey.objects.filter(owner=owner, key=key, created_at__lt=expired_before).delete()
    digest = fingerprint(request)
    try:
        with transaction.atomic():
            return IdempotencyKey.objects.create(
                owner=owner,
                key=key,
                user=request.user,
                method=request.method,
                path=request.path[:2000],
                fingerprint=digest,
            )
    except IntegrityError:
        stored = IdempotencyKey.objects.filter(owner=owner, key=key).first()
        if stored is None:  # released between the two statements
            raise KeyInProgress() from None
    if stored.path != request.path[:2000] or stored.method != request.method or stored.fingerprint != digest:
        raise KeyReused()
    if stored.status_code is None:
        raise KeyInProgress()
    raise Replay(stored)


def _kept(status_code: int) -> bool:
    return 200 <= status_code < 300 or status_code == status.HTTP_400_BAD_REQUEST


def finish(claim: IdempotencyKey, response) -> None:
    """Store the answer with the key, or release the key if the answer is not one to replay."""
    if not _kept(response.status_code):
        release(claim)
        return
    if hasattr(response, "render") and not getattr(response, "is_rendered", True):
        response.render()
    content, content_type = bytes(response.content), response.get("Content-Type", "")
    replay_data = getattr(response, "replay_data", None)
    if replay_data is not None:
        content, content_type = JSONRenderer().render(replay_data), "application/json"
    IdempotencyKey.objects.filter(pk=claim.pk).update(
        status_code=response.status_code,
        content=content,
        content_type=content_type,
        location=response.get("Location", "")[:2000],
    )


def release(claim: IdempotencyKey) -> None:
    IdempotencyKey.objects.filter(pk=claim.pk, status_code__isnull=True).delete()


def replayed(stored: IdempotencyKey) -> HttpResponse:
    response = HttpResponse(
        bytes(stored.content), status=stored.status_code, content_type=stored.content_type
    )
    if stored.location:
        response["Location"] = stored.location
    response[REPLAYED_HEADER] = "true"
    return response


def purge(*, now=None) -> int:
    """Forget the keys older than ``PRM_IDEMPOTENCY_KEY_HOURS``; the number forgotten."""
    now = now or timezone.now()
    cutoff = now - timedelta(hours=settings.PRM_IDEMPOTENCY_KEY_HOURS)
    deleted, _ = IdempotencyKey.objects.filter(created_at__lt=cutoff).delete()
    return deleted
