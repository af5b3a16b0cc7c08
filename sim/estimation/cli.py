"""``sim estimate``: structural gravity by PPML from a long trade table."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any


def register(subparsers: Any) -> None:
    """Add ``estimate`` to the CLI."""
    p = subparsers.add_parser(
        "estimate",
        help="estimate trade costs by PPML structural gravity",
        description="Estimate structural gravity by Poisson pseudo-maximum likelihood with "
        "exporter and importer fixed effects (by year in a panel; pair effects on request), "
        "standard errors clustered by pair. Writes OUTPUT/coefficients.csv, fit.md, "
        "fitted_trade.csv and gravity.yaml, a scenario fragment for `extends:` whose "
        "coefficients the engine draws per replica from their joint normal distribution.",
    )
    p.add_argument("data", help="long trade table (CSV): one row per exporter, importer [, year]")
    p.add_argument(
        "--covariates",
        required=True,
        help="comma-separated gravity covariates, e.g. lndist,contiguity,common_language,pta",
    )
    p.add_argument("--exporter", default="exporter", help="exporter column (default exporter)")
    p.add_argument("--importer", default="importer", help="importer column (default importer)")
    p.add_argument("--value", default="trade", help="trade column (default trade)")
    p.add_argument("--year", default=None, help="year column, for a panel")
    p.add_argument(
        "--pair-effects",
        action="store_true",
        help="add exporter-importer fixed effects (a panel only; time-invariant covariates "
        "are then absorbed)",
    )
    p.add_argument("-o", "--output", required=True, help="output folder")
    p.add_argument("--overwrite", action="store_true", help="replace an earlier estimation")
    p.set_defaults(handler=run_estimate)


def run_estimate(args: argparse.Namespace) -> int:
    """Read, check, fit, write; print the coefficient table."""
    from sim.estimation.errors import EstimationError
    from sim.estimation.gravity import GravitySpec, estimate_gravity
    from sim.estimation.read import PanelColumns, load_trade_table
    from sim.estimation.write import check_estimate_folder, write_estimate

    covariates = tuple(c.strip() for c in args.covariates.split(",") if c.strip())
    if not covariates:
        raise EstimationError(
            "no covariate given",
            allowed="a comma-separated list of columns, e.g. --covariates lndist,pta",
            hint="name the gravity covariates to estimate",
        )
    target = Path(args.output)
    check_estimate_folder(target, overwrite=args.overwrite)
    columns = PanelColumns(args.exporter, args.importer, args.value, args.year)
    table = load_trade_table(args.data, columns, covariates)
    estimate = estimate_gravity(table, GravitySpec(covariates, columns, args.pair_effects))
    write_estimate(estimate, Path(args.data), target, overwrite=args.overwrite)
    shown = estimate.table()
    print(shown.to_string(index=False, float_format=lambda x: f"{x:.6g}"))
    print(f"wrote {target}/ (coefficients.csv, fit.md, fitted_trade.csv, gravity.yaml)")
    return 0
