"""The built-in connector catalog: one YAML definition per provider, named ``<connector id>.yaml``."""
