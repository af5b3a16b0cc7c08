"""What a chart says about itself: title, axis labels and units, series and legend.

PNG pixels cannot be read back, so a chart's labels are read from its matplotlib
:class:`~matplotlib.figure.Figure` when it is saved (:func:`chart_labels`), kept in
the PNG as a text chunk (:data:`PNG_KEY`, :func:`png_metadata`) and written into the
report page as data attributes of the chart's ``<figure>`` (:func:`figure_attributes`).
:func:`label_problems` checks them: every chart has a title, an x and a y label, a
unit on its value axis, and a legend entry for each series when it draws more than
one. The tests run the check on the Figure of every chart function, and in a real
browser on every chart of the report page.
"""

from __future__ import annotations

import html
import json
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.ticker import FixedLocator

#: Key of the PNG text chunk that holds a chart's labels (JSON, ASCII).
PNG_KEY = "sim-chart"
#: Words that name a unit in an axis label (besides a unit in brackets).
UNIT_WORDS = (
    "persons",
    "percent",
    "%",
    "projects",
    "per year",
    "per quarter",
    "per month",
    "per period",
    "million",
    "billion",
    "thousand",
    "share of",
    "index",
    "percentage points",
)
_BRACKETED = re.compile(r"\([^()]*[A-Za-z%][^()]*\)|\[[^\[\]]*[A-Za-z%][^\[\]]*\]")
_CURRENCY = re.compile(r"\b[A-Z]{3}\b")


def has_unit(label: str) -> bool:
    """Whether an axis label names a unit: in brackets, a currency code or a unit word."""
    text = label.strip()
    if not text:
        return False
    if _BRACKETED.search(text) or _CURRENCY.search(text):
        return True
    lowered = text.lower()
    return any(word in lowered for word in UNIT_WORDS)


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _drawn(ax: Axes) -> bool:
    return ax.get_visible() and bool(ax.lines or ax.collections or ax.patches or ax.images)


def _categorical_y(ax: Axes) -> bool:
    """A y axis of named categories (ticks set with labels: Sobol' bars, horizontal bars)."""
    return isinstance(ax.yaxis.get_major_locator(), FixedLocator) and not isinstance(
        ax.xaxis.get_major_locator(), FixedLocator
    )


def _series(ax: Axes) -> list[str]:
    artists: list[Any] = [*ax.lines, *ax.collections, *ax.containers]
    labels = [str(a.get_label()) for a in artists if a.get_label() is not None]
    return [x for x in labels if x and not x.startswith("_")]


def _unique(items: list[str]) -> list[str]:
    return list(dict.fromkeys(items))


def chart_labels(fig: Figure) -> dict[str, Any]:
    """Read a chart's title, axis labels, series and legend from its Figure.

    Parameters
    ----------
    fig
        A drawn chart (one or more axes: small multiples share a figure title and
        may share their axis labels through ``supxlabel``/``supylabel``).

    Returns
    -------
    dict
        ``title`` (the figure's title, else its panels' titles), ``xlabel`` and
        ``ylabel`` (every distinct label, ``" | "`` between them), ``value_labels``
        (the label of each panel's value axis: y, or x where y holds categories),
        ``series`` (number of distinct labelled lines, areas and bar groups),
        ``legend`` (the distinct texts of every legend) and ``unlabelled`` (panels
        without an x or y label, as sentences).
    """
    drawn = [ax for ax in fig.axes if _drawn(ax)]
    sup_x = _one_line(fig.get_supxlabel())
    sup_y = _one_line(fig.get_supylabel())
    titles = [
        _one_line(ax.get_title(loc))
        for ax in drawn
        for loc in ("left", "center", "right")
        if ax.get_title(loc).strip()
    ]
    title = _one_line(fig.get_suptitle()) or " | ".join(_unique(titles))
    xlabels, ylabels, values, unlabelled = [], [], [], []
    for i, ax in enumerate(drawn, start=1):
        x = _one_line(ax.get_xlabel()) or sup_x
        y = _one_line(ax.get_ylabel()) or sup_y
        xlabels.append(x)
        ylabels.append(y)
        values.append(x if _categorical_y(ax) else y)
        for axis, text in (("x", x), ("y", y)):
            if not text:
                unlabelled.append(f"panel {i} of {len(drawn)}: no {axis} label")
    legends = [ax.get_legend() for ax in fig.axes] + list(fig.legends)
    legend = _unique(
        [_one_line(t.get_text()) for lg in legends if lg is not None for t in lg.get_texts()]
    )
    return {
        "title": title,
        "xlabel": " | ".join(_unique([x for x in xlabels if x])),
        "ylabel": " | ".join(_unique([y for y in ylabels if y])),
        "value_labels": _unique(values),
        "series": len(_unique([s for ax in drawn for s in _series(ax)])),
        "legend": legend,
        "unlabelled": unlabelled,
        "panels": len(drawn),
    }


def label_problems(labels: Mapping[str, Any]) -> list[str]:
    """What a chart's labels lack, as sentences; empty when the chart is fully labelled.

    Parameters
    ----------
    labels
        :func:`chart_labels` of a Figure, or the same read back from a page's
        data attributes (:func:`figure_attributes`).
    """
    problems = []
    if not str(labels.get("title", "")).strip():
        problems.append("no title")
    for axis in ("x", "y"):
        if not str(labels.get(f"{axis}label", "")).strip():
            problems.append(f"no {axis} label")
    for text in labels.get("value_labels") or [labels.get("ylabel", "")]:
        if str(text).strip() and not has_unit(str(text)):
            problems.append(f"the value axis label {text!r} names no unit")
    problems += [str(p) for p in labels.get("unlabelled") or []]
    series = int(labels.get("series", 0))
    legend = list(labels.get("legend") or [])
    if series > 1 and len(legend) != series:
        problems.append(f"{series} series but {len(legend)} legend entries")
    if int(labels.get("panels", 1)) < 1:
        problems.append("nothing drawn")
    return problems


def png_metadata(fig: Figure) -> dict[str, str]:
    """The PNG text chunk of a chart: its :func:`chart_labels` as ASCII JSON."""
    return {PNG_KEY: json.dumps(chart_labels(fig), ensure_ascii=True)}


def read_png_labels(path: str | Path) -> dict[str, Any] | None:
    """The labels kept in a chart's PNG by :func:`png_metadata`, or ``None`` if it has none."""
    from PIL import Image

    with Image.open(path) as image:
        text = getattr(image, "text", {}).get(PNG_KEY)
    if not text:
        return None
    try:
        labels = json.loads(text)
    except ValueError:
        return None
    return labels if isinstance(labels, dict) else None


#: Data attributes of a chart's <figure>: attribute name, key of :func:`chart_labels`.
ATTRIBUTES = (
    ("data-title", "title"),
    ("data-xlabel", "xlabel"),
    ("data-ylabel", "ylabel"),
    ("data-value-labels", "value_labels"),
    ("data-series", "series"),
    ("data-legend", "legend"),
    ("data-unlabelled", "unlabelled"),
    ("data-panels", "panels"),
)


def figure_attributes(labels: Mapping[str, Any] | None) -> str:
    """The data attributes (escaped, with a leading space) of a chart's ``<figure>``.

    Lists are JSON; a chart without labels gets none (the page test then reports it).
    """
    if not labels:
        return ""
    out = []
    for attribute, key in ATTRIBUTES:
        value = labels.get(key, "")
        text = json.dumps(value) if isinstance(value, list | dict) else str(value)
        out.append(f' {attribute}="{html.escape(text, quote=True)}"')
    return "".join(out)


def from_attributes(attributes: Mapping[str, str]) -> dict[str, Any]:
    """The labels of a chart read back from its ``<figure>``'s data attributes."""
    out: dict[str, Any] = {}
    for attribute, key in ATTRIBUTES:
        if attribute not in attributes:
            continue
        value: Any = attributes[attribute]
        if key in ("value_labels", "legend", "unlabelled"):
            value = json.loads(value)
        elif key in ("series", "panels"):
            value = int(value)
        out[key] = value
    return out


__all__ = [
    "ATTRIBUTES",
    "PNG_KEY",
    "UNIT_WORDS",
    "chart_labels",
    "figure_attributes",
    "from_attributes",
    "has_unit",
    "label_problems",
    "png_metadata",
    "read_png_labels",
]
