"""Deploy logs: a ``[[file]]`` marked ``kind = "deploy"`` turns each of its lines into a
``deploy`` event whose version, previous version, actor, action and pipeline are read from
the line.

CI systems write deploy logs as logfmt (``actor=ci-bot action=start version=v2.3.4``, the
shape of GitLab's and Argo CD's structured logs), as JSON objects (GitHub Actions'
``--format json``, Spinnaker, Argo CD ``--logformat json``), or as prose ("deployed v2.3.4 by
alice"). The keys differ between tools, so each field is looked up under its common names;
a version not under any key is the first semantic-version-like token or an image tag.
"""

from __future__ import annotations

import json
import re
from typing import Any

import pandas as pd

from incident_timeline.timeline.schema import labels_json

FIELDS: dict[str, tuple[str, ...]] = {
    "version": ("version", "to_version", "new_version", "release", "app_version", "tag", "to"),
    "previous_version": ("from", "from_version", "previous_version", "old_version", "previous"),
    "actor": ("actor", "user", "username", "author", "triggered_by", "triggeredBy", "by"),
    "action": ("action", "event", "stage", "phase", "step", "operation"),
    "status": ("status", "result", "outcome", "conclusion"),
    "pipeline": ("pipeline", "run_id", "run", "build", "job", "workflow", "deployment_id"),
    "image": ("image",),
    "commit": ("commit", "sha", "git_sha", "revision"),
    "target": ("target", "deployment", "app", "application", "service"),
    "environment": ("environment", "env", "cluster"),
    "reason": ("reason", "msg", "message", "comment", "description"),
}
_LOGFMT = re.compile(r'([A-Za-z_][\w.-]*)=("(?:[^"\\]|\\.)*"|\S*)')
_SEMVER = re.compile(r"(?<![\w.])v?\d+\.\d+(?:\.\d+)?(?:[-+][0-9A-Za-z.-]+)?(?![\w.])")
_TAG = re.compile(r":([\w][\w.-]{0,127})$")  # image reference tag (OCI distribution spec)
_ROLLBACK = re.compile(r"(?i)\b(roll(?:ed|ing)?[ -]?back|revert(?:ed|ing)?|undo)\b")


def line_fields(text: str) -> dict[str, str]:
    """The deploy fields of one line (only those found), e.g. ``{"version": "v2.3.4", ...}``."""
    raw = _json_fields(text) or _logfmt_fields(text)
    found: dict[str, str] = {}
    for field, names in FIELDS.items():
        for name in names:
            value = raw.get(name)
            if value not in (None, ""):
                found[field] = str(value)
                break
    if "version" not in found:
        image_tag = _TAG.search(found.get("image", ""))
        match = _SEMVER.search(text)
        if image_tag:
            found["version"] = image_tag.group(1)
        elif match:
            found["version"] = match.group(0)
    action = found.get("action", "")
    if _ROLLBACK.search(action) or (not action and _ROLLBACK.search(text)):
        found["rollback"] = "true"
    return found


def as_deploys(events: pd.DataFrame) -> pd.DataFrame:
    """Turn the ``log`` rows of a deploy log into ``deploy`` events (other rows unchanged)."""
    rows = events["kind"] == "log"
    if not rows.any():
        return events
    out = events.copy()
    fields = [line_fields(str(text)) for text in out.loc[rows, "summary"]]
    old = [json.loads(str(text)) for text in out.loc[rows, "labels"]]
    out.loc[rows, "kind"] = "deploy"
    out.loc[rows, "labels"] = [
        labels_json({**o, **{k: v for k, v in f.items() if k != "reason"}, "deploy_log": "true"})
        for o, f in zip(old, fields, strict=True)
    ]
    out.loc[rows, "actor"] = pd.Series(
        [f.get("actor") for f in fields], index=out.index[rows], dtype="string"
    )
    out.loc[rows, "summary"] = [
        deploy_summary(f, str(s)) for f, s in zip(fields, out.loc[rows, "summary"], strict=True)
    ]
    return out


def deploy_summary(fields: dict[str, str], line: str) -> str:
    """One line for a deploy log line: ``Deploy v2.3.4 (from v2.3.3): start, pipeline ...``."""
    if "version" not in fields and "action" not in fields:
        return line
    what = "Rollback" if fields.get("rollback") else "Deploy"
    text = what + (f" to {fields['version']}" if what == "Rollback" else "")
    if what == "Deploy" and "version" in fields:
        text += f" {fields['version']}"
    if "previous_version" in fields:
        text += f" (from {fields['previous_version']})"
    details = [fields[k] for k in ("action", "status") if k in fields]
    if "pipeline" in fields:
        details.append(f"pipeline {fields['pipeline']}")
    if "target" in fields:
        details.append(fields["target"])
    if "reason" in fields:
        details.append(f'"{fields["reason"]}"')
    return text + (": " + ", ".join(details) if details else "")


def _json_fields(text: str) -> dict[str, Any]:
    start = text.find("{")
    if start < 0:
        return {}
    try:
        value = json.loads(text[start:])
    except ValueError:
        return {}
    return {str(k): v for k, v in value.items()} if isinstance(value, dict) else {}


def _logfmt_fields(text: str) -> dict[str, str]:
    fields: dict[str, str] = {}
    for key, value in _LOGFMT.findall(text):
        if value.startswith('"') and value.endswith('"') and len(value) >= 2:
            value = value[1:-1].replace('\\"', '"')
        fields.setdefault(key, value)
    return fields
