"""A FHIR R4 knowledge module for baclofen with a CDS Hooks 2.0 medication-safety service."""

__version__ = "0.1.0"
