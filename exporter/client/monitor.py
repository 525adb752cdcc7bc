"""monitor(): wrap any model with predict / predict_proba so every row it scores is logged."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Generic, TypeVar

from exporter.client.logger import PredictionLogger
from exporter.client.metrics import DropReason

M = TypeVar("M")
log = logging.getLogger("exporter.client")


class Monitored(Generic[M]):
    """A drop-in proxy: calls are timed and logged, every other attribute is the model's own."""

    def __init__(
        self, model: M, logger: PredictionLogger, feature_names: Sequence[str] | None = None
    ) -> None:
        self.model = model
        self.logger = logger
        names = (
            feature_names
            if feature_names is not None
            else getattr(model, "feature_names_in_", None)
        )
        self._names = None if names is None else [str(n) for n in _as_list(names)]
        self._warned = False

    def predict(self, x: Any, *args: Any, ids: Sequence[Any] | None = None, **kwargs: Any) -> Any:
        """The model's predict; each row is logged with the call's latency."""
        return self._call("predict", x, args, kwargs, ids)

    def predict_proba(
        self, x: Any, *args: Any, ids: Sequence[Any] | None = None, **kwargs: Any
    ) -> Any:
        """The model's predict_proba; each row is logged with its class and probabilities."""
        return self._call("predict_proba", x, args, kwargs, ids)

    def _call(
        self,
        method: str,
        x: Any,
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
        ids: Sequence[Any] | None,
    ) -> Any:
        """Call the model, timed; a failed call is logged as an error row, then re-raised."""
        started = time.perf_counter()
        try:
            out = getattr(self.model, method)(x, *args, **kwargs)
        except Exception:
            self._log(x, None, None, started, ids)
            raise
        proba = method == "predict_proba"
        self._log(x, None if proba else out, out if proba else None, started, ids)
        return out

    def __getattr__(self, name: str) -> Any:
        return getattr(self.model, name)

    def _log(
        self, x: Any, predicted: Any, proba: Any, started: float, ids: Sequence[Any] | None
    ) -> None:
        """Log one record per row; a failure here is counted, never raised."""
        latency_ms = (time.perf_counter() - started) * 1000.0
        try:
            rows = feature_rows(x, self._names, self._invented)
            errored = predicted is None and proba is None
            one_row = isinstance(x, Mapping)
            if proba is not None:
                classes = getattr(self.model, "classes_", None)
                pairs = [_from_proba(p, classes) for p in _outputs(proba, one_row)]
            else:
                pairs = (
                    [(_scalar(p), None) for p in _outputs(predicted, one_row)]
                    if not errored
                    else [(None, None)] * len(rows)
                )
            id_list = list(ids) if ids is not None else [None] * len(rows)
            if len(id_list) != len(rows):  # which id is whose is unknown: every row is lost
                self.logger.stats.drop(DropReason.INVALID, len(rows))
                return
            for row, (pred, scores), rid in zip(rows, pairs, id_list, strict=False):
                self.logger.log(
                    row,
                    pred,
                    scores=scores,
                    latency_ms=latency_ms,
                    id=rid,
                    status="error" if errored else "ok",
                )
        except Exception:
            self.logger.stats.drop(DropReason.INVALID)

    def _invented(self, width: int) -> None:
        """Warn once: x0, x1, ... match no configured feature, so the exporter sees none."""
        if self._warned:
            return
        self._warned = True
        log.warning(
            "mlmon monitor(%s): the input's %d columns have no names, so they are logged as "
            "%s, which match no feature of the exporter's config; pass "
            "monitor(model, logger, feature_names=[...]) with the configured names",
            type(self.model).__name__,
            width,
            "x0" if width == 1 else f"x0..x{width - 1}",
        )


def monitor(
    model: M, logger: PredictionLogger, *, feature_names: Sequence[str] | None = None
) -> Monitored[M]:
    """Wrap a model (scikit-learn, XGBoost, a torch module wrapper) to log what it predicts."""
    return Monitored(model, logger, feature_names)


def feature_rows(
    x: Any, names: Sequence[str] | None, invented: Callable[[int], None] | None = None
) -> list[Mapping[str, Any]]:
    """One feature mapping per row of a DataFrame, array, tensor or list of rows or dicts."""
    if isinstance(x, Mapping):
        return [x]
    if hasattr(x, "columns") and callable(getattr(x, "to_dict", None)):
        return list(x.to_dict(orient="records"))
    out: list[Mapping[str, Any]] = []
    for row in _as_list(x):
        if isinstance(row, Mapping):
            out.append(row)
            continue
        values = row if isinstance(row, list | tuple) else [row]
        if names is None and invented is not None and values:  # x0, x1, ... are made up
            invented(len(values))
        keys = names if names is not None else [f"x{i}" for i in range(len(values))]
        out.append(dict(zip(keys, values, strict=False)))
    return out


def _as_list(values: Any) -> list[Any]:
    """Plain Python values of an array, tensor, Series or sequence, without importing numpy."""
    return list(_plain(values))


def _plain(values: Any) -> Any:
    """An array or tensor as Python lists (a 0-d one as its value); anything else as is."""
    detach = getattr(values, "detach", None)
    if callable(detach):  # a torch tensor
        values = detach().cpu()
    if callable(getattr(values, "tolist", None)):
        return values.tolist()
    return values


def _outputs(out: Any, one_row: bool) -> list[Any]:
    """The model's output per row. A call with one dict may return a scalar or one row's
    values ([0.2, 0.8]) as well as a list of one row."""
    values = _plain(out)
    if not one_row or (isinstance(values, list | tuple) and len(values) == 1):
        return list(values)
    return [values]


def _scalar(value: Any) -> Any:
    """Unwrap a one-element row, as a regressor or network with one output returns."""
    if isinstance(value, list | tuple) and len(value) == 1:
        return value[0]
    return value


def _from_proba(row: Any, classes: Any) -> tuple[Any, Any]:
    """The predicted class and the scores of one predict_proba row."""
    labels = _as_list(classes) if classes is not None else None
    if isinstance(row, list | tuple) and len(row) == 1 and (labels is None or len(labels) != 1):
        row = row[0]  # one column: a sigmoid head's positive-class probability
    if not isinstance(row, list | tuple):  # one positive-class probability
        return int(row >= 0.5), float(row)
    labels = labels if labels is not None else list(range(len(row)))
    best = max(range(len(row)), key=row.__getitem__)
    return labels[best], {c: float(p) for c, p in zip(labels, row, strict=False)}  # keyed by log()
