"""The loaded knowledge, cross-checked and indexed for the engine and the dose arithmetic."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from functools import cached_property
from pathlib import Path
from typing import Any

from ..errors import KnowledgeError
from ._declarations import Declaration, read_declarations
from ._guidelines import Entry, mass_mg, read_guidelines
from ._load import SourceFile, default_files, expand, read_resource
from ._medication import Named
from ._package import is_package, merge, read_package
from ._plan import Rule, compile_action
from ._profiles import ProfileChecker
from ._terminology import (
    NDC_SYSTEM,
    ValueSetIndex,
    build_value_set,
    codings,
    name_words,
    ndc_product,
    normalise_text,
)
from ._variables import VARIABLES

ROUTE_PREFIX = "route-"
#: a ValueSet `form-<category>` lists the dose forms that imply route category <category>
FORM_PREFIX = "form-"
#: the ValueSet of dose units counted as one tablet, whose name words name tablets
TABLET_UNITS = "tablet-units"


def _words_pattern(words: list[str]) -> re.Pattern[str]:
    """Any of the words, as whole words in any case; matches nothing when there are none."""
    if not words:
        return re.compile(r"(?!)")
    alternatives = "|".join(re.escape(w) for w in sorted(set(words), key=lambda w: (-len(w), w)))
    return re.compile(rf"\b(?:{alternatives})\b", re.IGNORECASE)


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


class Knowledge:
    """Every knowledge resource, loaded, validated and indexed."""

    def __init__(self, files: Sequence[SourceFile]) -> None:
        self.files = tuple(files)
        self.by_key: dict[str, SourceFile] = {}
        self.by_url: dict[str, SourceFile] = {}
        for f in files:
            key = f"{f.resource['resourceType']}/{f.resource['id']}"
            if key in self.by_key:
                raise KnowledgeError(
                    f.name, "id", f"{key} is also defined in {self.by_key[key].name}"
                )
            self.by_key[key] = f
            if f.resource.get("url"):
                self.by_url[f.resource["url"]] = f
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
        self.route_sets = {
            f.resource["id"][len(ROUTE_PREFIX) :]: self.value_sets[u]
            for u, f in self.by_url.items()
            if f.resource["resourceType"] == "ValueSet"
            and f.resource["id"].startswith(ROUTE_PREFIX)
        }
        # Routes are looked up on every order: flat dictionaries, built once.
        self._route_codes: dict[tuple[Any, Any], str] = {}
        self._route_terms: dict[str, str] = {}
        for category, vs in sorted(self.route_sets.items()):
            for coding_key in vs.codes:
                self._route_codes.setdefault(coding_key, category)
            for term in vs.terms:
                self._route_terms.setdefault(term, category)
        self._vocabulary(files)
        self.products: dict[tuple[str, str], Product] = {}
        #: products by their NDC product code in 5-4 digits, whatever form the knowledge used
        self._ndc_products: dict[str, Product] = {}
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
            for system, code in self.value_sets[f.resource["url"]].codes:
                self._forms.setdefault((str(system), str(code)), set()).add(category)
        self.drugs = tuple(
            self._drug(f) for f in files if f.resource["resourceType"] == "PlanDefinition"
        )

    def _vocabulary(self, files: Any) -> None:
        """The words and unit codes the dose arithmetic reads: ValueSet tablet-units (units
        of presentation counted as one tablet, and the words for tablets in names) and the
        name words of the route-* ValueSets."""
        self.tablet_unit_codes: frozenset[tuple[str, str]] = frozenset()
        tablet: list[str] = []
        by_route: dict[str, list[str]] = {}
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
                        tablet += name_words(concept)
                    else:
                        by_route.setdefault(rid[len(ROUTE_PREFIX) :], []).extend(
                            name_words(concept)
                        )
            if rid == TABLET_UNITS:
                self.tablet_unit_codes = self.value_sets[res["url"]].codes
        self.tablet_word = _words_pattern(tablet)
        if tablet and "oral" in by_route:
            by_route["oral"] += tablet  # a tablet in the name is taken by mouth
        self.route_name_words = tuple(
            (route, _words_pattern(found)) for route, found in sorted(by_route.items()) if found
        )

    # ----- the DoseKnowledge protocol of fhir_module.dosing
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
            # An NDC may come as a package code or in another configuration of its digits.
            for c in found_codings:
                if type(c) is dict and c.get("system") == NDC_SYSTEM:
                    found = self._ndc_products.get(ndc_product(c.get("code")) or "")
                    if found:
                        return found
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
            routes = self._forms.get((str(c.get("system")), str(c.get("code"))))
            if routes and len(routes) == 1:
                return next(iter(routes))
        return None

    # ----- look-ups for the engine and the service
    def value_set(self, url: str) -> ValueSetIndex:
        return self.value_sets[url]

    def hooks(self) -> frozenset[str]:
        return frozenset(h for d in self.drugs for r in d.rules for h in r.hooks)

    def drug_named(self, named: Named) -> Drug | None:
        """The drug an order names (see fhir_module._medication): by a code of the order's
        concept, its Medication's code or an ingredient's, before any name."""
        concepts = named.concepts()
        for drug in self.drugs:
            if any(drug.value_set.has_concept(c) for c in concepts):
                return drug
        names = named.names()
        for drug in self.drugs:
            if any(drug.names_in(n) for n in names):
                return drug
        return None

    # ----- building
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
        try:
            entries = read_guidelines(mk, self.route_for)
        except ValueError as exc:
            element, _, problem = str(exc).partition(": ")
            raise KnowledgeError(mk_file.name, element, problem) from None
        self._index_products(mk_file)
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
        library, facts = self._facts(plan)
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
            facts,
        )

    def _facts(self, plan: SourceFile) -> tuple[SourceFile, tuple[Declaration, ...]]:
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
            facts = read_declarations(library.resource, self.value_sets, self.route_sets)
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

    def _index_products(self, mk_file: SourceFile) -> None:
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
                route = self.route_for((res.get("intendedRoute") or [None])[0])
                if route is None:
                    raise ValueError("intendedRoute: not in a route value set of the module")
            except (KeyError, IndexError, TypeError, ValueError, ArithmeticError) as exc:
                raise KnowledgeError(product.name, "ingredient.strength", str(exc)) from None
            first = codings(res.get("code"))[0]
            label = f"{first.get('display') or res['code'].get('text', '')} ({first.get('code')})"
            per_unit = strength["denominator"].get("code", "")
            item = Product(res["id"], route, mg / per, per_unit, label)
            for k, c in enumerate(codings(res.get("code"))):
                self.products[(str(c.get("system")), str(c.get("code")))] = item
                if c.get("system") == NDC_SYSTEM:
                    ndc = ndc_product(c.get("code"))
                    if ndc is None:
                        raise KnowledgeError(
                            product.name,
                            f"code.coding[{k}].code",
                            f"{c.get('code')!r} is not an NDC product or package code",
                        )
                    self._ndc_products[ndc] = item
            for c in codings(res.get("doseForm")):
                implied = self._forms.get((str(c.get("system")), str(c.get("code"))), {route})
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
            problems = checker.check(f.resource)
            if problems:
                element, _, problem = problems[0].partition(": ")
                raise KnowledgeError(f.name, element, problem)

    def _check_canonicals(self) -> None:
        bases = {
            u[: u.rfind("/" + f.resource["resourceType"] + "/")] for u, f in self.by_url.items()
        }
        for f in self.files:
            for element, url in _canonicals(f.resource):
                plain = url.split("|")[0]
                if (
                    any(plain.startswith(b + "/") for b in bases)
                    and plain not in self.by_url
                    and "/".join(plain.split("/")[-2:]) not in self.by_key
                ):
                    raise KnowledgeError(f.name, element, f"{url} does not resolve in the module")


def _canonicals(node: Any, path: str = "") -> Iterable[tuple[str, str]]:
    """Every URL-valued element (url, system, profile, valueSet, resource, ...) but own url."""
    if isinstance(node, Mapping):
        for key, value in node.items():
            sub = f"{path}.{key}" if path else key
            if (
                isinstance(value, str)
                and key in ("system", "valueSet", "resource", "url", "valueCanonical")
                and sub != "url"
                and value.startswith("http")
            ):
                yield sub, value
            elif key in ("profile", "library") and isinstance(value, list):
                yield from ((f"{sub}[{i}]", v) for i, v in enumerate(value) if isinstance(v, str))
            else:
                yield from _canonicals(value, sub)
    elif isinstance(node, list):
        for i, item in enumerate(node):
            yield from _canonicals(item, f"{path}[{i}]")


def load_knowledge(*extra: Path | str, include_default: bool = True) -> Knowledge:
    """Load, validate and cross-check the module's knowledge (plus extra files or folders).

    An extra path may also be a FHIR package (.tgz), as `fhir-module package` writes.
    Raises KnowledgeError naming the file and the element of the first problem.
    """
    paths = default_files() if include_default else []
    packages = [Path(p) for p in extra if is_package(Path(p))]
    paths += expand(Path(p) for p in extra if not is_package(Path(p)))
    loaded = [read_resource(p) for p in paths]
    for package in packages:
        loaded = merge(loaded, read_package(package))
    if not include_default:
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
        for f in (read_resource(p) for p in default_files())
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
