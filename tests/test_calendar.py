"""Tests for sim.engine.calendar: periods, model time and date lookup."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest

from sim.engine.calendar import build_calendar


@pytest.fixture(scope="module")
def quarterly():
    return build_calendar("2016-01-01", "2035-12-31", "quarter")


@pytest.fixture(scope="module")
def yearly():
    return build_calendar("2016-01-01", "2035-12-31", "year")


def test_quarterly_periods(quarterly) -> None:
    assert quarterly.periods == 80
    assert quarterly.dt == 0.25
    assert quarterly.per_year == 4
    assert quarterly.unit == "per quarter"
    assert quarterly.starts[0] == dt.date(2016, 1, 1)
    assert quarterly.starts[1] == dt.date(2016, 4, 1)
    assert quarterly.starts[-1] == dt.date(2035, 10, 1)
    assert {d.month for d in quarterly.starts} == {1, 4, 7, 10}
    assert all(d.day == 1 for d in quarterly.starts)
    years = quarterly.years
    assert years.dtype == np.int64
    assert years[0] == 2016 and years[-1] == 2035
    np.testing.assert_array_equal(np.bincount(years - 2016), np.full(20, 4))


def test_yearly_periods(yearly) -> None:
    assert yearly.periods == 20
    assert yearly.dt == 1.0
    assert yearly.per_year == 1
    assert yearly.unit == "per year"
    assert yearly.starts == [dt.date(y, 1, 1) for y in range(2016, 2036)]
    np.testing.assert_array_equal(yearly.years, np.arange(2016, 2036))


def test_partial_bounds_are_aligned() -> None:
    cal = build_calendar("2016-02-17", "2017-04-01", "quarter")
    assert cal.starts[0] == dt.date(2016, 1, 1)  # quarter containing the start
    assert cal.starts[-1] == dt.date(2017, 4, 1)  # the period containing the end
    assert cal.periods == 6
    cal = build_calendar("2016-07-01", "2018-03-31", "year")
    assert cal.starts == [dt.date(2016, 1, 1), dt.date(2017, 1, 1), dt.date(2018, 1, 1)]
    assert build_calendar("2016-01-01", "2016-03-31", "quarter").periods == 1


def test_datetimes(quarterly) -> None:
    stamps = quarterly.datetimes()
    assert stamps.dtype == np.dtype("datetime64[ns]")
    assert stamps[31] == np.datetime64("2023-10-01")


@pytest.mark.parametrize(
    ("day", "period"),
    [
        (dt.date(2016, 1, 1), 0),
        (dt.date(2016, 3, 31), 0),
        (dt.date(2016, 4, 1), 1),
        (dt.date(2023, 9, 30), 30),
        (dt.date(2023, 10, 1), 31),
        (dt.date(2023, 11, 15), 31),
        (dt.date(2023, 12, 31), 31),
        (dt.date(2024, 1, 1), 32),
        (dt.date(2035, 10, 1), 79),
        (dt.date(2035, 12, 31), 79),
        (dt.date(2036, 1, 1), 80),  # after the end: T
        (dt.date(2050, 6, 1), 80),
        (dt.date(2015, 12, 31), -1),  # before the start
    ],
)
def test_period_of_quarterly(quarterly, day: dt.date, period: int) -> None:
    assert quarterly.period_of(day) == period


def test_period_of_every_period_start(quarterly, yearly) -> None:
    for cal in (quarterly, yearly):
        for k, start in enumerate(cal.starts):
            assert cal.period_of(start) == k
            assert cal.period_of(start - dt.timedelta(days=1)) == k - 1


@pytest.mark.parametrize(
    ("day", "period"),
    [
        (dt.date(2016, 1, 1), 0),
        (dt.date(2016, 12, 31), 0),
        (dt.date(2023, 11, 15), 7),
        (dt.date(2035, 12, 31), 19),
        (dt.date(2036, 1, 1), 20),
        (dt.date(2010, 1, 1), -1),
    ],
)
def test_period_of_yearly(yearly, day: dt.date, period: int) -> None:
    assert yearly.period_of(day) == period


def test_model_time(quarterly, yearly) -> None:
    assert quarterly.model_time(dt.date(2016, 1, 1)) == 0.0
    assert quarterly.model_time(dt.date(2017, 1, 1)) == 1.0
    assert quarterly.model_time(dt.date(2023, 10, 1)) == 7.75
    # mid-November: 94 whole months plus 14 of November's 30 days
    assert quarterly.model_time(dt.date(2023, 11, 15)) == pytest.approx((94 + 14 / 30) / 12)
    # leap February: 28 of 29 days elapsed on the 29th
    assert quarterly.model_time(dt.date(2020, 2, 29)) == pytest.approx((49 + 28 / 29) / 12)
    assert yearly.model_time(dt.date(2023, 11, 15)) == quarterly.model_time(dt.date(2023, 11, 15))
    assert quarterly.model_time(dt.date(2015, 7, 1)) == pytest.approx(-0.5)


def test_model_time_monotone_through_a_year(quarterly) -> None:
    days = [dt.date(2024, 1, 1) + dt.timedelta(days=i) for i in range(367)]
    times = np.array([quarterly.model_time(d) for d in days])
    assert np.all(np.diff(times) > 0)
    assert times[0] == 8.0 and times[-1] == 9.0  # 2024 is a leap year: day 366 is 2025-01-01
