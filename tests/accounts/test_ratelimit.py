"""The sliding-window limit behind the password reset and API token limits, on a controlled clock."""

import datetime

import pytest
import time_machine

from accounts.ratelimit import SlidingWindowLimit

START = datetime.datetime(2026, 3, 2, 9, 0, tzinfo=datetime.UTC)


@pytest.fixture
def clock():
    with time_machine.travel(START, tick=False) as traveller:
        yield traveller


def three_a_minute() -> SlidingWindowLimit:
    return SlidingWindowLimit("test", lambda: (3, 60))


def test_allows_the_rate_then_says_how_long_to_wait(clock):
    limit = three_a_minute()

    assert [limit.hit("a") for _ in range(3)] == [None, None, None]
    # At the next window's start the three still weigh fully; a third of the
    # way into it, two remain: 80 seconds.
    assert limit.hit("a") == 80
    assert limit.hit("b") is None  # keys are counted apart


def test_refused_events_are_not_counted(clock):
    limit = three_a_minute()
    for _ in range(3):
        limit.hit("a")
    for _ in range(10):
        limit.hit("a")

    clock.shift(60)

    # The previous window weighs fully at its end: three, not thirteen, so the
    # first new event waits for some of it to slide out, not for thirteen.
    assert limit.hit("a") is not None
    clock.shift(20)
    assert limit.hit("a") is None


def test_the_previous_window_slides_out(clock):
    limit = three_a_minute()
    for _ in range(3):
        limit.hit("a")

    clock.shift(60 + 30)  # half-way through the next window: 3 × 0.5 = 1.5 still count

    assert limit.hit("a") is None  # 2.5
    assert limit.hit("a") == 10  # 3.5 is over; at 40 s 3 × ⅓ + 1 + 1 = 3 fits
    clock.shift(10)
    assert limit.hit("a") is None
    clock.shift(60)
    assert [limit.hit("a") for _ in range(2)] == [None, None]


def test_wait_reads_without_counting(clock):
    limit = three_a_minute()
    assert limit.wait("a") is None
    for _ in range(3):
        assert limit.wait("a") is None
        limit.hit("a")
    assert limit.wait("a") == 80
    assert limit.wait("a") == 80
    clock.shift(120)
    assert limit.wait("a") is None


def test_the_rate_is_read_at_every_call(clock):
    rate = [(1, 60)]
    limit = SlidingWindowLimit("test", lambda: rate[0])
    assert limit.hit("a") is None
    assert limit.hit("a") is not None
    rate[0] = (5, 60)
    assert limit.hit("a") is None
