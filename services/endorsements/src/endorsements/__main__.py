"""`python -m endorsements`: run the service."""

from servicekit.app import run

from .settings import Settings

if __name__ == "__main__":
    run("endorsements.app:app", Settings())
