"""StructureDefinitions the module's knowledge conforms to (package data of fhir_module.profiles)."""
