"""CLI subcommands. Each module exposes ``register(subparsers)``; ``app.cli`` loads them all.

A command's handler receives the parsed arguments and returns a process exit code. Handlers raise
``app.services.errors.UserError`` for anything the user can fix; the CLI prints its message.
"""

COMMAND_MODULES = (
    "app.commands.identity",
    "app.commands.profile",
    "app.commands.ledger",
    "app.commands.store",
    "app.commands.market",
    "app.commands.governance",
    "app.commands.funding",
    "app.commands.passes",
    "app.commands.coins",
    "app.commands.reviews",
    "app.commands.library",
    "app.commands.export",
    "app.commands.swarm",
    "app.commands.bench",
    "app.commands.demo",
    "app.commands.gui",
)
