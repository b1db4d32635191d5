"""`python -m gateway`: run the service with uvicorn on its configured host and port."""

import uvicorn

from .settings import Settings


def main() -> None:
    settings = Settings()
    uvicorn.run(
        "gateway.app:app",
        host=settings.http_host,
        port=settings.http_port,
        log_level=settings.log_level.lower(),
        access_log=False,
        proxy_headers=True,
    )


if __name__ == "__main__":
    main()
