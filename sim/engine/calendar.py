"""The model's time axis: periods of a quarter or a year, and dates on it.

Model time is measured in years since ``time.start`` with the period length
``dt`` (0.25 or 1). A date belongs to the period whose start is the latest one
on or before it; events dated inside a period take effect at its start.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

MONTHS = {"quarter": 3, "year": 12}


def _add_months(day: datetime.date, months: int) -> datetime.date:
    month = day.month - 1 + months
    return datetime.date(day.year + month // 12, month % 12 + 1, 1)


@dataclass(frozen=True)
class Calendar:
    """Period start dates and conversions.

    Attributes
    ----------
    starts : list of datetime.date
        First day of each period.
    step : str
        ``quarter`` or ``year``.
    """

    starts: list[datetime.date]
    step: str

    @property
    def dt(self) -> float:
        """Period length in years."""
        return MONTHS[self.step] / 12.0

    @property
    def periods(self) -> int:
        return len(self.starts)

    @property
    def per_year(self) -> int:
        return 12 // MONTHS[self.step]

    @property
    def years(self) -> NDArray[np.int64]:
        """Calendar year of each period, shape (T,)."""
        return np.array([d.year for d in self.starts], dtype=np.int64)

    @property
    def unit(self) -> str:
        return "per quarter" if self.step == "quarter" else "per year"

    def model_time(self, day: datetime.date) -> float:
        """Years since the start on the model clock (periods are exactly ``dt`` long)."""
        start = self.starts[0]
        months = (day.year - start.year) * 12 + (day.month - start.month)
        month_len = (_add_months(day, 1) - datetime.date(day.year, day.month, 1)).days
        return (months + (day.day - 1) / month_len) / 12.0

    def period_of(self, day: datetime.date) -> int:
        """Index of the period containing ``day`` (-1 before the start, T after the end)."""
        if day < self.starts[0]:
            return -1
        return min(int(self.model_time(day) / self.dt + 1e-9), self.periods)

    def datetimes(self) -> NDArray[np.datetime64]:
        return np.array(self.starts, dtype="datetime64[ns]")


def build_calendar(start: str, end: str, step: str) -> Calendar:
    """Periods from the first day of ``start``'s month to the one containing ``end``."""
    first = datetime.date.fromisoformat(start).replace(day=1)
    if step == "quarter":
        first = first.replace(month=(first.month - 1) // 3 * 3 + 1)
    elif step == "year":
        first = first.replace(month=1)
    last = datetime.date.fromisoformat(end)
    starts = []
    day = first
    while day <= last:
        starts.append(day)
        day = _add_months(day, MONTHS[step])
    return Calendar(starts=starts, step=step)
