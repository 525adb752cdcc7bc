"""Labels whose class is not one the model names, said once per model in the log.

Folded into `__other__` silently, a 0/1 model fed labels as JSON true/false read accuracy 0,
lost recall and roc_auc, and nothing said why.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from exporter.config import ModelConfig

log = logging.getLogger("exporter.pipeline")

SHOWN_CLASSES = 10  # classes the log line lists: a model may name hundreds
BOOLEANS = "; classes are compared as text: JSON true/false are the classes true and false"


class FoldedLabels:
    """Logs the first label of a model whose class folds into `__other__`, with its text."""

    def __init__(self, model: ModelConfig) -> None:
        self._model = model
        self._logged = False

    def log(self, folded: Sequence[str]) -> None:
        """Name the first folded class and the classes the model names."""
        if not folded or self._logged:
            return
        self._logged = True
        classes = self._model.classes
        if classes:
            shown = ", ".join(map(repr, classes[:SHOWN_CLASSES]))
            more = (
                f" and {len(classes) - SHOWN_CLASSES} more" if len(classes) > SHOWN_CLASSES else ""
            )
            among = f"its classes ({shown}{more})"
        else:
            among = f"the first {self._model.max_new_categories} classes seen"
        hint = BOOLEANS if folded[0] in ("true", "false") else ""
        log.warning(
            "model %s: label class %r is not among %s; such labels count under __other__ "
            'and in mlmon_series_limited_total{kind="class"}%s',
            self._model.name,
            folded[0],
            among,
            hint,
        )
