"""The web kit: JSON responses in Camunda's shape, routes that answer every method, bounded
request bodies, the method and ``authorize`` checks, and single-flight reads. It holds no state
of its own: what it checks is passed in, so the extension's routes and the collector's share it.

.. versionadded:: 0.2.0
"""
