"""The LTI settings, from `GRADER_LTI_*` variables: how much clock skew a launch may show, how
long a login and a launch session live, how often one address may start a login, and the public
URL platforms reach the server at."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class LtiSettings(BaseSettings):
    """What the LTI routes read; each has a GRADER_LTI_* variable."""

    model_config = SettingsConfigDict(env_prefix="GRADER_LTI_", frozen=True, extra="ignore")

    #: Seconds an id_token's `exp` may be past, or its `iat` ahead, by our clock.
    clock_skew_s: int = Field(default=60, ge=0, validation_alias="GRADER_LTI_CLOCK_SKEW")
    #: Seconds between the login initiation and the launch that must follow it.
    login_ttl_s: int = Field(default=600, gt=0, validation_alias="GRADER_LTI_LOGIN_TTL_S")
    #: Seconds a launch session (its cookie) lets the user see and submit their item.
    session_ttl_s: int = Field(default=8 * 3600, gt=0, validation_alias="GRADER_LTI_SESSION_TTL_S")
    #: Seconds a platform's JWKS is trusted before it is fetched again.
    jwks_ttl_s: int = Field(default=3600, ge=0, validation_alias="GRADER_LTI_JWKS_TTL_S")
    #: The server's public base URL (https://grader.example.edu); unset: the request's own.
    public_url: str | None = Field(default=None, validation_alias="GRADER_LTI_PUBLIC_URL")
    #: Login initiations per second one client address may start on average (each stores a
    #: row until it expires), and the burst allowed above that (a class launching at once
    #: from behind one NAT).
    login_rate: float = Field(default=5.0, gt=0, validation_alias="GRADER_LTI_LOGIN_RATE")
    login_burst: int = Field(default=300, ge=1, validation_alias="GRADER_LTI_LOGIN_BURST")
