"""Moving encrypted chunks: the content protocol, its server, and parallel verified downloads."""
