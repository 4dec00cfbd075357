"""The single settings resolver.

Precedence, highest first: CLI flags > environment variables > profile file
(``engine.yaml`` in the project root, or the file named by ``ENGINE_CONFIG``;
a ``profiles:`` section is selected with ``--profile``/``ENGINE_PROFILE``) >
defaults. No other module reads environment variables or the config file.

``settings.py`` declares each setting once (type, default, bounds, variable), ``values.py`` the
checked value types, ``sources.py`` where values come from, ``resolver.py`` the checking.
"""

from engine.config.resolver import ENV_VARS, resolve
from engine.config.settings import DEFAULT_FCM_ENDPOINT, FOUNDER, Settings

__all__ = ["DEFAULT_FCM_ENDPOINT", "ENV_VARS", "FOUNDER", "Settings", "resolve"]
