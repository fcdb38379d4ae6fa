"""fhir_module.engine."""
