"""The pages' templates: producer-chosen names escaped everywhere, and the chart geometry."""

from __future__ import annotations

import tomllib
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import quote

import pytest

from exporter.evaluate.histograms import FeatureHistogram
from exporter.evaluate.snapshot import DriftValue, FeatureSnapshot, ModelSnapshot, SnapshotStore
from exporter.web import pages

SCRIPT = "<script>alert(1)</script>"
BREAKOUT = '"><img src=x onerror=alert(1)>'
QUOTE = "'><b onmouseover=alert(1)>x</b>"
# Everything the pages themselves write; anything else came from a name.
MARKUP = {
    "html", "head", "meta", "title", "style", "body", "h1", "h2", "p", "a", "br", "span",
    "table", "tr", "th", "td", "svg", "rect", "text", "polyline",
}  # fmt: skip
MODEL = f"{QUOTE}/{SCRIPT}"


class Page(HTMLParser):
    """A page as a browser would see it: tags with attributes, text by the tag it is in."""

    def __init__(self, body: str) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str]]] = []
        self.texts: list[tuple[tuple[str, ...], str]] = []
        self._open: list[str] = []
        self.feed(body)
        self.close()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, {k: v or "" for k, v in attrs}))
        if tag not in ("meta", "br"):
            self._open.append(tag)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, {k: v or "" for k, v in attrs}))

    def handle_endtag(self, tag: str) -> None:
        if tag in self._open:
            del self._open[len(self._open) - 1 - self._open[::-1].index(tag) :]

    def handle_data(self, data: str) -> None:
        self.texts.append((tuple(self._open), data))

    def text_in(self, *path: str) -> list[str]:
        """The text of every element whose innermost tags are `path`."""
        return [t for where, t in self.texts if where[-len(path) :] == path]


def _store() -> SnapshotStore:
    """A model whose every producer- or config-chosen string is hostile, evaluated twice."""
    store = SnapshotStore()
    hist = FeatureHistogram((SCRIPT, BREAKOUT, QUOTE), (0.5, 0.3, 0.2), (0.2, 0.3, 0.5), (
        False, True, False,
    ))  # fmt: skip
    for at in (1.0, 2.0):
        features = (
            FeatureSnapshot(SCRIPT, DriftValue(BREAKOUT, 0.5, 0.01, 0.1, True), 0.1, 0, 0.2, hist),
            FeatureSnapshot(BREAKOUT, DriftValue("psi", 0.01, None, 0.1, False), 0.0, 0, 0, hist),
        )
        store.publish(
            ModelSnapshot(
                MODEL, at, 1.0, 500, 1000, features, 0.5, True, None,
                performance=((SCRIPT, 1.5),),
                reference_performance=(),
                estimated_performance=((BREAKOUT, 0.7),),
                multivariate_note=QUOTE,
                reference_note=SCRIPT,
            )
        )  # fmt: skip
    return store


def _pages(store: SnapshotStore) -> dict[str, Page]:
    m = quote(MODEL, safe="")
    paths = {
        "fleet": "/models",
        "model": f"/models/{m}",
        "script": f"/models/{m}/features/{quote(SCRIPT, safe='')}",
        "breakout": f"/models/{m}/features/{quote(BREAKOUT, safe='')}",
    }
    found = {}
    for name, path in paths.items():
        page = pages.render(path, "text/html", store, [MODEL, SCRIPT])
        assert page is not None and page[0] == 200, (path, page)
        body = page[2].decode()
        for hostile in (SCRIPT, BREAKOUT, QUOTE):
            assert hostile not in body, f"{hostile!r} verbatim on {path}"
        found[name] = Page(body)
    return found


def _assert_only_our_markup(page: Page) -> None:
    tags = {tag for tag, _ in page.tags}
    assert tags <= MARKUP, f"markup from a name: {tags - MARKUP}"
    handlers = [(tag, a) for tag, attrs in page.tags for a in attrs if a.startswith("on")]
    assert not handlers, f"event handlers from a name: {handlers}"


def test_hostile_names_show_as_text_in_the_body_attributes_and_svg_titles() -> None:
    found = _pages(_store())
    for page in found.values():
        _assert_only_our_markup(page)
    fleet, model, script = found["fleet"], found["model"], found["script"]
    # Names as visible text: the model, its note, the metrics' names, both features.
    assert MODEL in fleet.text_in("a") and SCRIPT in fleet.text_in("span")
    assert f"{SCRIPT} 1.5" in fleet.text_in("td") and f"{BREAKOUT} 0.7" in fleet.text_in("td")
    assert SCRIPT in fleet.text_in("td")  # the drifted features
    assert model.text_in("h1") == [MODEL] and model.text_in("head", "title") == [MODEL]
    assert model.text_in("td", "a") == [SCRIPT, BREAKOUT]
    assert f"multivariate drift: {QUOTE}" in model.text_in("p")
    assert BREAKOUT in model.text_in("td")  # the drift method
    # Names inside attributes: every link is the quoted path, nothing broke out of it.
    hrefs = [attrs["href"] for tag, attrs in model.tags if tag == "a"]
    m = quote(MODEL, safe="")
    assert hrefs == [
        "../models",
        f"../models/{m}/features/{quote(SCRIPT, safe='')}",
        f"../models/{m}/features/{quote(BREAKOUT, safe='')}",
    ]
    # Category values as SVG bin labels and their tooltips.
    assert script.text_in("svg", "text", "title") == [SCRIPT, f"{BREAKOUT} (unseen)", QUOTE]
    assert script.text_in("h1") == [SCRIPT] and script.text_in("head", "title") == [
        f"{MODEL} / {SCRIPT}"
    ]
    assert f"{BREAKOUT}: score 0.5, threshold 0.1, p-value 0.01" in script.text_in("p")


def test_the_escaping_check_fails_when_autoescape_is_off(monkeypatch: pytest.MonkeyPatch) -> None:
    # The test above would pass vacuously if its inputs never reached the page unescaped.
    monkeypatch.setattr(pages, "ENV", pages.ENV.overlay(autoescape=False, cache_size=0))
    with pytest.raises(AssertionError):
        _pages(_store())


def test_the_bar_chart_scales_to_the_tallest_share_and_cuts_labels_to_fit() -> None:
    h = {"labels": ["a", "b" * 40], "reference": [0.5, 0.5], "window": [1.0, 0.0]}
    chart = pages.bar_chart({**h, "unseen": [False, True]}, 120, 50, True)
    assert chart is not None and len(chart.bins) == 2
    (ref_a, win_a), (ref_b, win_b) = (b.bars for b in chart.bins)
    assert (win_a.height, win_a.y, ref_a.height, ref_a.y) == ("20.0", "0.0", "10.0", "10.0")
    assert (ref_b.x, win_b.x, win_b.cls, win_b.height) == ("60.0", "87.0", "unseen", "0.0")
    assert [ref_a.tip, win_a.tip] == ["reference 0.500", "window 1.000"]
    label = chart.bins[1].label
    assert label is not None and label.short == "b" * 10 and label.tip == "b" * 40 + " (unseen)"
    small = pages.bar_chart({**h, "unseen": [False, False]}, 120, 28, False)
    assert small is not None and small.bins[0].label is None
    assert pages.bar_chart(None, 120, 28, False) is None
    assert pages.bar_chart({"labels": []}, 120, 28, False) is None


def test_the_history_chart_waits_for_two_points_and_spans_its_values() -> None:
    point = {"score": 0.2, "threshold": 0.1}
    assert pages.history_chart([point]) is None
    chart = pages.history_chart([point, {"score": 0.3, "threshold": 0.1}], 110, 20)
    assert chart is not None
    assert (chart.score, chart.limit) == ("5.0,10.0 105.0,5.0", "5.0,15.0 105.0,15.0")


def test_every_template_ships_in_the_wheel() -> None:
    # A template the package-data globs miss works from a checkout and 500s when installed.
    project = tomllib.loads((Path(pages.__file__).parents[2] / "pyproject.toml").read_text())
    globs = project["tool"]["setuptools"]["package-data"]["exporter.web"]
    folder = Path(pages.__file__).parent
    shipped = {p for g in globs for p in folder.glob(g)}
    assert set((folder / "templates").iterdir()) == shipped
    assert "jinja2>=3.1" in project["project"]["dependencies"]


class _Cells(HTMLParser):
    """Columns per table row, a colspan counting as many."""

    def __init__(self, body: str) -> None:
        super().__init__()
        self.rows: list[int] = []
        self.feed(body)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "tr":
            self.rows.append(0)
        elif tag in ("td", "th"):
            self.rows[-1] += int(dict(attrs).get("colspan") or 1)


def test_a_model_not_yet_evaluated_spans_every_column_of_the_fleet_table() -> None:
    page = pages.render("/models", "text/html", SnapshotStore(), ["waiting"])
    assert page is not None
    rows = _Cells(page[2].decode()).rows
    assert len(rows) == 2 and rows[1] == rows[0] == 7
