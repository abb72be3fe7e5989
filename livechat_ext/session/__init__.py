"""The per-connection state machine: a frame (and `now`) in, effects out.

No I/O and no event loop here: the WebSocket endpoint feeds frames and the
node's deadline scheduler feeds `tick(now)`; both carry out the effects.
"""

from .effects import Authenticated, Close, Effect, Join, Leave, Reply, Send, Step, Typing
from .machine import Limits, Session, Verified, Verify

__all__ = [
    "Authenticated",
    "Close",
    "Effect",
    "Join",
    "Leave",
    "Limits",
    "Reply",
    "Send",
    "Session",
    "Step",
    "Typing",
    "Verified",
    "Verify",
]
