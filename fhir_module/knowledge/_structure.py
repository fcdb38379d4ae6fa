"""A fast first look at FHIR structure, before fhir.resources is asked.

Checking a resource with fhir.resources builds a model object of every element and runs
the library's Python validators on each: most of the time a module takes to load. Most
knowledge is plainly well formed, and `plainly_valid` says so without building anything:
it walks the JSON with the library's own description of each type (its models' fields:
their JSON names, whether they repeat, their types, which are required, the choice
groups) and checks each primitive value with the library's own validator of its type
(remembered per type and value: systems, codes and units repeat throughout). It answers
True only where fhir.resources accepts the resource; anything it does not plainly
recognise (a null, an empty list or object, an unknown or Python-named member, a
contained resource, a primitive's extension `_name`, a choice given twice, a model with
validators of its own, objects nested more than _DEEPEST deep) is False, and then
fhir.resources decides and words the problem. So the structure check answers as
fhir.resources does in every case; this only spares the model objects where nothing is
wrong.
"""

from __future__ import annotations

import types
import typing
from dataclasses import dataclass
from typing import Any

from fhir.resources.R4B import get_fhir_model_class
from fhir_core.fhirabstractmodel import FHIRAbstractModel
from fhir_core.types import FhirBase, FhirElementOrResourceBase
from pydantic import TypeAdapter

#: the validators every fhir.resources model has; a model with others is not walked here
_COMMON_VALIDATORS = frozenset(
    {"reject_null_complex_elements", "validate_after_model_construction"}
)

#: the deepest object walked, below the resource: fhir.resources takes several Python
#: frames an object and may run out of them where a walk would not (PlanDefinition
#: actions nested a hundred deep), so deeper knowledge goes to it to be judged
_DEEPEST = 32
#: the JSON values a primitive may be given as, here
_PLAIN_VALUES = frozenset({str, int, float, bool})
#: the values remembered: strings as long as a system URL or a code (the texts, seldom
#: repeated, are checked each time), and at most so many of each type, so that what is
#: remembered stays small beside the knowledge however much is loaded
_REMEMBERED_LENGTH = 64
_REMEMBERED_VALUES = 4096


@dataclass(frozen=True, slots=True)
class _Member:
    """One member of a type: whether it repeats, and its type (a Shape, or the validator of
    a primitive; None: a kind not walked here)."""

    many: bool
    shape: Shape | None
    primitive: _Primitive | None


class _Primitive:
    """A primitive type's validator, as fhir.resources applies it, remembering each value."""

    __slots__ = ("annotation", "adapter", "known")

    def __init__(self, annotation: Any) -> None:
        self.annotation = annotation
        self.adapter: TypeAdapter[Any] = TypeAdapter(annotation)
        #: (type of the value, value) -> whether it is valid
        self.known: dict[tuple[type, Any], bool] = {}

    def accepts(self, value: Any) -> bool:
        kind = type(value)
        if kind not in _PLAIN_VALUES:
            return False  # an object or list where a primitive was meant: not plain
        if kind is str and len(value) > _REMEMBERED_LENGTH:
            return self._valid(value)
        key = (kind, value)
        known = self.known.get(key)
        if known is None:
            known = self._valid(value)
            if len(self.known) < _REMEMBERED_VALUES:
                self.known[key] = known
        return known

    def _valid(self, value: Any) -> bool:
        try:
            self.adapter.validate_python(value)
        except Exception:  # noqa: BLE001 - a library validator failing on the value: not plain
            return False
        return True


class Shape:
    """What fhir.resources' model of one type allows, by JSON member name; read from the
    model when first used (FHIR types refer to themselves: an Extension holds Extensions)."""

    __slots__ = ("model", "members", "required", "choices", "walked")

    def __init__(self, model: type[FHIRAbstractModel]) -> None:
        self.model = model
        self.members: dict[str, _Member] = {}
        self.required: frozenset[str] = frozenset()
        self.choices: list[tuple[tuple[str, ...], bool]] = []
        #: None until read; False: the model validates in ways not known here
        self.walked: bool | None = None

    def _read(self) -> bool:
        """Read the model's description; `walked` is set last, so that a shape is used
        only once all of it is read (by whichever thread reads it first)."""
        model = self.model
        decorators = model.__pydantic_decorators__
        members: dict[str, _Member] = {}
        required: set[str] = set()
        names: dict[str, str] = {}
        for name, info in model.model_fields.items():
            alias = info.alias or name
            names[name] = alias
            if name == "fhir_comments" or name.endswith("__ext"):
                continue  # not walked: a resource with either goes to fhir.resources
            if info.is_required():
                required.add(alias)
            if not info.metadata:  # constraints of the field's own: not walked here
                members[alias] = _member(info.annotation)
        # the model's own lists, of an instance made without validation (no values): the
        # required primitives (their extension `_name` may stand for them: not walked
        # here) and the choice groups
        blank = model.model_construct()
        for name, _ in blank.get_required_fields():
            required.add(names[name])
        choices = []
        for fields in blank.get_one_of_many_fields().values():
            extra = model.model_fields[fields[0]].json_schema_extra
            must = isinstance(extra, dict) and extra.get("one_of_many_required") is True
            choices.append((tuple(names[f] for f in fields), must))
        self.members, self.required, self.choices = members, frozenset(required), choices
        walked = (
            set(decorators.model_validators) <= _COMMON_VALIDATORS
            and not decorators.field_validators
            and not decorators.validators
            and not decorators.root_validators
        )
        self.walked = walked
        return walked

    def accepts(self, node: Any, depth: int) -> bool:
        """Whether fhir.resources plainly accepts the JSON object as this type, `depth`
        objects below the resource (at 0: as a resource, its resourceType the model's)."""
        walked = self.walked
        if walked is None:
            walked = self._read()
        if not walked or type(node) is not dict or not node or depth > _DEEPEST:
            return False
        members = self.members
        for key, value in node.items():
            member = members.get(key)
            if member is None:
                if key == "resourceType" and not depth and value == self.model.__resource_type__:
                    continue
                return False
            if member.many:
                if type(value) is not list or not value:
                    return False
                if not all(_accepts(member, item, depth) for item in value):
                    return False
            elif not _accepts(member, value, depth):
                return False
        if not self.required.issubset(node.keys()):
            return False
        for fields, must in self.choices:
            given = sum(1 for f in fields if f in node)
            if given > 1 or (must and not given):
                return False
        return True


def _accepts(member: _Member, value: Any, depth: int) -> bool:
    """Whether the value of a member of an object `depth` below the resource is plain."""
    if member.primitive is not None:
        return member.primitive.accepts(value)
    return member.shape is not None and member.shape.accepts(value, depth + 1)


def _member(annotation: Any) -> _Member:
    """A member of this annotation (its type None when of a kind not walked here)."""
    many = False
    item = _optional(annotation)
    if typing.get_origin(item) is list:
        many = True
        (item,) = typing.get_args(item)
        item = _optional(item)
    if isinstance(item, type) and issubclass(item, FhirBase):
        if issubclass(item, FhirElementOrResourceBase):
            return _Member(many, None, None)  # any resource (contained): not walked here
        return _Member(many, _shape(item.get_model_klass()), None)
    if typing.get_origin(item) in (typing.Union, types.UnionType):
        return _Member(many, None, None)
    return _Member(many, None, _primitive(item))


def _optional(annotation: Any) -> Any:
    """The type of `X | None`, or the annotation as it is."""
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        if len(args) == 1:
            return args[0]
    return annotation


#: each model's shape, and each primitive annotation's validator (by identity: the
#: library's annotations are shared by its models), made once in the process
_SHAPES: dict[type, Shape] = {}
_PRIMITIVES: dict[int, _Primitive] = {}


def _shape(model: type[FHIRAbstractModel]) -> Shape:
    found = _SHAPES.get(model)
    if found is None:
        found = _SHAPES[model] = Shape(model)
    return found


def _primitive(annotation: Any) -> _Primitive:
    found = _PRIMITIVES.get(id(annotation))
    if found is None or found.annotation is not annotation:
        found = _PRIMITIVES[id(annotation)] = _Primitive(annotation)
    return found


def plainly_valid(resource: dict[str, Any]) -> bool:
    """True when fhir.resources accepts the resource, known without building its model;
    False when that is not plain here (fhir.resources is then to be asked)."""
    kind = resource.get("resourceType") if isinstance(resource, dict) else None
    if not isinstance(kind, str):
        return False
    try:
        model = get_fhir_model_class(kind)
    except (KeyError, ValueError):  # not a resource type of the library
        return False
    return _shape(model).accepts(resource, 0)
