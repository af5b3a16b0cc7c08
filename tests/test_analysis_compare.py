"""sim compare: paired changes, refusal of unpairable runs, targets, the jobs decomposition."""

from __future__ import annotations

import copy
import re
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import xarray as xr
import yaml

import sim.api
from sim.analysis.compare import Target, compare, jobs_decomposition
from sim.analysis.compare_format import format_comparison, format_decomposition
from sim.analysis.errors import AnalysisError, PairingError, TargetError
from sim.cli import main
from sim.results.write import write_netcdf

TINY = Path(__file__).parent / "data" / "tiny" / "tiny.yaml"
Q = [0.05, 0.25, 0.5, 0.75, 0.95]


def _variant_data() -> dict[str, Any]:
    data = yaml.safe_load(TINY.read_text())
    data["metadata"]["name"] = "tiny_variant"
    data["policies"][0]["value"] = 0.1  # a faster border: more A-B trade
    data["investment"]["projects"][1]["capex"] = 60  # a bigger plant: more jobs
    return data


@pytest.fixture(scope="module")
def runs() -> tuple[xr.Dataset, xr.Dataset]:
    base = sim.api.run(TINY, replicas=16)
    variant = sim.api.run(_variant_data(), base_dir=TINY.parent, replicas=16)
    return base, variant


@pytest.fixture(scope="module")
def cmp(runs: tuple[xr.Dataset, xr.Dataset]) -> xr.Dataset:
    return compare(*runs, targets=["trade_turnover_annual:A-B:2026>=175"])


def test_change_is_paired_replica_by_replica(runs, cmp) -> None:
    base, variant = runs
    diff = variant.trade_turnover_annual - base.trade_turnover_annual
    expected = diff.quantile(Q, "replica").transpose("quantile", "year", "pair")
    np.testing.assert_allclose(cmp.trade_turnover_annual_change.values, expected.values)
    # ... which is not the difference of the runs' quantiles (the bands would be far wider)
    naive = (
        variant.trade_turnover_annual.quantile(Q, "replica")
        - base.trade_turnover_annual.quantile([0.95, 0.75, 0.5, 0.25, 0.05], "replica").values
    )
    band = cmp.trade_turnover_annual_change.sel(pair="A-B", year=2027)
    naive_band = naive.sel(pair="A-B", year=2027)
    paired_width = float(band.sel(quantile=0.95) - band.sel(quantile=0.05))
    naive_width = float(naive_band.sel(quantile=0.95) - naive_band.sel(quantile=0.05))
    assert paired_width < 0.5 * naive_width
    # jobs by kind over all regions: the paired change of the sums
    jobs = (variant.jobs_annual - base.jobs_annual).sum("region")
    np.testing.assert_allclose(
        cmp.jobs_by_kind_change.sel(quantile=0.5).values,
        jobs.quantile(0.5, "replica").transpose("year", "kind").values,
    )


def test_probability_negative_counts_replicas(runs, cmp) -> None:
    base, variant = runs
    diff = variant.trade_turnover_annual - base.trade_turnover_annual
    expected = (diff < 0).mean("replica")
    np.testing.assert_allclose(cmp.trade_turnover_annual_p_negative.values, expected.values)
    assert float(cmp.trade_turnover_annual_p_negative.sel(pair="B-C", year=2027)) > 0.5
    assert float(cmp.trade_turnover_annual_p_negative.sel(pair="A-B", year=2027)) == 0.0


def test_levels_of_each_run(runs, cmp) -> None:
    base, variant = runs
    for label, ds in (("base", base), ("variant", variant)):
        np.testing.assert_allclose(
            cmp.capital_flow_annual_level.sel(run=label).values,
            ds.capital_flow_annual.quantile(Q, "replica").values,
        )


def test_refuses_runs_that_cannot_be_paired(runs) -> None:
    base, _ = runs
    other_seed = sim.api.run(_variant_data(), base_dir=TINY.parent, replicas=16, seed=8)
    with pytest.raises(PairingError, match=r"different seeds \(base 7, variant 8\)") as exc:
        compare(base, other_seed)
    assert "--unpaired" in str(exc.value)
    fewer = sim.api.run(_variant_data(), base_dir=TINY.parent, replicas=12)
    with pytest.raises(PairingError, match="different numbers of replicas"):
        compare(base, fewer)
    data = _variant_data()
    data["time"]["end"] = "2025-12-31"
    shorter = sim.api.run(data, base_dir=TINY.parent, replicas=16)
    with pytest.raises(PairingError, match="different time axes"):
        compare(base, shorter)
    # asked for, the unpaired comparison keeps the years both runs have
    unpaired = compare(base, shorter, paired=False)
    assert [int(y) for y in unpaired.year.values] == list(range(2020, 2026))
    assert unpaired.attrs["paired"] == 0 and "time axes" in unpaired.attrs["pairing_problems"]


def test_refuses_runs_in_other_currencies_or_prices(runs) -> None:
    """Regression: a run in EUR at 2015 prices was compared with one in USD at 2020
    prices as if the money were the same (labelled with one run's units)."""
    base, _ = runs
    data = _variant_data()
    data["metadata"].update(currency="EUR", price_base_year=2015)
    euros = sim.api.run(data, base_dir=TINY.parent, replicas=16)
    with pytest.raises(AnalysisError, match="in different units") as exc:
        compare(base, euros)
    assert "USD million" in str(exc.value) and "EUR million" in str(exc.value)
    assert "price_base_year" in str(exc.value)


def test_targets_of_impossible_dates_or_codes_are_refused(runs) -> None:
    """Regression: 2025-13-01 ended in a ValueError traceback; project stages (codes)
    were summed and compared as numbers."""
    base, variant = runs
    with pytest.raises(TargetError, match=r"'2025-13-01' in the target .* is not a date"):
        compare(base, variant, targets=["trade_turnover:A-B:2025-13-01>=10"])
    with pytest.raises(AnalysisError, match="'project_stage' holds codes"):
        compare(base, variant, targets=["project_stage:2025-01-01>=3"])


def test_unpaired_uses_independent_pairs_of_replicas(runs) -> None:
    base, _ = runs
    b = base.isel(replica=slice(0, 4))
    v = sim.api.run(_variant_data(), base_dir=TINY.parent, replicas=5, seed=3)
    out = compare(b, v, paired=False)
    assert out.attrs["draws"] == 20  # all 4 x 5 combinations
    x = b.trade_turnover_annual.sel(pair="A-B", year=2027).values
    y = v.trade_turnover_annual.sel(pair="A-B", year=2027).values
    outer = (y[None, :] - x[:, None]).ravel()
    np.testing.assert_allclose(
        out.trade_turnover_annual_change.sel(pair="A-B", year=2027).values, np.quantile(outer, Q)
    )
    sampled = compare(b, v, paired=False, max_pairs=10)
    assert sampled.attrs["draws"] == 10


def test_target_syntax() -> None:
    t = Target.parse("trade_turnover_annual:UZ-KZ:2030>=10000")
    assert (t.variable, t.selection, t.when, t.op, t.value) == (
        "trade_turnover_annual",
        ((None, ("UZ-KZ",)),),
        "2030",
        ">=",
        10000.0,
    )
    t = Target.parse("jobs_annual:region=UZ,kind=operation+indirect:2035 < 1e4")
    assert t.selection == (("region", ("UZ",)), ("kind", ("operation", "indirect")))
    assert (t.op, t.value) == ("<", 10000.0)
    assert Target.parse("jobs_annual:2030>=20_000").selection == ()
    for bad in ("turnover>=5", "trade_turnover_annual:UZ-KZ:2030=>5", "x:2030>=", "x:2030"):
        with pytest.raises(TargetError, match=r"VARIABLE\[:SELECTION\]:WHEN OP VALUE"):
            Target.parse(bad)
    with pytest.raises(TargetError, match="write dim=label"):
        Target.parse("jobs_annual:=UZ:2030>1")


def test_target_probabilities(runs, cmp) -> None:
    base, variant = runs
    tp = cmp.target_probability
    for label, ds in (("base", base), ("variant", variant)):
        expected = float((ds.trade_turnover_annual.sel(pair="A-B", year=2026) >= 175).mean())
        assert float(tp.sel(target="trade_turnover_annual:A-B:2026>=175", run=label)) == expected
    assert float(tp.sel(run="variant")[0]) > float(tp.sel(run="base")[0])
    # the pair in either order; unselected dimensions are summed; per-period variables by date
    t = Target.parse("trade_turnover_annual:B-A:2026>=175")
    assert t.probability(variant) == float(tp.sel(run="variant")[0])
    jobs = variant.jobs_annual.sel(year=2027, kind=["operation", "indirect"]).sum(
        ("region", "kind")
    )
    level = float(jobs.median())
    t = Target.parse(f"jobs_annual:kind=operation+indirect:2027>={level}")
    assert t.probability(variant) == float((jobs >= level).mean())
    assert Target.parse("trade_turnover:A-B:2026-06-30>=175").probability(variant) == float(
        tp.sel(run="variant")[0]
    )


def test_target_errors_are_clear(runs) -> None:
    _, variant = runs
    cases = {
        "nothing:A-B:2026>=1": "which this result lacks",
        "trade_turnover_annual:A-Z:2026>=1": "no label",
        "trade_turnover_annual:A-B:2040>=1": "outside the run's years",
        "trade_turnover_annual:A-B:2026-01-01>=1": "needs a year",
        "trade_turnover:A-B:2026>=1": "needs a date",
        "capital_flow_annual:A:2026>=1": "several dimensions",
    }
    for text, message in cases.items():
        with pytest.raises(TargetError, match=message):
            Target.parse(text).probability(variant)


def test_jobs_decomposition_adds_up(runs, cmp) -> None:
    base, variant = runs
    dec = jobs_decomposition(cmp, 2027)
    assert set(dec.dims) == {"region", "sector", "kind"}
    total = float(
        (variant.jobs_annual - base.jobs_annual).sel(year=2027).sum(("region", "kind")).mean()
    )
    assert abs(total) > 1000  # the bigger plant adds jobs
    assert float(dec.sum()) == pytest.approx(total, rel=1e-12)
    assert float(dec.sum()) == pytest.approx(float(cmp.jobs_total_change_mean.sel(year=2027)))
    by_region_kind = (variant.jobs_annual - base.jobs_annual).sel(year=2027).mean("replica")
    np.testing.assert_allclose(dec.sum("sector").values, by_region_kind.values, atol=1e-6)
    np.testing.assert_allclose(
        dec.sum(("region", "sector")).values,
        cmp.jobs_by_kind_change_mean.sel(year=2027).values,
        atol=1e-6,
    )
    table = format_decomposition(cmp, 2027).splitlines()
    last = table[-1].split()
    assert last[:2] == ["all", "all"]
    assert float(last[-1].replace(",", "")) == pytest.approx(total, abs=0.5)
    # each row's total column is the sum of its kind columns
    for row in table[2:]:
        cells = [float(x.replace(",", "")) for x in row.split()[2:]]
        assert sum(cells[:-1]) == pytest.approx(cells[-1], abs=len(cells))


def test_format_comparison(cmp) -> None:
    text = format_comparison(cmp, years=[2027])
    assert "paired replica by replica (16 replicas, seed 7)" in text
    assert "trade turnover A-B" in text and "gross jobs supported, all kinds (all regions)" in text
    assert "capital flow B -> C" not in text  # no flow in either run: no row
    # Compact: the net employment does not change in 2027 (0, levels alike): left out, and
    # the last line of the table says how many rows and how to see them.
    assert "net employment A (persons)" not in text
    left_out = next(line for line in text.splitlines() if "unchanged rows left out" in line)
    assert "--all-rows" in left_out
    full = format_comparison(cmp, years=[2027], all_rows=True)
    assert "net employment A (persons)" in full and "unchanged rows left out" not in full
    n_full = sum(1 for line in full.splitlines() if " 2027 " in line)
    n_compact = sum(1 for line in text.splitlines() if " 2027 " in line)
    assert int(left_out.split()[0]) == n_full - n_compact > 0
    row = next(line for line in text.splitlines() if line.startswith("trade turnover A-B"))
    median = float(cmp.trade_turnover_annual_change.sel(pair="A-B", year=2027, quantile=0.5))
    assert f"{median:+,.0f}" in row
    assert "trade_turnover_annual:A-B:2026>=175" in text


def test_comparison_table_is_aligned_and_has_no_minus_zero(cmp) -> None:
    """Regression: labels longer than 38 characters ("gross jobs supported, all kinds (all
    regions)") pushed their row's numbers right; a change that rounds to 0 printed as -0."""
    text = format_comparison(cmp, years=[2022, 2027], all_rows=True)
    lines = text.splitlines()
    head = next(i for i, line in enumerate(lines) if line.startswith("quantity"))
    rows = lines[head + 1 : lines.index("", head)]
    assert any(r.startswith("gross jobs supported, all kinds (all regions) ") for r in rows)
    year_at = {r.index(" 2022 ") if " 2022 " in r else r.index(" 2027 ") for r in rows}
    assert len(year_at) == 1, text  # every year in the same column
    assert lines[head].index("year") == year_at.pop() + 1
    assert not re.search(r"(?<![\d,])[-+]0(?![\d.,])", text), text


def test_cli_compare(runs, tmp_path: Path, capsys) -> None:
    base, variant = runs
    b, v = write_netcdf(base, tmp_path / "b.nc"), write_netcdf(variant, tmp_path / "v.nc")
    out = tmp_path / "cmp.nc"
    rc = main(["compare", str(b), str(v), "--target", "jobs_annual:2027>=1000", "-o", str(out)])
    assert rc == 0
    printed = capsys.readouterr().out
    assert "P(change<0)" in printed and "jobs_annual:2027>=1000" in printed
    assert "unchanged rows left out" in printed and "net employment A" not in printed
    assert main(["compare", str(b), str(v), "--all-rows"]) == 0
    printed = capsys.readouterr().out
    assert "net employment A" in printed and "left out" not in printed
    with xr.open_dataset(out, engine="h5netcdf") as saved:
        assert float(saved.target_probability.sel(run="variant")[0]) == 1.0
    other = copy.deepcopy(variant)
    other.attrs["seed"] = 99
    o = write_netcdf(other, tmp_path / "o.nc")
    assert main(["compare", str(b), str(o)]) == 2
    err = capsys.readouterr().err
    assert "cannot be paired" in err and "--unpaired" in err
    assert main(["compare", str(b), str(o), "--unpaired"]) == 0
    assert "UNPAIRED" in capsys.readouterr().out
    assert main(["compare", str(b), str(v), "--target", "bad target"]) == 2
    assert "VARIABLE[:SELECTION]:WHEN OP VALUE" in capsys.readouterr().err
