"""Qt-free services shared by the CLI, the seeder and the GUI.

The economic features' service modules are imported here so that each registers its settler
duty with ``app.services.core`` (``register_settler_duty``) before any settle round runs.
"""

from app.services import (  # noqa: F401  (each registers its settler duty)
    coins,
    funding,
    governance,
    market,
    passes,
)
