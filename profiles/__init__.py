"""StructureDefinitions the knowledge conforms to (shipped as fhir_module.profiles)."""
