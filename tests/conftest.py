"""Settings for the whole suite."""

from __future__ import annotations

import os

# Nodes started by tests never multicast on the machine's network: mDNS tests make their own
# network namespace and turn it on explicitly there.
os.environ.setdefault("COOPTRACKS_NO_MDNS", "1")
