"""The four engine metrics Camunda reports, under their two sets of names.

The seed's (internal) names are the default output; ``CAMUNDA_TELEMETRY_METRIC_NAMES =
"public"`` writes the names Camunda's REST API uses from 7.17 on. ``mark_occurrence`` accepts
either name.
"""

from __future__ import annotations

from ..exceptions import UnknownMetricError

#: Internal name -> public name.
PUBLIC_NAMES: dict[str, str] = {
    "root-process-instance-start": "process-instances",
    "activity-instance-start": "flow-node-instances",
    "executed-decision-instances": "decision-instances",
    "executed-decision-elements": "executed-decision-elements",
}
INTERNAL_NAMES: tuple[str, ...] = tuple(PUBLIC_NAMES)
_BY_ANY_NAME = {**{v: k for k, v in PUBLIC_NAMES.items()}, **{k: k for k in PUBLIC_NAMES}}


def canonical_metric(name: object) -> str:
    """The internal name for ``name`` (either form); an unknown name is an error."""
    try:
        return _BY_ANY_NAME[name]  # type: ignore[index]
    except (KeyError, TypeError):
        raise UnknownMetricError(
            f"Unknown metric {name!r}: Camunda reports only " + ", ".join(INTERNAL_NAMES)
            + " (or their public names " + ", ".join(PUBLIC_NAMES.values()) + ")."
        ) from None


def output_name(internal: str, style: str) -> str:
    return PUBLIC_NAMES[internal] if style == "public" else internal
