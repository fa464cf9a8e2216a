"""Committing a published post-mortem to a git repository (and, optionally, opening a pull request).

Teams review documents where they review code. The bot keeps a working clone next to the post-mortem
directory and runs the real `git` (argv lists, never a shell) with prompts disabled, so a missing
credential fails at once with git's own words instead of hanging. Publishing the same document again
commits nothing; a push that lost a race with another replica is retried once on top of the new tip.
"""

from __future__ import annotations

import asyncio
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from bot.integrations.trackers import GitHub, TrackerError
from bot.postmortem.settings import GitPublishing

GIT_TIMEOUT = 60.0
_CREDENTIALS = re.compile(r"(://)[^/@\s]+@")


class GitPublishError(Exception):
    """git or GitHub refused; the message says which step and why."""


@dataclass(frozen=True)
class Committed:
    branch: str
    commit: str | None
    """None when the document in the repository was already this one."""
    pull_request: str | None = None


def _masked(text: str) -> str:
    return _CREDENTIALS.sub(r"\1***@", text)


class GitPublisher:
    def __init__(self, settings: GitPublishing, workdir: Path, env: Mapping[str, str]) -> None:
        self.settings = settings
        self.workdir = workdir
        self.env = env
        self._lock = asyncio.Lock()

    async def _git(self, *args: str, check: bool = True) -> tuple[int, str]:
        env = {**os.environ, "GIT_TERMINAL_PROMPT": "0", "GIT_ASKPASS": "true", "LC_ALL": "C"}
        process = await asyncio.create_subprocess_exec(
            "git",
            *args,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
            env=env,
        )
        try:
            out, _ = await asyncio.wait_for(process.communicate(), GIT_TIMEOUT)
        except TimeoutError as exc:
            process.kill()
            await process.wait()
            raise GitPublishError(f"git {args[0]} did not finish within {GIT_TIMEOUT:g} s") from exc
        text = out.decode("utf-8", "replace").strip()
        if check and process.returncode != 0:
            raise GitPublishError(f"git {args[0]} failed: {_masked(text)[-500:]}")
        return process.returncode or 0, text

    async def _in_clone(self, *args: str, check: bool = True) -> tuple[int, str]:
        return await self._git("-C", str(self.workdir), *args, check=check)

    async def _prepare(self, branch: str) -> None:
        """A clean checkout of `branch` at the remote's tip (or of the base branch for a new one)."""
        if not (self.workdir / ".git").is_dir():
            self.workdir.parent.mkdir(parents=True, exist_ok=True)
            await self._git("clone", "--quiet", self.settings.repository, str(self.workdir))
        await self._in_clone("fetch", "--quiet", "--prune", "origin")
        for start in (f"origin/{branch}", f"origin/{self.settings.branch}"):
            code, _ = await self._in_clone("rev-parse", "--verify", "--quiet", start, check=False)
            if code == 0:
                await self._in_clone("checkout", "--quiet", "--force", "-B", branch, start)
                await self._in_clone("clean", "--quiet", "-fd")
                return
        # An empty repository: the first post-mortem starts its history.
        await self._in_clone("checkout", "--quiet", "--orphan", branch, check=False)
        await self._in_clone("rm", "-r", "--quiet", "--cached", ".", check=False)

    async def _commit(self, branch: str, name: str, document: str, message: str) -> str | None:
        await self._prepare(branch)
        target = self.workdir / self.settings.path / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(document, encoding="utf-8")
        await self._in_clone("add", "--", str(target.relative_to(self.workdir)))
        code, _ = await self._in_clone("diff", "--cached", "--quiet", check=False)
        if code == 0:
            return None
        author = [
            "-c",
            f"user.name={self.settings.author_name}",
            "-c",
            f"user.email={self.settings.author_email}",
        ]
        await self._in_clone(*author, "commit", "--quiet", "-m", message)
        _, commit = await self._in_clone("rev-parse", "HEAD")
        return commit

    async def publish(self, name: str, document: str, title: str, body: str) -> Committed:
        """Commit `document` as `<path>/<name>` and push it; with `pull_request` set, on a branch of its
        own with a pull request against the base branch."""
        pull = self.settings.pull_request
        branch = f"postmortem/{Path(name).stem}" if pull else self.settings.branch
        async with self._lock:
            for attempt in range(2):
                commit = await self._commit(branch, name, document, title)
                if commit is None:
                    break
                code, said = await self._in_clone(
                    "push", "--quiet", "origin", f"HEAD:refs/heads/{branch}", check=False
                )
                if code == 0:
                    break
                if attempt == 1:
                    raise GitPublishError(f"git push to {branch} failed: {_masked(said)[-500:]}")
        url = await self._pull_request(branch, title, body) if pull else None
        return Committed(branch, commit, url)

    async def _pull_request(self, branch: str, title: str, body: str) -> str:
        pull = self.settings.pull_request
        assert pull is not None
        token = self.env.get(pull.token_env)
        if not token:
            raise GitPublishError(
                f"committed to {branch}, but {pull.token_env} is not set: no pull request opened"
            )
        try:
            return await GitHub(pull.api_url, token).open_pull_request(
                pull.repo, branch, self.settings.branch, title, body
            )
        except TrackerError as exc:
            raise GitPublishError(f"committed to {branch}, but {exc}") from exc
