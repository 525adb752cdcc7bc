"""Detection rates of `auto` next to Evidently's defaults on standard drift scenarios."""

from __future__ import annotations

import platform
import sys
from collections.abc import Callable

import numpy as np
import scipy  # type: ignore[import-untyped]

from bench import _evidently
from exporter.stats import make_method
from exporter.stats.kinds import FeatureType

REFERENCE, SIZES = 5_000, (500, 2_000, 10_000)
REPEATS = int(sys.argv[1]) if len(sys.argv) > 1 else 20
CATS, MIX, MOVED = np.array(list("abcd")), (0.4, 0.3, 0.2, 0.1), (0.3, 0.4, 0.2, 0.1)


def _numeric(
    rng: np.random.Generator, n: int, shift: float = 0.0, sd: float = 1.0, missing: float = 0.0
) -> np.ndarray:
    values = rng.normal(shift, sd, n)
    values[rng.random(n) < missing] = np.nan
    return values


Draw = Callable[[np.random.Generator, int], np.ndarray]
SCENARIOS: dict[
    str, tuple[bool, Draw]
] = {  # name -> (categorical?, draw(rng, n)); "none": false alarms
    "none (numeric)": (False, lambda r, n: _numeric(r, n)),
    "mean +0.1 sd": (False, lambda r, n: _numeric(r, n, 0.1)),
    "mean +0.25 sd": (False, lambda r, n: _numeric(r, n, 0.25)),
    "mean +0.5 sd": (False, lambda r, n: _numeric(r, n, 0.5)),
    "mean +1 sd": (False, lambda r, n: _numeric(r, n, 1.0)),
    "variance x2": (False, lambda r, n: _numeric(r, n, sd=np.sqrt(2))),
    "missing +20 pts": (False, lambda r, n: _numeric(r, n, missing=0.2)),
    "none (categorical)": (True, lambda r, n: r.choice(CATS, n, p=MIX)),
    "category share +10 pts": (True, lambda r, n: r.choice(CATS, n, p=MOVED)),
}


def _codes(values: np.ndarray) -> np.ndarray:
    return np.searchsorted(CATS, values).astype(np.int64)


def main() -> None:
    """Print one markdown table: rows are scenarios, columns window sizes, ours | Evidently."""
    rng = np.random.default_rng(7)
    reference = {
        name: draw(rng, REFERENCE) if cat else _numeric(rng, REFERENCE)
        for name, (cat, draw) in SCENARIOS.items()
    }
    categorical = tuple(n for n, (cat, _) in SCENARIOS.items() if cat)
    methods = {
        n: make_method(
            "auto", FeatureType.CATEGORICAL if n in categorical else FeatureType.NUMERIC
        ).fit(_codes(v) if n in categorical else v, 4 if n in categorical else None)
        for n, v in reference.items()
    }
    hits = {(n, size, who): 0 for n in SCENARIOS for size in SIZES for who in ("ours", "ev")}
    for size in SIZES:
        for _ in range(REPEATS):
            window = {n: draw(rng, size) for n, (_, draw) in SCENARIOS.items()}
            for n, values in window.items():
                scored = _codes(values) if n in categorical else values
                hits[(n, size, "ours")] += methods[n].score(scored).drifted
            if _evidently.AVAILABLE:
                for n, (_, _, drifted) in _evidently.data_drift(
                    reference, window, categorical
                ).items():
                    hits[(n, size, "ev")] += drifted
    print(
        f"python {platform.python_version()}, numpy {np.__version__}, scipy {scipy.__version__},"
        f" evidently {_evidently.version()}; reference {REFERENCE} rows, {REPEATS} windows "
        "per cell; cells: detection rate ours (auto) / Evidently defaults\n"
    )
    print("| scenario | " + " | ".join(f"window {s}" for s in SIZES) + " |")
    print("|---|" + "---|" * len(SIZES))
    for n in SCENARIOS:
        cells = []
        for s in SIZES:
            ours = hits[(n, s, "ours")] / REPEATS
            ev = f"{hits[(n, s, 'ev')] / REPEATS:.2f}" if _evidently.AVAILABLE else "n/a"
            cells.append(f"{ours:.2f} / {ev}")
        print(f"| {n} | " + " | ".join(cells) + " |")
    if not _evidently.AVAILABLE:
        print(f"\n{_evidently.NOTE}")


if __name__ == "__main__":
    main()
