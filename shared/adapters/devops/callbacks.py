"""The TaskCompleted callback over HTTPS (the URL comes from an allow-listed PlanUrl only)."""

from __future__ import annotations

import json
import logging
import urllib.error
import urllib.request

from shared.domain.approval.devops import CheckRequest, Result
from shared.domain.errors import TerminalError, TransientError

log = logging.getLogger(__name__)


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: object, **kwargs: object) -> None:
        return None  # a redirect could lead the token anywhere: never followed


class HttpPipelineCallbacks:
    def __init__(self, timeout: float = 10.0) -> None:
        self._timeout = timeout
        self._opener = urllib.request.build_opener(_NoRedirect)

    def task_completed(self, check: CheckRequest, result: Result) -> None:
        # The URL is an allow-listed https (or loopback) PlanUrl: parse_check refuses the rest.
        request = urllib.request.Request(  # noqa: S310
            check.callback_url(),
            data=json.dumps(check.callback_body(result)).encode(),
            method="POST",
            headers={"Content-Type": "application/json", "Authorization": check.authorization()},
        )
        try:
            with self._opener.open(request, timeout=self._timeout) as response:
                response.read(4096)
        except urllib.error.HTTPError as exc:
            if exc.code in (408, 429) or exc.code >= 500:
                raise TransientError(f"Azure DevOps callback: HTTP {exc.code}") from exc
            raise TerminalError(f"Azure DevOps refused the callback: HTTP {exc.code}") from exc
        except (urllib.error.URLError, TimeoutError, OSError) as exc:
            raise TransientError(f"Azure DevOps callback failed: {exc}") from exc
