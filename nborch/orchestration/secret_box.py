"""Encrypting secret values for the store (Fernet: AES-128-CBC with an HMAC, from
`cryptography`).

The key is the setting `NBORCH_SECRET_KEY`, else the key file `$NBORCH_HOME/secret.key`,
made on first use (mode 0600). Two processes making it at once end with one key: each
writes a whole key to a file of its own and links it into place; the first link wins.
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken

from nborch.errors import NborchError
from nborch.home_files import private_folder
from nborch.settings import get_settings

KEY_FILE_NAME = "secret.key"
_GENERATE = (
    "python -c 'from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())'"
)


@dataclass(frozen=True)
class SecretBox:
    """The store's secret key, and where it came from (for messages)."""

    fernet: Fernet
    origin: str

    def encrypt(self, value: str) -> str:
        return self.fernet.encrypt(value.encode("utf-8")).decode("ascii")

    def decrypt(self, name: str, ciphertext: str) -> str:
        try:
            return self.fernet.decrypt(ciphertext.encode("ascii")).decode("utf-8")
        except InvalidToken:
            raise NborchError(
                f"Secret '{name}' cannot be decrypted with the secret key from {self.origin}: "
                "it was set with another key. Use the key it was set with (NBORCH_SECRET_KEY, "
                f"or the key file {key_file()}), or set it again: nborch secret set {name}"
            ) from None


def key_file() -> Path:
    return get_settings().home / KEY_FILE_NAME


def secret_box() -> SecretBox:
    """The key named by the settings; the key file is made when there is neither."""
    configured = get_settings().secret_key
    if configured is not None:
        return _box(configured.get_secret_value().strip().encode(), "NBORCH_SECRET_KEY")
    path = key_file()
    return _box(_read_or_make_key_file(path), f"the key file {path}")


def _box(key: bytes, origin: str) -> SecretBox:
    try:
        return SecretBox(Fernet(key), origin)
    except ValueError:
        raise NborchError(
            f"The secret key from {origin} is not a Fernet key (32 url-safe base64-encoded "
            f"bytes). Generate one with: {_GENERATE}"
        ) from None


def _read_or_make_key_file(path: Path) -> bytes:
    try:
        return _read_key_file(path)
    except FileNotFoundError:
        pass
    try:
        private_folder(path.parent)
        handle, draft = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")  # mode 0600
        try:
            with os.fdopen(handle, "wb") as file:
                file.write(Fernet.generate_key() + b"\n")
                file.flush()
                os.fsync(file.fileno())
            try:
                os.link(draft, path)  # atomic, and never replaces a key another process made
            except FileExistsError:
                pass
        finally:
            os.unlink(draft)
    except OSError as err:
        raise NborchError(
            f"Cannot make the secret key file {path}: {err.strerror}. Make {path.parent} "
            f"writable, or set NBORCH_SECRET_KEY (generate a key with: {_GENERATE})."
        ) from None
    return _read_key_file(path)


def _read_key_file(path: Path) -> bytes:
    """The key in `path` (FileNotFoundError when there is none yet)."""
    try:
        key = path.read_bytes().strip()
    except FileNotFoundError:
        raise
    except OSError as err:
        raise NborchError(
            f"Cannot read the secret key file {path}: {err.strerror}. Run nborch as the user "
            "that owns it, or set NBORCH_SECRET_KEY to the key it holds."
        ) from None
    if not key:
        raise NborchError(
            f"The secret key file {path} is empty. Restore the key the secrets were set with, "
            "or set NBORCH_SECRET_KEY."
        )
    return key
