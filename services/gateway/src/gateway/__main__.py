"""`python -m gateway`: run the service (on granian: the proxy's own cost per request is small
enough that the HTTP server's share of it shows; see README, Speed)."""

from servicekit.serving import serve_granian

from .settings import Settings

if __name__ == "__main__":
    serve_granian("gateway.app:asgi", Settings())
