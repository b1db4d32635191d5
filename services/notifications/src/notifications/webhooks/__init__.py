"""Signed webhooks for city systems: endpoints a city's managers register (api.py, use cases
in endpoints.py), one delivery per matching event (handlers.py), the delivery worker
(sender.py), the pure rules (rules.py) and the only database code (store.py)."""
