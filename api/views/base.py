"""The base of every API view: one door to the data, permissions, throttles first.

Viewsets say what they show with ``scoped_queryset()``, which must start from
a ``visible_to(self.principal)`` queryset (the token, or the user); overriding
``get_queryset`` is refused at class creation so that no view can forget the
scoping (the rule PostHog's routing enforces the same way).
"""

from typing import TYPE_CHECKING

from django.db import transaction
from django.http import Http404
from django_filters.rest_framework import DjangoFilterBackend
from rest_framework import mixins, viewsets
from rest_framework.exceptions import ValidationError
from rest_framework.filters import OrderingFilter
from rest_framework.settings import api_settings

from api import idempotency
from api.conditional import PreconditionFailed, etag, matches
from api.filtering import StrictFilterBackend
from api.pagination import FactCursorPagination, PagePagination
from api.permissions import ApiAccess
from api.resources import UNDECLARED, Undeclared
from api.scoping import request_principal
from prm.ids import has_integer_key, object_or_404, parse_id

if TYPE_CHECKING:
    from rest_framework.generics import GenericAPIView as _ViewBase
else:
    _ViewBase = object


CONDITIONAL_WRITES = ("PUT", "PATCH", "DELETE")


class ScopedViewMixin(_ViewBase):
    permission_classes = (ApiAccess,)
    # The resource (``api.resources``) a token's resource scopes must name to call the view; None
    # for a view that takes no scope. Every view declares it (tests/api/test_resources.py).
    resource: str | Undeclared | None = UNDECLARED
    # action -> model permissions an unsafe call needs; unlisted unsafe actions are refused.
    write_permissions: dict[str, list[str] | None] = {}
    # Read by the schema: every POST takes an Idempotency-Key, detail responses carry an ETag.
    honours_conditional_requests = True
    _idempotency_claim = None

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        if "get_queryset" in cls.__dict__:
            raise TypeError(f"{cls.__name__}: define scoped_queryset(), not get_queryset().")
        # One filter backend for every list (the default in REST_FRAMEWORK): a plain
        # DjangoFilterBackend would let ``?partner=`` through where the others refuse it.
        for backend in getattr(cls, "filter_backends", ()):
            if issubclass(backend, DjangoFilterBackend) and not issubclass(backend, StrictFilterBackend):
                raise TypeError(f"{cls.__name__}: filter with api.filtering.StrictFilterBackend.")

    def scoped_queryset(self):
        raise NotImplementedError

    @property
    def principal(self):
        """Who the door is asked about: the request's token, or its user (``api.scoping``)."""
        return request_principal(self.request)

    def get_queryset(self):
        return self.scoped_queryset()

    def get_object(self):
        """The object the URL names; an id that does not parse (``false``, ``1.5``, 40 digits) is a 404."""
        lookup = self.kwargs.get(self.lookup_url_kwarg or self.lookup_field)
        if (
            self.lookup_field == "pk"
            and parse_id(lookup) is None
            and has_integer_key(self.get_queryset().model)
        ):
            raise Http404("No such object.")
        instance = super().get_object()
        if_match = self.request.headers.get("If-Match")
        if if_match is None or self.request.method not in CONDITIONAL_WRITES:
            return instance
        # Lock the row, read it again under the lock, and compare: two writers sending the
        # same tag cannot both pass (the second waits, then sees the first one's change).
        model = type(instance)
        list(model._base_manager.select_for_update().filter(pk=instance.pk).values_list("pk"))
        instance = super().get_object()
        if not matches(if_match, etag(self.get_serializer(instance).data)):
            raise PreconditionFailed()
        return instance

    def get_scoped_object(self, queryset):
        """For viewsets without a model of their own: the object of ``queryset`` whose id the URL
        gives, or a 404."""
        return object_or_404(queryset, self.kwargs.get("pk"))

    def initial(self, request, *args, **kwargs):
        """DRF's order, except that throttles run before permissions, so refused calls count too."""
        self.format_kwarg = self.get_format_suffix(**kwargs)
        negotiated = self.perform_content_negotiation(request)
        request.accepted_renderer, request.accepted_media_type = negotiated
        version, scheme = self.determine_version(request, *args, **kwargs)
        request.version, request.versioning_scheme = version, scheme
        self.perform_authentication(request)
        self.check_throttles(request)
        self.check_permissions(request)
        self.check_query_parameters(request)
        self._idempotency_claim = idempotency.begin(request)

    def dispatch(self, request, *args, **kwargs):
        # A conditional write holds its row lock from the check to the write.
        conditional = request.method in CONDITIONAL_WRITES and "If-Match" in request.headers
        try:
            if conditional:
                with transaction.atomic():
                    return super().dispatch(request, *args, **kwargs)
            return super().dispatch(request, *args, **kwargs)
        except BaseException:
            # A failure the handler did not answer (a bug): the key may be used again.
            if self._idempotency_claim is not None:
                idempotency.release(self._idempotency_claim)
            raise

    def handle_exception(self, exc):
        if isinstance(exc, idempotency.Replay):
            return idempotency.replayed(exc.stored)
        return super().handle_exception(exc)

    def finalize_response(self, request, response, *args, **kwargs):
        response = super().finalize_response(request, response, *args, **kwargs)
        if (
            request.method in ("GET", "HEAD", "PUT", "PATCH")
            and getattr(self, "action", None) in ("retrieve", "update", "partial_update")
            and response.status_code == 200
            and getattr(response, "data", None) is not None
        ):
            tag = etag(response.data)
            response["ETag"] = tag
            if request.method in ("GET", "HEAD") and matches(request.headers.get("If-None-Match"), tag):
                response.status_code = 304
                response.data = None
        if self._idempotency_claim is not None:
            claim, self._idempotency_claim = self._idempotency_claim, None
            idempotency.finish(claim, response)
        return response

    # Parameters a view reads itself, beyond its filters, pagination and ordering.
    extra_query_parameters: tuple[str, ...] = ()

    def check_query_parameters(self, request) -> None:
        """Refuse a parameter the view does not read: ``?parnter=3`` would otherwise answer the
        whole list, which the client takes for a filtered one."""
        unknown = sorted(set(request.query_params) - self.known_query_parameters())
        if unknown:
            raise ValidationError({name: ["Unknown parameter."] for name in unknown})

    def known_query_parameters(self) -> set[str]:
        known = {api_settings.URL_FORMAT_OVERRIDE, *self.extra_query_parameters}
        paginator = getattr(self, "pagination_class", None)
        for attribute in ("page_query_param", "page_size_query_param", "cursor_query_param"):
            name = getattr(paginator, attribute, None)
            if name:
                known.add(name)
        for backend in getattr(self, "filter_backends", ()):
            if issubclass(backend, DjangoFilterBackend):
                filterset = backend().get_filterset_class(self, self.get_queryset())
                known.update(filterset.base_filters if filterset else ())
            elif issubclass(backend, OrderingFilter):
                known.add(backend.ordering_param)
        return known


class ReadOnlyViewSet(ScopedViewMixin, viewsets.ReadOnlyModelViewSet):
    """Definitions and small lists: numbered pages, filters and ordering (the default backends)."""

    pagination_class = PagePagination
    ordering_fields = ["id"]


class FactViewSet(ScopedViewMixin, mixins.DestroyModelMixin, viewsets.ReadOnlyModelViewSet):
    """Large fact lists: cursor pages ordered by id, newest first; filters, no free ordering."""

    pagination_class = FactCursorPagination
    filter_backends = [StrictFilterBackend]


class CursorReadOnlyViewSet(ScopedViewMixin, viewsets.ReadOnlyModelViewSet):
    pagination_class = FactCursorPagination
    filter_backends = [StrictFilterBackend]
