"""`python -m gateway`: run the service."""

from servicekit.app import run

from .settings import Settings

if __name__ == "__main__":
    run("gateway.app:app", Settings())
