"""The rule engine: PlanDefinition actions evaluated against orders and patient facts."""
