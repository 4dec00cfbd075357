"""Audience specs: YAML files in audiences/, validated by a JSON Schema shipped in the package."""
