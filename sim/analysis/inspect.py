"""The model's own numbers, labelled, for notebooks and ``sim inspect`` (issue 16).

Every function takes a scenario (a YAML path, a mapping, a validated
:class:`~sim.scenario.validate.Scenario`, or a :class:`~sim.engine.model.Model`
already built by :func:`sim.api.prepare` or :func:`load`) and returns labelled
xarray objects; every variable has ``units`` and ``long_name`` attributes.

Conventions
-----------
- Vectors over region-sectors have dimensions ``(region, sector)``; bilateral
  arrays ``(origin, destination, sector)``; by region ``(region,)``.
- Square matrices over region-sectors have dimensions ``(cell_from, cell_to)``,
  labelled ``region:sector`` in region-major order (the kernels' order,
  ``r * S + s``), with coordinates ``region_from``, ``sector_from``,
  ``region_to`` and ``sector_to``. Entry ``(i, j)`` is what ``i`` supplies for
  ``j``: input of ``i`` per unit of output of ``j`` (technical coefficients),
  output of ``i`` per unit of final demand for ``j`` (Leontief inverses).
- Money is the scenario's currency and scale in its price basis
  (:func:`sim.results.dataset.money_unit`), per year: ``USD million per year
  (constant 2020 prices)``.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd
import xarray as xr
from numpy.typing import NDArray

from sim import api
from sim.analysis.errors import AnalysisError
from sim.engine import jobs
from sim.engine.model import Model
from sim.kernels import leontief as kernels
from sim.results.dataset import money_unit, provenance
from sim.scenario.validate import Scenario

__all__ = ["MATRICES", "RUN_MULTIPLIERS", "baseline", "counterfactual", "format_table",
           "leontief", "load", "multipliers", "run_multipliers", "tidy"]  # fmt: skip

#: What the functions of this module accept as a scenario.
Source = str | Path | Mapping[str, Any] | Scenario | Model

#: The matrices :func:`leontief` returns (its ``matrix=``), with their names and long names.
Matrix = Literal["inverse", "closed", "coefficients"]
NAMES = {"inverse": "leontief_inverse", "closed": "leontief_closed",
         "coefficients": "technical_coefficients"}  # fmt: skip
MATRICES = {
    "inverse": "Leontief inverse L = (I - A)^-1: output of cell_from per unit of final "
    "demand for cell_to",
    "closed": "industry block of the Type II (household-closed) inverse L*: output of "
    "cell_from per unit of final demand for cell_to, the household round included",
    "coefficients": "technical coefficients A = I - L^-1: input of cell_from per unit of "
    "output of cell_to",
}

#: The implied multipliers a run holds (docs/outputs.md), in the order reported.
RUN_MULTIPLIERS = ("employment_multiplier_type1", "employment_multiplier_type2",
                   "plant_multiplier_type1", "plant_multiplier_type2", "plant_productivity",
                   "jobs_gross_to_direct")  # fmt: skip

#: Provenance attributes kept on the inspected datasets.
_ATTRIBUTES = ("title", "scenario_name", "scenario_sha256", "data_files_sha256", "engine",
               "engine_version", "money_unit", "deficit_closure", "numeraire")  # fmt: skip

#: Characters per line of a printed table; wider tables continue below.
LINE_WIDTH = 100

Variables = dict[str, tuple[tuple[str, ...], NDArray[np.float64], str, str]]


def load(
    scenario: Source,
    *,
    replicas: int | None = None,
    seed: int | None = None,
    data_roots: list[Path] | None = None,
    base_dir: str | Path | None = None,
) -> Model:
    """The static model of a scenario (:func:`sim.api.prepare` of
    :func:`sim.api.load_scenario`): read, validated and built once, to pass on.

    Parameters
    ----------
    scenario
        A YAML path, a mapping (relative paths against ``base_dir``), a validated
        scenario, or a built model (returned as it is unless overrides are given).
    replicas, seed
        Override ``monte_carlo.replicas`` and ``monte_carlo.seed``.
    data_roots
        Further folders data files may be read from.
    base_dir
        Folder for the relative paths of a scenario given as a mapping.
    """
    if isinstance(scenario, Model):
        if replicas is None and seed is None:
            return scenario
        scenario = scenario.scenario
    sc = api.load_scenario(
        scenario, replicas=replicas, seed=seed, data_roots=data_roots, base_dir=base_dir
    )
    return api.prepare(sc)


def _money(model: Model) -> tuple[str, str]:
    """``("USD million", "constant 2020 prices)")``: the head and the basis of the money unit."""
    head, _, basis = money_unit(model).partition(" (")
    return head, basis


def _dataset(model: Model, variables: Variables, what: str) -> xr.Dataset:
    regions, sectors = model.regions, model.sectors
    dims = {d for spec in variables.values() for d in spec[0]}
    labels = {"region": regions, "origin": regions, "destination": regions, "sector": sectors}
    coords = {d: (d, labels[d]) for d in labels if d in dims}
    data = {
        name: (spec[0], spec[1], {"units": spec[2], "long_name": spec[3]})
        for name, spec in variables.items()
    }
    ds = xr.Dataset(data_vars=data, coords=coords)
    ds.attrs.update({k: v for k, v in provenance(model, 0, 0).items() if k in _ATTRIBUTES})
    ds.attrs["title"] = f"{what} of {model.scenario.name}"
    return ds


def _cell_coords(model: Model, side: str) -> dict[str, Any]:
    dim = f"cell_{side}"
    n_r, n_s, _ = model.shape
    return {
        dim: (dim, [f"{r}:{s}" for r in model.regions for s in model.sectors]),
        f"region_{side}": (dim, list(np.repeat(model.regions, n_s))),
        f"sector_{side}": (dim, list(np.tile(model.sectors, n_r))),
    }


def baseline(scenario: Source, *, base_dir: str | Path | None = None) -> xr.Dataset:
    """The baseline equilibrium (docs/model.md §3) and the jobs account's start (§5).

    Parameters
    ----------
    scenario
        See :func:`load`.
    base_dir
        Folder for the relative paths of a scenario given as a mapping.

    Returns
    -------
    xarray.Dataset
        With ``R`` regions and ``S`` sectors, money per year (the module's conventions):

        - ``trade`` (origin, destination, sector): :math:`X_{ijs}`, at producer prices,
          domestic sales on the diagonal;
        - ``import_share`` (origin, destination, sector): :math:`\\pi_{ijs}`, the origin's
          share of the destination's tariff-inclusive purchases (sums to 1 over origins);
        - ``tariff`` (origin, destination, sector): the rate, 1;
        - ``output``, ``value_added``, ``spending``, ``final_demand`` (region, sector);
        - ``expenditure``, ``tariff_revenue``, ``deficit`` (region,);
        - ``employment`` (region, sector): persons; ``jobs_per_output`` (region, sector):
          persons per unit of annual output (the model's ``employment_coef``).
    """
    model = load(scenario, base_dir=base_dir)
    b = model.baseline
    head, basis = _money(model)
    year = f"{head} per year ({basis}"
    flow, cell, region = ("origin", "destination", "sector"), ("region", "sector"), ("region",)
    variables: Variables = {
        "trade": (flow, b.trade, year, "baseline trade at producer prices, net of tariffs (domestic sales on the diagonal)"),
        "import_share": (flow, b.share, "1", "origin's share of the destination's tariff-inclusive purchases of the sector, pi_ijs (domestic on the diagonal; sums to 1 over origins)"),
        "tariff": (flow, b.tariff, "1", "ad valorem tariff rate of the baseline (0.1 = 10 %)"),
        "output": (cell, b.output, year, "gross output at producer prices, Y_is"),
        "value_added": (cell, b.value_added, year, "value added, V_is = beta_is Y_is"),
        "spending": (cell, b.spending, year, "purchases of the sector's goods by the region, intermediate and final, tariffs included, E_js"),
        "final_demand": (cell, b.final_demand, year, "final demand: purchases less intermediate use, F_js"),
        "expenditure": (region, b.income, year, "final expenditure I_j = sum_s F_js: value added, tariff revenue and deficit"),
        "tariff_revenue": (region, b.tariff_revenue, year, "tariff revenue of the importing region, R_j"),
        "deficit": (region, b.deficit, year, "trade deficit D_j = I_j - V_j - R_j (sums to zero)"),
        "employment": (cell, model.employment, "persons", "persons employed at the start (zero without economy.employment)"),
        "jobs_per_output": (cell, model.employment_coef, f"persons per {head} of output a year ({basis}", "employment coefficient e_rs: persons employed per unit of annual output at the start"),
    }  # fmt: skip
    return _dataset(model, variables, "baseline equilibrium")


def leontief(
    scenario: Source, *, matrix: Matrix = "inverse", base_dir: str | Path | None = None
) -> xr.DataArray:
    """The model's input-output matrix over region-sectors, ``(cell_from, cell_to)``.

    Parameters
    ----------
    scenario
        See :func:`load`.
    matrix
        ``"inverse"``: the Leontief inverse :math:`L = (I - A)^{-1}` of the model's MRIO
        coefficients (``Model.leontief``); ``"closed"``: the industry block of the Type II
        inverse closed with the households (``Model.leontief_closed``, docs/model.md §5);
        ``"coefficients"``: the technical coefficients :math:`A = I - L^{-1}` (recovered
        from the inverse, exact to rounding; entries below 1e-12 are zero).
    base_dir
        Folder for the relative paths of a scenario given as a mapping.

    Returns
    -------
    xarray.DataArray
        Shape ``(R*S, R*S)``, money per money (units ``1``), labelled ``region:sector``.

    Raises
    ------
    AnalysisError
        If ``matrix`` is none of :data:`MATRICES`.
    """
    if matrix not in MATRICES:
        raise AnalysisError(
            f"matrix={matrix!r} is not a matrix of the model",
            allowed=", ".join(repr(m) for m in MATRICES),
            hint="ask for matrix='inverse' (default), 'closed' or 'coefficients'",
        )
    model = load(scenario, base_dir=base_dir)
    if matrix == "coefficients":
        values = np.eye(model.leontief.shape[0]) - np.linalg.inv(model.leontief)
        values[np.abs(values) < 1e-12] = 0.0
    else:
        values = model.leontief if matrix == "inverse" else model.leontief_closed
    return xr.DataArray(
        np.array(values, dtype=np.float64),
        dims=("cell_from", "cell_to"),
        coords={**_cell_coords(model, "from"), **_cell_coords(model, "to")},
        name=NAMES[matrix],
        attrs={
            "units": "1",
            "long_name": MATRICES[matrix],
            "title": f"{MATRICES[matrix].split(':')[0]} of {model.scenario.name}",
            "money_unit": money_unit(model),
        },
    )


def multipliers(scenario: Source, *, base_dir: str | Path | None = None) -> xr.Dataset:
    """Output and employment multipliers by region-sector (docs/model.md §5).

    Output multipliers are column sums of the open and the closed inverse
    (:func:`sim.kernels.leontief.output_multipliers`); employment multipliers are
    :func:`sim.engine.jobs.sector_multipliers`; jobs per unit of final demand are
    :func:`sim.kernels.leontief.satellite_multipliers` of the employment coefficients.

    Parameters
    ----------
    scenario
        See :func:`load`.
    base_dir
        Folder for the relative paths of a scenario given as a mapping.

    Returns
    -------
    xarray.Dataset
        Every variable ``(region, sector)``: ``output_multiplier_type1``,
        ``output_multiplier_type2``, ``employment_multiplier_type1``,
        ``employment_multiplier_type2`` (units 1; NaN without jobs);
        ``jobs_per_final_demand_type1``, ``jobs_per_final_demand_type2`` and
        ``jobs_per_output`` (persons per unit of annual money); with projects,
        ``plant_multiplier_type1``, ``plant_multiplier_type2`` and
        ``plant_productivity`` of the plants each region-sector hosts at the parameters'
        central values (units 1; NaN where it hosts none).
    """
    model = load(scenario, base_dir=base_dir)
    n_r, n_s, _ = model.shape
    head, basis = _money(model)
    demand = f"persons per {head} of final demand a year ({basis}"
    e = model.employment_coef.reshape(-1)
    type1, type2 = jobs.sector_multipliers(model)
    cell = ("region", "sector")

    def grid(values: NDArray[np.float64]) -> NDArray[np.float64]:
        return np.asarray(values, dtype=np.float64).reshape(n_r, n_s)

    variables: Variables = {
        "output_multiplier_type1": (cell, grid(kernels.output_multipliers(model.leontief)), "1", "Type I output multiplier: output of all region-sectors per unit of final demand for the region-sector, column sum of L"),
        "output_multiplier_type2": (cell, grid(kernels.output_multipliers(model.leontief_closed)), "1", "Type II output multiplier: column sum of the industry block of the household-closed inverse L*"),
        "employment_multiplier_type1": (cell, type1, "1", "Type I employment multiplier, (eL)_j / e_j: persons employed by the region-sector and its supply chain per person it employs"),
        "employment_multiplier_type2": (cell, type2, "1", "Type II employment multiplier, (eL*)_j / e_j: with the household round (labour income = jobs x economy.wage)"),
        "jobs_per_final_demand_type1": (cell, grid(kernels.satellite_multipliers(model.leontief, e)), demand, "persons employed in all region-sectors per unit of annual final demand for the region-sector, (eL)_j"),
        "jobs_per_final_demand_type2": (cell, grid(kernels.satellite_multipliers(model.leontief_closed, e)), demand, "the same with the household round, (eL*)_j"),
        "jobs_per_output": (cell, model.employment_coef, f"persons per {head} of output a year ({basis}", "employment coefficient e_rs: the region-sector's own persons per unit of annual output"),
    }  # fmt: skip
    if model.projects:
        report = model.multipliers or jobs.multiplier_report(model)
        plant1, plant2, productivity = report.plants
        variables |= {
            "plant_multiplier_type1": (cell, plant1, "1", "implied Type I employment multiplier of the projects the region-sector hosts, at full operation and central values (NaN where it hosts none)"),
            "plant_multiplier_type2": (cell, plant2, "1", "the same with the household round (NaN where it hosts none)"),
            "plant_productivity": (cell, productivity, "1", "output per direct worker of the plants the region-sector hosts relative to its average, at central values"),
        }  # fmt: skip
    return _dataset(model, variables, "multipliers")


def run_multipliers(run: xr.Dataset | str | Path) -> xr.Dataset:
    """The implied multipliers of a finished run: medians over its replicas.

    Parameters
    ----------
    run
        A dataset of :func:`sim.run` (or a sweep store's), or the path of a run's NetCDF
        file (or a sweep's Zarr store).

    Returns
    -------
    xarray.Dataset
        The median over ``replica`` (NaN replicas skipped) of each of
        :data:`RUN_MULTIPLIERS` the run holds, with its other dimensions:
        ``(region, sector)`` for the multipliers, ``(project,)`` for
        ``plant_productivity``, ``(year, account)`` for ``jobs_gross_to_direct``;
        units 1.

    Raises
    ------
    AnalysisError
        If the path is not a result, or the run holds none of these variables.
    """
    from sim.analysis.results import open_results

    ds = run if isinstance(run, xr.Dataset) else open_results(run)
    names = [n for n in RUN_MULTIPLIERS if n in ds.data_vars and "replica" in ds[n].dims]
    if not names:
        raise AnalysisError(
            "the run holds none of the implied multipliers",
            allowed=f"a run (sim run, sim.run) with replicas and any of {', '.join(RUN_MULTIPLIERS)}",
            hint="run the scenario without output.variables, or list these variables there",
        )
    out = {}
    for name in names:
        var = ds[name]
        if var.chunks:
            var = var.chunk({"replica": -1})
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN cells: no plants
            median = var.median("replica").compute()
        median.attrs = {
            "units": str(var.attrs.get("units", "1")),
            "long_name": f"median over replicas: {var.attrs.get('long_name', name)}",
        }
        out[name] = median
    result = xr.Dataset(out)
    result.attrs = {k: v for k, v in ds.attrs.items() if k in _ATTRIBUTES}
    result.attrs["title"] = f"implied multipliers of {ds.attrs.get('scenario_name', 'a run')}"
    result.attrs["replicas"] = int(ds.sizes["replica"])
    return result


def counterfactual(
    scenario: Source,
    *,
    replicas: int | None = None,
    seed: int | None = None,
    base_dir: str | Path | None = None,
) -> xr.Dataset:
    """A static counterfactual's full equilibrium: :func:`sim.api.counterfactual`.

    Parameters
    ----------
    scenario
        See :func:`load`; a built model is solved as it is unless overrides are given.
    replicas, seed
        Override ``monte_carlo.replicas`` and ``monte_carlo.seed``.
    base_dir
        Folder for the relative paths of a scenario given as a mapping.

    Returns
    -------
    xarray.Dataset
        Baseline and counterfactual trade, turnover, welfare and its Caliendo-Parro parts,
        real wages, employment, value added, tariff revenue and prices per replica
        (docs/outputs.md, "Static counterfactual"); money per year.
    """
    if isinstance(scenario, Model):
        if replicas is None and seed is None:
            from sim.counterfactual import counterfactual as solve

            return solve(scenario)
        scenario = scenario.scenario
    return api.counterfactual(scenario, replicas=replicas, seed=seed, base_dir=base_dir)


# ------------------------------------------------------------------- tables


def tidy(data: xr.Dataset | xr.DataArray) -> pd.DataFrame:
    """A long table: ``variable``, the labels, ``value``, ``units`` (as ``sim export``).

    One row per variable and label combination; label columns a variable does not have
    are empty.
    """
    ds = data.to_dataset(name=str(data.name or "value")) if isinstance(data, xr.DataArray) else data
    frames = []
    for name, var in ds.data_vars.items():
        frame = var.to_dataframe(name="value").reset_index()
        frame.insert(0, "variable", str(name))
        frame["units"] = str(var.attrs.get("units", ""))
        frames.append(frame)
    table = pd.concat(frames, ignore_index=True)
    labels = [c for c in table.columns if c not in ("variable", "value", "units")]
    return table[["variable", *labels, "value", "units"]]


def _formatter(values: Any) -> Callable[[float], str]:
    """One format for a column: about five significant digits at its largest entry."""
    finite = np.abs(np.asarray(values, dtype=np.float64))
    finite = finite[np.isfinite(finite)]
    top = float(finite.max()) if finite.size else 0.0
    decimals = min(6, max(0, 4 - math.floor(math.log10(top)))) if top > 0 else 0
    spec = ",.0f" if top >= 1e4 else f".{decimals}f"

    def fmt(value: float) -> str:
        return format(value, spec) if math.isfinite(value) else str(value)

    return fmt


def format_table(data: xr.Dataset | xr.DataArray) -> str:
    """A compact text table: one block per set of dimensions, rows labelled by their
    labels joined with ``:`` (``region:sector``), then each column's units and meaning.

    A matrix ``(cell_from, cell_to)`` is printed whole, rows ``cell_from``.
    """
    lines = [str(data.attrs.get("title", ""))]
    if isinstance(data, xr.DataArray):
        if data.dims == ("cell_from", "cell_to"):
            frame = data.to_pandas()
            frame.index.name, frame.columns.name = "cell_from \\ cell_to", None
            fmt = _formatter(data.to_numpy())
            lines += ["", frame.to_string(float_format=fmt, line_width=LINE_WIDTH)]
            lines += ["", f"  [{data.attrs.get('units', '')}] {data.attrs.get('long_name', '')}"]
            return "\n".join(lines)
        data = data.to_dataset(name=str(data.name or "value"))
    groups: dict[tuple[str, ...], list[str]] = {}
    for name, var in data.data_vars.items():
        groups.setdefault(tuple(str(d) for d in var.dims), []).append(str(name))
    for dims, names in groups.items():
        frame = data[names].to_dataframe()[names]
        frame.index = pd.Index(
            [":".join(map(str, k)) if isinstance(k, tuple) else str(k) for k in frame.index],
            name=":".join(dims),
        )
        formats = {c: _formatter(frame[c].to_numpy()) for c in frame.columns}
        lines += ["", frame.to_string(formatters=formats, line_width=LINE_WIDTH), ""]
        lines += [
            f"  {n} [{data[n].attrs.get('units', '')}]: {data[n].attrs.get('long_name', '')}"
            for n in names
        ]
    return "\n".join(lines)
