"""Push templates: the one definition that delivery (sending) and schedules (declaring) both import.

Kept below both packages so neither imports the other (see the import-linter contract).
"""
