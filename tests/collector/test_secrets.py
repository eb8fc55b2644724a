"""Issue 8 item 2: secret values are masked by value, in every form they travel in."""

from __future__ import annotations

import base64

from incident_timeline.collector.secrets import MASK, Masker, secret_forms


def test_forms_include_bearer_value_and_basic_base64() -> None:
    forms = secret_forms("tok/en+1", "bob", "hunter22")
    assert forms == [
        "tok/en+1",
        "tok%2Fen%2B1",
        "hunter22",
        "hunter22",
        base64.b64encode(b"bob:hunter22").decode(),
    ]


def test_masking_text_and_bytes() -> None:
    masker = Masker(secret_forms("s3cret-token", "bob", "hunter22"))
    assert masker.text("401: bad Bearer s3cret-token") == f"401: bad Bearer {MASK}"
    basic = base64.b64encode(b"bob:hunter22")
    data, count = masker.data(b'{"auth": "Basic ' + basic + b'", "pw": "hunter22"}')
    assert data == f'{{"auth": "Basic {MASK}", "pw": "{MASK}"}}'.encode()
    assert count == 2


def test_a_secret_split_across_blocks_is_still_masked() -> None:
    masker = Masker(["s3cret-token"])
    counter = [0]
    blocks = [b"head s3cr", b"et-tok", b"en tail s3cret-", b"token!"]
    assert b"".join(masker.stream(blocks, counter)) == f"head {MASK} tail {MASK}!".encode()
    assert counter == [2]


def test_short_values_are_not_masked() -> None:
    assert Masker(["ab", ""]).text("a cab") == "a cab"
