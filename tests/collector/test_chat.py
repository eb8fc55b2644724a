"""The chat collector on a Slack export (tests/data/slack-export: several days, a thread with an
edited reply, joins, two bots, reactions, markup), as a folder and as a zip, through the CLI."""

from __future__ import annotations

import json
import shutil
import time
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest

from incident_timeline.collector.chat.slack import Names, readable
from tests.doubles.slack import SlackDouble, serving
from tests.support import DATA, cli

EXPORT = DATA / "slack-export"
WINDOW = ["--since", "2026-03-10T08:42:04Z", "--until", "2026-03-10T10:28:31Z"]
PARENT = "1773134040.120400"


def run(tmp_path: Path, export: str, extra: str = "", code: int = 0) -> Path:
    config = tmp_path / "config.toml"
    config.write_text(f'[chat]\nslack_export = "{export}"\n{extra}')
    out = tmp_path / "bundle"
    cli(["collect", "-c", str(config), *WINDOW, "-o", str(out)], code)
    return out


def events(bundle: Path) -> pd.DataFrame:
    frame = pd.read_parquet(bundle / "events" / "chat.parquet")
    frame["labels"] = frame["labels"].map(json.loads)
    return frame.sort_values("time", kind="stable").reset_index(drop=True)


def seen(frame: pd.DataFrame) -> list[tuple[str, str, str, str | None]]:
    """(time of day, actor, summary, noise) per event."""
    return [
        (t.strftime("%H:%M:%S"), actor, summary, labels.get("noise"))
        for t, actor, summary, labels in zip(
            frame["time"], frame["actor"], frame["summary"], frame["labels"], strict=True
        )
    ]


EXPECTED = [
    ("09:12:31", "Alertmanager", "Alertmanager: [FIRING:1] HighErrorRate checkout-api", "bot"),
    (
        "09:12:33",
        "PagerDuty",
        "PagerDuty: #1042 Checkout API 5xx rate above 5 % "
        "(https://acme.pagerduty.com/incidents/Q1ABCDE) triggered, assigned to Jane Doe",
        "bot",
    ),
    ("09:13:10", "Raj Patel", "Raj Patel: @Raj Patel has joined the channel", "join"),
    (
        "09:14:00",
        "Jane Doe",
        "Jane Doe: looking. @Raj Patel can you check #general for the deploy note?",
        None,
    ),
    (
        "09:15:12",
        "Raj Patel",
        "Raj Patel ↳: v2.3.4 went out at 09:05, pool size 5 & timeouts <1s",
        None,
    ),
    (
        "09:18:40",
        "Jane Doe",
        "Jane Doe ↳: rolling back, see https://ci.example.com/deploys/881",
        None,
    ),
    ("09:19:55", "wei.z", "wei.z: @wei.z has joined the channel", "join"),
    (
        "09:20:05",
        "wei.z",
        "wei.z: @here checkout is degraded; status page updated status (https://status.example.com)",
        None,
    ),
    ("09:58:50", "Jane Doe", "Jane Doe: resolved :tada: thanks @payments-oncall", None),
]


@pytest.mark.parametrize("packed", [False, True], ids=["folder", "zip"])
def test_slack_export_channel_as_chat_events(tmp_path: Path, packed: bool) -> None:
    export = EXPORT
    if packed:  # Slack hands the export out as a zip
        export = Path(shutil.make_archive(str(tmp_path / "slack"), "zip", EXPORT))
    bundle = run(tmp_path, str(export), 'channels = ["inc-checkout-1042"]\n')
    frame = events(bundle)
    assert seen(frame) == EXPECTED
    assert set(frame["kind"]) == {"chat"}
    assert set(frame["stream"]) == {"slack/#inc-checkout-1042"}
    assert (
        list(frame["severity"])
        == ["info"] * 2 + ["debug", "info", "info", "info", "debug"] + ["info"] * 2
    )
    thread = frame[frame["labels"].map(lambda lab: lab.get("thread_ts")) == PARENT]
    assert list(thread["time"].dt.strftime("%H:%M:%S")) == ["09:14:00", "09:15:12", "09:18:40"]
    parent, edited = thread.iloc[0]["labels"], thread.iloc[1]["labels"]
    assert (parent["reply_count"], parent["reactions"], parent.get("reply")) == (
        "2",
        "eyes:2",
        None,
    )
    assert (edited["reply"], edited["edited_ts"]) == ("true", "1773134162.000000")
    assert edited["text_raw"] == "v2.3.4 went out at 09:05, pool size 5 &amp; timeouts &lt;1s"
    assert str(frame["time"][3]) == "2026-03-10 09:14:00.120400+00:00"
    ref = frame["ref"][3]
    assert ref == "raw/chat/slack/inc-checkout-1042/2026-03-10.json#/3"
    raw = json.loads((bundle / ref.split("#")[0]).read_text())
    assert raw[3]["ts"] == PARENT
    source = json.loads((bundle / "manifest.json").read_text())["sources"]["chat"]
    assert (source["status"], source["counts"]) == (
        "ok",
        {"channels": 1, "days": 3, "messages": 9, "outside_window": 3, "events": 9},
    )
    assert (bundle / "raw/chat/slack/inc-checkout-1042/2026-03-10.json").read_bytes() == (
        EXPORT / "inc-checkout-1042/2026-03-10.json"
    ).read_bytes()


def test_every_channel_by_default_and_an_unknown_one(tmp_path: Path) -> None:
    bundle = run(tmp_path, str(EXPORT))
    assert sorted(set(events(bundle)["stream"])) == ["slack/#general", "slack/#inc-checkout-1042"]
    other = tmp_path / "other"
    other.mkdir()
    bundle = run(other, str(EXPORT), 'channels = ["inc-chekout-1042"]\n', code=3)
    source = json.loads((bundle / "manifest.json").read_text())["sources"]["chat"]
    assert [w["message"] for w in source["warnings"]] == [
        "channel 'inc-chekout-1042' is not in the export (has: general, inc-checkout-1042)"
    ]


def test_a_missing_export_fails_the_source_only(tmp_path: Path) -> None:
    bundle = run(tmp_path, "nowhere.zip", code=3)
    source = json.loads((bundle / "manifest.json").read_text())["sources"]["chat"]
    assert (source["status"], source["error"]) == (
        "failed",
        f"slack_export {tmp_path / 'nowhere.zip'}: no such file or folder",
    )


def test_markup() -> None:
    names = Names({"U1": "Jane Doe"}, {"C1": "inc"})
    assert (
        readable("<@U1> <@U9> <@U9|bob> <#C1> <#C2|ops>", names) == "@Jane Doe @U9 @bob #inc #ops"
    )
    assert readable("<!channel> <!date^1773134040^{time}|09:14> <mailto:a@b.c|a@b.c>", names) == (
        "@channel 09:14 a@b.c"
    )
    assert readable("a &lt;b&gt; &amp;amp; <http://x|x>", names) == "a <b> &amp; x (http://x)"


SLACK_TOKEN = "xoxb-0000-test-slack-token"


@pytest.fixture
def slack(monkeypatch: pytest.MonkeyPatch) -> Iterator[SlackDouble]:
    monkeypatch.setenv("SLACK_TEST_TOKEN", SLACK_TOKEN)
    with serving(SlackDouble(token=SLACK_TOKEN, export=EXPORT)) as double:
        yield double


def live(tmp_path: Path, slack: SlackDouble, ids: str = '["C01INC"]', code: int = 0) -> Path:
    config = tmp_path / "config.toml"
    config.write_text(
        f'[chat]\nurl = "{slack.url}"\ntoken_env = "SLACK_TEST_TOKEN"\nchannel_ids = {ids}\n'
        "retries = 2\n"
    )
    out = tmp_path / "bundle"
    cli(["collect", "-c", str(config), *WINDOW, "-o", str(out)], code)
    return out


def test_web_api_gives_the_same_events_as_the_export(tmp_path: Path, slack: SlackDouble) -> None:
    slack.rate_limited = 1  # the first call is told to wait: Retry-After 1
    started = time.monotonic()
    bundle = live(tmp_path, slack)
    assert time.monotonic() - started >= 1.0
    frame = events(bundle)
    assert seen(frame) == EXPECTED
    methods = [method for method, _ in slack.calls]
    assert methods[:3] == ["conversations.info", "conversations.info", "conversations.history"]
    assert methods.count("conversations.replies") == 1
    assert sorted(m for m in methods if m == "users.info") == ["users.info"] * 3
    history = dict(slack.calls)["conversations.history"]
    assert (history["oldest"], history["latest"], history["inclusive"]) == (
        "1773132124.000000",
        "1773138511.000000",
        "true",
    )
    source = json.loads((bundle / "manifest.json").read_text())["sources"]["chat"]
    assert source["counts"] == {
        "channels": 1,
        "days": 0,
        "messages": 9,
        "outside_window": 0,
        "threads": 1,
        "requests": 6,  # info, history, replies, users.info x3 (the 429's retry is the policy's)
        "events": 9,
    }
    assert (
        frame["ref"][3] == "raw/chat/slack-api/C01INC/history/0000.json#/messages/3"
    )  # newest first


def test_web_api_errors(tmp_path: Path, slack: SlackDouble) -> None:
    slack.not_member.add("C02GEN")
    bundle = live(tmp_path, slack, '["C01INC", "C02GEN", "C99NONE"]', code=3)
    source = json.loads((bundle / "manifest.json").read_text())["sources"]["chat"]
    assert [w["message"] for w in source["warnings"]] == [
        "Slack conversations.history C02GEN: not_in_channel: the app is not in the channel; "
        "invite it (/invite @app) or use an export",
        "Slack conversations.info C99NONE: channel_not_found: no such channel for this token; "
        "check channel_ids",
    ]
    slack.token = "xoxb-another-token"
    other = tmp_path / "other"
    other.mkdir()
    bundle = live(other, slack, code=3)
    source = json.loads((bundle / "manifest.json").read_text())["sources"]["chat"]
    assert (source["status"], source["error"]) == (
        "failed",
        "Slack conversations.info C01INC: invalid_auth: the Slack token is not valid; "
        "check token_env / token_file",
    )
    for file in bundle.rglob("*"):
        assert not file.is_file() or SLACK_TOKEN.encode() not in file.read_bytes()


def test_one_day_file_as_a_file_import(tmp_path: Path) -> None:
    shutil.copy(EXPORT / "inc-checkout-1042/2026-03-10.json", tmp_path / "2026-03-10.json")
    config = tmp_path / "config.toml"
    config.write_text('[[file]]\npath = "2026-03-10.json"\nstream = "inc-checkout-1042"\n')
    out = tmp_path / "bundle"
    cli(["collect", "-c", str(config), *WINDOW, "-o", str(out)])
    frame = pd.read_parquet(out / "events" / "file.parquet")
    assert set(frame["source"]) == {"chat"}
    assert list(frame["actor"])[:4] == ["Alertmanager", "PagerDuty", "U02RAJ", "U01JANE"]
    assert frame["summary"][3] == (
        "U01JANE: looking. @U02RAJ can you check #general for the deploy note?"
    )
    assert frame["ref"][3] == "raw/file/2026-03-10.json#/3"
