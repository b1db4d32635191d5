"""An SMTP sink for development and tests: accepts every message, keeps it as a .eml file.

    python -m devstack.smtp_sink --port 1025 --dir var/mail

Tests can also run it in-process (`MailSink`) and read what arrived.
"""

from __future__ import annotations

import argparse
import asyncio
import email
import email.policy
import signal
import time
import uuid
from email.message import EmailMessage
from pathlib import Path

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session


class _Handler:
    def __init__(self, sink: MailSink) -> None:
        self.sink = sink

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        raw = envelope.original_content or envelope.content
        assert isinstance(raw, bytes)
        message = email.message_from_bytes(raw, policy=email.policy.default)
        assert isinstance(message, EmailMessage)
        self.sink.messages.append((list(envelope.rcpt_tos), message))
        if self.sink.directory is not None:
            name = f"{time.strftime('%Y%m%dT%H%M%S')}-{uuid.uuid4().hex[:8]}.eml"
            (self.sink.directory / name).write_bytes(raw)
        return "250 Message accepted"


class MailSink:
    def __init__(self, port: int = 0, directory: Path | None = None) -> None:
        self.directory = directory
        if directory is not None:
            directory.mkdir(parents=True, exist_ok=True)
        self.messages: list[tuple[list[str], EmailMessage]] = []
        self.controller = Controller(_Handler(self), hostname="127.0.0.1", port=port)
        self.port = port

    def start(self) -> MailSink:
        self.controller.start()
        self.port = self.controller.server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        return self

    def stop(self) -> None:
        self.controller.stop()

    def to(self, address: str) -> list[EmailMessage]:
        return [m for rcpts, m in self.messages if address in rcpts]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--port", type=int, default=1025)
    parser.add_argument("--dir", default="var/mail")
    args = parser.parse_args()
    sink = MailSink(args.port, Path(args.dir)).start()
    print(f"smtp sink on 127.0.0.1:{sink.port}, writing to {args.dir}", flush=True)
    # SIGTERM (how the local runner stops it) ends it like Ctrl-C: stop the server, exit 0.
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    try:
        asyncio.run(asyncio.Event().wait())
    except KeyboardInterrupt:
        pass
    finally:
        sink.stop()


if __name__ == "__main__":
    main()
