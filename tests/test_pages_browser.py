"""The drill-down pages in a real headless Chromium, on the demo's drifting model."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import urllib.request
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path

import pytest

from tests.conftest import free_port, require_tool, wait_for

FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--hide-scrollbars",
]
VOID = {
    "area",
    "base",
    "br",
    "col",
    "embed",
    "hr",
    "img",
    "input",
    "link",
    "meta",
    "source",
    "track",
    "wbr",
}


def _get(url: str, accept: str = "text/html") -> bytes:
    req = urllib.request.Request(url, headers={"Accept": accept})
    with urllib.request.urlopen(req, timeout=5) as resp:
        return bytes(resp.read())


@dataclass
class Element:
    """One element of the DOM Chromium rendered."""

    tag: str
    attrs: dict[str, str]
    children: list[Element | str] = field(default_factory=list)

    @property
    def classes(self) -> set[str]:
        return set(self.attrs.get("class", "").split())

    def text(self) -> str:
        """The visible text: what the element and its children show, tooltips left out."""
        return "".join(
            c if isinstance(c, str) else c.text()
            for c in self.children
            if isinstance(c, str) or c.tag != "title"
        )

    def tooltip(self) -> str:
        """The text of the element's own <title>, the tooltip of an SVG shape."""
        return next(
            (c.text() for c in self.children if isinstance(c, Element) and c.tag == "title"), ""
        )

    def all(self, tag: str, cls: str | None = None) -> list[Element]:
        """Every descendant element with that tag (and class), in document order."""
        found = []
        for c in self.children:
            if isinstance(c, Element):
                if c.tag == tag and (cls is None or cls in c.classes):
                    found.append(c)
                found.extend(c.all(tag, cls))
        return found


class _Builder(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.root = Element("#document", {})
        self.open = [self.root]

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        element = Element(tag, {k: v or "" for k, v in attrs})
        self.open[-1].children.append(element)
        if tag not in VOID:
            self.open.append(element)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.open[-1].children.append(Element(tag, {k: v or "" for k, v in attrs}))

    def handle_endtag(self, tag: str) -> None:
        for i in range(len(self.open) - 1, 0, -1):
            if self.open[i].tag == tag:
                del self.open[i:]
                return

    def handle_data(self, data: str) -> None:
        self.open[-1].children.append(data)


def _chromium(browser: str, profile: Path, *args: str) -> str:
    result = subprocess.run(
        [browser, *FLAGS, f"--user-data-dir={profile}", *args],
        capture_output=True,
        text=True,
        timeout=90,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    return result.stdout


def _dom(browser: str, profile: Path, url: str) -> Element:
    """The page as Chromium rendered it (--dump-dom), parsed."""
    builder = _Builder()
    builder.feed(_chromium(browser, profile, "--dump-dom", url))
    builder.close()
    return builder.root


def _shares(svg: Element, side: str) -> list[float]:
    """The share each bar of a side ("reference", "window") stands for, from its tooltip."""
    return [
        float(tip.split()[-1])
        for tip in (bar.tooltip() for bar in svg.all("rect"))
        if tip.split()[0] == side
    ]


def test_chromium_shows_a_drifted_feature_first_with_its_histogram_and_the_pages_match_metrics(
    tmp_path: Path,
) -> None:
    browser = require_tool("chromium")
    profile = tmp_path / "profile"
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    demo = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "exporter",
            "demo",
            f"--web.listen-address=127.0.0.1:{port}",
            "--drift-after=5",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_for(
            lambda: json.loads(_get(f"{base}/models/fraud", "application/json"))["dataset_drift"],
            90,
            0.5,
            "the demo's fraud model to drift",
        )

        # The model page: one row per feature, the furthest past its threshold first.
        page = _dom(browser, profile, f"{base}/models/fraud")
        table = next(t for t in page.all("table") if t.all("th")[0].text() == "feature")
        rows = [row.all("td") for row in table.all("tr") if row.all("td")]
        names = [cells[0].text() for cells in rows]
        drifted = ["drifted" in cells[0].classes for cells in rows]
        top = names[0]
        assert drifted[0], f"the first feature listed, {top}, is not shown as drifted"
        assert not all(drifted), "every feature drifts: the order shows nothing"
        assert [a.attrs["href"] for a in rows[0][0].all("a")] == [f"../models/fraud/features/{top}"]
        view = json.loads(_get(f"{base}/models/fraud", "application/json"))
        assert top in view["drifted_features"]

        # Its histogram (the first drifted scalar's: an embedding has none): a reference and a
        # window bar per bin, each set of shares adding up.
        histograms = {f["feature"]: f["histogram"] for f in view["features"]}
        for name, cells in zip(names, rows, strict=True):
            if histograms[name] is None:
                assert not cells[1].all("svg"), f"the row of {name} draws a histogram it lacks"
                page = _dom(browser, profile, f"{base}/models/fraud/features/{name}")
                said = " ".join(para.text() for para in page.all("p"))
                assert "no histogram" in said, f"the page of {name} does not say why it has none"
        shown = next(i for i, n in enumerate(names) if drifted[i] and histograms[n] is not None)
        charted = names[shown]
        small = next(iter(rows[shown][1].all("svg")), None)
        assert small is not None, f"the row of {charted} shows no histogram"
        reference, window = _shares(small, "reference"), _shares(small, "window")
        assert len(reference) == len(window) >= 2
        assert sum(reference) == pytest.approx(1.0, abs=0.02)
        assert sum(window) == pytest.approx(1.0, abs=0.02)
        assert any(
            float(bar.attrs["height"]) > 0 for bar in small.all("rect") if "ref" not in bar.classes
        )

        method = rows[shown][2].text()
        series = f'mlmon_feature_drift_score{{feature="{charted}",method="{method}",model="fraud"}}'
        assert series in _get(f"{base}/metrics").decode()

        # The feature page: its name as a drifted heading, and the histogram with every bin
        # labelled as the JSON view has it.
        page = _dom(browser, profile, f"{base}/models/fraud/features/{charted}")
        (heading,) = page.all("h1")
        assert heading.text() == charted and "drifted" in heading.classes
        feature = json.loads(_get(f"{base}/models/fraud/features/{charted}", "application/json"))
        labels = feature["histogram"]["labels"]
        big = next((svg for svg in page.all("svg") if svg.all("rect")), None)
        assert big is not None, "the feature page shows no histogram"
        assert len(_shares(big, "reference")) == len(_shares(big, "window")) == len(labels)
        assert [t.tooltip().removesuffix(" (unseen)") for t in big.all("text")] == labels
        assert sum(_shares(big, "window")) == pytest.approx(1.0, abs=0.02)

        # The fleet page: the model's row shows it drifting, naming the feature.
        page = _dom(browser, profile, f"{base}/models")
        fraud = next(
            cells
            for cells in (row.all("td") for row in page.all("tr"))
            if cells and cells[0].text() == "fraud"
        )
        assert "drifted" in fraud[1].classes
        assert charted in fraud[2].text().split(", ")

        demo.send_signal(signal.SIGINT)
        assert demo.wait(30) == 0
    finally:
        if demo.poll() is None:
            demo.kill()
            demo.wait(10)
