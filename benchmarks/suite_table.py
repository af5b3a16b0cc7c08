"""The suite's summary table: each figure, what was measured, its target and whether it
is met (``python3 -m benchmarks.suite`` prints it and writes it to its JSON)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from benchmarks import peers, reference

if TYPE_CHECKING:
    from benchmarks.suite import Config

#: Issue #5 targets.
TARGET_SPEEDUP = 100.0
TARGET_BANDWIDTH = 0.30
TARGET_SIMPY_SHARE = 0.05
TARGET_FLATNESS = 2.0


def _status(met: bool | None) -> str:
    return "n/a" if met is None else ("met" if met else "NOT MET")


def _mb(x: float) -> str:
    return f"{x / 1e6:,.0f} MB"


def table(results: dict[str, Any], cfg: Config) -> list[dict[str, str]]:
    """Rows of the summary table: figure, measured, target, status, how measured."""
    rows: list[dict[str, str]] = []

    def add(figure: str, measured: str, target: str, met: bool | None, how: str) -> None:
        rows.append(
            {
                "figure": figure,
                "measured": measured,
                "target": target,
                "status": _status(met),
                "how": how,
            }
        )

    if "speedup" in results:
        s = results["speedup"]
        how = (
            f"seed, {s['replicas']} replicas x {s['periods']} quarters; reference timed on "
            f"{s['reference_replicas']} replicas and scaled per replica"
        )
        add(
            "speed-up over the reference (simulation)",
            f"{s['speedup_simulation']:.1f}x ({s['reference_us_per_replica_period']:.0f} vs "
            f"{s['engine_us_per_replica_period']:.1f} us/replica-period)",
            f">= {TARGET_SPEEDUP:.0f}x",
            s["speedup_simulation"] >= TARGET_SPEEDUP,
            how + "; draws excluded on both sides",
        )
        add(
            "speed-up over the reference (draws + simulation)",
            f"{s['speedup_with_draws']:.1f}x",
            "reported",
            None,
            how + "; reference draws each replica with draw_batch(model, k, 1)",
        )
        add(
            "reference = engine (float64)",
            f"max rel. diff {s['max_relative_difference_all']:.1e}",
            f"<= {reference.RTOL:.0e} (migration {reference.RTOL_BY_ARRAY['migration']:.0e})",
            s["equivalent"],
            f"{s['reference_replicas']} replicas, trade, jobs, capital flows, migration, stages",
        )
    if "bandwidth" in results:
        bw = results["bandwidth"]
        for case in bw["cases"]:
            large = case["case"] == "large" and not cfg.small  # the target is for the large size
            for k in case["kernels"]:
                add(
                    f"bandwidth {case['regions']}x{case['sectors']}, {case['replicas']} rep.: "
                    f"{k['kernel']}",
                    f"{k['fraction_of_copy']:.0%} of copy ({k['bytes_per_second'] / 1e9:.2f} GB/s)",
                    f">= {TARGET_BANDWIDTH:.0%} (large size)" if large else "reported",
                    (k["fraction_of_copy"] >= TARGET_BANDWIDTH) if large else None,
                    f"copy {bw['copy_bytes_per_second'] / 1e9:.2f} GB/s; {k['note']}",
                )
    if "simpy" in results:
        p = results["simpy"]["profile"]
        c = results["simpy"]["numpy_calls"]
        add(
            "SimPy share of the run",
            f"{p['simpy_share']:.2%} ({p['simpy_seconds'] * 1e3:.1f} ms of {p['wall_seconds']:.2f} s)",
            f"<= {TARGET_SIMPY_SHARE:.0%}",
            p["simpy_share"] <= TARGET_SIMPY_SHARE,
            f"seed, {p['replicas']} replicas; time in Environment.run outside the callbacks",
        )
        add(
            "NumPy calls per period",
            f"{c['numpy_calls_per_period']:.0f} ({c['solver_calls_per_period']:.0f} in the "
            f"solver, {c['newton_steps_per_period']:.1f} Newton steps)",
            "reported",
            None,
            "ufuncs and array functions on the batch's arrays, any replica count",
        )
    if "replicas" in results:
        r = results["replicas"]
        few, many = r["events_few"], r["events_many"]
        add(
            "SimPy events, few vs many replicas",
            f"{few['events']} at {few['replicas']}, {many['events']} at {many['replicas']}",
            "the same count",
            r["events_same"],
            "dataset attribute simpy_events",
        )
        lo = min(r["rows"][1:], key=lambda x: x["us_per_replica_period"])
        hi = max(r["rows"][1:], key=lambda x: x["us_per_replica_period"])
        add(
            "scaling in replicas",
            f"{r['flatness']:.2f}x max/min ({lo['us_per_replica_period']:.0f} us at "
            f"{lo['replicas']}, {hi['us_per_replica_period']:.0f} us at {hi['replicas']})",
            f"<= {TARGET_FLATNESS:.0f}x",
            r["flatness"] <= TARGET_FLATNESS,
            f"seed, one batch, {r['rows'][1]['replicas']}-{r['rows'][-1]['replicas']} replicas",
        )
    if "sizes" in results:
        z = results["sizes"]
        for label, key in (
            ("all sizes", "fit_all"),
            ("dense spending system", "fit_dense_spending"),
            ("iterated spending system", "fit_iterated_spending"),
        ):
            f = z[key]
            if f["points"] >= 3:
                add(
                    f"scaling in size ({label})",
                    f"t ~ R^{f['regions']:.2f} S^{f['sectors']:.2f} ({f['points']} points)",
                    "reported",
                    None,
                    "time per replica-period, synthetic scenarios, least squares in logs",
                )
    if "peers" in results:
        peers.peer_rows(results["peers"], add)
    if "memory" in results:
        for run in results["memory"]["runs"]:
            _memory_row(add, run, f"seed, {run.get('mode', '?')}")
    if "large" in results:
        for fmt, run in results["large"].items():
            label = str(run.get("mode", fmt))
            attempts = run.get("attempts", [run])
            if len(attempts) > 1:
                lines = str(attempts[0].get("error", "")).splitlines()
                why = next((line for line in lines if "needs" in line), lines[-1] if lines else "?")
                add(
                    f"large case, {label}, memory_limit 0.8",
                    "refused: " + why.split(": ", 2)[-1][:100],
                    "runs",
                    False,
                    "the engine's memory estimate before allocating",
                )
            _memory_row(add, run, f"large case 10x20x2000x80, {label}")
    return rows


def _memory_row(add: Callable[..., None], run: dict[str, Any], label: str) -> None:
    if not run.get("ok"):
        add(f"memory, {label}", "FAILED: " + str(run.get("error", "")), "runs", False, "")
        return
    add(
        f"memory, {label}, {run['replicas']} replicas",
        f"peak {_mb(run['peak_rss_bytes'])} for {_mb(run['output_bytes'])} of output "
        f"({run['peak_over_output']:.2f}x); {run['simulate_seconds'] + run['write_seconds']:.0f} s",
        f"<= {_mb(run['memory_limit_bytes'])}",
        run["memory_met"],
        f"fresh process, {run.get('mode', '?')}"
        + (f" ({_mb(run['file_bytes'])} on disk)" if run.get("file_bytes") else ""),
    )


def print_table(rows: list[dict[str, str]]) -> None:
    """A plain-text table on standard output."""
    widths = {k: max(len(k), *(len(r[k]) for r in rows)) for k in ("figure", "measured")}
    widths["target"] = max(len("target"), *(len(r["target"]) for r in rows))
    head = (
        f"{'figure':<{widths['figure']}}  {'measured':<{widths['measured']}}  "
        f"{'target':<{widths['target']}}  status"
    )
    print(head)
    print("-" * len(head))
    for r in rows:
        print(
            f"{r['figure']:<{widths['figure']}}  {r['measured']:<{widths['measured']}}  "
            f"{r['target']:<{widths['target']}}  {r['status']}"
        )
