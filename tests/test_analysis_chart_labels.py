"""Every chart says what it draws: a title, axis labels, a unit, a legend entry per series.

The check (:mod:`sim.analysis.chart_labels`) reads a matplotlib Figure; here it runs on the
Figure of every chart function, so it runs everywhere. tests/test_analysis_page.py runs the
same check in a real browser on the labels the report page carries for each chart.
"""

from __future__ import annotations

import html.parser
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import xarray as xr
import yaml
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

import sim.api
from sim.analysis import chart_labels, charts, charts_economy
from sim.analysis.chart_labels import chart_labels as labels_of
from sim.analysis.chart_labels import label_problems

TINY = Path(__file__).parent / "data" / "tiny" / "tiny.yaml"
PARAMS = ["trade.elasticity.goods", "trade_costs.cost_per_border_day"]


@pytest.fixture(scope="module")
def run() -> xr.Dataset:
    data = yaml.safe_load(TINY.read_text())
    data["calibration"] = {
        "targets": [{"kind": "turnover", "regions": ["A", "B"], "year": 2021, "value": 140}]
    }
    ds = sim.api.run(data, base_dir=TINY.parent, replicas=6)
    rng = np.random.default_rng(0)
    for name in ("terms_of_trade_total", "employment", "deficit", "residual"):
        ds[f"welfare_{name}"] = (("replica", "region"), rng.normal(size=(6, 3)))
    return ds


def _interval(values: np.ndarray, dims: tuple[str, ...], names: tuple[str, ...]) -> dict:
    out = {}
    for name in names:
        out[name] = (dims, values)
        out[f"{name}_low"] = (dims, values * 0.8)
        out[f"{name}_high"] = (dims, values * 1.2)
    return out


def _sobol(by_year: bool = False) -> xr.Dataset:
    dims: tuple[str, ...] = ("parameter", "year") if by_year else ("parameter",)
    values = np.array([[0.2, 0.3], [0.5, 0.6]]) if by_year else np.array([0.2, 0.5])
    coords: dict[str, Any] = {"parameter": PARAMS} | ({"year": [2029, 2030]} if by_year else {})
    return xr.Dataset(_interval(values, dims, ("S1", "ST")), coords=coords,
                      attrs={"confidence": 0.9})  # fmt: skip


def _morris(by_year: bool = False) -> xr.Dataset:
    dims: tuple[str, ...] = ("parameter", "year") if by_year else ("parameter",)
    values = np.array([[20.0, 30.0], [5.0, 6.0]]) if by_year else np.array([20.0, 5.0])
    coords: dict[str, Any] = {"parameter": PARAMS} | ({"year": [2029, 2030]} if by_year else {})
    ds = xr.Dataset(_interval(values, dims, ("mu_star",)), coords=coords,
                    attrs={"confidence": 0.9, "units": "USD million per year"})  # fmt: skip
    ds["sigma"] = (dims, values / 2)
    return ds


def _difference(run: xr.Dataset) -> Figure:
    from sim.analysis.compare import paired_change

    draws = paired_change(run, run).sel(pair="A-B")
    return charts.difference_fan_figure(draws, "Change in trade turnover A-B", "v minus b")


#: Every figure function of the chart modules, with arguments from a run.
FIGURES: dict[str, Callable[[xr.Dataset], Figure]] = {
    "turnover_fan_figure": lambda ds: charts.turnover_fan_figure(ds, "A-B"),
    "difference_fan_figure": _difference,
    "jobs_by_kind_figure": charts.jobs_by_kind_figure,
    "jobs_by_sector_figure": charts.jobs_by_sector_figure,
    "capital_flows_figure": charts.capital_flows_figure,
    "pipeline_figure": charts.pipeline_figure,
    "sobol_figure": lambda ds: charts.sobol_figure(_sobol()),
    "sensitivity_time_figure": lambda ds: charts.sensitivity_time_figure(_sobol(True)),
    "sensitivity_time_figure (Morris)": lambda ds: charts.sensitivity_time_figure(_morris(True)),
    "morris_figure": lambda ds: charts.morris_figure(_morris()),
    "real_income_figure": charts_economy.real_income_figure,
    "welfare_figure": charts_economy.welfare_figure,
    "gdp_figure": charts_economy.gdp_figure,
    "value_added_figure": charts_economy.value_added_figure,
    "trade_by_direction_figure": lambda ds: charts_economy.trade_by_direction_figure(
        ds, ["A-B", "A-C"]
    ),
    "trade_by_sector_figure": lambda ds: charts_economy.trade_by_sector_figure(ds, ["A-B"]),
    "trade_balance_figure": charts_economy.trade_balance_figure,
    "jobs_by_region_figure": charts_economy.jobs_by_region_figure,
    "jobs_in_year_figure": lambda ds: charts_economy.jobs_in_year_figure(ds, 2024),
    "capital_by_direction_figure": charts_economy.capital_by_direction_figure,
}


def test_every_figure_function_is_checked() -> None:
    exported = {
        name
        for module in (charts, charts_economy)
        for name in module.__all__
        if name.endswith("_figure")
    }
    assert exported <= {name.split(" ")[0] for name in FIGURES}


@pytest.mark.parametrize("name", sorted(FIGURES))
def test_every_chart_is_labelled(run: xr.Dataset, name: str) -> None:
    labels = labels_of(FIGURES[name](run))
    assert label_problems(labels) == [], labels
    assert labels["title"] and labels["xlabel"] and labels["ylabel"]
    if labels["series"] > 1:
        assert len(labels["legend"]) == labels["series"]


def _plain(series: int = 1, title: str = "T", xlabel: str = "year",
           ylabel: str = "persons", legend: bool = True) -> Figure:  # fmt: skip
    fig = Figure()
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    for i in range(series):
        ax.plot([0, 1], [i, i + 1], label=f"series {i}")
    ax.set_title(title)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    if legend:
        ax.legend()
    return fig


def test_the_check_reports_what_is_missing() -> None:
    assert label_problems(labels_of(_plain(series=2))) == []
    assert label_problems(labels_of(_plain(ylabel=""))) == [
        "no y label",
        "panel 1 of 1: no y label",
    ]
    assert label_problems(labels_of(_plain(xlabel=""))) == [
        "no x label",
        "panel 1 of 1: no x label",
    ]
    assert label_problems(labels_of(_plain(title=""))) == ["no title"]
    assert label_problems(labels_of(_plain(ylabel="turnover"))) == [
        "the value axis label 'turnover' names no unit"
    ]
    assert label_problems(labels_of(_plain(series=2, legend=False))) == [
        "2 series but 0 legend entries"
    ]
    assert label_problems(labels_of(_plain(series=1, legend=False))) == []  # one series: no legend
    # a panel of a multi-panel chart without its label, and no shared label to stand in
    fig = _plain()
    second = fig.add_subplot(2, 1, 2)
    second.plot([0, 1], [1, 2])
    second.set_xlabel("year")
    assert label_problems(labels_of(fig)) == ["panel 2 of 2: no y label"]
    fig.supylabel("persons")
    assert label_problems(labels_of(fig)) == []
    # nothing at all, as a page's <figure> without data attributes reads
    assert label_problems({}) == ["no title", "no x label", "no y label"]


@pytest.mark.parametrize(
    ("label", "unit"),
    [
        ("USD million per year (constant 2020 prices)", True),
        ("persons employed (average over the period)", True),
        ("real income change\npercent", True),
        ("number of projects", True),
        ("share of the output's variance (90 % intervals)", True),
        ("EUR", True),
        ("turnover", False),
        ("value added", False),
        ("", False),
    ],
)
def test_units_in_labels(label: str, unit: bool) -> None:
    assert chart_labels.has_unit(label) is unit


class _Figures(html.parser.HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.found: list[dict[str, str]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "figure":
            self.found.append({k: v or "" for k, v in attrs})


def test_labels_travel_from_figure_to_png_to_page(run: xr.Dataset, tmp_path: Path) -> None:
    from sim.analysis.report_sections import figure_html

    fig = charts_economy.jobs_in_year_figure(run, 2024)
    expected = labels_of(fig)
    path = charts.save_figure(fig, tmp_path / "jobs.png")
    assert fig.axes == []  # the figure is cleared once saved
    assert chart_labels.read_png_labels(path) == expected
    parser = _Figures()
    parser.feed(figure_html(path, "jobs", "caption", "jobs_in_year"))
    (attributes,) = parser.found
    assert attributes["data-chart"] == "jobs_in_year"
    assert chart_labels.from_attributes(attributes) == expected
    assert "direct: construction" in expected["legend"]
    # a PNG without labels (written elsewhere) gives a <figure> the check rejects
    bare = _plain()
    bare.savefig(tmp_path / "bare.png")
    assert chart_labels.read_png_labels(tmp_path / "bare.png") is None
    parser = _Figures()
    parser.feed(figure_html(tmp_path / "bare.png", "bare", "caption"))
    assert label_problems(chart_labels.from_attributes(parser.found[0])) != []
