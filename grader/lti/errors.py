"""The LTI routes' refusals.

Refused (grader.service.errors)
└── LaunchRefused   a login or launch that breaks a rule: 400 malformed, 401 not proven
                    (state, signature, issuer, audience, time, nonce), 403 not allowed
                    (an unknown registration or deployment)
"""

from __future__ import annotations

from grader.service.errors import Refused


class LaunchRefused(Refused):
    """Raised when an LTI login, launch or page request breaks a rule; `reason` says which."""
