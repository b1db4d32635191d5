"""Test helpers shared by every service's tests: real processes, not mocks.

`servicekit.testing.plugin` is loaded by pytest (see the root pyproject) and provides the
session fixtures: a RabbitMQ check, a private vhost/namespace, an nx-27017 server,
localstripe, a token issuer with a JWKS endpoint.
"""
