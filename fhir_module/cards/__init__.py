"""Findings rendered as CDS Hooks 2.0.1 cards."""

from ._cards import card, card_order, cards

__all__ = ["card", "card_order", "cards"]
