"""The key-encryption key: from the environment, or made once for the embedded default."""

from __future__ import annotations

import os
import secrets
from typing import TYPE_CHECKING

from custody.errors import ConfigurationError

if TYPE_CHECKING:
    from api.settings import Settings

__all__ = ["key_encryption_key"]

_KEK_FILE = "key-encryption.key"


def key_encryption_key(settings: Settings) -> bytes:
    """The secret that seals private keys at rest.

    On the embedded SQLite default a random key is written once to the data folder, readable
    by its owner only, so ``make run`` works out of the box. With a server database the
    operator must set ``CUSTODY_KEY_ENCRYPTION_KEY``: keys and their sealing secret must not
    sit side by side by accident.
    """
    if settings.key_encryption_key is not None:
        return settings.key_encryption_key.get_secret_value().encode()
    if not settings.is_embedded:
        raise ConfigurationError(
            "set CUSTODY_KEY_ENCRYPTION_KEY: a server database needs its own key-encryption key",
            zh="使用服务器数据库时须设置 CUSTODY_KEY_ENCRYPTION_KEY（密钥加密密钥）",
        )
    path = settings.data_dir / _KEK_FILE
    if not path.exists():
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            pass  # another process made it a moment ago
        else:
            with os.fdopen(fd, "w") as handle:
                handle.write(secrets.token_hex(32))
    return path.read_bytes().strip()
