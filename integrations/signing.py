"""HMAC signatures of webhook bodies (the same scheme as Stripe's, documented in docs/api.md).

Header: `X-Rememberly-Signature: t=<unix time>,v1=<hex HMAC-SHA256 of "<t>.<body>">`. The
time inside the signed text lets a receiver refuse old replays.
"""

import hashlib
import hmac
import time

HEADER = "X-Rememberly-Signature"
DEFAULT_TOLERANCE_SECONDS = 300


def sign(secret: str, body: bytes, timestamp: int | None = None) -> str:
    stamp = int(time.time()) if timestamp is None else timestamp
    digest = hmac.new(secret.encode(), f"{stamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={stamp},v1={digest}"


def verify(secret: str, body: bytes, header: str, *, tolerance: int = DEFAULT_TOLERANCE_SECONDS) -> bool:
    parts = dict(part.split("=", 1) for part in header.split(",") if "=" in part)
    try:
        stamp = int(parts["t"])
    except (KeyError, ValueError):
        return False
    if abs(time.time() - stamp) > tolerance:
        return False
    expected = sign(secret, body, stamp).split("v1=", 1)[1]
    return hmac.compare_digest(expected, parts.get("v1", ""))
