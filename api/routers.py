"""The API's router. Each app adds its endpoints with one line in ``api/urls.py``::

    router.extend("api.views.incentives")

where the named module defines ``register(router)`` calling ``router.register(...)``.
"""

from importlib import import_module

from rest_framework.routers import APIRootView, DefaultRouter


class PRMRootView(APIRootView):
    resource = None  # the list of endpoints: every token may read it


class PRMRouter(DefaultRouter):
    include_format_suffixes = False
    APIRootView = PRMRootView

    def extend(self, module_path: str) -> None:
        import_module(module_path).register(self)
