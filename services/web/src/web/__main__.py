"""`python -m web`: run the web site."""

from servicekit.app import run

from .settings import Settings

if __name__ == "__main__":
    run("web.app:app", Settings())
