"""The REST routes: the blueprint, its JSON responses and errors, and the OpenAPI description."""
