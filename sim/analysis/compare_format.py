"""Tables of a comparison (:func:`sim.analysis.compare.compare`): the paired change's
quantiles by year and pair, rows left out where nothing changed, and the jobs
decomposition, as text for the terminal and rows for the report page."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import xarray as xr

from sim.analysis.compare import ALL, jobs_decomposition
from sim.analysis.errors import AnalysisError


def _num(x: float, signed: bool = True) -> str:
    if not np.isfinite(x):
        return "n/a"
    if round(x) == 0:
        return "0"  # no "-0" or "+0"
    return f"{x:+,.0f}" if signed else f"{x:,.0f}"


def _years(cmp: xr.Dataset, years: Sequence[int] | None) -> list[int]:
    have = [int(y) for y in cmp["year"].values]
    outside = [int(y) for y in years or [] if int(y) not in have]
    if outside:
        # An explicit year the runs do not have is a mistake, not something to drop silently.
        raise AnalysisError(
            f"year {', '.join(map(str, outside))} is not in the comparison",
            allowed=f"the years both runs have: {have[0]}-{have[-1]}" if have else "no years",
            hint=f"give --year between {have[0]} and {have[-1]}" if have else None,
        )
    wanted = list(years or json.loads(cmp.attrs.get("report_years", "[]")) or [])
    chosen = [y for y in wanted if y in have]
    return chosen or sorted({have[0], have[len(have) // 2], have[-1]})


@dataclass(frozen=True)
class ChangeRow:
    """One line of the comparison table: a quantity in one year."""

    quantity: str
    year: int
    base_median: float
    variant_median: float
    change_median: float
    change_low: float
    change_high: float
    p_negative: float


def _band_quantiles(cmp: xr.Dataset, band: float) -> tuple[float, float]:
    lo_q, hi_q = round((1 - band) / 2, 6), round(1 - (1 - band) / 2, 6)
    have_q = [round(float(x), 6) for x in cmp["quantile"].values]
    if lo_q not in have_q or hi_q not in have_q or 0.5 not in have_q:
        raise AnalysisError(
            f"the comparison lacks the quantiles for a {band:.0%} band",
            hint=f"compare with quantiles including {lo_q}, 0.5 and {hi_q}",
        )
    return lo_q, hi_q


def comparison_rows(
    cmp: xr.Dataset, *, years: Sequence[int] | None = None, band: float = 0.9
) -> list[ChangeRow]:
    """The rows of the comparison table, for text or HTML.

    Quantities: turnover of the reported pairs, capital flows both ways
    between them, gross output by region (but ``ROW``), jobs by kind and all
    jobs; quantities that are zero in both runs in every shown year are left out.
    """
    lo_q, hi_q = _band_quantiles(cmp, band)
    shown = _years(cmp, years)
    pairs = json.loads(cmp.attrs.get("report_pairs", "[]"))
    out: list[ChangeRow] = []

    def rows(label: str, name: str, sel: dict[str, str]) -> None:
        if f"{name}_change" not in cmp:
            return
        ch = cmp[f"{name}_change"].sel(sel)
        lev = cmp[f"{name}_level"].sel(sel)
        pneg = cmp[f"{name}_p_negative"].sel(sel)
        if not (np.any(ch.sel(year=shown).values) or np.any(lev.sel(year=shown).values)):
            return  # nothing in either run (e.g. no capital flows between the two)
        for y in shown:
            c = ch.sel(year=y)
            out.append(
                ChangeRow(
                    quantity=label,
                    year=y,
                    base_median=float(lev.sel(run="base", year=y, quantile=0.5)),
                    variant_median=float(lev.sel(run="variant", year=y, quantile=0.5)),
                    change_median=float(c.sel(quantile=0.5)),
                    change_low=float(c.sel(quantile=lo_q)),
                    change_high=float(c.sel(quantile=hi_q)),
                    p_negative=float(pneg.sel(year=y)),
                )
            )

    for p in pairs:
        rows(f"trade turnover {p}", "trade_turnover_annual", {"pair": p})
    for p in pairs:
        a, _, b = p.partition("-")
        rows(f"capital flow {a} -> {b}", "capital_flow_annual", {"origin": a, "destination": b})
        rows(f"capital flow {b} -> {a}", "capital_flow_annual", {"origin": b, "destination": a})
    if "output_annual_change" in cmp:
        for r in cmp["output_annual_change"]["region"].values:
            if str(r).upper() != "ROW":
                rows(f"gross output {r}", "output_annual", {"region": str(r)})
    if "employment_annual_change" in cmp:
        # The net account: employment in the equilibrium, variant minus base.
        for r in cmp["employment_annual_change"]["region"].values:
            if str(r).upper() != "ROW":
                rows(f"net employment {r} (persons)", "employment_annual", {"region": str(r)})
    if "jobs_by_kind_change" in cmp:
        for k in cmp["jobs_by_kind_change"]["kind"].values:
            rows(f"gross jobs supported, {k} (all regions)", "jobs_by_kind", {"kind": str(k)})
    rows("gross jobs supported, all kinds (all regions)", "jobs_total", {})
    return out


def _unchanged(r: ChangeRow) -> bool:
    """Whether a row shows no change: its change and band print as 0, its levels alike."""
    zero = all(_num(x) == "0" for x in (r.change_median, r.change_low, r.change_high))
    return zero and _num(r.base_median, False) == _num(r.variant_median, False)


def compact_rows(rows: Sequence[ChangeRow]) -> tuple[list[ChangeRow], int]:
    """The rows of the quantities that change in some shown year, and how many rows are
    left out (those of quantities whose change is 0 and levels alike in every shown year)."""
    changed = {r.quantity for r in rows if not _unchanged(r)}
    kept = [r for r in rows if r.quantity in changed]
    return kept, len(rows) - len(kept)


#: The last line of a compact comparison table; {n}: the rows left out.
LEFT_OUT = "{n} unchanged rows left out (change 0 and levels alike in every shown year)"


def comparison_heading(cmp: xr.Dataset) -> str:
    """One sentence saying what was compared with what, and how."""
    draws = cmp.attrs.get("draws")
    if bool(cmp.attrs.get("paired", 1)):
        how = f"paired replica by replica ({draws} replicas, seed {cmp.attrs.get('base_seed')})"
    else:
        how = (
            f"UNPAIRED ({draws} independent pairs of replicas: {cmp.attrs.get('pairing_problems')})"
        )
    return f"Change: {cmp.attrs.get('variant_name')} minus {cmp.attrs.get('base_name')}, {how}"


def format_comparison(
    cmp: xr.Dataset,
    *,
    years: Sequence[int] | None = None,
    band: float = 0.9,
    all_rows: bool = False,
) -> str:
    """The comparison as text tables: changes by quantity and year, jobs decomposition, targets.

    Parameters
    ----------
    cmp
        The dataset returned by :func:`compare`.
    years
        Years to show (default: the variant scenario's ``output.report_years``,
        else the first, middle and last).
    band
        Central band of the change to show (0.9: from the 5 % to the 95 % quantile);
        its quantiles must be in the comparison.
    all_rows
        Show the quantities that do not change too; by default they are left out and
        a last line of the table says how many rows were (``sim compare --all-rows``).
    """
    lo_q, hi_q = _band_quantiles(cmp, band)
    lo_l, hi_l = f"{lo_q:.0%}", f"{hi_q:.0%}"
    every = comparison_rows(cmp, years=years, band=band)
    shown, left_out = (every, 0) if all_rows else compact_rows(every)
    width = max([len("quantity"), *(len(r.quantity) for r in shown)]) + 2
    lines = [
        comparison_heading(cmp),
        f"Money: {cmp.attrs.get('money_unit', '')}; flows per year, jobs as annual averages "
        "(persons).",
        "",
        f"{'quantity':<{width}}{'year':>6}{'base median':>14}{'variant median':>16}"
        f"{'change median':>15}{'[' + lo_l:>12} - {hi_l + ']':<11}{'P(change<0)':>12}",
    ]
    previous = ""
    for r in shown:
        lines.append(
            f"{r.quantity if r.quantity != previous else '':<{width}}{r.year:>6}"
            f"{_num(r.base_median, False):>14}{_num(r.variant_median, False):>16}"
            f"{_num(r.change_median):>15}{_num(r.change_low):>12} - {_num(r.change_high):<11}"
            f"{r.p_negative:>12.0%}"
        )
        previous = r.quantity
    if not shown:
        lines.append("(no quantity changes in the shown years)")
    if left_out:
        lines.append(LEFT_OUT.format(n=left_out) + "; --all-rows shows them.")
    if "jobs_change_by_sector" in cmp:
        lines += ["", format_decomposition(cmp, _years(cmp, years)[-1])]
    if "target_probability" in cmp:
        tp = cmp["target_probability"]
        width = max(len("target"), *(len(str(t)) for t in tp["target"].values))
        lines += [
            "",
            "Probability of reaching each target (share of replicas):",
            f"{'target':<{width}}  {'base':>8}  {'variant':>8}",
        ]
        for t in tp["target"].values:
            lines.append(
                f"{t!s:<{width}}  {float(tp.sel(target=t, run='base')):>8.0%}"
                f"  {float(tp.sel(target=t, run='variant')):>8.0%}"
            )
    return "\n".join(line.rstrip() for line in lines)


def decomposition_rows(
    cmp: xr.Dataset, year: int
) -> tuple[list[str], list[tuple[str, str, list[float]]]]:
    """Kinds, and rows (region, sector, mean change by kind) with subtotals and the total.

    Rows of sectors with no change of half a person or more are left out; the
    subtotal rows (sector ``all``) and the total row (``all``, ``all``) are sums
    of every cell, shown or not.
    """
    dec = jobs_decomposition(cmp, year)
    kinds = [str(k) for k in dec["kind"].values]
    rows: list[tuple[str, str, list[float]]] = []
    for region in dec["region"].values:
        sub = dec.sel(region=region)
        for sector in sub["sector"].values:
            values = sub.sel(sector=sector).values
            if np.any(np.abs(values) >= 0.5):
                rows.append((str(region), str(sector), [float(x) for x in values]))
        rows.append((str(region), ALL, [float(x) for x in sub.sum("sector").values]))
    rows.append((ALL, ALL, [float(x) for x in dec.sum(("region", "sector")).values]))
    return kinds, rows


def format_decomposition(cmp: xr.Dataset, year: int) -> str:
    """The jobs decomposition of one year as a table: rows region and sector, columns kinds."""
    kinds, rows = decomposition_rows(cmp, year)
    lines = [
        f"Change in jobs in {year} by region, sector and kind (mean over replicas, persons; "
        "rows and columns add up to the totals):",
        f"{'region':<8}{'sector':<16}" + "".join(f"{k:>14}" for k in kinds) + f"{'total':>14}",
    ]
    for region, sector, values in rows:
        lines.append(
            f"{region:<8}{sector:<16}"
            + "".join(f"{_num(x):>14}" for x in values)
            + f"{_num(sum(values)):>14}"
        )
    return "\n".join(lines)


__all__ = [
    "LEFT_OUT",
    "ChangeRow",
    "compact_rows",
    "comparison_heading",
    "comparison_rows",
    "decomposition_rows",
    "format_comparison",
    "format_decomposition",
]
