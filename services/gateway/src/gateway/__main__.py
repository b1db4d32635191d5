"""`python -m gateway`: run the service (on uvicorn, as every service; see README, Speed)."""

from servicekit.app import run

from .settings import Settings

if __name__ == "__main__":
    run("gateway.app:asgi", Settings())
