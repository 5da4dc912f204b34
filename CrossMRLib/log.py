"""The engine's logger ("crossmr") and a way to collect the warnings one run produced."""

from __future__ import annotations

import contextlib
import logging
from typing import Iterator

log = logging.getLogger("crossmr")


class _ListHandler(logging.Handler):
    def __init__(self, sink: list[str]) -> None:
        super().__init__(logging.WARNING)
        self.sink = sink

    def emit(self, record: logging.LogRecord) -> None:
        self.sink.append(record.getMessage())


@contextlib.contextmanager
def collect_warnings() -> Iterator[list[str]]:
    """Collect the messages of every warning logged to "crossmr" inside the block."""
    sink: list[str] = []
    handler = _ListHandler(sink)
    log.addHandler(handler)
    try:
        yield sink
    finally:
        log.removeHandler(handler)
