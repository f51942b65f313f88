# Copyright 2026 Retail Integration Suite contributors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
"""Encryption of credentials at rest.

The key never lives in the database: it comes from the server configuration
(``retail_integration_key`` in odoo.conf) or from the environment variable
``RETAIL_INTEGRATION_KEY``. Several comma-separated Fernet keys rotate the
master key: the first encrypts, all of them decrypt.
"""

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

ENV_VAR = "RETAIL_INTEGRATION_KEY"
CONFIG_KEY = "retail_integration_key"
TOKEN_PREFIX = "fernet:"


class EncryptionKeyError(Exception):
    """The key is missing or unusable; the message says what to do."""


class SecretBox:
    def __init__(self, key_material):
        if not key_material or not key_material.strip():
            raise EncryptionKeyError(
                f"No encryption key: set '{CONFIG_KEY}' in the Odoo configuration file "
                f"or the {ENV_VAR} environment variable (generate one with "
                "python3 -c 'from cryptography.fernet import Fernet; "
                "print(Fernet.generate_key().decode())').")
        keys = [k.strip() for k in key_material.split(",") if k.strip()]
        try:
            self._fernet = MultiFernet([Fernet(k.encode()) for k in keys])
        except (ValueError, TypeError) as exc:
            raise EncryptionKeyError(
                f"The encryption key in '{CONFIG_KEY}' / {ENV_VAR} is not a valid "
                "Fernet key (32 url-safe base64-encoded bytes).") from exc
        self.key_count = len(keys)

    def encrypt(self, plaintext):
        return TOKEN_PREFIX + self._fernet.encrypt(plaintext.encode()).decode()

    def decrypt(self, token):
        if not token.startswith(TOKEN_PREFIX):
            raise EncryptionKeyError("The stored secret is not an encrypted value.")
        try:
            return self._fernet.decrypt(token[len(TOKEN_PREFIX):].encode()).decode()
        except InvalidToken as exc:
            raise EncryptionKeyError(
                "A stored secret cannot be decrypted with the configured key: the key "
                "changed without keeping the old one. Add the old key after the new one "
                f"(comma-separated) in '{CONFIG_KEY}', or enter the secret again.") from exc

    def rotate(self, token):
        """Re-encrypt a token with the first (newest) key."""
        return TOKEN_PREFIX + self._fernet.rotate(token[len(TOKEN_PREFIX):].encode()).decode()
