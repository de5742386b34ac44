"""What an LMS admin enters to register this server as an LTI 1.3 tool, for a public base URL:
printed by `grader lti add` and `grader lti values`, listed in docs/lti.md and the README."""

from __future__ import annotations

from dataclasses import dataclass

from grader.lti import claims
from grader.lti.registrations import check_url


@dataclass(frozen=True)
class ToolValues:
    login_url: str
    redirect_uri: str
    jwks_url: str
    target_link_uri: str
    deep_linking_url: str
    placements: str
    scopes: tuple[str, ...]
    custom: str

    def lines(self) -> list[str]:
        return [
            f"OpenID Connect login initiation URL: {self.login_url}",
            f"Redirect URI (launch):                {self.redirect_uri}",
            f"Public JWKS URL (tool keys):          {self.jwks_url}",
            f"Target link URI:                      {self.target_link_uri}",
            f"Deep linking URL:                     {self.deep_linking_url}",
            f"Placements:                           {self.placements}",
            f"Custom parameters (one item):         {self.custom}",
            "Scopes (LTI Advantage services):",
            *(f"  {scope}" for scope in self.scopes),
        ]


def tool_values(base_url: str) -> ToolValues:
    """The values for a server reached at `base_url` (https://grader.example.edu)."""
    base = check_url("base-url", base_url).rstrip("/")
    return ToolValues(
        login_url=f"{base}/lti/login",
        redirect_uri=f"{base}/lti/launch",
        jwks_url=f"{base}/lti/jwks",
        target_link_uri=f"{base}/lti/item",
        deep_linking_url=f"{base}/lti/launch",
        placements="assignment/link selection (Deep Linking), course navigation off",
        scopes=claims.SCOPES,
        custom="item=ITEM_ID (and assignment=ASSIGNMENT_ID to count in an assignment)",
    )
