"""The loaded knowledge, cross-checked and indexed for the engine and the dose arithmetic."""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping, Sequence, Set
from dataclasses import dataclass
from decimal import Decimal
from functools import cached_property
from pathlib import Path
from typing import Any

from ..errors import KnowledgeConflict, KnowledgeError
from ._declarations import Declaration, read_declarations
from ._guidelines import Entry, mass_mg, read_guidelines
from ._load import SourceFile, default_files, expand, knowledge_paths, read_resources
from ._medication import Named
from ._package import is_package, merge, read_package
from ._plan import Rule, compile_action
from ._profiles import ProfileChecker
from ._terminology import (
    ATC_SYSTEM,
    IS_A,
    NDC_SYSTEM,
    ValueSetIndex,
    atc_is_a,
    build_value_set,
    codings,
    name_words,
    ndc_candidates,
    ndc_problem,
    ndc_product,
    normalise_text,
)
from ._variables import VARIABLES

ROUTE_PREFIX = "route-"
#: the label of a PlanDefinition's relatedArtifact naming one of its route ValueSets
ROUTE_LABEL = "route"
#: a ValueSet `form-<category>` lists the dose forms that imply route category <category>
FORM_PREFIX = "form-"
#: the label of a PlanDefinition's relatedArtifact naming one of its form ValueSets
FORM_LABEL = "form"
#: the ValueSet of dose units counted as one tablet, whose name words name tablets
TABLET_UNITS = "tablet-units"


def _words_pattern(words: list[str]) -> re.Pattern[str]:
    """Any of the words, as whole words in any case; matches nothing when there are none."""
    if not words:
        return re.compile(r"(?!)")
    alternatives = "|".join(re.escape(w) for w in sorted(set(words), key=lambda w: (-len(w), w)))
    return re.compile(rf"\b(?:{alternatives})\b", re.IGNORECASE)


class Terms:
    """How orders are read: route categories (from route-<category> ValueSets), the dose
    forms that imply one, the units and words for tablets, and the products. A drug's Terms
    hold only the route ValueSets its PlanDefinition names, so another module's categories
    never change how its orders are read; the Knowledge's own Terms hold every one loaded.
    The DoseKnowledge of fhir_module.dosing."""

    def __init__(
        self,
        route_sets: Mapping[str, ValueSetIndex],
        route_words: Mapping[str, Sequence[str]],
        forms: Mapping[tuple[str, str], set[str]],
        tablet_unit_codes: frozenset[tuple[str, str]],
        tablet_words: Sequence[str],
        known_ndcs: Set[str] = frozenset(),
    ) -> None:
        self.route_sets = dict(route_sets)
        #: every NDC product the knowledge names (products, ValueSets, combinations), shared
        #: by every Terms of one Knowledge: what an NDC without hyphens may be (ndc_products_of)
        self.known_ndcs = known_ndcs
        categories = set(route_sets)
        # Routes are looked up on every order: flat dictionaries, built once.
        self._route_codes: dict[tuple[Any, Any], str] = {}
        self._route_terms: dict[str, str] = {}
        for category, vs in sorted(route_sets.items()):
            for coding_key in vs.codes:
                self._route_codes.setdefault(coding_key, category)
            for term in vs.terms:
                self._route_terms.setdefault(term, category)
        #: the dose forms (system, code) that imply one of these route categories
        self.forms = {k: v & categories for k, v in forms.items() if v & categories}
        self.tablet_unit_codes = tablet_unit_codes
        self.tablet_word = _words_pattern(list(tablet_words))
        by_route = {c: list(w) for c, w in route_words.items() if c in categories}
        self.route_name_words = tuple(
            (route, _words_pattern(found)) for route, found in sorted(by_route.items()) if found
        )
        self.products: dict[tuple[str, str], Product] = {}
        #: products by their NDC product code in 5-4 digits, whatever form the knowledge used
        self._ndc_products: dict[str, Product] = {}

    @property
    def ndc_products(self) -> Mapping[str, Product]:
        """The products by their NDC product code (as ndc_product gives it)."""
        return self._ndc_products

    def add_product(self, key: tuple[str, str], ndc: str | None, product: Product) -> None:
        self.products[key] = product
        if ndc is not None:
            self._ndc_products[ndc] = product

    def ndc_products_of(self, code: Any) -> tuple[str, ...]:
        """The NDC products an order's NDC names: the one its form says; for an NDC without
        hyphens that several layouts fit (ndc_candidates), those of its layouts that the
        knowledge names, however many: one is that product, several are all possible."""
        found = ndc_candidates(code)
        if len(found) > 1:
            found = tuple(p for p in found if p in self.known_ndcs)
        return found

    def product_for(self, concept: Mapping[str, Any] | None) -> Product | None:
        found_codings = concept.get("coding") if type(concept) is dict else None
        if type(found_codings) is not list:
            found_codings = codings(concept)
        products = self.products
        for c in found_codings:
            if type(c) is not dict and not isinstance(c, Mapping):
                continue
            system, code = c.get("system"), c.get("code")
            if type(system) is not str or type(code) is not str:
                system, code = str(system), str(code)
            found = products.get((system, code))
            if found:
                return found
        if self._ndc_products:
            # An NDC may come as a package code or in another configuration of its digits;
            # one without hyphens that may be several products is none of them.
            for c in found_codings:
                if type(c) is dict and c.get("system") == NDC_SYSTEM:
                    ndcs = self.ndc_products_of(c.get("code"))
                    found = self._ndc_products.get(ndcs[0]) if ndcs else None
                    if found and all(self._ndc_products.get(p) is found for p in ndcs):
                        return found
        return None

    def product_doubt(self, concept: Mapping[str, Any] | None) -> str | None:
        """Why a medication concept's NDC names no one product, when it is written without
        hyphens and the products of several of its layouts are the knowledge's; else None."""
        for c in codings(concept):
            code = c.get("code")
            if c.get("system") == NDC_SYSTEM and isinstance(code, str):
                ndcs = self.ndc_products_of(code)
                if len(ndcs) > 1:
                    return (
                        f"the NDC {code.strip()} is written without hyphens and may be the "
                        f"product {' or '.join(ndcs)}, so which product it is cannot be told"
                    )
        return None

    def route_for(self, concept: Mapping[str, Any] | None) -> str | None:
        found_codings = concept.get("coding") if type(concept) is dict else None
        if type(found_codings) is list:
            # The usual route: one coding the knowledge knows.
            route_codes = self._route_codes
            for c in found_codings:
                if type(c) is dict:
                    try:
                        found = route_codes.get((c.get("system"), c.get("code")))
                    except TypeError:  # an unhashable system or code: no code match
                        found = None
                    if found:
                        return found
        found_codings = codings(concept)
        for c in found_codings:
            try:
                found = self._route_codes.get((c.get("system"), c.get("code")))
            except TypeError:
                found = None
            if found:
                return found
        texts = [concept.get("text")] if isinstance(concept, Mapping) else []
        texts += [c.get("display") for c in found_codings]
        texts += [c.get("code") for c in found_codings]
        for text in texts:
            found = self._route_terms.get(normalise_text(text)) if isinstance(text, str) else None
            if found:
                return found
        return None

    def route_for_form(self, concept: Mapping[str, Any] | None) -> str | None:
        for c in codings(concept):
            routes = self.forms.get((str(c.get("system")), str(c.get("code"))))
            if routes and len(routes) == 1:
                return next(iter(routes))
        return None


@dataclass(frozen=True)
class Product:
    """A product on the market, as the dose arithmetic needs it."""

    id: str
    route: str
    strength_mg: Decimal
    per_unit: str
    label: str


@dataclass(frozen=True)
class Drug:
    """An ingredient: its knowledge, its rules and how orders of it are recognised."""

    id: str
    name: str
    knowledge: Mapping[str, Any]
    value_set: ValueSetIndex
    names: frozenset[str]
    entries: tuple[Entry, ...]
    rules: tuple[Rule, ...]
    plan_url: str
    plan_title: str
    plan_version: str
    override_reasons: tuple[Mapping[str, str], ...]
    rule_displays: Mapping[tuple[str, str], str]
    #: how its orders are read: its own route categories, dose forms and products
    terms: Terms
    #: the (system, code) of its substance: the codings of its MedicationKnowledge's code
    substance: frozenset[tuple[str, str]]
    #: the patient facts its Library declares, in the Library's order
    facts: tuple[Declaration, ...] = ()

    def names_in(self, text: Any) -> bool:
        """Whether a free text holds one of the drug's names (one word or several, in any
        case, accents or punctuation): 'Baclofène 10 mg cp' holds 'baclofene'."""
        if not isinstance(text, str):
            return False
        words = normalise_text(text).split()
        names = self.names
        for size in range(1, min(self.longest_name, len(words)) + 1):
            for start in range(len(words) - size + 1):
                if " ".join(words[start : start + size]) in names:
                    return True
        return False

    @cached_property
    def longest_name(self) -> int:
        """The most words in one of the names."""
        return max((n.count(" ") + 1 for n in self.names), default=0)


class Matches:
    """The drugs orders name, each order matched once: one for a hook call (every pass over
    its orders asks again), never kept longer, as it holds the call's resources."""

    __slots__ = ("_knowledge", "_found")

    def __init__(self, knowledge: Knowledge) -> None:
        self._knowledge = knowledge
        self._found: dict[tuple[Any, ...], tuple[tuple[Drug, ...], Named]] = {}

    def drugs(self, named: Named) -> tuple[Drug, ...]:
        """Knowledge.drugs_named, asked once per medication as resolved: the same order
        with its Medication found later (read from the EHR) is matched again."""
        concepts = named.concepts()
        key = (tuple(id(c) for c in concepts), named.display, named.ingredient_names)
        found = self._found.get(key)
        if found is None:
            # The Named is kept with the answer, so the ids of its concepts stay theirs.
            found = self._found[key] = (self._knowledge.drugs_named(named), named)
        return found[0]


class Knowledge:
    """Every knowledge resource, loaded, validated and indexed."""

    def __init__(self, files: Sequence[SourceFile]) -> None:
        self.files = tuple(files)
        self.by_key: dict[str, SourceFile] = {}
        self.by_url: dict[str, SourceFile] = {}
        for f in files:
            key = f"{f.resource['resourceType']}/{f.resource['id']}"
            if key in self.by_key:
                first = self.by_key[key]
                raise KnowledgeConflict(
                    f.where, "id", f"{key} is defined twice{_builtin_hint(first, f)}", first.where
                )
            self.by_key[key] = f
            url = f.resource.get("url")
            if url:
                same = self.by_url.get(url)
                if same is not None:
                    # One version of each canonical resource: with two, which one an
                    # unversioned reference means would depend on the load order.
                    versions = [r.resource.get("version") for r in (same, f)]
                    shown = (
                        f"{url}|{versions[0]}"
                        if versions[0] == versions[1] and versions[0]
                        else url
                        if versions[0] == versions[1]
                        else f"{url} (versions {versions[0] or 'none'} and "
                        f"{versions[1] or 'none'}: load one version of a module)"
                    )
                    raise KnowledgeConflict(
                        f.where,
                        "url",
                        f"{shown} is defined twice{_builtin_hint(same, f)}",
                        same.where,
                    )
                self.by_url[url] = f
        self._check_profiles()
        self._check_canonicals()
        self.code_systems = {
            u: f.resource
            for u, f in self.by_url.items()
            if f.resource["resourceType"] == "CodeSystem"
        }
        self.value_sets: dict[str, ValueSetIndex] = {}
        for url, f in self.by_url.items():
            if f.resource["resourceType"] == "ValueSet":
                index, problems = build_value_set(f.resource, self.code_systems)
                if problems:
                    element, _, problem = problems[0].partition(": ")
                    raise KnowledgeError(f.name, element, problem)
                self.value_sets[url] = index
        #: every route ValueSet loaded, by category (a drug reads only those it names)
        self.route_sets = {
            f.resource["id"][len(ROUTE_PREFIX) :]: self.value_sets[u]
            for u, f in self.by_url.items()
            if f.resource["resourceType"] == "ValueSet"
            and f.resource["id"].startswith(ROUTE_PREFIX)
        }
        #: every NDC product named anywhere in the knowledge, filled as products are indexed
        #: and by _route_index; shared by every Terms (Terms.ndc_products_of)
        self._known_ndcs: set[str] = {p for v in self.value_sets.values() for p in v.ndc_products}
        self._vocabulary(files)
        self._forms: dict[tuple[str, str], set[str]] = {}
        for f in files:
            if f.resource["resourceType"] != "ValueSet" or not str(
                f.resource.get("id", "")
            ).startswith(FORM_PREFIX):
                continue
            category = f.resource["id"][len(FORM_PREFIX) :]
            if category not in self.route_sets:
                raise KnowledgeError(
                    f.name, "id", f"no ValueSet {ROUTE_PREFIX}{category} defines that route"
                )
            named = any(
                a.get("label") == FORM_LABEL
                and str(a.get("resource", "")).split("|")[0] == f.resource["url"]
                for p in files
                if p.resource["resourceType"] == "PlanDefinition"
                for a in p.resource.get("relatedArtifact") or []
            )
            if not named:
                raise KnowledgeError(
                    f.name,
                    "id",
                    f"no PlanDefinition names these dose forms: a module reads its own, named "
                    f"by a relatedArtifact labelled '{FORM_LABEL}' with this ValueSet's canonical",
                )
            for system, code in self.value_sets[f.resource["url"]].codes:
                self._forms.setdefault((str(system), str(code)), set()).add(category)
        #: every route category loaded: how an order of no drug's is read
        self.terms = self._terms(self.route_sets)
        # The DoseKnowledge protocol of fhir_module.dosing, over every route category: the
        # Terms' own methods, bound, so that a daily dose read through the Knowledge costs
        # no extra call per look-up (benchmarks/bench_dose.py).
        self.product_for = self.terms.product_for
        self.product_doubt = self.terms.product_doubt
        self.route_for = self.terms.route_for
        self.route_for_form = self.terms.route_for_form
        self.tablet_word = self.terms.tablet_word
        self.route_name_words = self.terms.route_name_words
        #: every product of every drug, by each of its codes, and the file it came from
        self.products = self.terms.products
        self._product_files: dict[tuple[str, str], SourceFile] = {}
        self._ndc_files: dict[str, tuple[Product, SourceFile]] = {}
        self.drugs = tuple(
            self._drug(f) for f in files if f.resource["resourceType"] == "PlanDefinition"
        )
        self._route_index()

    def _vocabulary(self, files: Any) -> None:
        """The words and unit codes the dose arithmetic reads: ValueSet tablet-units (units
        of presentation counted as one tablet, and the words for tablets in names) and the
        name words of the route-* ValueSets."""
        self.tablet_unit_codes: frozenset[tuple[str, str]] = frozenset()
        self._tablet_words: list[str] = []
        self._route_words: dict[str, list[str]] = {}
        for f in files:
            res = f.resource
            if res["resourceType"] != "ValueSet":
                continue
            rid = str(res.get("id", ""))
            if rid != TABLET_UNITS and not rid.startswith(ROUTE_PREFIX):
                continue
            for inc in (res.get("compose") or {}).get("include") or []:
                for concept in inc.get("concept") or []:
                    if rid == TABLET_UNITS:
                        self._tablet_words += name_words(concept)
                    else:
                        self._route_words.setdefault(rid[len(ROUTE_PREFIX) :], []).extend(
                            name_words(concept)
                        )
            if rid == TABLET_UNITS:
                self.tablet_unit_codes = self.value_sets[res["url"]].codes

    def _terms(
        self,
        route_sets: Mapping[str, ValueSetIndex],
        forms: Mapping[tuple[str, str], set[str]] | None = None,
    ) -> Terms:
        return Terms(
            route_sets,
            self._route_words,
            self._forms if forms is None else forms,
            self.tablet_unit_codes,
            self._tablet_words,
            self._known_ndcs,
        )

    # ----- look-ups for the engine and the service
    def value_set(self, url: str) -> ValueSetIndex:
        return self.value_sets[url]

    def hooks(self) -> frozenset[str]:
        return frozenset(h for d in self.drugs for r in d.rules for h in r.hooks)

    def matches(self) -> Matches:
        """A fresh memo of the drugs orders name, for one hook call."""
        return Matches(self)

    def drugs_named(self, named: Named) -> tuple[Drug, ...]:
        """Every drug an order names (see fhir_module._medication), in load order: those
        whose codes (a medication ValueSet's, a product's, a declared combination's) one of
        the order's concepts, its Medication's code or an ingredient's carries; only when no
        code matches, those whose names its texts hold. Several drugs: a combination."""
        found: set[int] = set()
        by_code, by_ndc, filters = self._by_code, self._by_ndc, self._filters
        for concept in named.concepts():
            for c in codings(concept):
                system, code = c.get("system"), c.get("code")
                if type(system) is not str or type(code) is not str:
                    continue
                found.update(by_code.get((system, code), ()))
                if system == NDC_SYSTEM and by_ndc:
                    # an NDC without hyphens that may be the products of several drugs is an
                    # order of each of them (each judges it; none finds its product in it)
                    for ndc in self.terms.ndc_products_of(code):
                        found.update(by_ndc.get(ndc, ()))
                for s, parent, drug in filters:
                    if s == system and IS_A[s](code, parent):
                        found.add(drug)
        if not found:
            for text in named.names():
                found.update(self._names_in(text))
        return tuple(self.drugs[i] for i in sorted(found))

    def drug_named(self, named: Named) -> Drug | None:
        """The first drug an order names (see drugs_named), or None."""
        found = self.drugs_named(named)
        return found[0] if found else None

    def _names_in(self, text: str) -> set[int]:
        """The drugs one of whose names (one word or several, in any case, accents or
        punctuation) a free text holds: 'Acide tranexamique 500 mg' holds 'acide
        tranexamique'. Leftmost-longest: at each position the longest name found there is
        the one the text says, and the shorter names inside it do not count ('amphotericin
        b liposomal' is not also 'amphotericin b')."""
        words = normalise_text(text).split()
        found: set[int] = set()
        by_name = self._by_name
        start = 0
        while start < len(words):
            for size in range(min(self._longest_name, len(words) - start), 0, -1):
                drugs = by_name.get(" ".join(words[start : start + size]))
                if drugs:
                    found.update(drugs)
                    start += size
                    break
            else:
                start += 1
        return found

    def _claim(
        self,
        claimed: dict[Any, tuple[int, SourceFile]],
        key: tuple[str, str] | str,
        claim: tuple[int, SourceFile],
        allowed: set[int],
    ) -> None:
        """Record that drug `claim[0]` claims a medication code (or NDC product) from the file
        `claim[1]` (its medication ValueSet, or the product holding the code);
        KnowledgeConflict when another drug claimed it first and no MedicationKnowledge
        declares the pair a combination (`allowed`)."""
        first = claimed.get(key)
        if first is not None and first[0] != claim[0] and not {claim[0], first[0]} <= allowed:
            shown = f"{key[0]}|{key[1]}" if isinstance(key, tuple) else f"the NDC product {key}"
            raise KnowledgeConflict(
                claim[1].where,
                "code.coding"
                if claim[1].resource["resourceType"] == "MedicationKnowledge"
                else "compose.include.concept",
                f"{shown} is a medication of {self.drugs[first[0]].name} and of "
                f"{self.drugs[claim[0]].name}, and no MedicationKnowledge with that code lists "
                "both as ingredients (a combination)",
                first[1].where,
            )
        claimed.setdefault(key, claim)

    # ----- the routing index, built once
    def _route_index(self) -> None:
        """(system, code) -> drugs and name phrase -> drugs; a code two drugs claim is
        refused unless a MedicationKnowledge with that code declares the combination."""
        self._by_code: dict[tuple[str, str], set[int]] = {}
        self._by_ndc: dict[str, set[int]] = {}
        self._filters: list[tuple[str, str, int]] = []
        self._by_name: dict[str, set[int]] = {}
        combinations, combination_names = self._combinations()
        named: dict[str, tuple[int, SourceFile]] = {}
        claimed: dict[tuple[str, str], tuple[int, SourceFile]] = {}
        ndc_claimed: dict[str, tuple[int, SourceFile]] = {}
        for i, drug in enumerate(self.drugs):
            vs_file = self.by_url[drug.value_set.url]
            for other in self.drugs[:i]:
                if other.value_set.url == drug.value_set.url:
                    raise KnowledgeConflict(
                        self.by_url[drug.plan_url].where,
                        "action.trigger.data.codeFilter.valueSet",
                        f"the medication ValueSet {drug.value_set.url} is also {other.name}'s",
                        self.by_url[other.plan_url].where,
                    )
            # Each code with the file it came from: a product's, or the ValueSet's.
            own = {key: self._product_files[key] for key in drug.terms.products}
            own.update(dict.fromkeys(drug.value_set.codes, vs_file))
            for key in sorted(own):
                self._claim(claimed, key, (i, own[key]), combinations.get(key, set()))
                self._by_code.setdefault(key, set()).add(i)
            # NDCs by their product code, whatever form the ValueSet or the product wrote.
            ndcs = {ndc: self._ndc_files[ndc][1] for ndc in drug.terms.ndc_products}
            ndcs.update(dict.fromkeys(drug.value_set.ndc_products, vs_file))
            for ndc in sorted(ndcs):
                allowed = combinations.get((NDC_SYSTEM, ndc), set())
                self._claim(ndc_claimed, ndc, (i, ndcs[ndc]), allowed)
                self._by_ndc.setdefault(ndc, set()).add(i)
            self._check_filters(i, combinations)
            self._filters += [(s, p, i) for s, p in drug.value_set.filters]
            mk_file = self._knowledge_file(drug)
            own_names = {normalise_text(drug.knowledge["code"].get("text", ""))} | {
                normalise_text(t) for t in drug.knowledge.get("synonym") or [] if isinstance(t, str)
            }
            for name in sorted(drug.names):
                source = mk_file if name in own_names else vs_file
                first = named.get(name)
                if first is not None and first[0] != i and name not in combination_names:
                    raise KnowledgeConflict(
                        source.where,
                        "code.text, synonym" if source is mk_file else "compose.include.concept",
                        f"the name {name!r} is a name of {self.drugs[first[0]].name} and of "
                        f"{drug.name}: an order naming it would be judged by both",
                        first[1].where,
                    )
                named.setdefault(name, (i, source))
                self._by_name.setdefault(name, set()).add(i)
        for key, drugs in combinations.items():
            if key[0] == NDC_SYSTEM and key[1].count("-") == 1 and key[1] == ndc_product(key[1]):
                self._by_ndc.setdefault(key[1], set()).update(drugs)
            else:
                self._by_code.setdefault(key, set()).update(drugs)
        self._longest_name = max((n.count(" ") + 1 for n in self._by_name), default=0)

    def _check_filters(self, i: int, combinations: Mapping[tuple[str, str], set[int]]) -> None:
        """KnowledgeConflict when an ATC is-a filter of drug `i` covers an ATC code or is-a
        filter of a drug loaded before it, or one of theirs covers one of its own: an order
        of a code under both would be judged by both drugs. Allowed, as for a code, when a
        MedicationKnowledge declares the two drugs a combination with an ATC code that holds
        all the overlap: the covered code or filter, the covering filter's code, or any
        level between them; whichever drug was loaded first."""
        drug = self.drugs[i]
        # the ATC codes of the combination MedicationKnowledges, with the drugs each lists
        declared = [
            (code, drugs)
            for (system, code), drugs in combinations.items()
            if system == ATC_SYSTEM and atc_is_a(code, code)  # a well-formed ATC code
        ]

        def atc(d: Drug) -> tuple[list[str], list[str]]:
            """A drug's explicit ATC codes and ATC is-a filter prefixes."""
            codes = sorted(c for s, c in d.value_set.codes if s == ATC_SYSTEM)
            return codes, [p for s, p in d.value_set.filters if s == ATC_SYSTEM]

        codes, filters = atc(drug)
        for j, other in enumerate(self.drugs[:i]):
            other_codes, other_filters = atc(other)
            # (the drug whose filter covers, its prefix, the drug covered, what is covered,
            # the element of drug i's ValueSet at fault)
            cases = [
                *(
                    (drug, p, other, "is-a filter", q, "compose.include.filter")
                    for p in filters
                    for q in other_filters
                ),
                *(
                    (drug, p, other, "code", c, "compose.include.filter")
                    for p in filters
                    for c in other_codes
                ),
                *(
                    (other, q, drug, "is-a filter", p, "compose.include.filter")
                    for q in other_filters
                    for p in filters
                ),
                *(
                    (other, q, drug, "code", c, "compose.include.concept")
                    for q in other_filters
                    for c in codes
                ),
            ]
            for wide, prefix, narrow, kind, code, element in cases:
                if not atc_is_a(code, prefix):
                    continue
                if any(
                    {i, j} <= drugs and atc_is_a(code, k) and atc_is_a(k, prefix)
                    for k, drugs in declared
                ):
                    continue
                raise KnowledgeConflict(
                    self.by_url[drug.value_set.url].where,
                    element,
                    f"the ATC is-a filter {prefix} of {wide.name} covers the {kind} {code} of "
                    f"{narrow.name}: an order coded under {code} would be judged by both, and "
                    f"no MedicationKnowledge coded {code}, {prefix} or a level between lists "
                    "both as ingredients (a combination)",
                    self.by_url[other.value_set.url].where,
                )

    def _knowledge_file(self, drug: Drug) -> SourceFile:
        return self.by_key[f"MedicationKnowledge/{drug.id}"]

    def _combinations(self) -> tuple[dict[tuple[str, str], set[int]], frozenset[str]]:
        """(system, code) -> the drugs a MedicationKnowledge of that code lists as
        ingredients (itemCodeableConcept coded with each drug's substance code), where it
        lists two different drugs or more: a combination product; NDC codes also by their
        product code. And the names of those combination products (their code's text and
        displays, and the displays the drugs' medication ValueSets give their codes), which
        the drugs may share. A substance code two drugs claim is refused: each ingredient
        coding names one drug."""
        substances: dict[tuple[str, str], int] = {}
        for i, drug in enumerate(self.drugs):
            for key in sorted(drug.substance):
                first = substances.get(key)
                if first is not None and first != i:
                    raise KnowledgeConflict(
                        self._knowledge_file(drug).where,
                        "code.coding",
                        f"{key[0]}|{key[1]} is the substance of {self.drugs[first].name} and "
                        f"of {drug.name}: each substance code names one drug",
                        self._knowledge_file(self.drugs[first]).where,
                    )
                substances[key] = i
        found: dict[tuple[str, str], set[int]] = {}
        names: set[str] = set()
        for f in self.files:
            res = f.resource
            if res["resourceType"] != "MedicationKnowledge":
                continue
            drugs: set[int] = set()
            for item in res.get("ingredient") or []:
                for c in codings(item.get("itemCodeableConcept")):
                    found_drug = substances.get((str(c.get("system")), str(c.get("code"))))
                    if found_drug is not None:
                        drugs.add(found_drug)
            if len(drugs) < 2:
                continue
            code = res.get("code") or {}
            texts = [code.get("text")] + [c.get("display") for c in codings(code)]
            for k, c in enumerate(codings(code)):
                key = (str(c.get("system")), str(c.get("code")))
                found.setdefault(key, set()).update(drugs)
                ndc = ndc_product(key[1]) if key[0] == NDC_SYSTEM else None
                if ndc is not None:
                    found.setdefault((NDC_SYSTEM, ndc), set()).update(drugs)
                    self._known_ndcs.add(ndc)
                elif key[0] == NDC_SYSTEM and len(ndc_candidates(key[1])) > 1:
                    raise KnowledgeError(f.name, f"code.coding[{k}].code", ndc_problem(key[1]))
                texts += [self.drugs[d].value_set.display_of(*key) for d in drugs]
            names.update(normalise_text(t) for t in texts if isinstance(t, str))
        names.discard("")
        return found, frozenset(names)

    # ----- building
    def _labelled_value_sets(
        self, plan: SourceFile, label: str
    ) -> Iterator[tuple[str, str, SourceFile]]:
        """(element, canonical, file) of each ValueSet the PlanDefinition's relatedArtifacts
        of that label name; a KnowledgeError for one that is not a ValueSet of the module."""
        for k, artifact in enumerate(plan.resource.get("relatedArtifact") or []):
            if artifact.get("label") != label:
                continue
            where = f"relatedArtifact[{k}].resource"
            url = str(artifact.get("resource", "")).split("|")[0]
            found = self.by_url.get(url)
            if found is None or found.resource["resourceType"] != "ValueSet":
                raise KnowledgeError(plan.name, where, f"{url} is not a ValueSet of the module")
            yield where, url, found

    def _routes(self, plan: SourceFile) -> Terms:
        """The route categories a PlanDefinition names (relatedArtifact labelled 'route',
        resource a route-<category> ValueSet) and the dose forms implying one of them
        (labelled 'form', a form-<category> ValueSet), read into the drug's own Terms."""
        chosen: dict[str, ValueSetIndex] = {}
        files: dict[str, SourceFile] = {}
        for where, url, found in self._labelled_value_sets(plan, ROUTE_LABEL):
            rid = str(found.resource["id"])
            if not rid.startswith(ROUTE_PREFIX):
                raise KnowledgeError(
                    plan.name, where, f"{url} is not a route ValueSet (id {ROUTE_PREFIX}<category>)"
                )
            category, index = rid[len(ROUTE_PREFIX) :], self.value_sets[url]
            for other, other_index in chosen.items():
                shared = sorted(index.codes & other_index.codes)
                if shared:
                    raise KnowledgeConflict(
                        found.where,
                        "compose.include.concept",
                        f"{shared[0][0]}|{shared[0][1]} is in route {category} and in route "
                        f"{other}, both named by {plan.name}",
                        files[other].where,
                    )
            chosen[category], files[category] = index, found
        if not chosen:
            raise KnowledgeError(
                plan.name,
                "relatedArtifact",
                f"names no route ValueSet: a relatedArtifact labelled '{ROUTE_LABEL}' with the "
                f"canonical of each {ROUTE_PREFIX}<category> ValueSet its orders are read with",
            )
        forms: dict[tuple[str, str], set[str]] = {}
        for where, url, found in self._labelled_value_sets(plan, FORM_LABEL):
            rid = str(found.resource["id"])
            category = rid[len(FORM_PREFIX) :]
            if not rid.startswith(FORM_PREFIX) or category not in chosen:
                raise KnowledgeError(
                    plan.name,
                    where,
                    f"{url} is not a dose form ValueSet ({FORM_PREFIX}<category>) of one of "
                    f"its route categories ({', '.join(sorted(chosen))})",
                )
            for system, code in self.value_sets[url].codes:
                forms.setdefault((str(system), str(code)), set()).add(category)
        return self._terms(chosen, forms)

    def _drug(self, plan: SourceFile) -> Drug:
        res = plan.resource
        links = {a.get("label"): a for a in res.get("relatedArtifact") or []}
        mk_url = str(links.get("knowledge", {}).get("url", ""))
        mk_file = self.by_key.get("/".join(mk_url.rstrip("/").split("/")[-2:]))  # Type/id
        if mk_file is None or mk_file.resource["resourceType"] != "MedicationKnowledge":
            raise KnowledgeError(
                plan.name,
                "relatedArtifact(knowledge).url",
                "does not resolve to a MedicationKnowledge in the module",
            )
        mk = mk_file.resource
        terms = self._routes(plan)
        try:
            entries = read_guidelines(mk, terms.route_for)
        except ValueError as exc:
            element, _, problem = str(exc).partition(": ")
            raise KnowledgeError(mk_file.name, element, problem) from None
        self._index_products(mk_file, terms)
        triggers = {
            fl.get("valueSet")
            for a in res.get("action") or []
            for t in a.get("trigger") or []
            for d in t.get("data") or []
            for fl in d.get("codeFilter") or []
        }
        triggers.discard(None)
        if len(triggers) != 1 or next(iter(triggers)) not in self.value_sets:
            raise KnowledgeError(
                plan.name,
                "action.trigger.data.codeFilter.valueSet",
                "the triggers must name one medication ValueSet of the module",
            )
        library, facts = self._facts(plan, terms)
        allowed = frozenset(VARIABLES).union(*(d.names for d in facts))
        rules = []
        for i, action in enumerate(res.get("action") or []):
            try:
                rule = compile_action(action, i, allowed)
            except (ValueError, KeyError, IndexError, TypeError) as exc:
                raise KnowledgeError(plan.name, f"action[{i}]", str(exc)) from None
            self._check_code(plan.name, f"action[{i}].code", rule.rule_system, rule.rule_id)
            rules.append(rule)
        read = frozenset().union(*(r.reads for r in rules))
        for i, declaration in enumerate(facts):
            unread = [n for n in declaration.names if n not in read]
            if unread:
                raise KnowledgeError(
                    library.name,
                    f"dataRequirement[{i}]",
                    f"{', '.join('%' + n for n in unread)} is declared but read by no rule "
                    f"of {plan.name}",
                )
        for g, guideline in enumerate(mk.get("administrationGuidelines") or []):
            for d, group in enumerate(guideline.get("dosage") or []):
                for c in (group.get("type") or {}).get("coding") or []:
                    self._check_code(
                        mk_file.name,
                        f"administrationGuidelines[{g}].dosage[{d}].type",
                        c.get("system"),
                        c.get("code"),
                    )
        medications = self.value_sets[next(iter(triggers))]
        names = (
            {normalise_text(mk["code"].get("text", ""))}
            | {normalise_text(s) for s in mk.get("synonym") or []}
            | medications.phrases
        )
        override = self._override_reasons(plan, links.get("override-reasons"))
        return Drug(
            mk["id"],
            mk["code"].get("text", mk["id"]),
            mk,
            medications,
            frozenset(n for n in names if n),
            entries,
            tuple(rules),
            res["url"],
            res.get("title", res.get("name", res["id"])),
            res.get("version", ""),
            override,
            {(r.rule_system, r.rule_id): self._display(r.rule_system, r.rule_id) for r in rules},
            terms,
            frozenset((str(c.get("system")), str(c.get("code"))) for c in codings(mk.get("code"))),
            facts,
        )

    def _facts(self, plan: SourceFile, terms: Terms) -> tuple[SourceFile, tuple[Declaration, ...]]:
        """The PlanDefinition's logic Library and the facts it declares."""
        urls = [u for u in plan.resource.get("library") or [] if isinstance(u, str)]
        found = [self.by_url.get(u.split("|")[0]) for u in urls]
        libraries = [f for f in found if f is not None and f.resource["resourceType"] == "Library"]
        if len(libraries) != 1:
            raise KnowledgeError(
                plan.name,
                "library",
                "must name one logic Library of the module, the one declaring the patient "
                "facts its rules read (docs/facts.md)",
            )
        library = libraries[0]
        try:
            facts = read_declarations(library.resource, self.value_sets, terms.route_sets)
        except ValueError as exc:
            element, _, problem = str(exc).partition(": ")
            raise KnowledgeError(library.name, element, problem) from None
        return library, facts

    @property
    def declarations(self) -> tuple[Declaration, ...]:
        """The fact declarations of every drug, in load order."""
        return tuple(d for drug in self.drugs for d in drug.facts)

    def _display(self, system: str, code: str) -> str:
        concepts = self.code_systems.get(system, {}).get("concept") or []
        return next((c.get("display", code) for c in concepts if c["code"] == code), code)

    def _override_reasons(
        self, plan: SourceFile, link: Mapping[str, Any] | None
    ) -> tuple[Mapping[str, str], ...]:
        if not link:
            return ()
        vs = self.by_url.get(str(link.get("resource", "")).split("|")[0])
        if vs is None:
            raise KnowledgeError(
                plan.name, "relatedArtifact(override-reasons).resource", "does not resolve"
            )
        out = []
        for inc in vs.resource.get("compose", {}).get("include", []):
            system = inc.get("system")
            concepts = inc.get("concept") or self.code_systems.get(system, {}).get("concept", [])
            out += [
                {"system": system, "code": c["code"], "display": c.get("display", c["code"])}
                for c in concepts
            ]
        return tuple(out)

    def _index_products(self, mk_file: SourceFile, terms: Terms) -> None:
        for ref in (
            r
            for rel in mk_file.resource.get("relatedMedicationKnowledge") or []
            for r in rel.get("reference") or []
        ):
            product = self.by_key.get(str(ref.get("reference")))
            if product is None:
                raise KnowledgeError(
                    mk_file.name,
                    "relatedMedicationKnowledge.reference",
                    f"{ref.get('reference')} does not resolve in the module",
                )
            res = product.resource
            if res["id"] == mk_file.resource["id"] or not res.get("ingredient"):
                continue
            try:
                strength = res["ingredient"][0]["strength"]
                mg, _ = mass_mg(strength["numerator"])
                per = Decimal(str(strength["denominator"]["value"]))
                route = terms.route_for((res.get("intendedRoute") or [None])[0])
                if route is None:
                    raise ValueError("intendedRoute: not in a route value set of the module")
            except (KeyError, IndexError, TypeError, ValueError, ArithmeticError) as exc:
                raise KnowledgeError(product.name, "ingredient.strength", str(exc)) from None
            first = codings(res.get("code"))[0]
            label = f"{first.get('display') or res['code'].get('text', '')} ({first.get('code')})"
            per_unit = strength["denominator"].get("code", "")
            item = Product(res["id"], route, mg / per, per_unit, label)
            for k, c in enumerate(codings(res.get("code"))):
                key = (str(c.get("system")), str(c.get("code")))
                ndc = None
                if c.get("system") == NDC_SYSTEM:
                    ndc = ndc_product(c.get("code"))
                    if ndc is None:
                        raise KnowledgeError(
                            product.name, f"code.coding[{k}].code", ndc_problem(c.get("code"))
                        )
                earlier = self._product_files.get(key)
                if earlier is not None and earlier.resource["id"] != res["id"]:
                    raise KnowledgeConflict(
                        product.where,
                        f"code.coding[{k}]",
                        f"{key[0]}|{key[1]} is also the code of {earlier.resource['id']}",
                        earlier.where,
                    )
                same_ndc = self._ndc_files.get(ndc) if ndc is not None else None
                if same_ndc is not None and same_ndc[1].resource["id"] != res["id"]:
                    raise KnowledgeConflict(
                        product.where,
                        f"code.coding[{k}]",
                        f"the NDC product {ndc} is also that of {same_ndc[1].resource['id']}",
                        same_ndc[1].where,
                    )
                self._product_files[key] = product
                self.terms.add_product(key, ndc, item)
                terms.add_product(key, ndc, item)
                if ndc is not None:
                    self._ndc_files[ndc] = (item, product)
                    self._known_ndcs.add(ndc)
            for c in codings(res.get("doseForm")):
                implied = terms.forms.get((str(c.get("system")), str(c.get("code"))), {route})
                if route not in implied:
                    raise KnowledgeError(
                        product.name,
                        "doseForm",
                        f"{c.get('code')} implies route {', '.join(sorted(implied))}, "
                        f"not the product's {route}",
                    )

    def _check_code(self, file: str, element: str, system: Any, code: Any) -> None:
        cs = self.code_systems.get(str(system))
        if cs is None:
            raise KnowledgeError(file, element, f"code system {system} is not in the module")
        if code not in {c["code"] for c in cs.get("concept") or []}:
            raise KnowledgeError(file, element, f"{code!r} is not a code of {system}")

    def _check_profiles(self) -> None:
        checker = ProfileChecker(
            {
                u: f.resource
                for u, f in self.by_url.items()
                if f.resource["resourceType"] == "StructureDefinition"
            }
        )
        self.profile_checker = checker
        for f in self.files:
            if f.resource["resourceType"] == "StructureDefinition" and f.resource.get("url"):
                faults = checker.faults(f.resource["url"])
                if faults:
                    raise KnowledgeError(f.name, *faults[0])
        for f in self.files:
            problems = checker.check(f.resource)
            if problems:
                element, _, problem = problems[0].partition(": ")
                raise KnowledgeError(f.name, element, problem)

    def _check_canonicals(self) -> None:
        bases = {
            u[: u.rfind("/" + f.resource["resourceType"] + "/")] for u, f in self.by_url.items()
        }
        #: each URL met: whether it is of the module's bases yet resolves to nothing loaded
        unresolved: dict[str, bool] = {}
        for f in self.files:
            for url in _canonical_values(f.resource):
                missing = unresolved.get(url)
                if missing is None:
                    plain = url.split("|")[0]
                    missing = unresolved[url] = (
                        any(plain.startswith(b + "/") for b in bases)
                        and plain not in self.by_url
                        and "/".join(plain.split("/")[-2:]) not in self.by_key
                    )
                if missing:
                    element = next(e for e, u in _canonicals(f.resource) if u == url)
                    raise KnowledgeError(f.name, element, f"{url} does not resolve in the module")


def _builtin_hint(*files: SourceFile) -> str:
    """What to say when one of two files defining the same resource is the module's built-in
    knowledge (an edited copy of the baclofen module, or a package an older version wrote,
    loaded beside it): how to load the given copy in its place; '' otherwise."""
    builtin = {str(p.resolve()) for p in default_files()}
    if not any(f.origin and str(Path(f.origin).resolve()) in builtin for f in files):
        return ""
    return (
        ", once in the built-in knowledge: to load this copy in its place, leave the built-in "
        "knowledge out with --no-builtin-knowledge (FHIR_MODULE_NO_BUILTIN_KNOWLEDGE=1, "
        "load_knowledge(builtin=False))"
    )


#: the members whose text is a canonical URL, and those that list canonical URLs
_CANONICAL_MEMBERS = frozenset({"system", "valueSet", "resource", "url", "valueCanonical"})
_CANONICAL_LISTS = frozenset({"profile", "library"})


def _canonical_values(resource: Any) -> list[str]:
    """The URLs _canonicals yields, in its order, without the paths to them (made only
    for the URL that does not resolve)."""
    found: list[str] = []

    def walk(node: Any, top: bool) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                if (
                    isinstance(value, str)
                    and key in _CANONICAL_MEMBERS
                    and not (top and key == "url")
                    and value.startswith("http")
                ):
                    found.append(value)
                elif key in _CANONICAL_LISTS and isinstance(value, list):
                    found.extend(v for v in value if isinstance(v, str))
                else:
                    walk(value, False)
        elif isinstance(node, list):
            for item in node:
                walk(item, False)

    walk(resource, True)
    return found


def _canonicals(node: Any, path: str = "") -> Iterable[tuple[str, str]]:
    """Every URL-valued element (url, system, profile, valueSet, resource, ...) but own url."""
    if isinstance(node, Mapping):
        for key, value in node.items():
            sub = f"{path}.{key}" if path else key
            if (
                isinstance(value, str)
                and key in _CANONICAL_MEMBERS
                and sub != "url"
                and value.startswith("http")
            ):
                yield sub, value
            elif key in _CANONICAL_LISTS and isinstance(value, list):
                yield from ((f"{sub}[{i}]", v) for i, v in enumerate(value) if isinstance(v, str))
            else:
                yield from _canonicals(value, sub)
    elif isinstance(node, list):
        for i, item in enumerate(node):
            yield from _canonicals(item, f"{path}[{i}]")


def load_knowledge(
    *extra: Path | str, builtin: bool = True, include_default: bool | None = None
) -> Knowledge:
    """Load, validate and cross-check the module's knowledge (plus extra files or folders).

    An extra path may also be a FHIR package (.tgz), as `fhir-module package` writes.
    `builtin=False` leaves out the module's own knowledge (`include_default` is the older
    name of the same switch). Raises KnowledgeError naming the file and the element of the
    first problem; KnowledgeConflict, naming both files, when two claim the same thing.
    """
    if include_default is not None:
        builtin = include_default
    given = [Path(p) for p in extra]
    packages = expand(p for p in given if is_package(p))  # each package file once
    named = [p for p in given if not is_package(p)]
    # Each file once, however often it is named (see expand): the built-in ones too.
    paths, in_folders = knowledge_paths([*(default_files() if builtin else []), *named])
    loaded = read_resources(paths, in_folders)
    for package in packages:
        loaded = merge(loaded, read_package(package))
    if not builtin:
        loaded = _base(loaded) + loaded
    return Knowledge(loaded)


#: the resource types of a drug module; the built-in one is left out without the default
_MODULE_TYPES = frozenset({"PlanDefinition", "Library", "MedicationKnowledge"})


def _base(given: list[SourceFile]) -> list[SourceFile]:
    """What is loaded without the built-in drug module: the profiles and the built-in
    CodeSystems and ValueSets, except those only the built-in module's rules, facts and
    products read (its rule codes, its medications and its own fact ValueSets); the route
    categories and tablet units stay, the engine reads them. A resource the given knowledge
    brings (the same Type/id or canonical URL) is taken from it, not from the base."""
    given_keys = {f"{f.resource['resourceType']}/{f.resource['id']}" for f in given}
    given_urls = {f.resource.get("url") for f in given} - {None}
    builtin = [
        f
        for f in read_resources(default_files())
        if f"{f.resource['resourceType']}/{f.resource['id']}" not in given_keys
        and f.resource.get("url") not in given_urls
    ]
    kept = [f for f in builtin if f.resource["resourceType"] not in _MODULE_TYPES]
    module = [f for f in builtin if f.resource["resourceType"] in _MODULE_TYPES]

    def read_by(files: Iterable[SourceFile]) -> set[str]:
        return {url.split("|")[0] for f in files for _, url in _canonicals(f.resource)}

    only_module = read_by(module) - read_by(kept) - read_by(given)
    while True:  # a ValueSet left out may be the only reader of a CodeSystem
        dropped = [
            f
            for f in kept
            if f.resource.get("url") in only_module
            and f.resource["resourceType"] in ("CodeSystem", "ValueSet")
            and f.resource["id"] != TABLET_UNITS
            and not f.resource["id"].startswith(ROUTE_PREFIX)
        ]
        if not dropped:
            return kept
        kept = [f for f in kept if f not in dropped]
        only_module |= read_by(dropped) - read_by(kept) - read_by(given)
