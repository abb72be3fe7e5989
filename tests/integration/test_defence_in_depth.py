"""Defence in depth on a real server: security headers on the console and the
static client, the Origin check by scheme, and an overflowing socket counted as
the 1013 it is closed with."""

from __future__ import annotations

import json

import httpx
import pytest
import websockets

from livechat_ext import LiveChat
from tests.helpers import Client, eventually, make_settings, raw_silent_client, serve


async def test_console_and_static_files_carry_security_headers(tmp_path):
    async with serve(LiveChat(make_settings(tmp_path, console=True))) as srv:
        async with httpx.AsyncClient(base_url=f"{srv.http_url}/live-chat") as http:
            for path in (
                "/console/",
                "/console/app.js",
                "/console/console.css",
                "/static/index.js",
            ):
                r = await http.get(path)
                assert r.status_code == 200, path
                csp = r.headers["content-security-policy"]
                for directive in (
                    "script-src 'self'",
                    "style-src 'self'",
                    "frame-ancestors 'none'",
                ):
                    assert directive in csp, (path, directive)
                assert "unsafe-inline" not in csp and "unsafe-eval" not in csp
                assert r.headers["x-frame-options"] == "DENY"
                assert r.headers["x-content-type-options"] == "nosniff"
                assert r.headers["referrer-policy"] == "no-referrer"
            types = await http.get("/static/index.d.ts")
            assert types.headers["content-type"] == "text/plain; charset=utf-8"  # not video/mp2t
            script = await http.get("/static/index.js")
            assert script.headers["content-type"].startswith("text/javascript")


async def test_the_origin_check_compares_the_scheme(tmp_path):
    async with serve(LiveChat(make_settings(tmp_path))) as srv:
        here = f"127.0.0.1:{srv.port}"
        ok = await websockets.connect(srv.ws_url, origin=f"http://{here}")
        await ok.close()
        with pytest.raises(websockets.InvalidStatus) as info:  # the page was not on https
            await websockets.connect(srv.ws_url, origin=f"https://{here}")
        assert info.value.response.status_code == 403
    listed = make_settings(tmp_path, allowed_origins="https://admin.example")
    async with serve(LiveChat(listed)) as srv:
        ok = await websockets.connect(srv.ws_url, origin="https://admin.example")
        await ok.close()
        with pytest.raises(websockets.InvalidStatus) as info:
            await websockets.connect(srv.ws_url, origin="http://admin.example")
        assert info.value.response.status_code == 403


async def test_a_send_queue_overflow_is_counted_as_1013(tmp_path):
    """The socket is closed with 1013; the metric said 1000."""
    async with serve(LiveChat(make_settings(tmp_path, send_queue_size=4))) as srv:
        lc = srv.live_chat
        auth = json.dumps({"type": "auth", "token": srv.token("stuck")})
        stuck = await raw_silent_client(srv.port, [auth])
        calm = await Client.connect(srv.ws_url, srv.token("calm"))
        await eventually(lambda: lc.team.presence.local_counts().get("stuck") == 1)
        body = "y" * 200_000
        for i in range(150):  # 30 MB: far more than the socket buffers of the silent one
            await lc.notify("bulk", str(i), body)
            await calm.wait_for(
                lambda f, t=str(i): f["type"] == "notification" and f["payload"]["title"] == t
            )
            if "stuck" not in lc.team.presence.local_counts():
                break
        closes = 'livechat_connection_closes_total{code="1013"} 1.0'
        await eventually(lambda: closes in lc.metrics.render().decode(), timeout=10)
        assert 'code="1000"' not in lc.metrics.render().decode()
        await calm.close()
        stuck.transport.abort()
