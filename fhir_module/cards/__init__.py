"""Findings rendered as CDS Hooks 2.0.1 cards."""

from ._cards import card, cards

__all__ = ["card", "cards"]
