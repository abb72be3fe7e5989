import time

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from livechat_ext import (
    AuthError,
    AuthErrorCode,
    ConfigError,
    LiveChatSettings,
    TokenVerifier,
    mint_token,
)

SECRET = "unit-secret-" + "0123456789abcdef" * 4


def settings(**kw):
    return LiveChatSettings(jwt_secret=SECRET, line_channel_secret="x", **kw)


def token(claims, key=SECRET, alg="HS256"):
    base = {"sub": "alice", "exp": int(time.time()) + 60}
    base.update(claims)
    return jwt.encode({k: v for k, v in base.items() if v is not None}, key, algorithm=alg)


def test_valid_token_gives_operator():
    op = TokenVerifier(settings()).verify(token({"name": "Alice", "team": "a"}))
    assert op.admin_id == "alice" and op.name == "Alice" and op.claims["team"] == "a"
    assert op.expires_at is not None


@pytest.mark.parametrize(
    ("claims", "kw", "code"),
    [
        ({"exp": int(time.time()) - 10}, {}, AuthErrorCode.TOKEN_EXPIRED),
        ({"aud": "other"}, {"jwt_audience": "console"}, AuthErrorCode.INVALID_TOKEN),
        ({}, {"jwt_audience": "console"}, AuthErrorCode.INVALID_TOKEN),
        ({"iss": "evil"}, {"jwt_issuer": "bot"}, AuthErrorCode.INVALID_TOKEN),
        ({"sub": None}, {}, AuthErrorCode.INVALID_TOKEN),
        ({"exp": None}, {}, AuthErrorCode.INVALID_TOKEN),
    ],
)
def test_refused_tokens(claims, kw, code):
    with pytest.raises(AuthError) as info:
        TokenVerifier(settings(**kw)).verify(token(claims))
    assert info.value.code is code


def test_audience_and_issuer_accepted_when_right():
    s = settings(jwt_audience="console", jwt_issuer="bot")
    assert TokenVerifier(s).verify(token({"aud": "console", "iss": "bot"})).admin_id == "alice"


def test_wrong_key_refused():
    with pytest.raises(AuthError) as info:
        TokenVerifier(settings()).verify(token({}, key="another-secret-" + "x" * 64))
    assert info.value.code is AuthErrorCode.INVALID_TOKEN


def test_none_algorithm_refused():
    unsigned = jwt.encode({"sub": "alice", "exp": int(time.time()) + 60}, None, algorithm="none")
    with pytest.raises(AuthError):
        TokenVerifier(settings()).verify(unsigned)


def test_none_algorithm_cannot_be_configured():
    with pytest.raises(ValueError):
        settings(jwt_algorithms="none")


def test_wrong_algorithm_refused():
    with pytest.raises(AuthError):
        TokenVerifier(settings()).verify(token({}, alg="HS512"))


def _rsa_key() -> tuple[rsa.RSAPrivateKey, str]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    public = (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    return key, public


def test_rs256_public_key():
    key, public = _rsa_key()
    s = LiveChatSettings(jwt_public_key=public, jwt_algorithms="RS256", line_channel_secret="x")
    assert TokenVerifier(s).verify(token({}, key=key, alg="RS256")).admin_id == "alice"
    with pytest.raises(AuthError):  # an HS256 token signed with the public key: key confusion
        TokenVerifier(s).verify(
            _hs256_by_hand({"sub": "alice", "exp": int(time.time()) + 60}, public.encode())
        )


def _hs256_by_hand(claims, key: bytes) -> str:
    import base64
    import hashlib
    import hmac
    import json

    def b64(data: bytes) -> str:
        return base64.urlsafe_b64encode(data).rstrip(b"=").decode()

    head = b64(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
    body = b64(json.dumps(claims).encode())
    sig = hmac.new(key, f"{head}.{body}".encode(), hashlib.sha256).digest()
    return f"{head}.{body}.{b64(sig)}"


def test_leeway_accepts_recently_expired():
    t = token({"exp": int(time.time()) - 5})
    assert TokenVerifier(settings(jwt_leeway=30)).verify(t).admin_id == "alice"


def test_mint_token_roundtrip():
    s = settings(jwt_audience="console")
    assert TokenVerifier(s).verify(mint_token(s, "bob", name="Bob")).name == "Bob"


@pytest.mark.parametrize("exp", [10**20, 2**63, 1e300, 253402300800])
def test_an_exp_beyond_any_date_is_an_invalid_token(exp):
    """Far beyond year 9999 (an OverflowError inside the conversion today)."""
    with pytest.raises(AuthError) as info:
        TokenVerifier(settings()).verify(token({"exp": exp}))
    assert info.value.code is AuthErrorCode.INVALID_TOKEN


@pytest.mark.parametrize(
    ("kw", "setting"),
    [
        ({"jwt_secret": "public"}, "LIVECHAT_JWT_SECRET"),  # a public key as the HMAC secret
        ({"jwt_public_key": "public"}, "LIVECHAT_JWT_PUBLIC_KEY"),  # ... with HS256 left on
        ({"jwt_public_key": "public", "jwt_algorithms": "RS256,HS256"}, "LIVECHAT_JWT_PUBLIC_KEY"),
        ({"jwt_public_key": SECRET, "jwt_algorithms": "RS256"}, "LIVECHAT_JWT_PUBLIC_KEY"),
        ({"jwt_public_key": "public", "jwt_algorithms": "ES256"}, "LIVECHAT_JWT_PUBLIC_KEY"),
        ({"jwt_secret": SECRET, "jwt_algorithms": "HS257"}, "LIVECHAT_JWT_ALGORITHMS"),
    ],
)
def test_a_key_of_the_wrong_kind_is_a_config_error_at_creation(kw, setting, tmp_path):
    from livechat_ext import LiveChat

    _, public = _rsa_key()
    values = {k: public if v == "public" else v for k, v in kw.items()}
    store_url = f"sqlite+aiosqlite:///{tmp_path}/x.db"
    with pytest.raises(ConfigError) as info:
        LiveChat(
            LiveChatSettings(
                line_channel_secret="c",
                line_channel_access_token="t",
                store_url=store_url,
                **values,
            )
        )
    assert setting in str(info.value) and "BEGIN" not in str(info.value)
