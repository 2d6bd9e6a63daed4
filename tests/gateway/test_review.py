"""The review queue: a prompt the policy sends to review waits for an operator's approval or rejection."""

from __future__ import annotations

import subprocess
import sys
import time

from gateway.audit import AuditLog
from gateway.store.db import Database

PROMPT = "Taylor Swift dancing on stage"  # real_person → review in the default pack


def _submit(http) -> dict:
    response = http.post("/v1/videos", data={"prompt": PROMPT, "seconds": "1", "size": "128x128"})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["status"] == "queued" and body["review"] == "pending"
    return body


def test_review_holds_until_approved_or_rejected(gateway):
    with gateway.client() as user, gateway.client(gateway.key_admin) as admin:
        held, rejected = _submit(user), _submit(user)
        assert user.get("/v1/reviews").status_code == 403
        time.sleep(1.5)
        assert user.get(f"/v1/videos/{held['id']}").json()["status"] == "queued"  # the worker leaves it alone
        pending = [p["id"] for p in admin.get("/v1/reviews").json()["data"]]
        assert held["id"] in pending and rejected["id"] in pending

        approved = admin.post(f"/v1/reviews/{held['id']}/approve")
        assert approved.status_code == 200 and approved.json()["review"] == "approved"
        assert gateway.wait_done(held["id"])["status"] == "completed"

        refused = admin.post(f"/v1/reviews/{rejected['id']}/reject", json={"reason": "no celebrity likeness"})
        assert refused.json()["status"] == "failed"
        failed = user.get(f"/v1/videos/{rejected['id']}").json()
        assert failed["error"]["code"] == "moderation_blocked" and "celebrity" in failed["error"]["message"]
        assert admin.post(f"/v1/reviews/{held['id']}/approve").status_code == 404  # decided once
    db = Database(gateway.settings.resolved_database_url)
    try:
        events = {(e.event, e.object_id) for e in AuditLog(db).entries()}
    finally:
        db.dispose()
    assert ("review.approved", held["id"]) in events and ("review.rejected", rejected["id"]) in events


def test_review_cli(gateway):
    with gateway.client() as user:
        pending = _submit(user)

    def run(*args):
        return subprocess.run([sys.executable, "-m", "gateway", "review", *args, "--data-dir", str(gateway.data_dir)],
                              capture_output=True, text=True, timeout=120)

    assert pending["id"] in run("list").stdout
    result = run("reject", pending["id"], "--reason", "test")
    assert result.returncode == 0, result.stderr
    assert pending["id"] not in run("list").stdout
    assert run("approve", pending["id"]).returncode == 2
