"""fhir_module.cards."""
