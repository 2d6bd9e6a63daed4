"""The public detection tool (issue #22): keyless checks by file or URL with system provenance data only, the SSRF
rules of URL fetching, feedback, the operator's switch, and the /verify page in a real headless browser."""

from __future__ import annotations

import base64
import http.server
import io
import ipaddress
import json
import os
import shutil
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import httpx
import pytest
from PIL import Image

from gateway.core.errors import GatewayError
from gateway.core.settings import Settings
from gateway.media.fetch import UrlFetcher

PRIVATE_KEYS = {"tenant", "prompt", "prompt_sha256", "seed", "decision_id"}


def _keys(value) -> set[str]:
    """Every key of every object anywhere in a JSON value."""
    if isinstance(value, dict):
        return set(value) | {k for v in value.values() for k in _keys(v)}
    if isinstance(value, list):
        return {k for v in value for k in _keys(v)}
    return set()


def _png() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (64, 48), (30, 120, 200)).save(out, "PNG")
    return out.getvalue()


@contextmanager
def file_server(routes: dict[str, tuple[int, dict[str, str], bytes]]) -> Iterator[int]:
    """A loopback HTTP server answering ``path -> (status, headers, body)``; yields its port."""

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            status, headers, body = routes.get(self.path, (404, {}, b""))
            self.send_response(status)
            for name, value in headers.items():
                self.send_header(name, value.replace("{port}", str(self.server.server_address[1])))
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *_args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()


def _public_check(base_url: str, *, data: bytes | None = None, url: str | None = None) -> httpx.Response:
    if url is not None:
        return httpx.post(f"{base_url}/v1/public/provenance_checks", json={"url": url}, timeout=120)
    return httpx.post(f"{base_url}/v1/public/provenance_checks", files={"file": ("upload", data)}, timeout=120)


@pytest.fixture(scope="module")
def fetching_gateway(gateway, start_gateway):
    """The session gateway's data (so it knows the generated video) served a second time, with loopback
    allow-listed for URL checks: only these tests may fetch from 127.0.0.1."""
    settings = gateway.settings.model_copy(update={"public_fetch_allow": "127.0.0.1/32"})
    with start_gateway(settings) as base_url:
        yield base_url


# -- API ----------------------------------------------------------------------------------------------------------

def test_keyless_check_of_a_generated_video_shows_system_provenance_only(gateway, completed_video):
    from gateway.provenance import strip_manifest

    video, mp4 = completed_video
    response = _public_check(gateway.base_url, data=mp4)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["object"] == "public_provenance_check" and body["id"].startswith("cpc_")
    assert body["generated_by_this_gateway"] is True
    assert body["verdict"]["origin"] == "this_gateway"
    assert body["verdict"]["content_id"] == video["content_id"]
    results = {r["type"]: r for r in body["results"]}
    assert results["c2pa"]["validation_state"] == "trusted" and results["c2pa"]["issuer"]
    assert results["c2pa"]["actions"] and results["watermark"]["outcome"] == "detected"
    assert not _keys(body) & PRIVATE_KEYS, _keys(body) & PRIVATE_KEYS
    assert "video_id" not in _keys(body) and video["id"] not in response.text
    assert body["timeline"] and all(segment["ours"] for segment in body["timeline"]), body["timeline"]
    assert {segment["content_id"] for segment in body["timeline"]} == {video["content_id"]}
    assert video["prompt"] not in response.text

    # Stripped of its manifest: the registry's copy is validated, but only its signer, actions and state are shown
    # (the keyed answer carries the whole manifest, generation assertion and all).
    stripped = _public_check(gateway.base_url, data=strip_manifest(mp4)).json()
    registry = {r["type"]: r for r in stripped["results"]}["registry"]
    assert set(registry["recovered_manifest"]) <= {"validation_state", "trust", "issuer", "actions"}
    assert registry["recovered_manifest"]["validation_state"] in ("trusted", "valid")
    assert not _keys(stripped) & PRIVATE_KEYS
    with gateway.client() as http_:
        keyed = http_.post("/v1/content_provenance_checks", files={"file": ("v.mp4", strip_manifest(mp4))}).json()
    assert "prompt_sha256" in _keys(keyed)  # the keyed answer does carry it: the public one is really filtered


def test_unrelated_image_is_not_recognised_and_the_check_is_audited_as_public(gateway):
    response = _public_check(gateway.base_url, data=_png())
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["generated_by_this_gateway"] is False and body["verdict"]["origin"] == "not_recognised"
    with gateway.client(gateway.key_admin) as http_:
        entries = http_.get("/v1/audit/entries", params={"type": "provenance.check", "order": "desc",
                                                         "limit": 20}).json()["data"]
    entry = next(e for e in entries if e["data"]["check_id"] == body["id"])
    assert entry["actor"] == "public" and entry["tenant"] is None
    assert not (gateway.data_dir / "checks").exists()  # nothing kept


def test_public_rate_limit_answers_429_with_retry_after(start_gateway, tmp_path):
    settings = Settings(data_dir=tmp_path / "data", api_keys="hm-rl-key:tenant-r", public_rate_limit="2/minute")
    with start_gateway(settings) as base_url:
        codes = [httpx.post(f"{base_url}/v1/public/provenance_checks", json={"url": "ftp://x/y"}).status_code
                 for _ in range(2)]
        assert codes == [400, 400]
        refused = httpx.post(f"{base_url}/v1/public/provenance_checks", files={"file": ("a.png", _png())})
        assert refused.status_code == 429
        assert int(refused.headers["retry-after"]) >= 1
        assert refused.json()["error"]["code"] == "rate_limit_exceeded"
        assert httpx.post(f"{base_url}/v1/public/feedback", json={}).status_code == 429


def test_public_surface_can_be_switched_off(start_gateway, tmp_path):
    settings = Settings(data_dir=tmp_path / "data", api_keys="hm-off-key:tenant-o:admin", public_checks=False)
    with start_gateway(settings) as base_url:
        assert httpx.get(f"{base_url}/verify").status_code == 404
        assert httpx.get(f"{base_url}/verify/assets/verify.js").status_code == 404
        assert _public_check(base_url, data=_png()).status_code == 404
        assert httpx.post(f"{base_url}/v1/public/feedback", json={"check_id": "cpc_" + "0" * 24,
                                                                  "verdict_was_wrong": True}).status_code == 404
        # The keyed check and the operator's feedback listing stay.
        headers = {"Authorization": "Bearer hm-off-key"}
        assert httpx.get(f"{base_url}/v1/feedback", headers=headers).status_code == 200


def test_public_result_is_an_allow_list_and_passes_a_timeline_on():
    """Fields are copied by name: a field the keyed answer gains later (here ``secret``) stays out until named."""
    from types import SimpleNamespace

    from gateway.verification.public import public_result

    assessment = SimpleNamespace(to_dict=lambda: {"origin": "this_gateway", "content_id": "ab", "video_id": "video_1",
                                                  "confidence": 0.9, "altered": False, "evidence": {},
                                                  "conflicts": {}, "secret": 1})
    results = [{"type": "c2pa", "outcome": "detected", "validation_state": "trusted", "issuer": "Org",
                "actions": [{"action": "c2pa.created", "prompt": "x"}], "secret": 1},
               {"type": "registry", "outcome": "matched", "content_id": "ab", "video_id": "video_1", "tenant": "t",
                "manifest_id": "urn:x", "recovered_manifest": {"validation_state": "valid", "issuer": "Org",
                                                               "actions": [], "manifest": {"seed": 1},
                                                               "manifest_url": "/manifests/urn:x"}},
               {"type": "something_new", "tenant": "t"}]
    verdict = SimpleNamespace(check_id="cpc_1", generated_here=True, assessment=assessment,
                              results=lambda: results,
                              timeline=[{"start": 0, "end": 1, "frames": [0, 5], "tenant": "t", "decision_id": "d",
                                         "watermark": {"detected": True, "content_id": "ab", "confidence": 1.0,
                                                       "seed": 3},
                                         "registry": {"content_id": "ab", "video_id": "video_1", "frames": [5]}},
                                        {"start": 1, "end": 2, "frames": [9], "registry": None,
                                         "watermark": {"detected": False, "content_id": None, "confidence": 0.0}}])
    body = public_result(verdict, created_at=1)
    assert not _keys(body) & (PRIVATE_KEYS | {"secret", "video_id", "manifest_id", "manifest", "manifest_url"})
    assert [r["type"] for r in body["results"]] == ["c2pa", "registry"]
    assert body["results"][0]["actions"] == [{"action": "c2pa.created"}]
    assert body["results"][1]["recovered_manifest"] == {"validation_state": "valid", "issuer": "Org", "actions": []}
    assert body["timeline"] == [
        {"start": 0, "end": 1, "frames": [0, 5], "ours": True, "content_id": "ab",
         "watermark": {"detected": True, "content_id": "ab", "confidence": 1.0},
         "registry": {"content_id": "ab", "frames": [5]}},
        {"start": 1, "end": 2, "frames": [9], "ours": False, "content_id": None, "registry": None,
         "watermark": {"detected": False, "content_id": None, "confidence": 0.0}}]
    del verdict.timeline
    assert public_result(verdict, created_at=1)["timeline"] == []


# -- URL checks and SSRF -----------------------------------------------------------------------------------------

def _refusal(response: httpx.Response) -> str:
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert error["param"] == "url"
    return error["message"]


def test_loopback_is_refused_without_an_allow_list(gateway, completed_video):
    with file_server({"/v.mp4": (200, {"Content-Type": "video/mp4"}, completed_video[1])}) as port:
        assert "internal address" in _refusal(_public_check(gateway.base_url, url=f"http://127.0.0.1:{port}/v.mp4"))
        # A name resolving to loopback is refused just the same.
        assert "internal address" in _refusal(_public_check(gateway.base_url, url=f"http://localhost:{port}/v.mp4"))


@pytest.mark.parametrize("url", ["http://169.254.169.254/latest/meta-data/", "http://[fd00:ec2::254]/",
                                 "http://10.1.2.3/a.mp4", "http://[::ffff:127.0.0.1]/", "http://0.0.0.0/",
                                 "http://2130706433/", "http://0x7f.1/", "http://100.100.100.200/"])
def test_metadata_and_private_addresses_are_refused(gateway, url):
    assert "internal address" in _refusal(_public_check(gateway.base_url, url=url))


@pytest.mark.parametrize("url", ["file:///etc/passwd", "gopher://127.0.0.1/", "http://user:pw@example.com/x",
                                 "not a url"])
def test_other_schemes_and_credentials_are_refused(gateway, url):
    _refusal(_public_check(gateway.base_url, url=url))


def test_a_url_on_an_allow_listed_server_is_fetched_and_checked(fetching_gateway, completed_video):
    video, mp4 = completed_video
    # The Content-Type lies and the name says .txt: what the file is comes from its bytes.
    with file_server({"/clip.txt": (200, {"Content-Type": "text/plain"}, mp4),
                      "/hop": (302, {"Location": "/clip.txt"}, b"")}) as port:
        body = _public_check(fetching_gateway, url=f"http://127.0.0.1:{port}/hop").json()
    assert body["generated_by_this_gateway"] is True, body
    assert body["verdict"]["content_id"] == video["content_id"]
    assert not _keys(body) & PRIVATE_KEYS


def test_redirects_are_checked_at_every_hop(fetching_gateway, completed_video):
    routes = {"/to-private": (302, {"Location": "http://10.0.0.7/v.mp4"}, b""),
              "/to-metadata": (307, {"Location": "http://169.254.169.254/latest/"}, b""),
              "/to-localhost": (301, {"Location": "http://localhost:{port}/v.mp4"}, b""),
              "/loop": (302, {"Location": "/loop"}, b""),
              "/page": (200, {"Content-Type": "video/mp4"}, b"<html>not a video</html>")}
    with file_server(routes) as port:
        base = f"http://127.0.0.1:{port}"
        assert "10.0.0.7" in _refusal(_public_check(fetching_gateway, url=f"{base}/to-private"))
        assert "169.254.169.254" in _refusal(_public_check(fetching_gateway, url=f"{base}/to-metadata"))
        # localhost is also ::1, which the allow-list (127.0.0.1/32) does not hold: the whole name is refused.
        if len({info[4][0] for info in socket.getaddrinfo("localhost", port)}) > 1:
            assert "internal address" in _refusal(_public_check(fetching_gateway, url=f"{base}/to-localhost"))
        assert "redirects" in _refusal(_public_check(fetching_gateway, url=f"{base}/loop"))
        not_media = _public_check(fetching_gateway, url=f"{base}/page")
        assert not_media.status_code == 400 and not_media.json()["error"]["param"] == "url"


def test_the_connection_goes_to_the_address_checked_never_a_second_lookup():
    """A name is resolved once: the connection is made to that address, the name travels only in the Host header
    (here the name does not exist in DNS at all, so any second lookup would fail)."""
    routes = {"/x.png": (200, {"Content-Type": "image/png"}, _png())}
    lookups = []
    with file_server(routes) as port:
        def resolver(host, _port):
            lookups.append(host)
            return ["127.0.0.1"]

        fetcher = UrlFetcher(max_bytes=1 << 20, allow=[ipaddress.ip_network("127.0.0.1/32")], resolver=resolver)
        assert fetcher.fetch(f"http://rebinding.invalid:{port}/x.png") == _png()
        assert lookups == ["rebinding.invalid"]
        with pytest.raises(GatewayError) as refused:
            UrlFetcher(max_bytes=10, allow=[ipaddress.ip_network("127.0.0.1/32")],
                       resolver=resolver).fetch(f"http://rebinding.invalid:{port}/x.png")
        assert refused.value.status == 413 and refused.value.param == "url"


def test_a_name_with_any_internal_address_is_refused():
    fetcher = UrlFetcher(max_bytes=1 << 20, resolver=lambda host, port: ["93.184.215.14", "10.0.0.1"])
    with pytest.raises(GatewayError) as refused:
        fetcher.fetch("https://mixed.example/x.mp4")
    assert refused.value.param == "url" and "10.0.0.1" in refused.value.message


# -- feedback -----------------------------------------------------------------------------------------------------

def test_feedback_round_trip_admin_listing_and_audit(gateway):
    check_id = _public_check(gateway.base_url, data=_png()).json()["id"]
    sent = httpx.post(f"{gateway.base_url}/v1/public/feedback",
                      json={"check_id": check_id, "verdict_was_wrong": True, "comment": "It is mine, made by hand."})
    assert sent.status_code == 200, sent.text
    assert sent.json()["check_id"] == check_id and sent.json()["verdict_was_wrong"] is True

    too_long = httpx.post(f"{gateway.base_url}/v1/public/feedback",
                          json={"check_id": check_id, "verdict_was_wrong": False, "comment": "x" * 2001})
    assert too_long.status_code == 400 and too_long.json()["error"]["param"] == "comment"
    bad_id = httpx.post(f"{gateway.base_url}/v1/public/feedback",
                        json={"check_id": "../../etc", "verdict_was_wrong": False})
    assert bad_id.status_code == 400 and bad_id.json()["error"]["param"] == "check_id"

    with gateway.client() as user:
        assert user.get("/v1/feedback").status_code == 403
    with gateway.client(gateway.key_admin) as admin:
        listed = admin.get("/v1/feedback").json()["data"]
        mine = [f for f in listed if f["check_id"] == check_id]
        assert mine and mine[-1]["comment"] == "It is mine, made by hand."
        entries = admin.get("/v1/audit/entries", params={"type": "feedback.received", "order": "desc"}).json()["data"]
    entry = next(e for e in entries if e["object_id"] == check_id)
    assert entry["actor"] == "public" and entry["tenant"] is None
    assert "made by hand" not in json.dumps(entry)  # the comment stays in its table


# -- the page -----------------------------------------------------------------------------------------------------

def test_page_and_assets_are_served_under_a_strict_csp(gateway):
    page = httpx.get(f"{gateway.base_url}/verify")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    csp = page.headers["content-security-policy"]
    assert "default-src 'none'" in csp and "script-src 'self';" in csp and "unsafe" not in csp
    assert "connect-src 'self'" in csp and "frame-ancestors 'none'" in csp
    assert "set-cookie" not in page.headers
    assert "<script>" not in page.text and "style=" not in page.text and "//" not in page.text.split("<body")[0]
    for name, media_type in (("verify.js", "text/javascript"), ("verify.css", "text/css")):
        asset = httpx.get(f"{gateway.base_url}/verify/assets/{name}")
        assert asset.status_code == 200 and asset.headers["content-type"].startswith(media_type)
    assert httpx.get(f"{gateway.base_url}/verify/assets/verify.html").status_code == 404
    assert "Nothing is kept" in page.text


class DevTools:
    """Just enough of the Chrome DevTools Protocol: commands, and the events seen while waiting for answers."""

    def __init__(self, ws_url: str) -> None:
        import websocket

        self._ws = websocket.create_connection(ws_url, timeout=60, suppress_origin=True)
        self._next = 0
        self.events: list[dict] = []

    def send(self, method: str, **params):
        self._next += 1
        self._ws.send(json.dumps({"id": self._next, "method": method, "params": params}))
        while True:
            message = json.loads(self._ws.recv())
            if message.get("id") == self._next:
                if "error" in message:
                    raise AssertionError(f"{method}: {message['error']}")
                return message.get("result", {})
            self.events.append(message)

    def eval(self, expression: str):
        result = self.send("Runtime.evaluate", expression=expression, returnByValue=True, awaitPromise=True)
        return result.get("result", {}).get("value")

    def wait_for(self, expression: str, timeout: float = 90):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            value = self.eval(expression)
            if value:
                return value
            time.sleep(0.2)
        raise AssertionError(f"timed out waiting for {expression}")

    def close(self) -> None:
        self._ws.close()


@pytest.fixture
def browser(tmp_path) -> Iterator[DevTools]:
    pytest.importorskip("websocket")
    binary = shutil.which("chromium-headless-shell") or shutil.which("chromium")
    if binary is None:
        pytest.skip("no headless Chromium installed (apt-get install chromium-headless-shell)")
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    process = subprocess.Popen([binary, "--headless", "--no-sandbox", "--disable-gpu", f"--remote-debugging-port={port}",
                                f"--user-data-dir={tmp_path / 'profile'}", "--window-size=1100,1400", "about:blank"],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                targets = httpx.get(f"http://127.0.0.1:{port}/json/list", timeout=2).json()
                page = next(t for t in targets if t["type"] == "page")
                break
            except (httpx.HTTPError, StopIteration):
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)
        tools = DevTools(page["webSocketDebuggerUrl"])
        tools.send("Page.enable")
        tools.send("Log.enable")
        tools.send("Runtime.enable")
        # Collected before any of the page's own code runs (DevTools scripts are not subject to the page's CSP).
        tools.send("Page.addScriptToEvaluateOnNewDocument", source=(
            "window.__csp = []; document.addEventListener('securitypolicyviolation', "
            "e => window.__csp.push(e.violatedDirective + ' ' + e.blockedURI));"))
        yield tools
        tools.close()
    finally:
        # Its own process group: Chromium's zygote and renderer children go with it, not just the browser process.
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(10)


def _switch_language(tools: DevTools, lang: str) -> None:
    tools.eval(f"(() => {{ const s = document.getElementById('lang'); s.value = '{lang}'; "
               "s.dispatchEvent(new Event('change')); })()")
    assert tools.eval("document.getElementById('lang').value") == lang


def _upload_and_read(tools: DevTools, path) -> str:
    document = tools.send("DOM.getDocument")
    node = tools.send("DOM.querySelector", nodeId=document["root"]["nodeId"], selector="#file")["nodeId"]
    tools.send("DOM.setFileInputFiles", files=[str(path)], nodeId=node)
    tools.eval("document.getElementById('result').hidden = true; document.getElementById('submit').click()")
    return tools.wait_for("!document.getElementById('result').hidden && "
                          "document.getElementById('headline').textContent")


def test_page_in_a_browser_checks_uploads_in_both_languages(gateway, completed_video, browser, tmp_path):
    tools = browser
    tools.send("Page.navigate", url=f"{gateway.base_url}/verify?lang=en")
    tools.wait_for("document.readyState === 'complete' && document.getElementById('lang').value === 'en'")
    assert tools.eval("document.querySelector('h1').textContent") == "Was this made by our AI video model?"
    # Every control has a label; the controls come in reading order (no positive tabindex).
    assert tools.eval("[...document.querySelectorAll('input, select, textarea')].every(e => e.labels.length > 0)")
    assert tools.eval("document.querySelectorAll('[tabindex]:not([tabindex=\"-1\"])').length") == 0
    assert tools.eval("document.cookie") == ""

    _switch_language(tools, "zh")
    assert tools.eval("document.querySelector('h1').textContent") == "这是我们的 AI 视频模型生成的吗？"
    assert tools.eval("document.documentElement.lang") == "zh-Hans"
    assert "不保留任何内容" in tools.eval("document.getElementById('privacy').textContent")
    _switch_language(tools, "en")

    mp4 = tmp_path / "clip.mp4"
    mp4.write_bytes(completed_video[1])
    assert _upload_and_read(tools, mp4) == "Generated by this gateway"
    facts = tools.eval("document.getElementById('facts').textContent")
    assert completed_video[0]["content_id"] in facts and "intact" in facts
    assert "c2pa.created" in tools.eval("document.getElementById('c2pa').textContent")
    assert tools.eval("!document.getElementById('timeline-box').hidden")
    assert tools.eval("[...document.querySelectorAll('#timeline li')].every(li => li.className === 'seg-ours')")
    assert completed_video[0]["content_id"] in tools.eval("document.getElementById('timeline-ids').textContent")
    shot = tools.send("Page.captureScreenshot", format="png", captureBeyondViewport=True)
    (tmp_path / "verify-ours.png").write_bytes(base64.b64decode(shot["data"]))

    png = tmp_path / "photo.png"
    png.write_bytes(_png())
    assert _upload_and_read(tools, png) == "Not recognised"
    _switch_language(tools, "zh")
    assert tools.eval("document.getElementById('headline').textContent") == "未识别"

    # Feedback from the result, through the page.
    tools.eval("document.getElementById('fb-wrong').click(); document.getElementById('comment').value = 'page test';"
               "document.querySelector('#feedback button').click()")
    assert tools.wait_for("document.getElementById('feedback-status').textContent") == "谢谢：您的反馈已记录。"
    shot = tools.send("Page.captureScreenshot", format="png", captureBeyondViewport=True)
    (tmp_path / "verify-not-ours-zh.png").write_bytes(base64.b64decode(shot["data"]))

    # A timeline (when the verification service gives one) is drawn as a row of segments, ours or not.
    tools.eval("render({id: 'cpc_t', generated_by_this_gateway: true, verdict: {origin: 'this_gateway'}, results: [],"
               " timeline: [{start: 0, end: 1, ours: true, content_id: '00000000000000ab'},"
               " {start: 1, end: 2, ours: false, content_id: null}, {start: 2, end: 3, ours: true}]})")
    classes = tools.eval("[...document.querySelectorAll('#timeline li')].map(li => li.className).join(',')")
    assert classes == "seg-ours,seg-theirs,seg-ours"
    assert "00000000000000ab" in tools.eval("document.querySelector('#timeline li').getAttribute('aria-label')")
    shot = tools.send("Page.captureScreenshot", format="png", captureBeyondViewport=True)
    (tmp_path / "verify-timeline.png").write_bytes(base64.b64decode(shot["data"]))

    assert tools.eval("window.__csp") == []
    csp_logs = [e for e in tools.events if e.get("method") == "Log.entryAdded"
                and "Content Security Policy" in e["params"]["entry"].get("text", "")]
    assert csp_logs == []
    print("screenshots:", tmp_path)


def _spliced(mp4: bytes) -> tuple[bytes, int]:
    """Our clip followed by as many seconds of other footage; returns the MP4 and how many seconds are ours."""
    import numpy as np

    from bench.watermark import content
    from gateway.media import decode_media, encode_mp4

    ours = decode_media(mp4)
    other = content.camera_clip(ours.frames.shape[0], *ours.frames.shape[1:3], seed=31, move="pan")
    frames = np.concatenate([ours.frames, other])
    return encode_mp4(frames, ours.fps), round(ours.frames.shape[0] / ours.fps)


def test_page_by_keyboard_alone_shows_which_seconds_of_a_splice_are_ours(fetching_gateway, completed_video, browser,
                                                                         tmp_path):
    tools = browser
    spliced, ours_seconds = _spliced(completed_video[1])
    with file_server({"/splice.mp4": (200, {"Content-Type": "video/mp4"}, spliced)}) as port:
        tools.send("Page.navigate", url=f"{fetching_gateway}/verify?lang=en")
        tools.wait_for("document.readyState === 'complete' && document.getElementById('lang').value === 'en'")
        # Keyboard only: Tab to the URL field, type the address, press Enter.
        for _ in range(12):
            if tools.eval("document.activeElement && document.activeElement.id") == "url":
                break
            tools.send("Input.dispatchKeyEvent", type="keyDown", key="Tab", code="Tab", windowsVirtualKeyCode=9)
            tools.send("Input.dispatchKeyEvent", type="keyUp", key="Tab", code="Tab", windowsVirtualKeyCode=9)
        assert tools.eval("document.activeElement.id") == "url", "the URL field is not reachable with Tab"
        tools.send("Input.insertText", text=f"http://127.0.0.1:{port}/splice.mp4")
        tools.send("Input.dispatchKeyEvent", type="keyDown", key="Enter", code="Enter", windowsVirtualKeyCode=13,
                   text="\r")
        tools.send("Input.dispatchKeyEvent", type="keyUp", key="Enter", code="Enter", windowsVirtualKeyCode=13)
        headline = tools.wait_for("!document.getElementById('result').hidden && "
                                  "document.getElementById('headline').textContent")
    assert headline == "Generated by this gateway"
    assert tools.eval("document.activeElement.id") == "headline"  # focus follows the answer
    classes = tools.eval("[...document.querySelectorAll('#timeline li')].map(li => li.className)")
    assert classes == ["seg-ours"] * ours_seconds + ["seg-theirs"] * ours_seconds, classes
    assert completed_video[0]["content_id"] in tools.eval("document.getElementById('timeline-ids').textContent")
    # Each second shows what was checked there: a thumbnail the browser decoded (a data: image the CSP allows).
    assert tools.wait_for("[...document.querySelectorAll('#timeline li img')].length === "
                          f"{2 * ours_seconds} && [...document.querySelectorAll('#timeline li img')]"
                          ".every(img => img.complete && img.naturalWidth > 0)")
    shot = tools.send("Page.captureScreenshot", format="png", captureBeyondViewport=True)
    (tmp_path / "verify-splice.png").write_bytes(base64.b64decode(shot["data"]))
    assert tools.eval("window.__csp") == []
