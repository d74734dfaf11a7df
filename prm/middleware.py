"""Form and query parameters the database could not store are refused before any view runs.

A search box, an admin filter or a form field sent with a NUL character
(``?q=%00``) would otherwise reach PostgreSQL, which refuses it with an error
the views do not expect: a 500 on whichever page forgot to check. Checking
every parameter of every request here covers the portal, the admin, the API's
query strings and any page added later. A parameter answers 400 naming it; a
URL argument (``/api/v1/partners/%00/``) names nothing that can exist and
answers 404. JSON bodies are the API parser's to check
(``api.parsers.BoundedJSONParser``).
"""

from collections.abc import Callable

from django.core.exceptions import SuspiciousOperation
from django.http import HttpRequest, HttpResponse, JsonResponse, QueryDict
from django.http.multipartparser import MultiPartParserError
from django.http.request import UnreadablePostError
from django.shortcuts import render
from rest_framework.views import APIView

from prm.text import scrub, storable_problem


def _answers_json(request: HttpRequest, view_func: Callable) -> bool:
    """Whether the view is the API's: a DRF view (as_view() marks it with its class) or any
    other view under the API's URLs (its JSON 404 for unknown paths)."""
    view_class = getattr(view_func, "cls", None)
    if isinstance(view_class, type) and issubclass(view_class, APIView):
        return True
    match = request.resolver_match
    return match is not None and "api" in match.app_names


def parameter_problems(parameters: QueryDict) -> dict[str, list[str]]:
    """Each parameter (by its name, made printable) whose name or values cannot be stored."""
    problems: dict[str, list[str]] = {}
    for name, values in parameters.lists():
        for text in (name, *values):
            problem = storable_problem(text) if isinstance(text, str) else None
            if problem:
                problems.setdefault(scrub(name), []).append(problem)
                break
    return problems


class RefuseUnstorableParametersMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_view(self, request: HttpRequest, view_func, view_args, view_kwargs) -> HttpResponse | None:
        api = _answers_json(request, view_func)
        arguments = [*view_args, *view_kwargs.values()]
        if any(isinstance(value, str) and storable_problem(value) for value in arguments):
            return self._answer(request, api, 404, {})
        problems = parameter_problems(request.GET)
        if request.method == "POST":
            post = self._form_data(request)
            if post is not None:
                problems.update(parameter_problems(post))
        if problems:
            return self._answer(request, api, 400, problems)
        return None

    @staticmethod
    def _form_data(request: HttpRequest) -> QueryDict | None:
        """The form fields of a form-encoded body; None when there are none or they cannot be read.

        A body too large or malformed is left for the view, which meets the
        same error and answers it as it always does (the API with a 413).
        """
        if request.content_type not in ("application/x-www-form-urlencoded", "multipart/form-data"):
            return None
        try:
            return request.POST
        except (SuspiciousOperation, MultiPartParserError, UnreadablePostError):
            return None

    @staticmethod
    def _answer(request: HttpRequest, api: bool, status: int, problems: dict[str, list[str]]) -> HttpResponse:
        if api:
            # The API's one error body (api.exceptions).
            if status == 404:
                return JsonResponse({"status": 404, "code": "not_found", "detail": "Not found."}, status=404)
            first_name, first_messages = next(iter(problems.items()))
            return JsonResponse(
                {
                    "status": 400,
                    "code": "invalid",
                    "detail": f"{first_name}: {first_messages[0]}",
                    "errors": problems,
                },
                status=400,
            )
        return render(
            request,
            "unstorable_input.html",
            {"problems": problems, "not_found": status == 404},
            status=status,
        )
