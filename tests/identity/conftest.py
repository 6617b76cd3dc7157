"""Keys for the identity tests: an HS256 secret file, RSA and Ed25519 key pairs."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, rsa

SECRET = b"0123456789abcdef0123456789abcdef-test-secret"


@dataclass(frozen=True)
class KeyPair:
    private: object
    public_pem: bytes
    public_path: Path
    private_path: Path


def _pair(tmp: Path, name: str, private: object) -> KeyPair:
    pub = private.public_key()  # type: ignore[attr-defined]
    public_pem = pub.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    private_pem = private.private_bytes(  # type: ignore[attr-defined]
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    (tmp / f"{name}.pub.pem").write_bytes(public_pem)
    (tmp / f"{name}.pem").write_bytes(private_pem)
    return KeyPair(private, public_pem, tmp / f"{name}.pub.pem", tmp / f"{name}.pem")


@pytest.fixture(scope="session")
def key_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("keys")


@pytest.fixture(scope="session")
def secret() -> bytes:
    """The HS256 secret that ``secret_file`` holds."""
    return SECRET


@pytest.fixture(scope="session")
def secret_file(key_dir: Path) -> Path:
    path = key_dir / "secret.key"
    path.write_bytes(SECRET + b"\n")
    return path


@pytest.fixture(scope="session")
def rsa_pair(key_dir: Path) -> KeyPair:
    return _pair(key_dir, "rsa", rsa.generate_private_key(public_exponent=65537, key_size=2048))


@pytest.fixture(scope="session")
def ed_pair(key_dir: Path) -> KeyPair:
    return _pair(key_dir, "ed25519", ed25519.Ed25519PrivateKey.generate())
