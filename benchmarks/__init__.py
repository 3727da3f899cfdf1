"""Benchmarks of flask-camunda-telemetry: one module per section (``python -m benchmarks.<section>``)."""
