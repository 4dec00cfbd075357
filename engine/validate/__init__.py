"""engine validate: every authoring mistake in the project, located (see runner.validate_project)."""
