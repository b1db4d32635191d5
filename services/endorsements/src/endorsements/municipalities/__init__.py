"""Municipalities: registration, territory, trials, the public city page, city AMQP users."""
