"""The page a person reads at ``/telemetry/``: the document, the consent switch, nothing inline.

:mod:`.context` works out what the page shows; :mod:`.views` serves it with the templates
(``templates/camunda_telemetry/``) and the static files (``static/``) of this package.

.. versionadded:: 0.2.0
"""

from .views import CONTENT_SECURITY_POLICY, PAGE_BLUEPRINT_NAME, make_page_blueprint

__all__ = ["CONTENT_SECURITY_POLICY", "PAGE_BLUEPRINT_NAME", "make_page_blueprint"]
