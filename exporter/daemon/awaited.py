"""A model whose Redis reference key was never loaded: its runs are owed, not failed.

Counted as failures, the wait between a deploy and its `reference load` fired
MLMonEvaluationsFailing at once and for the hour after the load (5 failures and 5 error lines
in 8 s at a 2 s interval, in a review); /readyz, mlmon_reference_missing and
MLMonReferenceKeyMissing, with its 5 minutes' grace, report the wait.
"""

from __future__ import annotations

import logging

from exporter.reference.load import ReferenceError

log = logging.getLogger("exporter.pipeline")


class ReferenceAwaited(ReferenceError):
    """No reference in the model's key and none fitted before: `reference load` is awaited."""

    def __init__(self, model: str, key: str) -> None:
        super().__init__(
            f"model {model!r}: reference key {key} is empty; "
            "run `ml-monitoring-exporter reference load`"
        )


class Waits:
    """Says once per model that its evaluations wait for the reference, not once a run."""

    def __init__(self, model: str) -> None:
        self._model = model
        self._said = False

    def say(self, awaited: ReferenceAwaited) -> None:
        """Log the first wait at info: start-up and reload warned of it already."""
        if not self._said:
            self._said = True
            log.info(
                "evaluations wait for the reference: %s", awaited, extra={"model": self._model}
            )
