r"""Project stage dates from duration draws and completion odds.

A project moves through the stages

    announced -> financed -> construction -> operating

and may be abandoned at each transition. Transition ``k`` (1 = financing,
2 = construction start, 3 = start of operation) happens after a duration
:math:`d_k` counted from the previous stage, if the project passes it, which
it does with probability :math:`o_k`:

.. math::

    T_k = \begin{cases} T_{k-1} + d_k & u_k < o_k \\ \infty & \text{otherwise} \end{cases},
    \qquad T_0 = \text{announcement date}.

A project that fails transition ``k`` is abandoned at
:math:`T_{k-1} + f\,d_k` (``f`` a fraction drawn by the caller), so a project
abandoned during construction has disbursed part of its capex. Stage dates
known from the scenario (a project already financed, say) replace the draws
for those transitions; a known date makes that transition and every earlier one
certain, and a drawn earlier date is brought back to a known later one.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

FloatArray = NDArray[np.float64]

#: Stage codes used across the engine and in the output.
STAGES = ("planned", "announced", "financed", "construction", "operating", "abandoned")
PLANNED, ANNOUNCED, FINANCED, CONSTRUCTION, OPERATING, ABANDONED = range(6)


@dataclass(frozen=True)
class StageDates:
    """Stage entry dates for every replica and project, in years on the model clock.

    Attributes
    ----------
    entered : (N, P, 4)
        Date each of announced, financed, construction, operating is entered;
        ``inf`` if never.
    abandoned : (N, P)
        Date of abandonment; ``inf`` if never.
    """

    entered: FloatArray
    abandoned: FloatArray


def draw_stage_dates(
    announced: FloatArray,
    known: FloatArray,
    durations: FloatArray,
    odds: FloatArray,
    uniforms: FloatArray,
    abandon_fraction: FloatArray,
) -> StageDates:
    """Compute stage entry dates for all replicas and projects at once.

    Parameters
    ----------
    announced : (P,)
        Announcement date of each project, years on the model clock.
    known : (P, 3)
        Known dates of financing, construction start and start of operation,
        ``nan`` where not known (then drawn).
    durations : (N, P, 3)
        Drawn durations of the three transitions, years (non-negative).
    odds : (N, P, 3)
        Probability of passing each transition, in [0, 1].
    uniforms : (N, P, 3)
        Uniform draws deciding each transition.
    abandon_fraction : (N, P)
        Where within a failed transition's duration the project is abandoned, in [0, 1].

    Returns
    -------
    StageDates
    """
    n_rep, n_proj = durations.shape[:2]
    entered = np.full((n_rep, n_proj, 4), np.inf)
    entered[:, :, 0] = announced[None, :]
    abandoned = np.full((n_rep, n_proj), np.inf)
    # A known date proves every earlier transition happened.
    proven = np.flip(np.logical_or.accumulate(np.flip(np.isfinite(known), axis=1), axis=1), axis=1)
    for k in range(3):
        previous = entered[:, :, k]
        reached = np.isfinite(previous)
        known_k = np.broadcast_to(known[None, :, k], previous.shape)
        is_known = np.isfinite(known_k)
        passes = proven[None, :, k] | (uniforms[:, :, k] < odds[:, :, k])
        drawn = previous + durations[:, :, k]
        entered[:, :, k + 1] = np.where(
            reached & passes, np.where(is_known, known_k, drawn), np.inf
        )
        fails = reached & ~passes
        abandoned = np.where(fails, previous + abandon_fraction * durations[:, :, k], abandoned)
    # A drawn date cannot fall after a known later one (financing drawn after a
    # known start of construction, say): it is brought back to that date.
    for k in (2, 1):
        entered[:, :, k] = np.minimum(entered[:, :, k], entered[:, :, k + 1])
    return StageDates(entered=entered, abandoned=abandoned)


def stage_at(dates: StageDates, time: float) -> NDArray[np.int8]:
    """Stage code of every replica and project at ``time`` (model years), shape (N, P)."""
    reached = (dates.entered <= time).sum(axis=2)  # 0 = planned .. 4 = operating
    stage = reached.astype(np.int8)
    stage[dates.abandoned <= time] = ABANDONED
    return stage
