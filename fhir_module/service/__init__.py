"""fhir_module.service."""
