"""The engine's REST routes: ``/telemetry/data``, ``/telemetry/configuration`` and the OpenAPI description."""
