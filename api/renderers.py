"""The API's renderers: JSON, and DRF's browsable pages under a Content-Security-Policy they satisfy."""

from csp.constants import SELF, UNSAFE_INLINE
from rest_framework import renderers


class BrowsableAPIRenderer(renderers.BrowsableAPIRenderer):
    """DRF's HTML pages, with inline styles allowed on them alone.

    DRF's templates set styles inline (the code highlighting's style sheet and
    ``style`` attributes on buttons and filters); they run no inline script, so
    scripts stay as strict as on every other page.
    """

    def render(self, data, accepted_media_type=None, renderer_context=None):
        response = (renderer_context or {}).get("response")
        if response is not None:
            # What django-csp's ``csp_replace`` decorator sets, for every view this renderer serves.
            response._csp_replace = {"style-src": [SELF, UNSAFE_INLINE]}
        return super().render(data, accepted_media_type, renderer_context)
