"""The gross jobs account on one productivity basis (docs/model.md, section 5).

Everything the input-output jobs account needs besides the Leontief inverse:

- the household closure of the Type II model, paying labour income = jobs times the
  region's wage from the data (``economy.wage``), at most the region-sector's value added
  (:func:`household_closure`);
- each plant's direct jobs per unit of output, from ``investment.jobs_per_capex`` (its
  productivity relative to its host region-sector is then implied) or from
  ``investment.plant_productivity`` (default 1: the sector's own productivity), and the
  labour income it pays (:func:`plant_accounts`);
- the implied Type I and Type II employment multipliers by region-sector, of the sector
  and of the plants it hosts, and the located warning when they exceed
  ``input_output.multiplier_warning`` (:func:`multiplier_report`).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray

from sim.engine.production import central_value
from sim.errors import NumericalError
from sim.kernels import leontief

#: The kinds of gross jobs supported, in the order of the ``kind`` axis.
JOB_KINDS = ("construction", "operation", "indirect", "induced")

if TYPE_CHECKING:
    from sim.engine.draw import Batch
    from sim.engine.model import Model
    from sim.engine.projects import Project
    from sim.scenario.validate import Scenario

FloatArray = NDArray[np.float64]
log = logging.getLogger(__name__)

#: Money per unit of ``metadata.money_unit``.
MONEY_SCALE = {"one": 1.0, "thousand": 1e3, "million": 1e6, "billion": 1e9}

#: Multiplier warnings already logged in this process (calibration and sweeps build
#: many models of one scenario).
_WARNED: set[str] = set()


@dataclass
class HouseholdClosure:
    """The Type II model's households: what they earn per unit of output and what it buys.

    ``closed`` is the industry block of the closed inverse :math:`L^*_{xx}` and
    ``household_output`` its household columns :math:`L^*_{xh}` (output of each
    region-sector per unit of labour income of each region's households; zero when
    ``input_output.induced`` is false, where ``closed`` is the open inverse).
    """

    closed: FloatArray  # (RS, RS)
    household_output: FloatArray  # (RS, R)
    labour_income: FloatArray  # (R, S) money of labour income per money of output
    value_added: FloatArray  # (R, S) value added per money of output: 1 - input coefficients
    annual_wage: FloatArray  # (R,) money per person-year at the start
    capped: list[tuple[int, int]] = field(default_factory=list)  # cells paid their value added


def annual_wage(sc: Scenario) -> FloatArray:
    """``economy.wage`` (currency per month) as money per person-year; 0 without wages.

    A wage given as a distribution enters the jobs account at its central value, so
    that the closed inverse is the same in every replica (as the elasticities' Jacobian).
    """
    wages = sc.data["economy"].get("wage") or {}
    scale = MONEY_SCALE[sc.data["metadata"]["money_unit"]]
    return np.array(
        [12.0 * central_value(wages, r) / scale if r in wages else 0.0 for r in sc.region_ids]
    )


def household_closure(
    sc: Scenario,
    a_mrio: FloatArray,
    lmat: FloatArray,
    employment_coef: FloatArray,
    final_share: FloatArray,
    sourcing: FloatArray,
    unproductive: Callable[[FloatArray], Exception],
) -> HouseholdClosure:
    """The households of the Type II model, and the income and consumption rows closing it.

    Labour income per unit of output of region-sector :math:`(r, s)` is its jobs times
    the region's annual wage, at most its value added per unit of output,
    :math:`w_{r,(r,s)} = \\min(e_{rs}\\,\\bar w_r,\\ 1 - \\sum_i a_{i,(r,s)})`; households
    spend ``consumption_propensity`` of it by the region's final-demand shares, sourced
    by the trade shares. ``unproductive(W)`` builds the error raised when the closed
    system is not productive, from the income rows ``W`` (R, RS).
    """
    regions, sectors = sc.region_ids, sc.sector_ids
    n_r, n_s = len(regions), len(sectors)
    n = n_r * n_s
    io = sc.data["input_output"]
    wage = annual_wage(sc)
    value_added = np.clip(1.0 - a_mrio.sum(axis=0), 0.0, None).reshape(n_r, n_s)
    at_wage = employment_coef * wage[:, None]
    pay = np.minimum(at_wage, value_added)
    capped = [(int(r), int(s)) for r, s in np.argwhere(at_wage > value_added * (1 + 1e-12))]
    propensity = np.array(
        [central_value(io["consumption_propensity"], r) for r in regions], dtype=float
    )
    income = np.zeros((n_r, n))
    consumption = np.zeros((n, n_r))
    for r in range(n_r):
        income[r, r * n_s : (r + 1) * n_s] = pay[r]
        # Household r spends by its expenditure shares, sourced by trade shares.
        consumption[:, r] = (propensity[r] * final_share[r][None, :] * sourcing[:, r, :]).reshape(
            -1
        )
    if io["induced"]:
        try:
            full = leontief.closed_leontief_inverse(a_mrio, income, consumption)
        except NumericalError as exc:
            raise unproductive(income) from exc
        closed, household = full[:n, :n], full[:n, n:]
    else:
        closed, household = lmat.copy(), np.zeros((n, n_r))
    return HouseholdClosure(closed, household, pay, value_added, wage, capped)


def warn_capped(sc: Scenario, closure: HouseholdClosure, employment_coef: FloatArray) -> None:
    """Say where jobs at the region's average wage would earn more than the value added."""
    if not closure.capped:
        return
    regions, sectors = sc.region_ids, sc.sector_ids
    cells = ", ".join(
        f"{regions[r]}:{sectors[s]} ({employment_coef[r, s] * closure.annual_wage[r]:.3g} "
        f"against {closure.value_added[r, s]:.3g})"
        for r, s in closure.capped
    )
    _warn_once(
        f"{sc.name}:capped:{cells}",
        "labour income at the average wage (economy.wage x jobs) exceeds value added per "
        "unit of output in %s: paid their value added (docs/model.md s.5)",
        cells,
    )


def _warn_once(key: str, message: str, *args: object) -> None:
    if key in _WARNED:
        return
    _WARNED.add(key)
    log.warning(message, *args)


# ------------------------------------------------------------------- plants, per replica


@dataclass
class PlantAccounts:
    """Each plant's direct jobs and labour income per unit of its output, (N, P).

    ``intensity`` is persons per (money per year) of output at the start's productivity
    (it falls with the host's productivity growth like its sector's coefficient);
    ``jobs_per_capex`` the direct jobs at full operation per money of capex at
    ``investment.intensity_year`` (the stated value, or the one the stated plant
    productivity implies); ``productivity`` the plant's output per worker relative to its
    host region-sector's (stated, or implied by ``jobs_per_capex``); ``pay`` the labour
    income per unit of output (jobs times the host's wage, at most the value added);
    ``construction_pay`` the labour income of the on-site workers per money of capex
    spent (at most the on-site share, 1 - ``investment_mix``).
    """

    intensity: FloatArray
    jobs_per_capex: FloatArray
    productivity: FloatArray
    pay: FloatArray
    construction_pay: FloatArray


def plant_accounts(
    model: Model,
    jobs_per_capex: FloatArray,
    plant_productivity: FloatArray,
    output_per_capex: FloatArray,
    productivity_growth: FloatArray,
    construction_jobs: FloatArray,
) -> PlantAccounts:
    """Direct jobs and labour income of every plant from its stated basis (docs/model.md s.5).

    Parameters are the draws of :class:`sim.engine.draw.Batch`: ``jobs_per_capex``,
    ``plant_productivity`` (NaN where ``jobs_per_capex`` states the jobs) and
    ``output_per_capex`` (N, P), ``productivity_growth`` (N, R) and
    ``construction_jobs`` (N,).
    """
    host = np.array([p.host for p in model.projects], dtype=np.int64)
    sector = np.array([p.sector for p in model.projects], dtype=np.int64)
    e0 = model.employment_coef[host, sector][None, :]  # (1, P) sector's jobs per output
    first = model.calendar.starts[0]
    start_year = first.year + (first.month - 1) / 12.0
    # (1 + g)^(y_int - y_0): the sector's jobs per output at the start over those at the
    # intensity year.
    drift = (1.0 + productivity_growth[:, host]) ** (model.intensity_year - start_year)
    stated = np.isfinite(plant_productivity)
    omega = output_per_capex
    with np.errstate(divide="ignore", invalid="ignore"):
        implied = np.where(omega > 0, jobs_per_capex * drift / omega, np.inf)
        implied = np.where(jobs_per_capex > 0, implied, 0.0)
        intensity = np.where(stated, e0 / plant_productivity, implied)
        effective = np.where(stated, omega * e0 / plant_productivity / drift, jobs_per_capex)
        relative = np.where(stated, plant_productivity, e0 / intensity)
    wage = model.annual_wage[host][None, :]
    value_added = model.value_added_share[host, sector][None, :]
    pay = np.where(omega > 0, np.minimum(intensity * wage, value_added), 0.0)
    io = model.scenario.data["input_output"]
    on_site = max(0.0, 1.0 - sum(io["investment_mix"].values()))
    construction_pay = np.minimum(construction_jobs[:, None] * wage * drift, on_site)
    return PlantAccounts(
        intensity=intensity,
        jobs_per_capex=effective,
        productivity=relative,
        pay=pay,
        construction_pay=construction_pay,
    )


def batch_plant_accounts(model: Model, batch: Batch) -> PlantAccounts:
    """:func:`plant_accounts` of a batch's draws."""
    return plant_accounts(
        model,
        batch.jobs_per_capex,
        batch.plant_productivity,
        batch.output_per_capex,
        batch.productivity,
        batch.construction_jobs,
    )


# ------------------------------------------------------------------- multipliers


def household_of(model: Model) -> NDArray[np.int64]:
    """(RS,) the household group (region) of each region-sector's workers."""
    n_r, n_s, _ = model.shape
    return np.repeat(np.arange(n_r, dtype=np.int64), n_s)


def closed_full(model: Model) -> tuple[FloatArray, FloatArray]:
    """The closed inverse with its household rows and columns, and its income rows ``W``.

    Only the household columns of the rows of industries are used by the multipliers,
    so the household rows are left zero.
    """
    n_r, n_s, _ = model.shape
    n = n_r * n_s
    full = np.zeros((n + n_r, n + n_r))
    full[:n, :n] = model.leontief_closed
    full[:n, n:] = model.household_output
    income = np.zeros((n_r, n))
    for r in range(n_r):
        income[r, r * n_s : (r + 1) * n_s] = model.labour_income[r]
    return full, income


def sector_multipliers(model: Model) -> tuple[FloatArray, FloatArray]:
    """(R, S) Type I and Type II employment multipliers of each region-sector (one basis)."""
    n_r, n_s, _ = model.shape
    full, income = closed_full(model)
    t1, t2 = leontief.employment_multipliers(
        model.leontief, full, model.employment_coef.reshape(-1), income, household_of(model)
    )
    return t1.reshape(n_r, n_s), t2.reshape(n_r, n_s)


def plant_multipliers(
    model: Model, accounts: PlantAccounts, capex: FloatArray, output_per_capex: FloatArray
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """(N, R, S) Type I and Type II multipliers of the plants each region-sector hosts.

    The plants of a region-sector are taken together at full operation: their direct
    jobs and labour income per unit of output are output-weighted means. NaN where a
    region-sector hosts no plant with output. Also returns their relative productivity
    (sector's jobs per unit of output over the plants'), (N, R, S).
    """
    n_r, n_s, _ = model.shape
    n = capex.shape[0]
    cells = np.array([p.host * n_s + p.sector for p in model.projects], dtype=np.int64)
    weight = capex * output_per_capex  # (N, P) output at full operation
    rows = (np.arange(n, dtype=np.int64)[:, None] * (n_r * n_s) + cells[None]).ravel()

    def cell_sum(values: FloatArray) -> FloatArray:
        total = np.bincount(rows, weights=values.ravel(), minlength=n * n_r * n_s)
        return np.asarray(total, dtype=np.float64).reshape(n, n_r * n_s)

    output = cell_sum(weight)
    with np.errstate(divide="ignore", invalid="ignore"):
        direct = np.where(output > 0, cell_sum(weight * accounts.intensity) / output, np.nan)
        pay = np.where(output > 0, cell_sum(weight * accounts.pay) / output, np.nan)
        relative = model.employment_coef.reshape(1, -1) / direct
    full, income = closed_full(model)
    t1, t2 = leontief.employment_multipliers(
        model.leontief,
        full,
        model.employment_coef.reshape(-1),
        income,
        household_of(model),
        direct=direct,
        direct_income=pay,
    )
    shape = (n, n_r, n_s)
    return t1.reshape(shape), t2.reshape(shape), relative.reshape(shape)


# ------------------------------------------------------------------- the diagnostic


@dataclass
class MultiplierReport:
    """The implied multipliers at the parameters' central values, and the warnings."""

    sector: tuple[FloatArray, FloatArray]  # (R, S) each
    plants: tuple[FloatArray, FloatArray, FloatArray]  # (R, S) each; NaN without plants
    warnings: list[str]

    def attribute(self, model: Model) -> str:
        """JSON by region-sector, for the output's ``employment_multipliers`` attribute."""
        out: dict[str, Any] = {}
        for r, region in enumerate(model.regions):
            for s, sector in enumerate(model.sectors):
                cell: dict[str, float] = {
                    "type1": round(float(self.sector[0][r, s]), 6),
                    "type2": round(float(self.sector[1][r, s]), 6),
                }
                if np.isfinite(self.plants[0][r, s]):
                    cell.update(
                        plants_type1=round(float(self.plants[0][r, s]), 6),
                        plants_type2=round(float(self.plants[1][r, s]), 6),
                        plant_productivity=round(float(self.plants[2][r, s]), 6),
                    )
                out[f"{region}:{sector}"] = cell
        return json.dumps(out, sort_keys=True)


def _central(spec: Any) -> float:
    return float("nan") if spec is None else central_value(spec, "")


def central_accounts(model: Model) -> tuple[PlantAccounts, FloatArray, FloatArray]:
    """:class:`PlantAccounts` at the central values of the draws (one replica, N = 1)."""
    d = model.scenario.data
    projects: list[Project] = model.projects
    growth = d["economy"].get("productivity_growth", 0.0)
    jobs = np.array([[_central(p.jobs_per_capex) if p.jobs_per_capex is not None else 0.0
                      for p in projects]])  # fmt: skip
    relative = np.array([[_central(p.plant_productivity) for p in projects]])
    omega = np.array([[_central(p.output_per_capex) for p in projects]])
    capex = np.array([[_central(p.capex) for p in projects]])
    gamma = np.array([[central_value(growth, r) for r in model.regions]])
    con = np.array([_central(d["investment"]["construction_jobs_per_capex"])])
    accounts = plant_accounts(model, jobs, relative, omega, gamma, con)
    return accounts, capex, omega


def multiplier_report(model: Model) -> MultiplierReport:
    """Implied multipliers at central values; a located warning for each host cell above
    ``input_output.multiplier_warning`` (logged once per process), naming what drives it."""
    sector = sector_multipliers(model)
    if not model.projects:
        nan = np.full_like(sector[0], np.nan)
        return MultiplierReport(sector, (nan, nan, nan), [])
    accounts, capex, omega = central_accounts(model)
    t1, t2, relative = plant_multipliers(model, accounts, capex, omega)
    plants = (t1[0], t2[0], relative[0])
    warnings = _warnings(model, sector, plants)
    for message in warnings:
        _warn_once(f"{model.scenario.name}:{message}", "%s", message)
    return MultiplierReport(sector, plants, warnings)


def _warnings(
    model: Model,
    sector: tuple[FloatArray, FloatArray],
    plants: tuple[FloatArray, FloatArray, FloatArray],
) -> list[str]:
    d = model.scenario.data
    io = d["input_output"]
    limits = io["multiplier_warning"]
    th1, th2 = float(limits["type1"]), float(limits["type2"])
    notes = limits.get("notes", {})
    regions, sectors = model.regions, model.sectors
    n_r, n_s, _ = model.shape
    md = d["metadata"]
    money = f"{md['currency']}{'' if md['money_unit'] == 'one' else ' ' + md['money_unit']}"
    e = model.employment_coef.reshape(-1)
    supply = e[:, None] * (model.leontief - np.eye(n_r * n_s))  # (RS, RS) jobs of i for j
    per_income = e @ model.household_output  # (R,) jobs per money of household income
    out = []
    for r in range(n_r):
        for s in range(n_s):
            p1, p2, phi = (float(x[r, s]) for x in plants)
            if not (np.isfinite(p1) and (p1 > th1 or p2 > th2)):
                continue
            j = r * n_s + s
            name = f"{regions[r]}:{sectors[s]}"
            keys = sorted({p.jobs_key for p in model.projects if p.host == r and p.sector == s})
            drivers = []
            s1, s2 = float(sector[0][r, s]), float(sector[1][r, s])
            if abs(phi - 1.0) > 0.05 and (p1 - s1 > 0.05 or p2 - s2 > 0.05):
                drivers.append(
                    f"the plants' output per worker, {phi:.2f} times the sector's "
                    f"({', '.join(keys)}; the sector alone: {s1:.2f} and {s2:.2f})"
                )
            if s1 > th1:
                i = int(np.argmax(supply[:, j]))
                share = supply[i, j] / supply[:, j].sum()
                drivers.append(
                    f"supplier {regions[i // n_s]}:{sectors[i % n_s]}, {share:.0%} of the "
                    f"indirect jobs at {e[i]:.3g} jobs per {money} of output against "
                    f"{e[j]:.3g} here"
                )
            if s2 > th2 and io["induced"]:
                drivers.append(
                    f"the household round, {per_income[r]:.3g} jobs per {money} of labour "
                    f"income in {regions[r]} (economy.wage, consumption_propensity)"
                )
            if not drivers:
                drivers.append(f"the sector itself ({s1:.2f} and {s2:.2f})")
            note = notes.get(regions[r], {}).get(sectors[s])
            out.append(
                f"{name}: the projects' employment multipliers, Type I {p1:.2f} and Type II "
                f"{p2:.2f}, exceed input_output.multiplier_warning ({th1:g}, {th2:g}); "
                "driven by " + "; ".join(drivers) + (f". Note: {note}" if note else "")
            )
    return out


__all__ = [
    "JOB_KINDS",
    "MONEY_SCALE",
    "HouseholdClosure",
    "MultiplierReport",
    "PlantAccounts",
    "annual_wage",
    "batch_plant_accounts",
    "household_closure",
    "multiplier_report",
    "plant_accounts",
    "plant_multipliers",
    "sector_multipliers",
    "warn_capped",
]
