"""Fixtures of the service tests: settings trusting the test EHR, the app's test client."""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from fhir_module.knowledge import Knowledge
from fhir_module.server import Settings, create_app

from ._jwt import SERVICE_URL, token, write_config
from ._postgres import db_target, postgres_cluster  # noqa: F401 - fixtures of the store tests

with warnings.catch_warnings():
    # Starlette asks for httpx2 over httpx for its test client; the test extras pin httpx.
    warnings.filterwarnings("ignore", message=".*httpx2.*")
    from fastapi.testclient import TestClient as _StarletteTestClient

#: where the test clients call from: open mode serves loopback callers only
LOOPBACK_PEER = ("127.0.0.1", 50000)


class TestClient(_StarletteTestClient):
    """Starlette's test client, calling from loopback like a local EHR would.

    When the app trusts clients (a config), each request that brings no Authorization
    header of its own is signed with a fresh JWT of the test EHR (`_jwt`), its `aud`
    the URL called: the tests of the hooks pass through real authentication.
    """

    __test__ = False

    def __init__(self, app: Any, *, sign: bool = True, **kwargs: Any) -> None:
        kwargs.setdefault("client", LOOPBACK_PEER)
        # A loopback name, as a browser or EHR on this machine would send it as Host.
        kwargs.setdefault("base_url", SERVICE_URL)
        super().__init__(app, **kwargs)
        self.sign = sign

    def request(self, method: str, url: Any, **kwargs: Any) -> Any:  # type: ignore[override]
        headers = dict(kwargs.pop("headers", None) or {})
        config = getattr(self.app, "state", None) and self.app.state.config  # type: ignore[attr-defined]
        if (
            self.sign
            and config is not None
            and not any(h.lower() == "authorization" for h in headers)
        ):
            aud = str(self.base_url.join(str(url)).copy_with(query=None))
            headers["Authorization"] = f"Bearer {token(aud)}"
        return super().request(method, url, headers=headers, **kwargs)


def record_thread_hand_offs(
    monkeypatch: pytest.MonkeyPatch,
    module: ModuleType,
    what: Callable[[Any, tuple[Any, ...]], Any] = lambda work, _: getattr(work, "__name__", "work"),
) -> list[Any]:
    """What `module` hands to the thread pool (by default the work's name), as it does so."""
    handed: list[Any] = []
    real = module.run_in_threadpool

    async def recording(work: Any, *args: Any, **kwargs: Any) -> Any:
        handed.append(what(work, args))
        return await real(work, *args, **kwargs)

    monkeypatch.setattr(module, "run_in_threadpool", recording)
    return handed


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(
        db_path=tmp_path / "service.sqlite3",
        fhir_timeout=2.0,
        max_pages=3,
        config_path=write_config(tmp_path),
    )


@pytest.fixture
def open_settings(tmp_path: Path) -> Settings:
    """Settings without trusted clients: the service runs open, for loopback callers."""
    return Settings(db_path=tmp_path / "open.sqlite3", fhir_timeout=2.0, max_pages=3)


@pytest.fixture
def client(settings: Settings, knowledge: Knowledge) -> Iterator[TestClient]:
    with TestClient(create_app(settings, knowledge)) as test_client:
        yield test_client
