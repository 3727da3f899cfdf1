"""What flask-camunda-telemetry costs, side by side with its peers.

``python -m benchmarks.run`` runs every section and writes the report; each section also runs
alone, as ``python -m benchmarks.<section>``. ``README.rst`` in this folder explains the method
and how to read the figures.
"""
