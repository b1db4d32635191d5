"""Residents' gifts to a city's pool: the backer of an all-or-nothing project chose, if it fails
or is canceled, to give their pledge to the city's pool accepting gifts (fallback_domain.py).
The outcome's transaction releases the pledge and writes a gift; a job charges the saved card
off-session; the money is held by the platform for the city (ledger account `city_pool`),
endorsements adds it to the pool's budget (pool.gift_received), and the city's dues from that
pool are settled from it first (city_dues/)."""
