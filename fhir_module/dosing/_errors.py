"""The one internal signal of the package: this order cannot be read, and why."""


class Unknown(Exception):
    """Raised inside the package when an order cannot be read; ``daily_dose`` turns it
    into a DoseUnknown, so it never reaches a caller."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason
