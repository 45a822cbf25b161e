"""The hand-off between decoding threads and the stream's consumer (arena/handoff.py): every item arrives, in
order per side, with producers racing a consumer that sleeps and wakes (a lost wake-up would hang the test)."""

from __future__ import annotations

import threading

from arena.handoff import Handoff


def test_items_arrive_in_order_per_side_under_racing_threads():
    count = 20_000
    handoff = Handoff(["a", "b"])

    def produce(side: str) -> None:
        for i in range(count):
            handoff.put(side, (side, i))

    threads = [threading.Thread(target=produce, args=(side,)) for side in ("a", "b")]
    for thread in threads:
        thread.start()
    received = {"a": [], "b": []}
    for _ in range(count):
        for side in ("a", "b"):  # the arena's rotation: wait for the slower side
            received[side].append(handoff.get(side))
    for thread in threads:
        thread.join()
    assert received == {side: [(side, i) for i in range(count)] for side in ("a", "b")}


def test_a_waiting_consumer_is_woken_by_its_side_only():
    handoff = Handoff(["a", "b"])
    got = []
    consumer = threading.Thread(target=lambda: got.append(handoff.get("a")))
    consumer.start()
    handoff.put("b", "for b")
    consumer.join(timeout=0.2)
    assert consumer.is_alive() and not got  # b's item does not end a's wait
    handoff.put("a", "for a")
    consumer.join(timeout=10)
    assert got == ["for a"] and handoff.get("b") == "for b"
