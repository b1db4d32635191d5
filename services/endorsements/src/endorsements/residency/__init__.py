"""Residency verification for votes: a city's census file (salted hashes only) and codes sent by
postal letter, as Decidim's authorisations; one census entry or letter code verifies one account
per call."""
