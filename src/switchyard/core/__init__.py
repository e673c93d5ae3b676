"""The pure domain: values, rules and the exception tree. No IO, no framework."""
