"""The admin page in a real Chromium against a real server with bots: log in, open a
match, kick a bot, see it gone and the audit line written; without a token only the
login shows."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from server.app import TickwireServer
from server.gamedef import GameDefinition
from server.net.protocol import MessageType
from server.testing import TestClient
from tests.browser.support import BackgroundServer, in_thread, launch

pytestmark = pytest.mark.browser

ADMIN_SECRET = "browser-admin-secret-0123456789abcdef"
BOTS = 3


class AdminServer(BackgroundServer):
    """A server with an admin token, an audit file and ``BOTS`` bots, in a thread."""

    name = "tickwire-admin"

    def __init__(self, definition: GameDefinition, tmp: Path) -> None:
        self.admin_file = tmp / "admin.key"
        self.admin_file.write_text(ADMIN_SECRET + "\n")
        self.audit_file = tmp / "audit.jsonl"
        super().__init__(
            definition, admin_token_file=str(self.admin_file), audit_file=str(self.audit_file)
        )

    async def beside(self, srv: TickwireServer) -> None:
        await asyncio.gather(*(self._bot(srv.url) for _ in range(BOTS)), return_exceptions=True)

    @staticmethod
    async def _bot(url: str) -> None:
        async with TestClient.connect(url) as bot:
            await bot.expect(MessageType.WELCOME)
            while True:
                await bot.recv(timeout=30)


@pytest.fixture
def admin_server(small_arena: GameDefinition, tmp_path: Path) -> Iterator[AdminServer]:
    with in_thread(AdminServer(small_arena, tmp_path)) as st:
        yield st


def test_admin_page_login_match_view_and_kick(
    chromium: Path,
    admin_server: AdminServer,
    tmp_path: Path,
) -> None:
    from playwright import sync_api

    base = admin_server.started.result().http_url
    errors: list[str] = []
    dialogs: list[str] = []

    def on_dialog(dialog: Any) -> None:
        dialogs.append(dialog.message)
        dialog.accept("cheating" if dialog.type == "prompt" else None)

    with sync_api.sync_playwright() as pw:
        browser = launch(pw, chromium)
        try:
            page = browser.new_page(viewport={"width": 1200, "height": 900})
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            page.on("dialog", on_dialog)
            page.goto(base + "/admin")
            # Without a token only the login shows.
            assert page.locator("#login").is_visible()
            assert not page.locator("#console").is_visible()
            assert not page.locator("#matches").is_visible()
            page.fill("#token", "not-the-secret")
            page.click("#login-button")
            page.wait_for_function(
                "() => document.getElementById('login-error').textContent.includes('refused')"
            )
            assert not page.locator("#console").is_visible()

            page.fill("#token", ADMIN_SECRET)
            page.click("#login-button")
            page.wait_for_selector("#matches tbody tr", timeout=10_000)
            assert not page.locator("#login").is_visible()
            row = page.locator("#matches tbody tr").first
            assert f"{BOTS} / " in row.inner_text()
            row.click()
            page.wait_for_function(
                f"() => document.querySelectorAll('#players tbody tr').length === {BOTS}",
                timeout=10_000,
            )
            page.wait_for_function(
                "() => document.getElementById('tick-stats').textContent.includes('p99')"
            )
            victim = page.locator("#players tbody tr").first.get_attribute("data-sub")
            assert victim is not None
            assert victim.startswith("anon-")
            page.locator("#players tbody tr").first.locator("button.kick").click()
            page.wait_for_function(
                f"() => document.querySelectorAll('#players tbody tr').length === {BOTS - 1}",
                timeout=10_000,
            )
            subs = page.locator("#players tbody tr").evaluate_all(
                "rows => rows.map(r => r.dataset.sub)"
            )
            assert victim not in subs
            page.wait_for_function(
                f"() => document.getElementById('matches').tBodies[0].rows[0]"
                f".textContent.includes('{BOTS - 1} / ')",
                timeout=5_000,
            )
            page.wait_for_function(
                "() => document.getElementById('audit').textContent.includes('kick')",
                timeout=5_000,
            )
            stored = page.evaluate(
                "() => localStorage.length + sessionStorage.length + document.cookie.length"
            )
            assert stored == 0, "the token is kept in memory only"
            page.screenshot(path=str(tmp_path / "admin.png"))
            # A reload forgets the token: only the login shows again.
            page.reload()
            assert page.locator("#login").is_visible()
            assert not page.locator("#console").is_visible()
        finally:
            browser.close()
    assert errors == []
    assert any("Kick" in d for d in dialogs)
    rows = [json.loads(x) for x in admin_server.audit_file.read_text().splitlines()]
    kicks = [r for r in rows if r.get("action") == "kick"]
    assert [(k["actor"], k["target"], k["result"], k["player"], k["reason"]) for k in kicks] == [
        ("admin-token", kicks[0]["target"], "ok", victim, "cheating")
    ]
    assert ADMIN_SECRET not in admin_server.audit_file.read_text()
