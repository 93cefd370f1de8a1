"""The fixed chat server: the seed's disconnect cleanup applied, with a fault catalogue."""
