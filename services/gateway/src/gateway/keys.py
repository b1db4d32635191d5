"""The gateway's signing keys: loaded from `JWT_KEYS_DIR`, all published, one active."""

from __future__ import annotations

from pathlib import Path

from servicekit.signing import SigningKey, load_or_create_key


class KeyRing:
    def __init__(self, directory: str, active: str) -> None:
        self.directory = Path(directory)
        self.active_name = active
        self.active = load_or_create_key(self.directory / f"{active}.pem")
        self.published = [self.active]
        for path in sorted(self.directory.glob("*.pem")):
            if path.stem != active:
                self.published.append(SigningKey.from_pem(path.read_bytes()))
