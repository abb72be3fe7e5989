"""Operator identity: JWT verification into an `Operator`."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import jwt

from .errors import AuthError, AuthErrorCode, ConfigError
from .operator import Operator
from .settings import LiveChatSettings


class TokenVerifier:
    """Verifies operator JWTs with PyJWT (secret or public key, algorithms,
    audience, issuer, leeway). `verify` raises `AuthError`."""

    def __init__(self, settings: LiveChatSettings) -> None:
        key = settings.jwt_public_key or settings.jwt_secret
        if not key:
            raise ConfigError("no JWT secret or public key is configured")
        setting = "LIVECHAT_JWT_PUBLIC_KEY" if settings.jwt_public_key else "LIVECHAT_JWT_SECRET"
        for algorithm in settings.jwt_algorithms:
            _check_key(algorithm, key, setting)
        self._key = key
        self._algorithms = list(settings.jwt_algorithms)
        self._audience = settings.jwt_audience
        self._issuer = settings.jwt_issuer
        self._leeway = settings.jwt_leeway

    def verify(self, token: str) -> Operator:
        """The operator a token names; raises `AuthError` (`token_expired` or `invalid_token`)."""
        options = {"require": ["sub", "exp"], "verify_aud": self._audience is not None}
        try:
            claims = jwt.decode(
                token,
                self._key,
                algorithms=self._algorithms,
                audience=self._audience,
                issuer=self._issuer,
                leeway=self._leeway,
                options=options,  # type: ignore[arg-type]
            )
        except jwt.ExpiredSignatureError as exc:
            raise AuthError(AuthErrorCode.TOKEN_EXPIRED, "token has expired") from exc
        except jwt.InvalidTokenError as exc:
            raise AuthError(AuthErrorCode.INVALID_TOKEN, f"invalid token: {exc}") from exc
        except OverflowError as exc:  # older PyJWT: int() of an infinite exp, iat or nbf
            raise AuthError(AuthErrorCode.INVALID_TOKEN, "invalid token: bad time claim") from exc
        sub = claims.get("sub")
        if not isinstance(sub, str) or not sub or len(sub) > 128:
            raise AuthError(AuthErrorCode.INVALID_TOKEN, "invalid token: bad 'sub' claim")
        try:
            expires_at = datetime.fromtimestamp(float(claims["exp"]), UTC)
        except (OverflowError, ValueError, OSError) as exc:
            # PyJWT compares any number with the clock; a date needs one in range
            raise AuthError(AuthErrorCode.INVALID_TOKEN, "invalid token: bad 'exp' claim") from exc
        name = claims.get("name")
        return Operator(
            admin_id=sub,
            name=name if isinstance(name, str) else None,
            expires_at=expires_at,
            claims=claims,
        )


def _check_key(algorithm: str, key: str, setting: str) -> None:
    """Prepare `key` for `algorithm` now: a key of the wrong kind (a PEM public
    key as an HMAC secret, a secret for RS256) is then a `ConfigError` when
    `LiveChat()` is created, not an exception at the first token."""
    try:
        prepare = jwt.get_algorithm_by_name(algorithm).prepare_key
    except NotImplementedError as exc:  # unknown, or needs the cryptography package
        raise ConfigError(
            f"LIVECHAT_JWT_ALGORITHMS: {algorithm!r} is not available ({exc}; "
            "RS256, ES256 and EdDSA need `pip install 'PyJWT[crypto]'`)"
        ) from exc
    try:
        prepare(key)
    except (jwt.InvalidKeyError, ValueError, TypeError) as exc:
        # the library's message can be unhelpful ("Expected one of <generator ...>")
        if algorithm.upper().startswith("HS"):
            hint = "an HMAC secret must be a random string, not a PEM or SSH key"
        else:
            hint = f"{algorithm} needs a PEM public key of its kind"
        raise ConfigError(
            f"{setting} cannot be used with {algorithm} (LIVECHAT_JWT_ALGORITHMS): {hint}"
        ) from exc


def mint_token(
    settings: LiveChatSettings,
    admin_id: str,
    *,
    name: str | None = None,
    ttl: float = 3600.0,
    extra: dict[str, Any] | None = None,
) -> str:
    """A token signed with the configured secret (for the CLI, the demo and tests)."""
    if not settings.jwt_secret:
        raise ConfigError("minting a token needs LIVECHAT_JWT_SECRET")
    now = datetime.now(UTC).timestamp()
    claims: dict[str, Any] = {"sub": admin_id, "iat": int(now), "exp": int(now + ttl)}
    if name:
        claims["name"] = name
    if settings.jwt_audience:
        claims["aud"] = settings.jwt_audience
    if settings.jwt_issuer:
        claims["iss"] = settings.jwt_issuer
    claims.update(extra or {})
    algorithm = next((a for a in settings.jwt_algorithms if a.upper().startswith("HS")), "HS256")
    return jwt.encode(claims, settings.jwt_secret, algorithm=algorithm)
