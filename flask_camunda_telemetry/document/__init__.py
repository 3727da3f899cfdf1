"""The document: the objects behind ``/telemetry/data``, their schemas, metrics and license."""
