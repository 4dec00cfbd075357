"""The engine's own state: versioned migrations and stores on the state database."""
