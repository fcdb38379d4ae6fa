"""How much ingredient is in one tablet or one mL of what the order names.

Sources, most trusted first: the knowledge's product for the order's code, the
Medication's ``ingredient.strength`` Ratio, then an RxNorm-style name with a
strength in it ("baclofen 10 MG Oral Tablet", "baclofen 2000 mcg/mL ...").
"""

from __future__ import annotations

import re
from decimal import Decimal
from typing import TYPE_CHECKING, Any, NamedTuple

from ..errors import UnreadableDose
from ..ucum import (
    MASS_TO_MG,
    ONE,
    UP,
    Unit,
    figure,
    fmt,
    mass_unit_for,
    number,
    per_words,
    unit_named,
)
from ._memo import memo

if TYPE_CHECKING:
    from ._order import OrderContext


class Strength(NamedTuple):
    """mg per one tablet or mL, the mass unit to show it in, and where it came from."""

    mg_per_unit: Decimal
    per: str
    unit: str
    shown: str  # e.g. '10 mg/tablet', '2000 ug/mL'
    source: str  # e.g. 'strength 10 mg per tablet taken from the product ...'


def _strength(mg: Decimal, per: str, unit: str, source: str) -> Strength:
    """A Strength with its words; ``source`` completes 'strength 10 mg per tablet ...'."""
    value = fmt(mg / MASS_TO_MG[unit])
    words = per_words(per)
    return Strength(
        mg, per, unit, f"{value} {unit}/{words}", f"strength {value} {unit} per {words} {source}"
    )


_NAME_STRENGTH = re.compile(
    r"(?<![\w.])(\d+(?:\.\d+)?)\s*"
    r"(mg|mcg|ug|\u00b5g|\u03bcg|g|gm|milligrams?|micrograms?|grams?)"
    r"(?:\s*(?:/|per)\s*(\d+(?:\.\d+)?)?\s*"
    r"(ml|mls|milliliters?|millilitres?|l|tab|tabs|tablets?))?(?!\w)",
    re.IGNORECASE,
)


def strength_for(per: str, ctx: OrderContext) -> Strength:
    """The strength per '{tbl}' or per 'mL' of the ordered product; raises UnreadableDose if
    none."""
    mismatch = ""
    product = ctx.product()
    if product is not None:
        label, product_per = product.label, product.per_unit
        found = _product_strength(label, product.strength_mg, product_per, per)
        if found is not None:
            return found
        mismatch = f"; the product {label} is per {product_per}"
    else:
        doubt = ctx.product_doubt()
        mismatch = f"; {doubt}" if doubt else ""
    found = _from_ingredients(per, ctx.medication, ctx.knowledge.tablet_unit_codes)
    if found is not None:
        return found
    for name in ctx.names():
        found = _from_name(per, name, ctx.knowledge.tablet_word)
        if found is not None:
            return found
    what = "tablet" if per == "{tbl}" else "mL"
    raise UnreadableDose(
        f"the dose is in {per_words(per, Decimal(2))} and no strength per {what} is "
        f"known (no product code, ingredient strength or name with one){mismatch}"
    )


# Products are few and their strengths fixed: the words about them are remembered.
@memo
def _product_strength(label: str, mg: Any, product_per: Any, per: str) -> Strength | None:
    """The strength per ``per`` of a product of the knowledge (its label, strength in mg and
    unit), or None if the product is not counted in ``per``."""
    product_unit = unit_named(str(product_per))
    if not isinstance(mg, Decimal):
        mg = Decimal(str(mg))
    if product_unit is None or product_unit.kind != per or product_unit.factor != 1 or mg <= 0:
        return None
    return _strength(mg, per, _label_unit(label, mg), f"taken from the product {label}")


def _label_unit(label: str, mg: Decimal) -> str:
    """The mass unit the product's own label states its strength in, when the label's figure
    agrees with the strength; otherwise ug below 1 mg and mg above."""
    unit = mass_unit_for(mg)
    match = _NAME_STRENGTH.search(label) if type(label) is str else None
    if match is not None:
        named = unit_named(match.group(2))
        count = Decimal(match.group(3) or 1)
        if (
            named is not None
            and named.kind == "mass"
            and Decimal(match.group(1)) * named.factor == mg * count
        ):
            unit = named.ucum
    return unit


def _from_ingredients(
    per: str, medication: dict[str, Any] | None, tablet_units: frozenset[tuple[str, str]]
) -> Strength | None:
    if medication is None:
        return None
    ingredients = medication.get("ingredient")
    if type(ingredients) is not list:
        return None
    seen: dict[Decimal, Strength] = {}
    for ingredient in ingredients:
        if type(ingredient) is not dict or ingredient.get("isActive") is False:
            continue
        ratio = ingredient.get("strength", ingredient.get("strengthRatio"))
        if type(ratio) is not dict:
            continue
        strength = _from_ratio(per, ratio, tablet_units)
        if strength is not None:
            seen.setdefault(strength.mg_per_unit, strength)
    if len(seen) > 1:
        shown = ", ".join(s.shown for s in seen.values())
        raise UnreadableDose(
            f"the Medication lists several ingredient strengths ({shown}); "
            f"which one the dose refers to is not known"
        )
    return next(iter(seen.values()), None)


def _from_ratio(
    per: str, ratio: dict[str, Any], tablet_units: frozenset[tuple[str, str]]
) -> Strength | None:
    numerator = ratio.get("numerator")
    denominator = ratio.get("denominator")
    if type(numerator) is not dict or type(denominator) is not dict:
        return None
    mass = _unit_of(numerator, tablet_units)
    amount = _unit_of(denominator, tablet_units)
    if mass is None or mass.kind != "mass" or amount is None or amount.kind != per:
        return None
    value = numerator.get("value")
    count = denominator.get("value", 1)
    if type(value) not in (int, float) or type(count) not in (int, float):
        return None
    value_d = number(value, "ingredient strength numerator value")
    count_d = number(count, "ingredient strength denominator value")
    if not value_d > 0 or not count_d > 0:
        return None
    mg = UP.divide(value_d * mass.factor, count_d * amount.factor)
    return _strength(
        mg,
        per,
        mass.ucum,
        f"taken from the Medication's ingredient strength "
        f"{fmt(value_d)} {mass.ucum}/{fmt(count_d)} "
        f"{per_words(per, count_d)}",
    )


def _unit_of(quantity: dict[str, Any], tablet_units: frozenset[tuple[str, str]]) -> Unit | None:
    system, code = quantity.get("system"), quantity.get("code")
    if type(system) is str and type(code) is str and (system, code) in tablet_units:
        return unit_named("{tbl}")
    for key in ("code", "unit"):
        text = quantity.get(key)
        if type(text) is str:
            unit = unit_named(text)
            if unit is not None:
                return unit
    return None


def _from_name(per: str, name: str, tablet_word: re.Pattern[str]) -> Strength | None:
    match = _NAME_STRENGTH.search(name)
    if match is None:
        return None
    value_text, mass_text, count_text, per_text = match.groups()
    mass = unit_named(mass_text)
    if mass is None or mass.kind != "mass":
        return None
    if per_text is not None:
        amount = unit_named(per_text)
    elif tablet_word.search(name):
        amount = unit_named("{tbl}")
    else:
        return None
    if amount is None or amount.kind != per:
        return None
    value = figure(value_text, "strength in the name")
    count = figure(count_text, "strength in the name") if count_text else ONE
    if not value > 0 or not count > 0:
        return None
    mg = UP.divide(value * mass.factor, count * amount.factor)
    return _strength(mg, per, mass.ucum, f"read from the name '{name[:80]}'")
