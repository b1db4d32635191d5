"""The city's public events as a feed over HTTPS (catch-up for city systems)."""
