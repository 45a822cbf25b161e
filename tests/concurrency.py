"""Run a test's worker function on many threads at once."""

import threading
from typing import Callable


def run_in_threads(worker: Callable[[int], None], count: int, timeout: float = 120) -> None:
    """Start ``worker(0) .. worker(count - 1)`` on their own threads and wait for all of them."""
    threads = [threading.Thread(target=worker, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout)
