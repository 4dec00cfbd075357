"""Audience specs: YAML files in audiences/, validated by a JSON Schema generated from the typed model."""
