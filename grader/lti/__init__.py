"""LTI 1.3 Advantage, the tool side: an LMS launches a student into an item, and their graded
submissions post scores back to its gradebook (docs/lti.md).

    keys.py           our RSA signing keys and the JWKS we publish (`/lti/jwks`), rotation
    registrations.py  the platforms we trust: issuer, client id, deployments, their URLs,
                      the LMS contexts allowed to launch into the course
    identity.py       the server's student id of an LTI user: issuer and sub, never sub alone
    endpoints.py      where a claim's service URL may send our bearer token (https, their hosts)
    platform_keys.py  a platform's JWKS, fetched and cached, refetched once on an unknown kid
    oidc.py           third-party login initiation (`/lti/login`): state and single-use nonce
    launch.py         the id_token check (`/lti/launch`), in the spec's order
    access.py         OAuth2 client credentials with a signed JWT assertion, tokens cached
    sessions.py       what a launch lets its user do, behind a cookie
    page.py           the server-rendered pages shown inside the LMS's iframe
    routes.py         the `/lti/...` routes
    outbox.py, ags.py the AGS score owed for a graded launch submission, and its POST

Every refusal is `LaunchRefused`: an HTTP status and a one-line reason, never a traceback.
"""
