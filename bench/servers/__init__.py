"""Tiny peer servers for the fan-out benchmark; each is run as its own process."""
