"""Records counted in a time: what every measurement of a volume reports (generator, scans)."""

from __future__ import annotations


class Throughput:
    """A mixin for a dataclass with `records` (count per kind) and `seconds`."""

    records: dict[str, int]
    seconds: float

    @property
    def total_records(self) -> int:
        return sum(self.records.values())

    @property
    def records_per_second(self) -> float:
        return self.total_records / self.seconds if self.seconds else 0.0
