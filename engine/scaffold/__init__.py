"""Projects the engine ships: the example project (``engine demo`` outside a project) and ``engine init``'s starter."""
