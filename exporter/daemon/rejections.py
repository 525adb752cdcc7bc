"""Rejected records named in the log, so an operator can find the entry a counter counted.

`mlmon_records_invalid_total` says how many and why, not where: without a log line nobody
could tell a predictions entry from a labels one, nor find either in Redis.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from exporter.config import ModelConfig
from exporter.decode.reasons import Reason
from exporter.source.streams import LABELS, PREDICTIONS

log = logging.getLogger("exporter.pipeline")


class Rejections:
    """Logs the first rejection of each reason per stream at warning, later ones at debug."""

    def __init__(self, model: ModelConfig) -> None:
        self._model = model.name
        streams = model.streams  # set by the config loader; None only in hand-built configs
        self._keys = {PREDICTIONS: streams.predictions, LABELS: streams.labels} if streams else {}
        self._logged: set[tuple[str, Reason]] = set()

    def log(self, kind: str, entry_id: bytes, reasons: Sequence[Reason]) -> None:
        """Name the entry and stream of records rejected for reasons not logged before."""
        key = self._keys.get(kind, "")
        entry = entry_id.decode(errors="replace")[:64]
        for reason in dict.fromkeys(reasons):
            first = (kind, reason) not in self._logged
            if not first and not log.isEnabledFor(logging.DEBUG):
                continue
            self._logged.add((kind, reason))
            log.log(
                logging.WARNING if first else logging.DEBUG,
                "model %s: a %s record in entry %s of stream %r was rejected (%s)%s",
                self._model,
                kind,
                entry,
                key,
                reason.value,
                "; later rejections for this reason are counted in mlmon_records_invalid_total "
                "and logged at debug"
                if first
                else "",
                extra={"model": self._model, "stream_kind": kind, "entry": entry},
            )
