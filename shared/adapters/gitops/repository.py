"""A GitOps repository through dulwich (pure Python; no ``git`` binary, which the Flex
Consumption image may not ship): replace a directory, commit, push; retry on a race.

Each instance keeps one bare object cache in ``workdir``; nothing is checked out, so nothing
is ever written to disk outside it. A push is a compare-and-swap of the branch (the remote
must still be at the head the commit was built on): concurrent writers (other models, other
Function instances) make it fail, and the change is then re-made on top of the new remote
head, so no commit is ever lost or overwritten.
"""

from __future__ import annotations

import logging
import posixpath
import threading
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from shared.adapters.telemetry.spans import traced_call
from shared.domain.errors import TerminalError, TransientError

log = logging.getLogger(__name__)

ZERO = b"0" * 40
REGULAR = 0o100644


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
        self._ref = f"refs/heads/{branch}".encode()
        name, email = author
        self._identity = f"{name} <{email}>".encode()
        self._auth_header = auth_header
        self._timeout = timeout
        self._attempts = attempts
        self._lock = threading.Lock()
        self._repo: Any = None
        self._head: bytes | None = None

    # -- the one operation --------------------------------------------------------------------
    @traced_call("git.replace")
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
        root = _clean(directory)
        wanted = {f"{root}/{_clean(name)}": content for name, content in files.items()}
        last = ""
        with self._lock:
            for attempt in range(1, self._attempts + 1):
                head = self._fetch()
                # ``extra`` may be computed from the branch (shared listings): read it against
                # the head just fetched, on every attempt, so a retry after a race includes
                # what the other writer committed; ``read`` answers for that head too.
                self._head = head
                also = {_clean(k): v for k, v in extra.items() if v is not None}
                commit = self._commit(head, root, {**wanted, **also}, message)
                if commit is None:
                    assert head is not None
                    return head.decode()
                try:
                    self._push(head, commit)
                except _PushRejected as exc:
                    last = str(exc)
                    log.info("push to %s raced with another writer (attempt %d)", self.url, attempt)
                    continue
                self._synced(commit)
                return commit.decode()
        raise TransientError(
            f"{self.url}: push still rejected after {self._attempts} attempts: {last[:300]}"
        )

    @traced_call("git.read")
    def read(self, path: str) -> str | None:
        """A file of the branch head as last synced (for tests and diagnostics)."""
        from dulwich.object_store import tree_lookup_path

        if self._head is None:
            return None
        repo = self._local()
        try:
            _, sha = tree_lookup_path(repo.__getitem__, repo[self._head].tree, path.encode())
        except KeyError:
            return None
        data: bytes = repo[sha].data
        return data.decode("utf-8")

    # -- steps --------------------------------------------------------------------------------
    def _local(self) -> Any:
        from dulwich.repo import Repo

        if self._repo is None:
            if (self.workdir / "objects").is_dir():
                self._repo = Repo(str(self.workdir))
            else:
                self.workdir.mkdir(parents=True, exist_ok=True)
                self._repo = Repo.init_bare(str(self.workdir))
        return self._repo

    def _client(self) -> tuple[Any, str]:
        from dulwich.client import HttpGitClient, default_urllib3_manager, get_transport_and_path

        parsed = urlparse(self.url)
        if parsed.scheme in ("http", "https"):
            base = parsed._replace(path="", params="", query="", fragment="").geturl()
            manager: Any = default_urllib3_manager(None, base_url=base, timeout=self._timeout)
            if self._auth_header is not None:  # "Authorization: Bearer ...", fresh per call
                key, _, value = self._auth_header().partition(":")
                # urllib3 drops Authorization on a redirect to another host.
                manager.headers[key.strip()] = value.strip()
            http: Any = HttpGitClient(base, pool_manager=manager, timeout=self._timeout)
            return http, parsed.path
        client, path = get_transport_and_path(self.url)
        return client, path

    def _fetch(self) -> bytes | None:
        """The remote branch head (None for an empty repository), its objects fetched."""
        ref = self._ref

        seen: list[bytes] = []

        def wants(refs: Mapping[bytes, bytes], depth: int | None = None) -> list[bytes]:
            sha = refs.get(ref)
            if sha and sha != ZERO:
                seen.append(sha)  # the head whose objects are fetched (the ref may move on)
                # a head this cache already holds (this instance wrote it): nothing to fetch
                return [] if sha in self._local().object_store else [sha]
            return []

        def fetch() -> bytes | None:
            client, path = self._client()
            client.fetch(path, self._local(), determine_wants=wants)
            return seen[-1] if seen else None

        head: bytes | None = self._remote(fetch, "fetch")
        self._synced(head)
        return head

    def _synced(self, head: bytes | None) -> None:
        """Remember ``head`` as the branch in the local cache too: its ref is what the next
        fetch tells the remote it has, so the remote sends only newer objects (without it,
        every fetch downloaded the whole history again, a pack per deployment)."""
        self._head = head
        if head is not None:
            self._local().refs[self._ref] = head

    def _commit(
        self, head: bytes | None, root: str, files: Mapping[str, str], message: str
    ) -> bytes | None:
        """A commit of ``head``'s tree with ``root`` replaced and ``files`` written; None
        when that is the tree ``head`` already has."""
        from dulwich.index import commit_tree
        from dulwich.object_store import iter_tree_contents
        from dulwich.objects import Blob, Commit

        repo = self._local()
        store = repo.object_store
        base_tree = repo[head].tree if head is not None else None
        entries: dict[bytes, tuple[Any, int]] = {}
        if base_tree is not None:
            for entry in iter_tree_contents(store, base_tree):
                entries[entry.path] = (entry.sha, entry.mode)
        prefix = root.encode() + b"/"
        entries = {p: e for p, e in entries.items() if not p.startswith(prefix)}
        for name, content in files.items():
            blob = Blob.from_string(content.encode("utf-8"))
            store.add_object(blob)
            entries[name.encode()] = (blob.id, REGULAR)
        tree = commit_tree(store, [(p, sha, mode) for p, (sha, mode) in entries.items()])
        if tree == base_tree:
            return None
        commit = Commit()
        commit.tree = tree
        parents: list[Any] = [head] if head is not None else []
        commit.parents = parents
        commit.author = commit.committer = self._identity
        commit.author_time = commit.commit_time = int(time.time())
        commit.author_timezone = commit.commit_timezone = 0
        commit.encoding = b"UTF-8"
        commit.message = (message if message.endswith("\n") else message + "\n").encode("utf-8")
        store.add_object(commit)
        sha: bytes = commit.id
        return sha

    def _push(self, head: bytes | None, commit: bytes) -> None:
        ref = self._ref
        expected = head or ZERO

        def update(refs: Mapping[bytes, bytes]) -> dict[bytes, bytes]:
            if refs.get(ref, ZERO) != expected:  # someone pushed since our fetch
                raise _PushRejected(f"{ref.decode()} moved to {refs.get(ref, ZERO).decode()}")
            return {ref: commit}

        def push() -> None:
            from dulwich.file import FileLocked

            client, path = self._client()
            repo = self._local()
            try:
                result = client.send_pack(path, update, generate_pack_data=repo.generate_pack_data)
            except FileLocked as exc:  # a local remote: another writer holds the ref's lock
                raise _PushRejected(f"{ref.decode()} is locked by another writer") from exc
            status = (result.ref_status or {}).get(ref)
            if status is not None:  # the server refused the swap: the branch moved
                raise _PushRejected(str(status))

        self._remote(push, "push")

    def _remote(self, action: Callable[[], Any], what: str) -> Any:
        from dulwich.client import HTTPProxyUnauthorized, HTTPUnauthorized
        from dulwich.errors import GitProtocolError, HangupException, NotGitRepository

        try:
            return action()
        except _PushRejected:
            raise
        except (HTTPUnauthorized, HTTPProxyUnauthorized) as exc:
            raise TransientError(f"{self.url}: {what}: the remote refused the token") from exc
        except (NotGitRepository, HangupException, GitProtocolError, OSError) as exc:
            raise TransientError(f"{self.url}: {what} failed: {exc}") from exc
        except Exception as exc:  # urllib3 errors and the like: the remote, not the input
            if type(exc).__module__.split(".")[0] in ("urllib3", "dulwich"):
                raise TransientError(f"{self.url}: {what} failed: {exc}") from exc
            raise


def _clean(relative: str) -> str:
    """A repository path: relative, no ``..``, no ``.git`` (any case), no backslashes."""
    if (
        not relative
        or "\x00" in relative
        or "\\" in relative
        or relative.startswith("/")
        or any(ord(c) < 32 for c in relative)
    ):
        raise TerminalError(f"refusing to write outside the repository: {relative!r}")
    parts = relative.split("/")
    if any(p in ("", ".", "..") or p.lower() == ".git" for p in parts):
        raise TerminalError(f"refusing to write outside the repository: {relative!r}")
    return posixpath.join(*parts)
