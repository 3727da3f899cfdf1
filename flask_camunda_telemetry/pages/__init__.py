"""The page a person reads at ``/telemetry/``: the document, the consent switch, nothing inline.

:mod:`.context` works out what the page shows; :mod:`.views` serves it with the templates
(``templates/camunda_telemetry/``) and the static files (``static/``) of this package.

.. versionadded:: 0.2.0
"""

