"""Record keys outside the wire format, named in the log once each with a likely meaning."""

from __future__ import annotations

import difflib
import logging
from collections.abc import Sequence

from exporter.decode.wire import LABEL_KEYS, PREDICTION_KEYS
from exporter.source.streams import PREDICTIONS

log = logging.getLogger("exporter.pipeline")

MAX_LOGGED_KEYS = 100  # a producer sending random keys must not flood the log


class UnknownKeys:
    """Logs each unknown key once per model and stream kind, with the known key it most
    likely meant: a typo such as `feature` or `lable` loses data silently otherwise."""

    def __init__(self, model: str) -> None:
        self._model = model
        self._logged: set[tuple[str, str]] = set()

    def log(self, kind: str, unknown: Sequence[tuple[str, ...]]) -> None:
        """Name the keys of each record's unknown keys not named before."""
        known = sorted(PREDICTION_KEYS if kind == PREDICTIONS else LABEL_KEYS)
        other = sorted((LABEL_KEYS if kind == PREDICTIONS else PREDICTION_KEYS) - set(known))
        for keys in unknown:
            for key in keys:
                if (kind, key) in self._logged or len(self._logged) >= MAX_LOGGED_KEYS:
                    continue
                self._logged.add((kind, key))
                close = difflib.get_close_matches(key, known, n=1, cutoff=0.6)
                elsewhere = difflib.get_close_matches(key, other, n=1, cutoff=0.6)
                hint = (
                    f"; did you mean {close[0]!r}?"
                    if close
                    else f"; {elsewhere[0]!r} belongs in the other stream's records"
                    if elsewhere
                    else ""
                )
                log.warning(
                    "model %s: %s record key %r is not part of the wire format and is ignored%s",
                    self._model,
                    kind,
                    key[:100],
                    hint,
                    extra={"model": self._model, "stream_kind": kind},
                )
