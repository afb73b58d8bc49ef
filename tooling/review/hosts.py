"""The two Git hosts' REST APIs as the review tools use them (the plan comment, the drift issues): one
client, each host's authentication, and where a pipeline job finds its token, project and API."""

from __future__ import annotations

import json
import os
import urllib.parse
import urllib.request
from typing import Any, Callable, Optional

# The account a workflow's GITHUB_TOKEN writes as; on GitLab, the note token's own user (gitlab_login).
# https://docs.github.com/en/actions/security-for-github-actions/security-guides/automatic-token-authentication
GITHUB_ACTIONS = "github-actions[bot]"
# what a pipeline job of each host has: the token, the project and the API's address
ENVIRONMENT = {
    "github": ("GITHUB_TOKEN", "GITHUB_REPOSITORY", "GITHUB_API_URL", "https://api.github.com"),
    "gitlab": ("GITLAB_NOTE_TOKEN", "CI_PROJECT_ID", "CI_API_V4_URL", "https://gitlab.com/api/v4"),
}

Call = Callable[..., Any]


class Api:
    """JSON over HTTPS with the host's authentication headers (30 s per call)."""

    def __init__(self, api: str, headers: dict[str, str]):
        self.api, self.headers = api.rstrip("/"), headers

    def call(self, method: str, path: str, body: Optional[dict] = None) -> Any:
        request = urllib.request.Request(f"{self.api}{path}", method=method, headers=self.headers,
                                         data=json.dumps(body).encode() if body is not None else None)
        with urllib.request.urlopen(request, timeout=30) as response:
            return json.loads(response.read() or b"null")


def github(token: str, api: str = ENVIRONMENT["github"][3]) -> Api:
    return Api(api, {"Authorization": f"Bearer {token}", "Accept": "application/vnd.github+json",
                     "X-GitHub-Api-Version": "2022-11-28"})


def gitlab(token: str, api: str = ENVIRONMENT["gitlab"][3]) -> Api:
    return Api(api, {"PRIVATE-TOKEN": token, "Content-Type": "application/json"})


def project_path(project: str) -> str:
    """A GitLab project id or ``group/project`` as the API's path wants it."""
    return urllib.parse.quote(project, safe="")


def gitlab_login(call: Call) -> str:
    """The token's own user (a project access token's bot user)."""
    return str(call("GET", "/user").get("username"))


def from_environment(host: str) -> tuple[Optional[str], Optional[str], str]:
    """``(token, project, api)`` of a pipeline job on ``host``; the token's variable is ENVIRONMENT's."""
    token, project, api, default = ENVIRONMENT[host]
    return os.environ.get(token), os.environ.get(project), os.environ.get(api, default)
