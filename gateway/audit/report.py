"""The compliance report for a period: what was requested, decided, generated, labelled and checked, by whom.

``build_report`` returns plain JSON-able data; ``render_html`` turns it into one self-contained page (inline CSS
and SVG charts, no scripts, nothing fetched).
"""

from __future__ import annotations

import html
from collections import Counter, defaultdict
from datetime import datetime

from .log import AuditLog, as_utc, format_time


def build_report(log: AuditLog, *, since: datetime | None = None, until: datetime | None = None) -> dict:
    by_event: Counter = Counter()
    actions: Counter = Counter()
    categories: Counter = Counter()
    policies: Counter = Counter()
    watermarks: Counter = Counter()
    models: Counter = Counter()
    check_states: Counter = Counter()
    other_labels: Counter = Counter()
    signers: dict[str, dict] = {}
    policy_changes: list[dict] = []
    tenants: dict[str, Counter] = defaultdict(Counter)
    daily: dict[str, Counter] = defaultdict(Counter)
    first = last = None
    for row in log.iter_entries():
        moment = as_utc(row.time)
        if (since and moment < since) or (until and moment >= until):
            continue
        first = first if first is not None else row.index
        last = row.index
        data = row.data
        by_event[row.event] += 1
        tenant = row.tenant or "(system)"
        tenants[tenant]["entries"] += 1
        day = moment.date().isoformat()
        if row.event == "policy.decision":
            action = str(data.get("action"))
            actions[action] += 1
            policies[str(data.get("policy"))] += 1
            categories.update(str(c) for c in data.get("flagged") or [])
            tenants[tenant]["requests"] += 1
            tenants[tenant][f"decision.{action}"] += 1
            daily[day][action] += 1
        elif row.event == "video.generated":
            tenants[tenant]["generated"] += 1
            watermarks[str(data.get("watermark_alg"))] += 1
            labels = data.get("labels") or []  # visible / metadata labels, when the pipeline records them
            other_labels.update(str(label) for label in (labels.keys() if isinstance(labels, dict) else labels))
            models[str(data.get("model"))] += 1
            signer = str(data.get("signer"))
            seen = signers.setdefault(signer, {"fingerprint": signer, "signed": 0, "first_used": format_time(moment)})
            seen["signed"] += 1
            seen["last_used"] = format_time(moment)
        elif row.event in ("policy.activated", "policy.reload_failed"):
            policy_changes.append({"index": row.index, "time": format_time(moment), "event": row.event,
                                   "actor": row.actor, "scope": data.get("scope"), "policy": data.get("policy"),
                                   "digest": data.get("digest"), "reason": data.get("reason"),
                                   "previous": (data.get("previous") or {}).get("policy")})
        elif row.event == "provenance.check":
            tenants[tenant]["checks"] += 1
            check_states[str(data.get("c2pa"))] += 1
            daily[day]["check"] += 1
    generated = by_event["video.generated"]
    checkpoint = log.checkpoint() if log.signer else None
    return {
        "period": {"from": format_time(since) if since else None, "to": format_time(until) if until else None,
                   "first_index": first, "last_index": last},
        "generated_at": format_time(datetime.now().astimezone()),
        "log": {"tree_size": checkpoint.tree_size if checkpoint else log.size(),
                "checkpoint": checkpoint.note if checkpoint else None,
                "public_key": str(log.signer.verifier) if log.signer else None},
        "entries": sum(by_event.values()),
        "events": dict(sorted(by_event.items())),
        "requests": actions.total(),
        "decisions": {"by_action": dict(sorted(actions.items())), "by_category": dict(categories.most_common()),
                      "by_policy": dict(sorted(policies.items()))},
        "generations": {"total": generated, "by_model": dict(sorted(models.items()))},
        "labels_applied": {"c2pa_manifest": generated, "watermark": dict(sorted(watermarks.items())),
                           "other": dict(sorted(other_labels.items()))},
        "checks_served": {"total": by_event["provenance.check"], "by_c2pa_state": dict(sorted(check_states.items()))},
        "signing_keys": list(signers.values()),
        "policy_changes": policy_changes,
        "key_events": sum(n for e, n in by_event.items() if e.startswith("keys.")) + by_event["apikey.created"],
        "tenants": {t: dict(sorted(c.items())) for t, c in sorted(tenants.items())},
        "daily": {d: dict(c) for d, c in sorted(daily.items())},
    }


_COLOURS = {"allow": "#2e7d32", "review": "#f9a825", "block": "#c62828", "check": "#1565c0"}


def _bars(title: str, values: dict[str, int]) -> str:
    """A horizontal bar chart as inline SVG."""
    if not values:
        return f"<h3>{html.escape(title)}</h3><p class=muted>none in this period</p>"
    top = max(values.values()) or 1
    row_h, label_w, bar_w = 22, 180, 360
    parts = [f'<svg role="img" aria-label="{html.escape(title)}" width="{label_w + bar_w + 60}" '
             f'height="{row_h * len(values) + 4}" xmlns="http://www.w3.org/2000/svg">']
    for n, (name, value) in enumerate(values.items()):
        y = n * row_h + 2
        width = max(1, round(bar_w * value / top))
        colour = _COLOURS.get(name, "#546e7a")
        parts.append(f'<text x="{label_w - 6}" y="{y + 15}" text-anchor="end" font-size="12">'
                     f'{html.escape(name[:28])}</text>'
                     f'<rect x="{label_w}" y="{y + 3}" width="{width}" height="{row_h - 6}" fill="{colour}"/>'
                     f'<text x="{label_w + width + 4}" y="{y + 15}" font-size="12">{value}</text>')
    parts.append("</svg>")
    return f"<h3>{html.escape(title)}</h3>" + "".join(parts)


def _daily(daily: dict[str, dict[str, int]]) -> str:
    """Stacked columns per day: decisions by action and checks."""
    if not daily:
        return ""
    keys = ["allow", "review", "block", "check"]
    top = max(sum(d.get(k, 0) for k in keys) for d in daily.values()) or 1
    col_w, height = max(6, min(40, 720 // len(daily))), 160
    parts = [f'<svg role="img" aria-label="activity per day" width="{col_w * len(daily) + 10}" height="{height + 24}"'
             f' xmlns="http://www.w3.org/2000/svg">']
    for n, (day, counts) in enumerate(daily.items()):
        y = height
        for key in keys:
            h = round(height * counts.get(key, 0) / top)
            if h:
                y -= h
                parts.append(f'<rect x="{n * col_w + 1}" y="{y}" width="{col_w - 2}" height="{h}" '
                             f'fill="{_COLOURS[key]}"><title>{day} {key}: {counts[key]}</title></rect>')
    parts.append(f'<text x="0" y="{height + 18}" font-size="11">{next(iter(daily))}</text>')
    parts.append(f'<text x="{col_w * len(daily)}" y="{height + 18}" font-size="11" text-anchor="end">'
                 f'{list(daily)[-1]}</text></svg>')
    legend = " ".join(f'<span style="color:{_COLOURS[k]}">■ {k}</span>' for k in keys)
    return "<h3>Activity per day</h3>" + "".join(parts) + f"<p>{legend}</p>"


def _table(headers: list[str], rows: list[list]) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in row) + "</tr>" for row in rows)
    return f"<table><tr>{head}</tr>{body}</table>"


def render_html(report: dict) -> str:
    period = report["period"]
    span = f"{period['from'] or 'the first entry'} to {period['to'] or 'now'}"
    tenant_cols = ["requests", "decision.allow", "decision.review", "decision.block", "generated", "checks",
                   "entries"]
    tenant_rows = [[t] + [c.get(k, 0) for k in tenant_cols] for t, c in report["tenants"].items()]
    key_rows = [[k["fingerprint"], k["signed"], k["first_used"], k.get("last_used", "")]
                for k in report["signing_keys"]]
    policy_rows = [[c["index"], c["time"], c["event"], c["scope"], c["policy"] or "", c["previous"] or "",
                    c["actor"], c["reason"] or ""] for c in report["policy_changes"]]
    sections = [
        f"<h1>Hallmark compliance report</h1><p>Period: {html.escape(span)} · generated "
        f"{html.escape(report['generated_at'])} · {report['entries']} audit entries</p>",
        "<h2>Summary</h2>" + _table(["requests", "generated", "C2PA manifests", "checks served"],
                                    [[report["requests"], report["generations"]["total"],
                                      report["labels_applied"]["c2pa_manifest"], report["checks_served"]["total"]]]),
        _daily(report["daily"]),
        "<h2>Decisions</h2>" + _bars("by action", report["decisions"]["by_action"])
        + _bars("by flagged category", report["decisions"]["by_category"])
        + _bars("by policy", report["decisions"]["by_policy"]),
        "<h2>Labels applied</h2>" + _bars("invisible watermark", report["labels_applied"]["watermark"])
        + _bars("other labels", report["labels_applied"]["other"]),
        "<h2>Checks served</h2>" + _bars("by C2PA state", report["checks_served"]["by_c2pa_state"]),
        "<h2>Per tenant</h2>" + _table(["tenant"] + tenant_cols, tenant_rows),
        "<h2>Signing keys in use</h2>" + (_table(["signer", "videos signed", "first used", "last used"], key_rows)
                                          if key_rows else "<p class=muted>none in this period</p>"),
        "<h2>Policy changes</h2>" + (_table(["entry", "time", "event", "scope", "policy", "previous", "by", "why"],
                                             policy_rows)
                                      if policy_rows else "<p class=muted>none in this period</p>"),
        "<h2>Events</h2>" + _bars("entries by event type", report["events"]),
        "<h2>Log state</h2><p>Tree size " + str(report["log"]["tree_size"]) + ". Signed checkpoint:</p><pre>"
        + html.escape(report["log"]["checkpoint"] or "(no checkpoint key)") + "</pre><p>Public key:</p><pre>"
        + html.escape(report["log"]["public_key"] or "") + "</pre>",
    ]
    style = ("body{font-family:system-ui,sans-serif;max-width:960px;margin:2em auto;color:#222}"
             "table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:4px 8px;text-align:left}"
             "pre{background:#f4f4f4;padding:8px;white-space:pre-wrap}.muted{color:#888}")
    return (f'<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Hallmark compliance report</title>'
            f"<style>{style}</style></head><body>{''.join(sections)}</body></html>")
