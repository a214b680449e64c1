"""Content: what a track, preview or cover is on the wire and on disk.

``format`` defines the content format (chunking, per-track encryption, canonical manifests,
content IDs; byte for byte in docs/PROTOCOL.md, "Content"); ``chunkstore`` is the one store of
manifests and chunks on disk, shared by the swarm, the seeder and the player; ``source`` reads a
content's chunks from the store while a download may still be filling it (for streaming).

Pure and synchronous, beneath everything that moves or plays content: it imports nothing of the
project but itself.
"""
