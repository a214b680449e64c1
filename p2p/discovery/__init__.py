"""Finding and reaching peers: Kademlia provider records, mDNS on the LAN, circuit relay v2 and
the AutoNAT-style dial-back check that tells a node whether others can dial it."""
