"""Which medication an order names: the one resolver the engine, the dose arithmetic and the
suggestions all use.

A MedicationRequest names its medication as a CodeableConcept (``medicationCodeableConcept``),
as a Reference to a Medication (``medicationReference``), or, in feeds that mix FHIR
versions, as an R5 CodeableReference (``medication.concept`` / ``medication.reference``).
References resolve as FHIR resolves them: ``#id`` to the order's contained resources,
``urn:uuid:`` / ``urn:oid:`` and absolute URLs to the ``fullUrl`` of the entries of the same
Bundle (draft orders, prefetch), ``Type/id`` (and an absolute URL ending in it) to the entry
of that type and id; ``/_history/n`` is ignored. A Medication's ingredients count too
(``itemCodeableConcept``, or ``itemReference`` to a Substance or Medication), so a Medication
whose own code is absent, text-only or unknown is still recognised by its ingredient.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, NamedTuple

Resource = Mapping[str, Any]


class Pool:
    """The resources references may resolve to, indexed by fullUrl and by Type/id."""

    __slots__ = ("by_url", "by_key")

    def __init__(self, entries: Iterable[tuple[Any, Any]] = ()) -> None:
        self.by_url: dict[str, dict[str, Any]] = {}
        self.by_key: dict[tuple[str, str], dict[str, Any]] = {}
        for full_url, resource in entries:
            self.add(resource, full_url)

    def add(self, resource: Any, full_url: Any = None) -> None:
        if type(resource) is not dict:
            return
        if type(full_url) is str and full_url:
            self.by_url.setdefault(full_url, resource)
        kind, rid = resource.get("resourceType"), resource.get("id")
        if type(kind) is str and type(rid) is str:
            self.by_key.setdefault((kind, rid), resource)

    @classmethod
    def of_bundles(cls, *bundles: Any) -> Pool:
        """A pool of every entry (resource and fullUrl) of the given Bundles; anything else
        is skipped."""
        pool = cls()
        for bundle in bundles:
            entries = bundle.get("entry") if type(bundle) is dict else None
            if type(entries) is not list:
                continue
            for entry in entries:
                if type(entry) is dict:
                    pool.add(entry.get("resource"), entry.get("fullUrl"))
        return pool

    def with_resources(self, resources: Iterable[Any]) -> Pool:
        """A copy of this pool with more resources (by Type/id), this pool's first."""
        pool = Pool()
        pool.by_url = dict(self.by_url)
        pool.by_key = dict(self.by_key)
        for resource in resources:
            pool.add(resource)
        return pool

    def resolve(self, reference: Any, container: Resource | None = None) -> dict[str, Any] | None:
        """The resource a Reference (or its ``reference`` string) points to, else None."""
        target = reference.get("reference") if type(reference) is dict else reference
        if type(target) is not str or not target:
            return None
        if target.startswith("#"):
            contained = container.get("contained") if container is not None else None
            for res in contained if type(contained) is list else []:
                if type(res) is dict and res.get("id") == target[1:]:
                    return res
            return None
        found = self.by_url.get(target)
        if found is not None:
            return found
        if target.startswith(("urn:uuid:", "urn:oid:")):
            return None
        plain = target.split("/_history/", 1)[0].rstrip("/")
        found = self.by_url.get(plain)
        if found is not None:
            return found
        parts = plain.split("/")
        if len(parts) >= 2:
            return self.by_key.get((parts[-2], parts[-1]))
        return None


EMPTY = Pool()


class Named(NamedTuple):
    """What one order names as its medication, resolved once. (A NamedTuple: one is made for
    every order the dose arithmetic reads, and a frozen dataclass costs several times more.)"""

    concept: dict[str, Any] | None  # the order's own CodeableConcept
    medication: dict[str, Any] | None  # the Medication the order references, when found
    reference: str | None  # the reference as sent, when the order gives one
    display: str | None  # the reference's display
    ingredients: tuple[dict[str, Any], ...]  # the Medication's ingredient concepts
    ingredient_names: tuple[str, ...]  # displays of ingredient references
    notes: tuple[str, ...]  # how the order was read, for the card's assumptions

    def concepts(self) -> list[dict[str, Any]]:
        """Every CodeableConcept naming the medication: the order's, the Medication's code,
        then its ingredients."""
        found = [self.concept] if self.concept is not None else []
        code = self.medication.get("code") if self.medication is not None else None
        if type(code) is dict and code is not self.concept:
            found.append(code)
        found.extend(self.ingredients)
        return found

    def names(self) -> list[str]:
        """Every human-readable name: texts and displays of the concepts, reference displays."""
        names: list[str] = []
        for concept in self.concepts():
            text = concept.get("text")
            if type(text) is str:
                names.append(text)
            codings = concept.get("coding")
            for coding in codings if type(codings) is list else []:
                if type(coding) is dict and type(coding.get("display")) is str:
                    names.append(coding["display"])
        if self.display is not None:
            names.append(self.display)
        names.extend(self.ingredient_names)
        return names


def named_medication(
    order: Resource, pool: Pool = EMPTY, medication: Resource | None = None
) -> Named:
    """What a MedicationRequest names as its medication; never raises.

    ``medication``, when given, is the Medication the caller already resolved for this
    order (with this same function), used as is.
    """
    concept = order.get("medicationCodeableConcept")
    reference = order.get("medicationReference")
    if medication is None and reference is None and type(concept) is dict:
        return Named(concept, None, None, None, (), (), ())  # the usual order: a code, no more
    notes: list[str] = []
    r5 = order.get("medication")
    if type(r5) is dict and concept is None and reference is None:
        concept, reference = r5.get("concept"), r5.get("reference")
        notes.append(
            "the medication sent as an R5 CodeableReference (medication.concept or "
            "medication.reference); read as R4"
        )
    concept = concept if type(concept) is dict else None
    target = reference.get("reference") if type(reference) is dict else None
    target = target if type(target) is str and target else None
    display = reference.get("display") if type(reference) is dict else None
    display = display if type(display) is str and display else None
    found: dict[str, Any] | None = None
    if medication is not None:
        found = medication if type(medication) is dict else dict(medication)
    elif target is not None:
        resolved = pool.resolve(target, order)
        if resolved is not None and resolved.get("resourceType") == "Medication":
            found = resolved
        else:
            notes.append(f"the Medication {target[:60]!r} the order references was not found")
    ingredients: list[dict[str, Any]] = []
    ingredient_names: list[str] = []
    if found is not None:
        _ingredients(found, order, pool, ingredients, ingredient_names)
    return Named(
        concept, found, target, display, tuple(ingredients), tuple(ingredient_names), tuple(notes)
    )


def _ingredients(
    medication: dict[str, Any],
    order: Resource,
    pool: Pool,
    concepts: list[dict[str, Any]],
    names: list[str],
) -> None:
    items = medication.get("ingredient")
    for item in items if type(items) is list else []:
        if type(item) is not dict:
            continue
        concept = item.get("itemCodeableConcept")
        if type(concept) is dict:
            concepts.append(concept)
        ref = item.get("itemReference")
        if type(ref) is dict:
            if type(ref.get("display")) is str:
                names.append(ref["display"])
            # A contained Medication's '#id' references its container's contained resources.
            target = pool.resolve(ref, medication) or pool.resolve(ref, order)
            code = target.get("code") if target is not None else None
            if type(code) is dict and target is not medication:
                concepts.append(code)
