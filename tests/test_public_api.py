"""fhir_module's own namespace is its curated public API: a sorted __all__ that names
everything public there and nothing that is not."""

from __future__ import annotations

import types

import fhir_module


def test_all_is_sorted_and_every_name_in_it_is_there() -> None:
    names = list(fhir_module.__all__)
    assert names == sorted(names)
    assert len(set(names)) == len(names)
    missing = [name for name in names if not hasattr(fhir_module, name)]
    assert not missing


def test_every_public_name_of_the_package_is_in_all() -> None:
    public = {
        name
        for name, value in vars(fhir_module).items()
        if not name.startswith("_") and not isinstance(value, types.ModuleType)
    }
    assert public == set(fhir_module.__all__) - {"__version__"}


def test_the_errors_in_the_api_are_the_whole_public_tree() -> None:
    from fhir_module import errors

    for name in ("ConfigError", "DataUnavailable", "FhirServerError", "InvalidRequest"):
        assert issubclass(getattr(fhir_module, name), errors.FhirModuleError)
