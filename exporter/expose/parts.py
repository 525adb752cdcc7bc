"""Snapshot text kept per model and family, so one model's evaluation re-renders only that model.

Prometheus text and OpenMetrics both want every sample of a family under its one HELP/TYPE,
so per-model bodies cannot simply be joined: each model's samples are encoded once per
snapshot (by client_python's own encoder, so the bytes are its bytes), cut into one run of
lines per family, and a body is assembled family by family: the header once, then every
model's lines in the order a whole-registry encoding would give them.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass

from prometheus_client.metrics_core import Metric

from exporter.config import ModelConfig
from exporter.evaluate.snapshot import ModelSnapshot
from exporter.expose.collector import CONFIG_FAMILIES, Generation, SnapshotCollector

EOF_LINE = b"# EOF\n"
Encode = Callable[[list[Metric]], bytes]


@dataclass(frozen=True)
class Part:
    """One model's encoded sample lines, one bytes per family, and what they were made from."""

    snapshot: ModelSnapshot | None
    model: ModelConfig | None
    lines: tuple[bytes, ...]

    def made_from(self, snapshot: ModelSnapshot | None, model: ModelConfig | None) -> bool:
        """True when both inputs are the very objects this part was rendered from."""
        return self.snapshot is snapshot and self.model is model


def _strip_eof(body: bytes) -> bytes:
    return body[: -len(EOF_LINE)] if body.endswith(EOF_LINE) else body


def _cut(body: bytes, headers: Sequence[bytes], counts: Sequence[int]) -> tuple[bytes, ...]:
    """The sample lines of each family in an encoded body, checked against the headers.

    A sample is one line in both formats (a newline in a label value is escaped), so after a
    family's header come exactly as many lines as it has samples.
    """
    pieces = body.split(b"\n")
    out = []
    at = 0
    for header, count in zip(headers, counts, strict=True):
        size = header.count(b"\n")
        if b"".join(p + b"\n" for p in pieces[at : at + size]) != header:
            raise RuntimeError(f"unexpected family header at line {at}: {pieces[at]!r}")
        at += size
        out.append(b"".join(p + b"\n" for p in pieces[at : at + count]))
        at += count
    if pieces[at:] != [b""]:
        raise RuntimeError(f"{len(pieces) - at - 1} unexpected lines after the last family")
    return tuple(out)


class Parts:
    """The snapshot-derived body in one format, assembled from per-model parts."""

    def __init__(self, collector: SnapshotCollector, encode: Encode, renders: Counter[str]):
        self._collector = collector
        self._encode = encode
        self._renders = renders
        self._parts: dict[str, Part] = {}
        self._headers: tuple[bytes, ...] = ()
        self._lock = threading.Lock()

    def body(self, generation: Generation) -> bytes:
        """Every derived family of this generation, byte for byte as one encoding gives it."""
        snapshots, models = generation
        configs = {m.name: m for m in models}
        config_order = list(configs)
        snapshot_order = list(snapshots)
        with self._lock:
            if not self._headers:
                self._headers = self._header_lines()
            parts = {}  # kept only once all render, so a failure loses no good part
            for name in dict.fromkeys([*config_order, *snapshot_order]):
                part = self._parts.get(name)
                snapshot, model = snapshots.get(name), configs.get(name)
                if part is None or not part.made_from(snapshot, model):
                    part = self._render(name, snapshot, model)
                parts[name] = part
            self._parts = parts
            return _assemble(self._headers, parts, config_order, snapshot_order)

    def _header_lines(self) -> tuple[bytes, ...]:
        """Each family's HELP, TYPE (and UNIT) lines, from an encoding of it without samples."""
        families = self._collector.derived(Generation({}, ()))
        return tuple(_strip_eof(self._encode([family])) for family in families)

    def _render(self, name: str, snapshot: ModelSnapshot | None, model: ModelConfig | None) -> Part:
        """Encode one model's samples and cut them per family."""
        snapshots: Mapping[str, ModelSnapshot] = {name: snapshot} if snapshot is not None else {}
        generation = Generation(snapshots, (model,) if model is not None else ())
        families = list(self._collector.derived(generation))
        body = _strip_eof(self._encode(families))
        lines = _cut(body, self._headers, [len(f.samples) for f in families])
        self._renders[name] += 1
        return Part(snapshot, model, lines)


def _assemble(
    headers: Sequence[bytes],
    parts: Mapping[str, Part],
    config_order: Iterable[str],
    snapshot_order: Iterable[str],
) -> bytes:
    """Header once per family, then each model's lines: config order for the families the
    config drives (thresholds, SLOs), the snapshot store's order for the rest."""
    by_config = [parts[n].lines for n in config_order]
    by_snapshot = [parts[n].lines for n in snapshot_order]
    out = []
    for index, header in enumerate(headers):
        out.append(header)
        models = by_config if index < CONFIG_FAMILIES else by_snapshot
        out.extend(lines[index] for lines in models)
    return b"".join(out)
