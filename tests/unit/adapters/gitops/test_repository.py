"""``GitRepository`` through dulwich, without a git binary: commits with their trailers, the
compare-and-swap push and its retry on a race, paths that try to leave the repository, and
smart HTTP with a bearer token against dulwich's own WSGI server on loopback."""

from __future__ import annotations

import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, make_server

import pytest

from shared.adapters.gitops.repository import GitRepository
from shared.domain.errors import TerminalError, TransientError

MESSAGE = (
    "Deploy fraud-detector 2 (rolling, step 1/1)\n\n"
    "Clearance-Approval: apr-1\nClearance-Digest: sha256:abc\n"
)


@pytest.fixture(autouse=True)
def no_git_binary(monkeypatch: pytest.MonkeyPatch) -> None:
    """The Functions image may not ship git: any subprocess here is a failure."""

    def refuse(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError(f"subprocess {args[0]!r}")

    class Refused(subprocess.Popen):  # type: ignore[type-arg]
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            refuse(*args)

    monkeypatch.setattr(subprocess, "run", refuse)
    monkeypatch.setattr(subprocess, "Popen", Refused)
    monkeypatch.setenv("PATH", "/nonexistent")


@pytest.fixture
def remote(tmp_path: Path) -> Path:
    from dulwich.repo import Repo

    path = tmp_path / "gitops.git"
    path.mkdir()
    Repo.init_bare(str(path))
    return path


def head_commit(remote: Path) -> Any:
    from dulwich.repo import Repo

    repo = Repo(str(remote))
    return repo[repo.refs[b"refs/heads/main"]]


def files_of(remote: Path) -> dict[str, str]:
    from dulwich.object_store import iter_tree_contents
    from dulwich.repo import Repo

    repo = Repo(str(remote))
    tree = repo[repo.refs[b"refs/heads/main"]].tree
    return {
        e.path.decode(): repo[e.sha].data.decode()
        for e in iter_tree_contents(repo.object_store, tree)
    }


def test_a_first_commit_then_a_replacement_keep_the_message_and_trailers(
    remote: Path, tmp_path: Path
) -> None:
    repo = GitRepository(str(remote), "main", tmp_path / "cache")
    first = repo.replace(
        "models/a", {"d.yaml": "a: 1\n", "s.yaml": "s: 1\n"}, {"README.md": "r\n"}, MESSAGE
    )
    assert head_commit(remote).id.decode() == first
    assert head_commit(remote).parents == []
    second = repo.replace("models/a", {"d.yaml": "a: 2\n"}, {"README.md": None}, MESSAGE)
    commit = head_commit(remote)
    assert commit.id.decode() == second and commit.parents == [first.encode()]
    assert commit.message.decode() == MESSAGE
    assert commit.author.decode() == "Clearance <clearance@clearance.invalid>"
    assert files_of(remote) == {"models/a/d.yaml": "a: 2\n", "README.md": "r\n"}
    assert repo.read("models/a/d.yaml") == "a: 2\n"


def test_the_same_content_again_is_no_new_commit(remote: Path, tmp_path: Path) -> None:
    repo = GitRepository(str(remote), "main", tmp_path / "cache")
    sha = repo.replace("m", {"x.yaml": "x\n"}, {}, MESSAGE)
    assert repo.replace("m", {"x.yaml": "x\n"}, {}, MESSAGE) == sha


def test_a_push_race_is_re_made_on_top_of_the_new_head(remote: Path, tmp_path: Path) -> None:
    ours = GitRepository(str(remote), "main", tmp_path / "ours")
    theirs = GitRepository(str(remote), "main", tmp_path / "theirs")
    ours.replace("base", {"b.yaml": "b\n"}, {}, MESSAGE)
    original = ours._push
    raced = []

    def push_after_someone_else(head: Any, commit: Any) -> None:
        if not raced:
            raced.append(theirs.replace("other", {"o.yaml": "o\n"}, {}, "theirs\n"))
        original(head, commit)

    ours._push = push_after_someone_else  # type: ignore[method-assign]
    sha = ours.replace("mine", {"m.yaml": "m\n"}, {}, MESSAGE)
    commit = head_commit(remote)
    assert commit.id.decode() == sha and commit.parents == [raced[0].encode()]
    assert set(files_of(remote)) == {"base/b.yaml", "other/o.yaml", "mine/m.yaml"}


def test_a_push_that_keeps_losing_the_race_is_transient(remote: Path, tmp_path: Path) -> None:
    ours = GitRepository(str(remote), "main", tmp_path / "ours", attempts=3)
    theirs = GitRepository(str(remote), "main", tmp_path / "theirs")
    original, n = ours._push, iter(range(100))

    def always_raced(head: Any, commit: Any) -> None:
        theirs.replace("other", {"o.yaml": f"{next(n)}\n"}, {}, "theirs\n")
        original(head, commit)

    ours._push = always_raced  # type: ignore[method-assign]
    with pytest.raises(TransientError, match="after 3 attempts"):
        ours.replace("mine", {"m.yaml": "m\n"}, {}, MESSAGE)


def cache_packs(cache: Path) -> list[int]:
    """The object count of each pack in a local cache (what its fetches downloaded)."""
    from dulwich.repo import Repo

    return sorted(len(p.index) for p in Repo(str(cache)).object_store.packs)


def test_a_fetch_brings_only_what_the_cache_lacks(remote: Path, tmp_path: Path) -> None:
    ours = GitRepository(str(remote), "main", tmp_path / "ours")
    theirs = GitRepository(str(remote), "main", tmp_path / "theirs")
    for n in range(6):
        ours.replace(f"models/m{n}", {"d.yaml": f"{n}\n"}, {}, MESSAGE)
    assert cache_packs(tmp_path / "ours") == []  # its own commits: nothing fetched back
    theirs.replace("other", {"o.yaml": "o\n"}, {}, "theirs\n")
    # a new cache: the history, once (6 commits x commit, root, models/, models/mN/, blob)
    assert cache_packs(tmp_path / "theirs") == [30]
    ours.replace("models/m6", {"d.yaml": "6\n"}, {}, MESSAGE)
    # their commit, its root tree, the "other" tree and blob; not the history again
    assert cache_packs(tmp_path / "ours") == [4]
    assert set(files_of(remote)) == {f"models/m{n}/d.yaml" for n in range(7)} | {"other/o.yaml"}


def test_a_remote_reset_behind_the_cache_is_built_on_as_the_remote_has_it(
    remote: Path, tmp_path: Path
) -> None:
    from dulwich.repo import Repo

    ours = GitRepository(str(remote), "main", tmp_path / "ours")
    first = ours.replace("a", {"a.yaml": "1\n"}, {}, MESSAGE)
    ours.replace("b", {"b.yaml": "2\n"}, {}, MESSAGE)
    Repo(str(remote)).refs[b"refs/heads/main"] = first.encode()  # force-pushed back
    third = ours.replace("c", {"c.yaml": "3\n"}, {}, MESSAGE)
    assert head_commit(remote).parents == [first.encode()]
    assert set(files_of(remote)) == {"a/a.yaml", "c/c.yaml"} and third


def test_a_cache_whose_branch_ref_was_removed_fetches_again(remote: Path, tmp_path: Path) -> None:
    from dulwich.repo import Repo

    GitRepository(str(remote), "main", tmp_path / "ours").replace("a", {"a.yaml": "1\n"}, {}, "x")
    del Repo(str(tmp_path / "ours")).refs[b"refs/heads/main"]
    again = GitRepository(str(remote), "main", tmp_path / "ours")  # a restarted instance
    again.replace("b", {"b.yaml": "2\n"}, {}, MESSAGE)
    assert set(files_of(remote)) == {"a/a.yaml", "b/b.yaml"}


@pytest.mark.parametrize(
    ("directory", "extra"),
    [
        ("../escape", {}),
        ("ok/../../x", {}),
        ("/abs", {}),
        ("ok", {".git/hooks/post-commit": "x"}),
        ("ok", {".GIT/config": "x"}),  # case-insensitive file systems
        ("ok", {"a\\..\\..\\b": "x"}),
        ("ok", {"a/\x00b": "x"}),
        ("", {}),
    ],
)
def test_paths_that_leave_the_repository_are_refused(
    remote: Path, tmp_path: Path, directory: str, extra: dict[str, str]
) -> None:
    repo = GitRepository(str(remote), "main", tmp_path / "cache")
    with pytest.raises(TerminalError):
        repo.replace(directory, {"x.yaml": "a: 1\n"}, extra, MESSAGE)


def test_a_missing_remote_is_transient(tmp_path: Path) -> None:
    repo = GitRepository(str(tmp_path / "missing.git"), "main", tmp_path / "cache")
    with pytest.raises(TransientError):
        repo.replace("m", {"x.yaml": "x\n"}, {}, MESSAGE)


# -- smart HTTP -------------------------------------------------------------------------------
class _Quiet(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        return None


@pytest.fixture
def http_remote(remote: Path) -> Iterator[tuple[str, list[str]]]:
    from dulwich.repo import Repo
    from dulwich.server import DictBackend
    from dulwich.web import make_wsgi_chain

    seen: list[str] = []
    app = make_wsgi_chain(DictBackend({"/org/gitops.git": Repo(str(remote))}))

    def guarded(environ: dict[str, Any], start_response: Any) -> Any:
        token = environ.get("HTTP_AUTHORIZATION", "")
        seen.append(token)
        if token != "Bearer devops-token":
            start_response("401 Unauthorized", [("WWW-Authenticate", 'Bearer realm="x"')])
            return [b""]
        return app(environ, start_response)

    server = make_server("127.0.0.1", 0, guarded, handler_class=_Quiet)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}/org/gitops.git", seen
    finally:
        server.shutdown()


def test_smart_http_with_a_bearer_token_fetches_and_pushes(
    http_remote: tuple[str, list[str]], remote: Path, tmp_path: Path
) -> None:
    url, seen = http_remote
    tokens = iter(["Authorization: Bearer devops-token"] * 100)
    repo = GitRepository(
        url, "main", tmp_path / "cache", auth_header=lambda: next(tokens), timeout=10
    )
    sha = repo.replace("models/a", {"d.yaml": "a: 1\n"}, {}, MESSAGE)
    assert head_commit(remote).id.decode() == sha
    assert head_commit(remote).message.decode() == MESSAGE
    assert seen and set(seen) == {"Bearer devops-token"}


def test_smart_http_with_a_refused_token_is_transient(
    http_remote: tuple[str, list[str]], tmp_path: Path
) -> None:
    url, _ = http_remote
    repo = GitRepository(
        url,
        "main",
        tmp_path / "cache",
        auth_header=lambda: "Authorization: Bearer stale",
        timeout=10,
    )
    with pytest.raises(TransientError, match="refused the token"):
        repo.replace("models/a", {"d.yaml": "a: 1\n"}, {}, MESSAGE)
