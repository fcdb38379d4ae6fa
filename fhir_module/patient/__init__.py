"""fhir_module.patient."""
