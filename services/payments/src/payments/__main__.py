"""`python -m payments`: run the service."""

from servicekit.app import run

from .settings import Settings

if __name__ == "__main__":
    run("payments.app:app", Settings())
