"""Labels: a city's endorsement of a campaign in its territory, with support offers."""
