"""The job.progress throttle: the first change goes at once, a burst costs one more message, and
that last message carries the latest state. Pure: no database, no channel layer.

A trailing message is waited for (up to DEADLINE, generous for a busy machine), never slept for.
"""

from __future__ import annotations

import threading
import time

from marketplace.realtime.transport import Coalescer

DEADLINE = 30.0  # seconds a timer due in a fraction of a second may take on a busy machine


class Recorder:
    """A send that records the 'latest state' at the moment it runs, as the payload builder does."""

    def __init__(self) -> None:
        self.state = 0
        self.sent: list[tuple[str, int]] = []
        self.lock = threading.Condition()

    def __call__(self, key: object) -> None:
        with self.lock:
            self.sent.append((str(key), self.state))
            self.lock.notify_all()

    def wait_for(self, count: int) -> list[tuple[str, int]]:
        """The messages sent, once there are `count` of them."""
        with self.lock:
            assert self.lock.wait_for(lambda: len(self.sent) >= count, timeout=DEADLINE), self.sent
            return list(self.sent)

    def armed(self, throttle: Coalescer) -> bool:
        return bool(throttle._timers)  # noqa: SLF001 - whether a trailing send is still to come


def test_the_first_change_is_sent_at_once_and_a_burst_ends_on_the_latest_state() -> None:
    record = Recorder()
    throttle = Coalescer(send=record, interval=lambda: 0.3)
    for n in range(1, 11):
        record.state = n
        throttle.request(7)
    assert record.sent == [("7", 1)]  # leading edge, synchronously
    assert record.wait_for(2) == [("7", 1), ("7", 10)]  # one trailing message with the latest counts
    assert not record.armed(throttle)  # and nothing more to come


def test_jobs_are_throttled_apart() -> None:
    record = Recorder()
    throttle = Coalescer(send=record, interval=lambda: 10)
    throttle.request(1)
    throttle.request(2)
    assert [key for key, _ in record.sent] == ["1", "2"]
    throttle.reset()  # cancels the armed timers


def test_concurrent_submits_send_at_most_two_messages_per_window() -> None:
    record = Recorder()
    # A window far longer than the burst takes, even on a busy machine.
    throttle = Coalescer(send=record, interval=lambda: 2.0)
    start = threading.Barrier(8)

    def burst() -> None:
        start.wait()
        for _ in range(100):
            throttle.request("job")

    threads = [threading.Thread(target=burst) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(record.sent) == 1
    assert len(record.wait_for(2)) == 2
    assert not record.armed(throttle)


def test_a_quiet_job_is_sent_at_once_again() -> None:
    record = Recorder()
    throttle = Coalescer(send=record, interval=lambda: 0.1)
    throttle.request(3)
    time.sleep(0.15)  # the window itself passing is what is tested (a busy machine only lengthens it)
    throttle.request(3)
    assert len(record.sent) == 2  # no timer: the window had passed
