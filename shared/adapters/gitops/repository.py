"""A GitOps repository over the git CLI: replace a directory, commit, push; retry on a race.

Each instance keeps one working clone. Concurrent writers (other models, other Function
instances) make a push fail as non-fast-forward; the change is then re-made on top of the
new remote head, so no commit is ever lost or overwritten.
"""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
import threading
from collections.abc import Callable, Mapping
from pathlib import Path

from shared.domain.errors import TerminalError, TransientError

log = logging.getLogger(__name__)

_RACE = ("non-fast-forward", "fetch first", "[rejected]", "cannot lock ref", "failed to update ref")


class _PushRejected(Exception):
    pass


class GitRepository:
    def __init__(
        self,
        url: str,
        branch: str,
        workdir: Path,
        *,
        author: tuple[str, str] = ("Clearance", "clearance@clearance.invalid"),
        auth_header: Callable[[], str] | None = None,
        timeout: float = 60.0,
        attempts: int = 8,
    ) -> None:
        self.url, self.branch, self.workdir = url, branch, workdir
        self._author = author
        self._auth_header = auth_header
        self._timeout = timeout
        self._attempts = attempts
        self._lock = threading.Lock()

    # -- the one operation --------------------------------------------------------------------
    def replace(
        self,
        directory: str,
        files: Mapping[str, str],
        extra: Mapping[str, str | None],
        message: str,
    ) -> str:
        """Make ``directory`` hold exactly ``files`` (and write each non-None ``extra`` path),
        commit with ``message`` and push. Returns the commit SHA now holding the content (the
        current head, when the content was already there)."""
        with self._lock:
            for attempt in range(1, self._attempts + 1):
                self._sync()
                self._write(directory, files, extra)
                if not self._git("status", "--porcelain").strip():
                    return self._head()
                self._git("add", "--all")
                self._git("commit", "--quiet", "--no-verify", "-F", "-", stdin=message)
                try:
                    self._push()
                except _PushRejected:
                    log.info("push to %s raced with another writer (attempt %d)", self.url, attempt)
                    continue
                return self._head()
        raise TransientError(f"{self.url}: push still rejected after {self._attempts} attempts")

    def read(self, path: str) -> str | None:
        """A file of the branch head as last synced (for tests and diagnostics)."""
        target = self.workdir / path
        return target.read_text(encoding="utf-8") if target.exists() else None

    # -- steps --------------------------------------------------------------------------------
    def _sync(self) -> None:
        if not (self.workdir / ".git").exists():
            self.workdir.mkdir(parents=True, exist_ok=True)
            self._git("init", "--quiet")
            self._git("remote", "add", "origin", self.url)
        remote_ref = f"refs/remotes/origin/{self.branch}"
        heads = self._git("ls-remote", "--heads", "origin", f"refs/heads/{self.branch}")
        if heads.strip():
            self._git("fetch", "--quiet", "origin", f"+refs/heads/{self.branch}:{remote_ref}")
            self._git("checkout", "--quiet", "--force", "-B", self.branch, remote_ref)
        else:  # an empty repository: the first commit starts the branch, with no parent
            self._run("update-ref", "-d", f"refs/heads/{self.branch}")
            self._git("symbolic-ref", "HEAD", f"refs/heads/{self.branch}")
            self._git("read-tree", "--empty")
        self._git("clean", "-qfdx")

    def _write(
        self, directory: str, files: Mapping[str, str], extra: Mapping[str, str | None]
    ) -> None:
        root = self.workdir.resolve()
        target = self._inside(root, directory)
        if target.exists():
            shutil.rmtree(target)
        for name, content in files.items():
            path = self._inside(root, f"{directory}/{name}")
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(content, encoding="utf-8")
        for name, maybe in extra.items():
            if maybe is not None:
                path = self._inside(root, name)
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_text(maybe, encoding="utf-8")

    @staticmethod
    def _inside(root: Path, relative: str) -> Path:
        path = (root / relative).resolve()
        if path == root or root not in path.parents or ".git" in path.relative_to(root).parts:
            raise TerminalError(f"refusing to write outside the repository: {relative!r}")
        return path

    def _push(self) -> None:
        result = self._run("push", "--porcelain", "origin", f"HEAD:refs/heads/{self.branch}")
        if result.returncode == 0:
            return
        output = f"{result.stdout}\n{result.stderr}"
        if any(marker in output for marker in _RACE):
            raise _PushRejected(output)
        raise TransientError(f"{self.url}: push failed: {result.stderr.strip()[:500]}")

    def _head(self) -> str:
        return self._git("rev-parse", "HEAD").strip()

    # -- running git --------------------------------------------------------------------------
    def _env(self) -> dict[str, str]:
        name, email = self._author
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": str(self.workdir),
            "GIT_TERMINAL_PROMPT": "0",
            "GIT_CONFIG_NOSYSTEM": "1",
            "GIT_AUTHOR_NAME": name,
            "GIT_AUTHOR_EMAIL": email,
            "GIT_COMMITTER_NAME": name,
            "GIT_COMMITTER_EMAIL": email,
            "LC_ALL": "C",
        }
        config = {"commit.gpgsign": "false", "init.defaultBranch": self.branch}
        if self._auth_header is not None:  # never on the command line, where ps shows it
            config["http.extraHeader"] = self._auth_header()
        env["GIT_CONFIG_COUNT"] = str(len(config))
        for i, (key, value) in enumerate(config.items()):
            env[f"GIT_CONFIG_KEY_{i}"] = key
            env[f"GIT_CONFIG_VALUE_{i}"] = value
        return env

    def _run(self, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
        try:
            return subprocess.run(
                ["git", *args],
                cwd=self.workdir,
                env=self._env(),
                input=stdin,
                capture_output=True,
                text=True,
                timeout=self._timeout,
                check=False,
            )
        except subprocess.TimeoutExpired as exc:
            raise TransientError(f"{self.url}: git {args[0]} timed out") from exc

    def _git(self, *args: str, stdin: str | None = None) -> str:
        result = self._run(*args, stdin=stdin)
        if result.returncode != 0:
            raise TransientError(f"{self.url}: git {args[0]} failed: {result.stderr.strip()[:500]}")
        return result.stdout
