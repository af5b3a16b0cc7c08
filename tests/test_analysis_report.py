"""sim report: PNG charts and a self-contained HTML page; the charts' content."""

from __future__ import annotations

import base64
import copy
import html
import re
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import xarray as xr
import yaml
from matplotlib.colors import to_hex
from PIL import Image

import sim.api
from sim.analysis import charts
from sim.analysis.report import write_report
from sim.cli import main
from sim.results.write import write_netcdf

TINY = Path(__file__).parent / "data" / "tiny" / "tiny.yaml"
TARGETS = [
    {"id": "t21", "kind": "turnover", "regions": ["B", "A"], "year": 2021, "value": 140},
    {"id": "t24", "kind": "turnover", "regions": ["A", "B"], "year": 2024, "lower": 160},
    {"id": "tc", "kind": "turnover", "regions": ["A", "C"], "year": 2022, "value": 1},
]
RUN_CHARTS = {
    "turnover_A-B.png",
    "turnover_A-C.png",
    "turnover_B-C.png",
    "jobs_by_kind.png",
    "jobs_by_sector.png",
    "capital_flows_by_sector.png",
    "pipeline_by_stage.png",
    # the economic sections (sim/analysis/charts_economy.py)
    "real_income_change_by_region.png",
    "gdp_by_region.png",
    "value_added_by_sector.png",
    "trade_by_direction.png",
    "trade_by_sector.png",
    "trade_balance_by_region.png",
    "jobs_net_gross_by_region.png",
    "jobs_by_region_in_year.png",
    "capital_flows_by_direction.png",
}


def _data(**changes: Any) -> dict[str, Any]:
    data = yaml.safe_load(TINY.read_text())
    data["calibration"] = {"targets": TARGETS}
    data["monte_carlo"]["replicas"] = 12
    for key, value in changes.items():
        data[key] = value
    return data


@pytest.fixture(scope="module")
def runs() -> tuple[xr.Dataset, xr.Dataset]:
    base = sim.api.run(_data(), base_dir=TINY.parent)
    variant_data = _data(
        metadata={
            "name": "tiny_faster_border",
            "currency": "USD",
            "money_unit": "million",
            "price_basis": "constant",
            "price_base_year": 2020,
        }
    )
    variant_data["policies"][0]["value"] = 0.1
    variant = sim.api.run(variant_data, base_dir=TINY.parent)
    return base, variant


@pytest.fixture(scope="module")
def report(runs, tmp_path_factory: pytest.TempPathFactory) -> Path:
    base, variant = runs
    folder = tmp_path_factory.mktemp("report")
    return write_report(variant, folder, compare_with=base, targets=["jobs_annual:2027>=1"])


def _png_ok(data: bytes) -> tuple[int, int]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    from io import BytesIO

    img = Image.open(BytesIO(data)).convert("RGB")
    colours = len(set(img.getdata()))
    assert colours > 20, "an almost empty chart"
    return img.size


def test_report_writes_charts_and_one_page(report: Path) -> None:
    folder = report.parent
    written = {p.name for p in folder.glob("*.png")}
    assert written == RUN_CHARTS | {f"turnover_change_{p}.png" for p in ("A-B", "A-C", "B-C")}
    for png in folder.glob("*.png"):
        width, height = _png_ok(png.read_bytes())
        assert width >= 900 and height >= 400, png.name
    page = report.read_text()
    images = re.findall(r'<img src="data:image/png;base64,([A-Za-z0-9+/=]+)"', page)
    assert len(images) == len(written)  # every chart embedded, nothing else
    on_disk = sorted(p.read_bytes() for p in folder.glob("*.png"))
    assert sorted(base64.b64decode(i) for i in images) == on_disk
    # self-contained: no link, script or address outside the page
    assert not re.search(r"(src|href)=\"(?!data:)", page)
    assert "http://" not in page and "https://" not in page and "<script" not in page
    assert "default-src 'none'" in page
    assert "Change in jobs in 2027 by region, sector and kind" in page
    assert "jobs_annual:2027&gt;=1" in page  # targets listed, escaped


def _labelled(ax: Any) -> dict[str, Any]:
    return {line.get_label(): line for line in ax.get_lines()}


def test_fan_chart_shows_bands_and_observed_targets(runs) -> None:
    _, variant = runs
    fig = charts.turnover_fan_figure(variant, "A-B")
    ax = fig.axes[0]
    lines = _labelled(ax)
    observed = lines["observed"]
    assert list(observed.get_xdata()) == [2021] and list(observed.get_ydata()) == [140.0]
    bound = lines["observed: at least"]
    assert list(bound.get_xdata()) == [2024] and list(bound.get_ydata()) == [160.0]
    median = variant.trade_turnover_annual.sel(pair="A-B").median("replica")
    np.testing.assert_allclose(lines["simulated median"].get_ydata(), median.values)
    bands = [c for c in ax.collections if c.get_label() in ("50 % band", "90 % band")]
    assert len(bands) == 2
    outer = bands[0].get_paths()[0].vertices[:, 1]
    q05 = variant.trade_turnover_annual.sel(pair="A-B").quantile(0.05, "replica").values
    assert np.isclose(outer.min(), q05.min())
    assert "USD million per year" in ax.get_ylabel() and ax.get_xlabel() == "year"
    # the target on A-C is not drawn on A-B, and is drawn on A-C
    assert "observed" in _labelled(charts.turnover_fan_figure(variant, "A-C").axes[0])


def test_charts_use_the_okabe_ito_palette(runs) -> None:
    _, variant = runs
    ax = charts.jobs_by_kind_figure(variant).axes[0]
    fills = [to_hex(c.get_facecolor()[0]) for c in ax.collections]
    assert fills[:4] == [c.lower() for c in charts.PALETTE[:4]]
    assert ax.get_ylabel().startswith("persons")
    stage = charts.pipeline_figure(variant).axes[0]
    np.testing.assert_allclose(
        stage.collections[0].get_paths()[0].vertices[:, 1].max(),
        float(variant.projects_by_stage.sel(stage="planned").mean("replica").max()),
    )
    assert charts.named_colours(["a", "other", "b"]) == [
        charts.PALETTE[0],
        charts.GREY,
        charts.PALETTE[1],
    ]


def test_capital_flows_chart_adds_up(runs) -> None:
    _, variant = runs
    ax = charts.capital_flows_figure(variant).axes[0]
    heights: dict[float, float] = {}
    for bar in ax.patches:
        heights[bar.get_x()] = heights.get(bar.get_x(), 0.0) + bar.get_height()
    cross = variant.origin != variant.destination
    total = variant.capital_flow_annual.where(cross, 0).sum(("origin", "destination"))
    np.testing.assert_allclose(sorted(heights.items())[-1][1], float(total.mean("replica")[-1]))


def test_difference_fan_chart(runs) -> None:
    from sim.analysis.compare import paired_change

    base, variant = runs
    draws = paired_change(base, variant).sel(pair="A-B")
    ax = charts.difference_fan_figure(draws, "Change", subtitle="v minus b").axes[0]
    median = _labelled(ax)["median change"].get_ydata()
    np.testing.assert_allclose(median, draws.median("draw").values)
    assert median[0] == 0 and median[-1] > 0  # no change before the policy, a gain after


def test_cli_report(runs, tmp_path: Path, capsys) -> None:
    base, _ = runs
    nc = write_netcdf(base, tmp_path / "base.nc")
    assert main(["report", str(nc)]) == 0
    folder = tmp_path / "base_report"
    assert {p.name for p in folder.glob("*.png")} == RUN_CHARTS
    assert (folder / "report.html").stat().st_size > 50_000
    assert "wrote" in capsys.readouterr().out
    assert main(["report", str(tmp_path / "nothing.nc")]) == 2
    assert "no such result" in capsys.readouterr().err


def test_a_report_needs_a_run(runs, tmp_path: Path, capsys) -> None:
    """Regression: a sweep store or another program's NetCDF ended in a traceback, and a
    comparison's file gave an empty page; --target without --compare was ignored."""
    base, _ = runs
    other = tmp_path / "other.nc"
    xr.Dataset({"a": ("x", [1.0])}).to_netcdf(other, engine="h5netcdf")
    comparison = tmp_path / "cmp.nc"
    nc = write_netcdf(base, tmp_path / "base.nc")
    assert main(["-q", "compare", str(nc), str(nc), "-o", str(comparison)]) == 0
    capsys.readouterr()
    for path in (other, comparison):
        assert main(["report", str(path), "-o", str(tmp_path / "rep")]) == 2
        err = capsys.readouterr().err
        assert "is not a result of `sim run` or `sim counterfactual`" in err
        assert "Traceback" not in err and "allowed:" in err
    assert not (tmp_path / "rep" / "report.html").exists()
    assert main(["report", str(nc), "--target", "jobs_annual:2027>=1"]) == 2
    assert "no --compare run is given" in capsys.readouterr().err


def test_fan_chart_draws_targets_in_the_money_they_name() -> None:
    """With a price path, turnover targets are in current money by default: the chart is
    drawn in current money with them; a target stated in constant prices is drawn on a
    constant-price chart, never mixed."""
    data = _data(prices={"inflation": {"A": 0.10, "B": 0.10, "C": 0.10}})
    current = sim.api.run(copy.deepcopy(data), replicas=4, base_dir=TINY.parent)
    ax = charts.turnover_fan_figure(current, "A-B").axes[0]
    assert "current" in ax.get_ylabel()
    median = current.trade_turnover_annual_current.sel(pair="A-B").median("replica")
    np.testing.assert_allclose(_labelled(ax)["simulated median"].get_ydata(), median.values)
    assert list(_labelled(ax)["observed"].get_ydata()) == [140.0]
    data["calibration"]["targets"] = [dict(t, prices="constant") for t in TARGETS]
    constant = sim.api.run(data, replicas=4, base_dir=TINY.parent)
    ax = charts.turnover_fan_figure(constant, "A-B").axes[0]
    assert "current" not in ax.get_ylabel() and "observed" in _labelled(ax)


def _captions(page: str) -> dict[str, str]:
    found = re.findall(
        r'<img src="data:[^"]*" alt="([^"]*)"><figcaption>([^<]*)</figcaption>', page
    )
    return {alt: html.unescape(text) for alt, text in found}


def test_captions_describe_only_what_is_drawn(runs, report: Path) -> None:
    """Regression: every turnover chart's caption spoke of observed points, also on a pair
    without targets (B-C here), or with only bounds."""
    from sim.analysis.report_scenario import turnover_caption

    captions = _captions(report.read_text())
    assert "Points: observed" in captions["trade turnover A-B"]
    assert "triangles: observed bounds" in captions["trade turnover A-B"]
    assert "Points: observed" in captions["trade turnover A-C"]
    assert "triangles" not in captions["trade turnover A-C"].lower()
    no_targets = captions["trade turnover B-C"]
    assert "observed" not in no_targets and "Points" not in no_targets
    assert "observed" not in _labelled(charts.turnover_fan_figure(runs[1], "B-C").axes[0])
    # only a bound: triangles, no points
    data = _data()
    data["calibration"]["targets"] = [TARGETS[1]]
    bounds = sim.api.run(data, replicas=2, base_dir=TINY.parent)
    caption = turnover_caption(bounds, "A-B")
    assert "Triangles: observed bounds" in caption and "Points" not in caption
    assert "observed" not in _labelled(charts.turnover_fan_figure(bounds, "A-B").axes[0])


def test_report_comparison_table_is_compact(runs, report: Path) -> None:
    """Only the quantities that change are in the table; the full table is one click away
    in a <details> element (no script)."""
    from sim.analysis.compare import compare
    from sim.analysis.compare_format import comparison_rows

    page = report.read_text()
    cmp = compare(runs[0], runs[1])
    every = comparison_rows(cmp)
    compact, details = page.split("<details>", 1)
    summary, full = details.split("</summary>", 1)
    assert "unchanged rows left out" in summary and f"({len(every)} rows)" in summary
    compact_table = compact[compact.rindex("<table") :]
    assert "net employment A (persons)" not in compact_table  # unchanged: left out
    assert "trade turnover A-B" in compact_table
    assert "net employment A (persons)" in full.split("</details>", 1)[0]
    assert "<script" not in page


def test_summary_aligns_long_labels_and_prints_no_minus_zero(runs) -> None:
    """Regression: "gross jobs supported, construction (persons)" (44 characters) was put on
    a line of its own; a median of -0.3 printed as -0."""
    from sim.summary import WIDTH, summary_table

    ds = runs[1].copy()
    ds["trade_turnover_annual"] = ds["trade_turnover_annual"] * 0 - 0.3
    text = summary_table(ds)
    lines = text.splitlines()
    rows = lines[lines.index(next(x for x in lines if x.startswith("quantity"))) + 1 :]
    rows = rows[: rows.index("")] if "" in rows else rows
    long = next(r for r in rows if r.startswith("gross jobs supported, construction (persons)"))
    year_ends = {m.end(1) for r in rows if (m := re.search(r"\s(20\d\d)\s", r))}
    assert len(year_ends) == 1 and re.search(r"\s20\d\d\s", long), text
    assert "gross jobs supported, all kinds (persons)" in text
    assert all(len(x) <= WIDTH for x in lines)
    assert not re.search(r"(?<![\d,.])-0(?![\d.,])", text), text


def test_scenario_section_describes_the_run_and_the_variant(runs, report: Path) -> None:
    from sim.analysis.diff import scenario_diff
    from sim.analysis.results import scenario_data

    base, variant = runs
    page = report.read_text()
    section = page[page.index("<h2>The scenario</h2>") : page.index("<h2>Summary</h2>")]
    assert page.index("<h2>The scenario</h2>") < page.index("<h2>Trade</h2>")
    assert "<dt>regions</dt><dd>A, B, C</dd>" in section
    assert "<dt>sectors</dt><dd>goods, services</dd>" in section
    assert "2020-01-01 to 2027-12-31, step year" in section
    assert "USD million, constant 2020 prices; no current-money twins" in section
    assert "<dt>replicas</dt><dd>12, seed 7</dd>" in section
    # the policy with its date, kind, flows and value; the targets with their sources
    assert (
        '<td class="label">2023-01-01</td><td>border_days</td><td>A&lt;-&gt;B</td><td>all</td>'
        "<td>0.1 days</td><td>faster border crossing</td>"
    ) in section
    assert "3 targets" in section and "&#x27;t24&#x27; (turnover 2024: at least 160)" in section
    assert "<th>in A</th><th>in B</th>" in section  # projects by host
    # what the variant changes: exactly the changed keys, escaped
    lines = scenario_diff(scenario_data(base), scenario_data(variant))
    assert lines == [
        "metadata.name: 'tiny' -> 'tiny_faster_border'",
        "policies['faster border crossing' (2023-01-01)].value: 0.5 -> 0.1",
    ]
    assert "<h3>What the variant changes</h3>" in section
    for line in lines:
        assert f"<li>{html.escape(line)}</li>" in section


def _policy_lines(ax: Any) -> list[Any]:
    return [line for line in ax.get_lines() if line.get_gid() == "policy"]


def test_policy_dates_are_marked_on_the_time_charts(runs) -> None:

    from sim.analysis.compare import paired_change
    from sim.analysis.report_scenario import run_policies

    base, variant = runs
    ax = charts.turnover_fan_figure(variant, "A-B").axes[0]
    (line,) = _policy_lines(ax)
    assert list(line.get_xdata()) == [2023.0, 2023.0]  # 2023-01-01 on the year axis
    assert "policy date" in _labelled(ax)
    assert any("faster border crossing" in t.get_text() for t in ax.texts)
    draws = paired_change(base, variant).sel(pair="A-B")
    ax = charts.difference_fan_figure(draws, "Change", policies=run_policies(variant, base)).axes[0]
    assert [list(x.get_xdata()) for x in _policy_lines(ax)] == [[2023.0, 2023.0]]
    ax = charts.capital_flows_figure(variant).axes[0]
    assert [list(x.get_xdata()) for x in _policy_lines(ax)] == [[2023.0, 2023.0]]
    for figure in (
        charts.jobs_by_kind_figure,
        charts.jobs_by_sector_figure,
        charts.pipeline_figure,
    ):
        (line,) = _policy_lines(figure(variant).axes[0])
        assert list(line.get_xdata()) == [2023.0, 2023.0]  # per-period charts: years too


def test_every_time_chart_has_the_same_year_axis(runs) -> None:
    """Regression: per-period charts said "period start" under date ticks, annual ones
    "year" under year ticks. Now every time chart: "year", ticks at whole years, and a
    period drawn at its start's fraction of the year."""
    from sim.analysis.compare import paired_change

    base, variant = runs
    axes = [
        charts.turnover_fan_figure(variant, "A-B").axes[0],
        charts.difference_fan_figure(paired_change(base, variant).sel(pair="A-B"), "C").axes[0],
        charts.capital_flows_figure(variant).axes[0],
        *(f(variant).axes[0] for f in (charts.jobs_by_kind_figure, charts.jobs_by_sector_figure,
                                       charts.pipeline_figure)),
    ]  # fmt: skip
    for ax in axes:
        ax.figure.draw_without_rendering()
        assert ax.get_xlabel() == "year"
        ticks = [t.get_text() for t in ax.get_xticklabels() if t.get_text()]
        assert ticks and all(re.fullmatch(r"20\d\d", t) for t in ticks), ticks
        low, high = ax.get_xlim()
        assert 2015 < low < high < 2035
    x = axes[-1].collections[0].get_paths()[0].vertices[:, 0]
    first = np.datetime64(str(variant["time"].values[0])[:10], "D")
    assert x.min() == pytest.approx(
        2020 + int((first - np.datetime64("2020-01-01", "D")).astype(int)) / 366, abs=0.01
    )


def test_charts_without_policies_are_unchanged() -> None:
    data = _data(policies=[])
    run = sim.api.run(data, replicas=4, base_dir=TINY.parent)
    for fig in (
        charts.turnover_fan_figure(run, "A-B"),
        charts.jobs_by_kind_figure(run),
        charts.capital_flows_figure(run),
        charts.pipeline_figure(run),
    ):
        ax = fig.axes[0]
        assert _policy_lines(ax) == [] and "policy date" not in _labelled(ax)
        assert not [t for t in ax.texts if t.get_gid() == "policy"]


# The economic sections (issue 16): welfare and real income, value added and GDP, trade by
# direction and sector with the trade balance, jobs by region, capital flows by direction.


def _section(page: str, heading: str) -> str:
    """The HTML from a heading to the next heading of the same or a higher level."""
    level = heading[1:3]
    start = page.index(heading)
    ends = [page.find(f"<{h}>", start + len(heading)) for h in ("h2", level)]
    ends = [e for e in ends if e > 0]
    return page[start : min(ends)] if ends else page[start:]


def _charts(html_text: str) -> list[str]:
    return re.findall(r'<figure data-chart="([^"]+)"', html_text)


def test_economic_sections_appear_with_their_charts(report: Path) -> None:
    page = report.read_text()
    expected = {
        "<h3>Trade by direction and sector</h3>": ["trade_by_direction", "trade_by_sector"],
        "<h3>Trade balance</h3>": ["trade_balance"],
        "<h2>Value added and GDP</h2>": ["gdp", "value_added"],
        "<h2>Welfare and real income</h2>": ["real_income"],
        "<h3>Jobs by region: net and gross</h3>": ["jobs_by_region", "jobs_in_year"],
        "<h3>Capital flows by origin and destination</h3>": ["capital_by_direction"],
    }
    for heading, keys in expected.items():
        assert _charts(_section(page, heading)) == keys, heading
    order = [page.index(h) for h in ("<h2>Trade</h2>", "<h2>Value added and GDP</h2>",
                                     "<h2>Welfare and real income</h2>", "<h2>Jobs</h2>",
                                     "<h2>Investment</h2>", "<h2>Compared with")]  # fmt: skip
    assert order == sorted(order)
    # a run has no welfare decomposition: no chart and no placeholder for it
    assert "decomposition" not in page.lower()
    # every chart of the page carries its labels
    assert len(_charts(page)) == len(re.findall("<img ", page))


def _median_line(ax: Any, label: str = "median") -> np.ndarray:
    return np.asarray(_labelled(ax)[label].get_ydata(), dtype=float)


def _panel(fig: Any, title: str) -> Any:
    return next(ax for ax in fig.axes if ax.get_title(loc="left") == title)


def test_trade_balance_drawn_is_exports_minus_imports(runs) -> None:
    from sim.analysis import charts_economy

    _, ds = runs
    fig = charts_economy.trade_balance_figure(ds)
    for region in ("A", "B", "C"):
        # exports from the `exports` variable, imports from `trade`: off the diagonal
        others = [r for r in ("A", "B", "C") if r != region]
        imports = ds.trade.sel(origin=others, destination=region).sum(("origin", "sector"))
        balance = (ds.exports.sel(region=region) - imports).groupby("time.year").sum()
        ax = _panel(fig, region)
        np.testing.assert_allclose(_median_line(ax), balance.median("replica").values)
        band = next(c for c in ax.collections if c.get_label() == "5-95 %")
        low = band.get_paths()[0].vertices[:, 1].min()
        assert low == pytest.approx(float(balance.quantile(0.05, "replica").min()))
    # the balances of a closed model's regions add up to zero
    total = sum(_median_line(_panel(fig, r)) for r in ("A", "B", "C"))
    assert np.abs(total).max() < 1.0  # medians of each: close to, not exactly, zero
    assert "USD million per year" in fig.get_supylabel()


def test_trade_by_direction_and_sector_come_from_trade(runs) -> None:
    from sim.analysis import charts_economy

    _, ds = runs
    annual = ds.trade.groupby("time.year").sum()
    fig = charts_economy.trade_by_direction_figure(ds, ["A-B", "A-C", "B-C"])
    ax = _panel(fig, "A and B")
    for o, d in (("A", "B"), ("B", "A")):
        expected = annual.sel(origin=o, destination=d).sum("sector").median("replica")
        np.testing.assert_allclose(_median_line(ax, f"{o} → {d}: median"), expected.values)
    fig = charts_economy.trade_by_sector_figure(ds, ["A-B"])
    ax = _panel(fig, "exports B → A")
    goods, services = ax.containers
    mean = annual.sel(origin="B", destination="A").mean("replica")
    np.testing.assert_allclose(goods.datavalues, mean.sel(sector="goods").values)
    np.testing.assert_allclose(services.datavalues, mean.sel(sector="services").values)
    assert [b.get_y() for b in services] == pytest.approx(list(goods.datavalues))  # stacked


def test_real_income_gdp_and_value_added_come_from_the_dataset(runs) -> None:
    from sim.analysis import charts_economy

    _, ds = runs
    ax = _panel(charts_economy.real_income_figure(ds), "B")
    np.testing.assert_allclose(
        _median_line(ax), ds.real_income_change.sel(region="B").median("replica").values
    )
    fig = charts_economy.gdp_figure(ds)
    np.testing.assert_allclose(
        _median_line(_panel(fig, "C")), ds.gdp_annual.sel(region="C").median("replica").values
    )
    assert "GDP" in fig.get_supylabel() and "per year" in fig.get_supylabel()
    ax = _panel(charts_economy.value_added_figure(ds), "A")
    va = ds.value_added.sel(region="A").groupby("time.year").sum().mean("replica")
    heights = sum(np.asarray(c.datavalues) for c in ax.containers)
    np.testing.assert_allclose(heights, va.sum("sector").values)


def test_jobs_by_region_shows_net_and_gross_with_direct_jobs(runs) -> None:
    from sim.analysis import charts_economy

    _, ds = runs
    fig = charts_economy.jobs_by_region_figure(ds)
    net = _panel(fig, "B: net employment change")
    np.testing.assert_allclose(
        _median_line(net, "net change: median"),
        ds.employment_change_annual.sel(region="B").median("replica").values,
        atol=1e-6,
    )
    direct = _panel(fig, "B: direct jobs")  # a panel of their own, at their own scale
    lines = _labelled(direct)
    assert list(lines)[:2] == [
        "gross: direct: construction, median",
        "gross: direct: operation, median",
    ]
    operation = ds.jobs_annual.sel(region="B", kind="operation").median("replica")
    np.testing.assert_allclose(lines["gross: direct: operation, median"].get_ydata(), operation)
    assert direct.get_ylim()[1] < 0.5 * float(ds.jobs_annual.sel(region="B").max())
    # one year as grouped bars: direct kinds first, every bar labelled with its median
    year = charts_economy.peak_jobs_year(ds)
    ax = charts_economy.jobs_in_year_figure(ds, year).axes[0]
    labels = [c.get_label() for c in ax.containers if not c.get_label().startswith("_")]
    assert labels[:2] == ["direct: construction", "direct: operation"]
    assert labels[-1] == "net employment change"
    construction = ds.jobs_annual.sel(year=year, kind="construction").median("replica")
    bars = next(c for c in ax.containers if c.get_label() == "direct: construction")
    np.testing.assert_allclose(bars.datavalues, construction.values)
    numbers = {t.get_text() for t in ax.texts}
    assert {f"{v:,.0f}" for v in construction.values} <= numbers


def test_capital_flows_by_direction_separate_projects_and_other(runs) -> None:
    from sim.analysis import charts_economy

    _, ds = runs
    fig = charts_economy.capital_by_direction_figure(ds)
    assert sorted(ax.get_title(loc="left") for ax in fig.axes) == ["A → B", "B → A"]
    ax = _panel(fig, "A → B")
    projects, other = ax.containers
    assert (projects.get_label(), other.get_label()) == ("listed projects", "other investment")
    total = ds.capital_flow_annual.sel(origin="A", destination="B").mean("replica")
    np.testing.assert_allclose(
        np.asarray(projects.datavalues) + np.asarray(other.datavalues), total.values
    )
    assert other.patches[0].get_hatch() == "//"


def test_welfare_decomposition_only_where_the_dataset_has_it(runs, tmp_path: Path) -> None:
    from sim.analysis import charts_economy
    from sim.analysis.report_sections import welfare_section

    _, run = runs
    assert charts_economy.welfare_parts(run) == []
    ds = run.copy()
    rng = np.random.default_rng(1)
    parts = ("terms_of_trade_total", "volume_of_trade_total", "technical_efficiency_total",
             "employment", "deficit", "residual")  # fmt: skip
    for name in parts:
        ds[f"welfare_{name}"] = (("replica", "region"), rng.normal(size=(12, 3)))
    fig = charts_economy.welfare_figure(ds)
    ax = fig.axes[0]
    bars = {c.get_label(): c for c in ax.containers}
    assert list(bars) == ["terms of trade", "volume of trade", "trade-cost efficiency",
                          "employment and deficit", "approximation residual"]  # fmt: skip
    both = ds.welfare_employment + ds.welfare_deficit
    np.testing.assert_allclose(bars["employment and deficit"].datavalues, both.median("replica"))
    last = ds.real_income_change.isel(time=-1).median("replica")
    np.testing.assert_allclose(_labelled(ax)["real income change"].get_ydata(), last.values)
    pngs = charts.run_charts(ds, tmp_path, ["A-B"])
    section = welfare_section(ds, pngs)
    assert _charts(section) == ["real_income", "welfare_decomposition"]
    assert "diamonds: the median real income change" in section


def test_report_of_a_static_counterfactual_shows_its_table_and_decomposition(
    tmp_path: Path,
) -> None:
    """Regression: `sim report` on a `sim counterfactual` file (no time axis) stopped with a
    KeyError traceback. Its page now shows the counterfactual's table and the welfare
    decomposition chart, whose parts are the file's own."""
    from sim.counterfactual import counterfactual
    from sim.summary import counterfactual_table

    scenario = Path(__file__).parent / "data" / "trade_only" / "trade_only.yaml"
    ds = counterfactual(sim.api.prepare(sim.api.load_scenario(scenario, replicas=8)))
    run = write_netcdf(ds, tmp_path / "cf.nc")
    page = write_report(run, tmp_path / "report").read_text(encoding="utf-8")
    assert html.escape(counterfactual_table(ds).splitlines()[1]) in page
    assert "welfare decomposition" in page.lower()
    assert (tmp_path / "report" / "welfare_decomposition.png").exists()
    assert not (tmp_path / "report" / "real_income_change_by_region.png").exists()
