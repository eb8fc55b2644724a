"""Mask secrets in everything that is shared: timelines, reports, figures, scrubbed bundles.

Which detector: the token *shapes* (AWS access key ids, GitHub, GitLab, Slack, JWT, Stripe,
SendGrid, OpenAI, PyPI, npm, Azure storage, Square, Discord, Telegram, Twilio, Mailchimp) are
the ``denylist`` regexes of Yelp's ``detect-secrets`` plugins, read from the installed package,
so new releases bring their fixes. Its high-entropy plugins are left out on purpose: they flag
git shas, trace ids and UUIDs, which a timeline needs to keep. What its plugins do not cover,
or cover only as a yes/no for a whole line, is written here: an ``Authorization`` header of
any scheme (RFC 9110 §11.6.2, including PagerDuty's ``Token token=…``), passwords in URLs (its
BasicAuthDetector misses userinfo with ``&`` or ``!``, which RFC 3986 §3.2.1 allows), bearer
tokens (RFC 6750 §2.1 ``b64token``), ``key=value`` pairs whose key names a secret (quoted or
not: JSON, logfmt, YAML, URL query), and whole PEM private-key blocks (RFC 7468 §2;
detect-secrets only spots the ``BEGIN`` line), also when a log has one event per key line.

Consistent: a `Redactor` keeps one mapping, so the same secret becomes the same placeholder
(``«secret-1»``) in every row, column and output it redacts. Idempotent: placeholders are never
masked again. Columnar: a frame column is first screened with one RE2 pattern by pyarrow, and
only the rows that pass are masked in Python; then every secret found is masked wherever else it
occurs (a password logged once in a pair and once bare).
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

PLACEHOLDER = re.compile(r"«secret-\d+»")
# detect-secrets' JWT and Slack patterns end lazily or early; a mask covers the whole token.
# Text columns of the event record that carry evidence; time, kind, severity and ref do not.
COLUMNS: tuple[str, ...] = ("stream", "actor", "summary", "message", "labels")
_PEM_BEGIN = "-----BEGIN [A-Z0-9 ]*PRIVATE KEY"
_PEM_END = "-----END [A-Z0-9 ]*PRIVATE KEY"
MAX_PEM_LINES = 200  # a 16384-bit RSA key is ~190 lines of 64 columns
MIN_PROPAGATED = 8  # a shorter secret ("admin") masked everywhere would eat ordinary words
LINE_SCREEN = 64 * 1024  # longer texts are screened line by line with RE2
_TOKEN_TAIL = re.compile(r"[A-Za-z0-9_\-.+/=~]*")


@dataclass(frozen=True)
class Rule:
    """One detector: ``pattern`` finds it (the secret is group ``secret``, else the whole
    match); ``hint`` is an RE2 pattern that every match also matches, for the columnar screen;
    ``group`` is the group that holds the secret (0: the whole match)."""

    name: str
    pattern: re.Pattern[str]
    hint: str
    group: int | str = "secret"


def _plugin_rules() -> list[Rule]:
    """The token shapes from detect-secrets' plugins, each with a cheap RE2 hint."""
    from detect_secrets.plugins import (
        aws,
        azure_storage_key,
        discord,
        github_token,
        gitlab_token,
        jwt,
        mailchimp,
        npm,
        openai,
        pypi_token,
        sendgrid,
        slack,
        square_oauth,
        stripe,
        telegram_token,
        twilio,
    )

    plugins: list[tuple[str, Sequence[re.Pattern[str]], str]] = [
        ("aws-access-key", aws.AWSKeyDetector.denylist[:1], r"(A3T|ABIA|ACCA|AKIA|ASIA)"),
        ("aws-secret-key", aws.AWSKeyDetector.denylist[1:], "(?i:aws)"),
        ("github-token", github_token.GitHubTokenDetector.denylist, r"gh[pousr]_"),
        ("gitlab-token", gitlab_token.GitLabTokenDetector.denylist, r"(gl[a-z]+-|GR1348941)"),
        ("slack-token", slack.SlackDetector.denylist, r"(?i:xox|hooks\.slack\.com)"),
        ("jwt", jwt.JwtTokenDetector.denylist, r"eyJ"),
        ("stripe-key", stripe.StripeDetector.denylist, r"k_live_"),
        ("sendgrid-key", sendgrid.SendGridDetector.denylist, r"SG\."),
        ("openai-key", openai.OpenAIDetector.denylist, r"T3BlbkFJ"),
        ("pypi-token", pypi_token.PypiTokenDetector.denylist, r"pypi-"),
        ("npm-token", npm.NpmDetector.denylist, r"_authToken"),
        ("azure-storage-key", azure_storage_key.AzureStorageKeyDetector.denylist, "AccountKey="),
        ("square-oauth", square_oauth.SquareOAuthDetector.denylist, "sq0csp-"),
        ("discord-token", discord.DiscordBotTokenDetector.denylist, r"[MNO][\w-]{23,25}\."),
        ("telegram-token", telegram_token.TelegramBotTokenDetector.denylist, r"\d{8,10}:"),
        ("twilio-key", twilio.TwilioKeyDetector.denylist, r"(AC|SK)[a-z0-9]{32}"),
        ("mailchimp-key", mailchimp.MailchimpDetector.denylist, r"-us\d"),
    ]
    rules = []
    for name, patterns, hint in plugins:
        for pattern in patterns:
            # A token starts at a token boundary: "xAKIA…" inside a longer word is not a key.
            bounded = (
                pattern.pattern
                if pattern.pattern.startswith("://")
                else (r"(?<![A-Za-z0-9_])" + pattern.pattern)
            )
            if name in ("jwt", "slack-token"):
                bounded = f"(?:{bounded}){_TOKEN_TAIL.pattern}"
            # Where a plugin's group is the secret itself (not a prefix such as "ghp"), mask it.
            group = 1 if name in ("aws-secret-key", "npm-token") else 0
            rules.append(Rule(name, re.compile(bounded, pattern.flags), hint, group))
    return rules


# Key names that say their value is a secret; a key matches when it ends with one of them
# (db_password, GITHUB_TOKEN, client-secret). The list follows detect-secrets' KeywordDetector
# denylist, plus the token names OAuth (RFC 6749 §5.1) and PagerDuty's Events API use.
_KEYS = (
    r"password|passwd|pwd|secret|token|api[_-]?key|apikey|auth[_-]?key|access[_-]?key|"
    r"secret[_-]?key|private[_-]?key|client[_-]?key|routing[_-]?key|integration[_-]?key|"
    r"service[_-]?key|credentials?|session[_-]?id|cookie"
)
_KEY = rf"[A-Za-z0-9_.\-]*?(?:{_KEYS})"
SECRET_KEY = re.compile(_KEY, re.IGNORECASE)
# Not secrets: empty-ish values, our placeholders, and what the collector already masked
# (collector/secrets.py MASK).
_NOT_A_VALUE = (
    r"(?!(?:null|none|true|false|\*+|«secret-\d+»)(?:[\s,;&\"'}\])]|$))"
    r"(?!<secret masked by incident-timeline>)"
)


def _own_rules() -> list[Rule]:
    key_hint = "(?i:passw|pwd|secret|token|key|credential|session|cookie)"
    return [
        Rule(
            "private-key-block",
            re.compile(
                r"(?P<secret>-----BEGIN [A-Z0-9 ]*PRIVATE KEY( BLOCK)?-----"
                r"(?:[^\"]*?-----END [A-Z0-9 ]*PRIVATE KEY( BLOCK)?-----|[^\"]*))"
            ),
            "PRIVATE KEY",
        ),
        # One base64 line of a PEM body logged on its own (RFC 7468: 64 columns per line, 70
        # or 76 in other tools): upper, lower and digits, so hex digests and words never do.
        Rule(
            "private-key-line",
            re.compile(
                r"(?m)(?:^|(?<=\s))(?P<secret>(?=[A-Za-z0-9+/]*[A-Z])(?=[A-Za-z0-9+/]*[a-z])"
                r"(?=[A-Za-z0-9+/]*[0-9])[A-Za-z0-9+/]{48,100}={0,2})[ \t]*$"
            ),
            r"[A-Za-z0-9+/]{48}",
        ),
        # A password in a URL's userinfo (RFC 3986 §3.2.1: sub-delims such as & are allowed;
        # detect-secrets' BasicAuthDetector stops at them). Before the pairs, so that
        # "x-access-token:<pw>@host" is masked as userinfo, not as a pair.
        Rule(
            "url-password",
            re.compile(r"://[^\s/?#@:\[\]]+:(?P<secret>[^\s/?#@\[\]\"'<>]+)@"),
            r"://[^\s/@]*:[^\s/@]*@",
        ),
        Rule(
            "authorization-header",
            re.compile(
                r"(?i)\b(?:proxy-)?authorization[\"']?\s*[:=]\s*[\"']?"
                # Atomic: the scheme is never taken for the credential on a second pass.
                r"(?>(?:(?:bearer|basic|token|digest|negotiate|apikey|sso-key|splunk)\s+)?"
                r"(?:token=)?)" + _NOT_A_VALUE + r"(?P<secret>[^\s\"',;]+)"
            ),
            "(?i:authorization)",
        ),
        Rule(
            "bearer-token",
            re.compile(
                r"(?i)\bbearer\s+" + _NOT_A_VALUE + r"(?P<secret>(?=[A-Za-z0-9\-._~+/]*"
                r"[0-9\-._~+/])[A-Za-z0-9\-._~+/]{8,}=*)"
            ),
            "(?i:bearer)",
        ),
        Rule(  # "password": "x", 'token': 'x', password="x y" (JSON, Python, logfmt quoted)
            "secret-pair-quoted",
            re.compile(
                rf"(?i)(?<![A-Za-z0-9])(?P<q>[\"']?){_KEY}(?P=q)\s*[:=]\s*(?P<v>[\"'])"
                + _NOT_A_VALUE
                + r"(?P<secret>(?:(?!(?P=v))[^\\]|\\.)+)(?P=v)"
            ),
            key_hint,
        ),
        Rule(  # password=x, token: x, ?api_key=x&…  (logfmt, env, YAML, URL query)
            "secret-pair",
            re.compile(
                rf"(?i)(?<![A-Za-z0-9]){_KEY}\s*(?:=|:(?!//))[ \t]*"
                + _NOT_A_VALUE
                + r"(?P<secret>[^\s\"',;&}\])]+)"
            ),
            key_hint,
        ),
    ]


def default_rules() -> list[Rule]:
    """The built-in rules, in the order they run: widest context first."""
    return [*_own_rules(), *_plugin_rules()]


def pattern_rules(patterns: Iterable[str]) -> list[Rule]:
    """Rules for the ``[redact] patterns`` of the config: group ``secret`` (else group 1, else
    the whole match) is masked. Raises ValueError naming a pattern that does not compile."""
    rules = []
    for i, text in enumerate(patterns):
        try:
            pattern = re.compile(text)
        except re.error as exc:
            raise ValueError(
                f"redact.patterns[{i}]: {text!r} is not a valid regex: {exc}"
            ) from None
        group = "secret" if "secret" in pattern.groupindex else min(pattern.groups, 1)
        rules.append(Rule(f"pattern-{i + 1}", pattern, text, group))
    return rules


@dataclass
class Redactor:
    """Masks secrets consistently: ``mapping`` (secret → placeholder) grows as it goes, and
    ``counts`` says how many were masked by which rule. Example::

        r = Redactor.default()
        r.text("password=hunter2 and again password=hunter2")
        # 'password=«secret-1» and again password=«secret-1»'
    """

    rules: list[Rule]
    mapping: dict[str, str] = field(default_factory=dict)
    counts: Counter[str] = field(default_factory=Counter)
    _cache: tuple[int, tuple[re.Pattern[str], str] | None] | None = field(
        default=None, repr=False, compare=False
    )

    @classmethod
    def default(cls, patterns: Iterable[str] = ()) -> Redactor:
        """The built-in rules plus ``patterns`` from the config."""
        return cls([*default_rules(), *pattern_rules(patterns)])

    @property
    def rule_names(self) -> list[str]:
        """The names of the rules that run, once each, in order."""
        return list(dict.fromkeys(r.name for r in self.rules))

    def placeholder(self, secret: str, rule: str = "") -> str:
        """The placeholder for ``secret``: a new number the first time it is seen (counted
        under ``rule``)."""
        if secret not in self.mapping:
            self.mapping[secret] = f"«secret-{len(self.mapping) + 1}»"
            self.counts[rule] += 1
        return self.mapping[secret]

    def text(self, text: str) -> str:
        """``text`` with every secret masked, including any secret already known."""
        return self._known(self.detect(text))

    def detect(self, text: str) -> str:
        """``text`` with the secrets the rules find masked, numbering new ones: run on the
        rows `screen` passes, column by column in `COLUMNS` order and row by row in timeline
        order, it numbers secrets as `frame` does on the whole timeline."""
        for rule in self.rules:
            if rule.pattern.search(text):
                text = rule.pattern.sub(lambda m, r=rule: self._mask(m, r), text)  # type: ignore[misc]
        return text

    def _mask(self, match: re.Match[str], rule: Rule) -> str:
        whole = match.group(0)
        start, end = match.span(rule.group)
        if start < 0 or start == end:
            return whole
        secret = match.string[start:end]
        if PLACEHOLDER.search(secret):
            return whole
        # Keep the newlines a multi-line secret spanned, so line numbers (refs) stay right.
        masked = self.placeholder(secret, rule.name) + "\n" * secret.count("\n")
        base = match.start()
        return whole[: start - base] + masked + match.string[end : match.end()]

    def _known(self, text: str) -> str:
        known = self._known_pattern()
        if known is None:
            return text
        pattern, hint = known
        if len(text) <= LINE_SCREEN:
            return pattern.sub(lambda m: self.mapping[m.group(0)], text)
        # A long text (a raw file): RE2 finds the few lines with a known secret in one pass;
        # Python's re would try every alternative at every position.
        lines = pd.Series(text.split("\n"), dtype="string[pyarrow]")
        fixed = self._apply(lines, hint, lambda line: pattern.sub(self._known_sub, line))
        return "\n".join(fixed.tolist())

    def _known_sub(self, match: re.Match[str]) -> str:
        return self.mapping[match.group(0)]

    def _known_pattern(self) -> tuple[re.Pattern[str], str] | None:
        """The known secrets (long enough) as one pattern, longest first, and its RE2 hint;
        rebuilt only when a secret was added."""
        if self._cache is None or self._cache[0] != len(self.mapping):
            long = sorted(
                (s for s in self.mapping if len(s) >= MIN_PROPAGATED), key=len, reverse=True
            )
            alternation = "|".join(map(re.escape, long))
            self._cache = (
                len(self.mapping),
                (re.compile(alternation), alternation) if long else None,
            )
        return self._cache[1]

    def series(self, values: pd.Series) -> pd.Series:
        """Mask a string column; only rows that pass the RE2 screen go through Python."""
        return self._apply(values, self.hint(), self.detect)

    def frame(self, frame: pd.DataFrame, columns: Sequence[str] = COLUMNS) -> pd.DataFrame:
        """A copy of an event frame with ``columns`` masked, then every known secret masked
        in them all (one found in a later column or row is masked in earlier ones too)."""
        out = frame.copy()
        present = [c for c in columns if c in out.columns]
        if {"stream", "message", "summary"} <= set(out.columns):
            self._pem_bodies(out)
        for name in present:
            out[name] = self.series(out[name])
        for name in present:
            out[name] = self.known(out[name])
        return out

    def known(self, values: pd.Series) -> pd.Series:
        """A string column with every secret already known masked (the second pass of
        `frame`, which is why a secret found in a later row is masked in earlier ones)."""
        known = self._known_pattern()
        if known is None:
            return values
        pattern, hint = known
        return self._apply(values, hint, lambda text: pattern.sub(self._known_sub, text))

    def _pem_bodies(self, out: pd.DataFrame) -> None:
        """A private key logged line by line: mask the lines between an event with a BEGIN
        line and the next END in the same stream (its body lines carry no marker)."""
        begins = screen(out["message"], _PEM_BEGIN) & ~screen(out["message"], _PEM_END)
        for stream in out.loc[begins, "stream"].unique().tolist():
            rows = out.index[out["stream"] == stream]
            opened = begins.loc[rows].to_numpy().nonzero()[0]
            for start in opened.tolist():
                for row in rows[start + 1 : start + 1 + MAX_PEM_LINES]:
                    text = str(out.at[row, "message"])
                    if re.search(_PEM_END, text) or re.search(_PEM_BEGIN, text):
                        break
                    if text.strip() and not PLACEHOLDER.fullmatch(text.strip()):
                        masked = self.placeholder(text.strip(), "private-key-block")
                        out.at[row, "message"] = masked
                        out.at[row, "summary"] = masked

    def hint(self) -> str:
        """The RE2 pattern every rule's match also matches (`screen`'s first cut)."""
        return "|".join(f"(?:{r.hint})" for r in self.rules)

    def _apply(self, values: pd.Series, hint: str, fix: Callable[[str], str]) -> pd.Series:
        mask = screen(values, hint)
        if not mask.any():
            return values
        out = values.copy()
        out.loc[mask] = [fix(v) for v in values.loc[mask].tolist()]
        return out


def screen(values: pd.Series, hint: str) -> pd.Series:
    """Rows of ``values`` that may hold a match of ``hint``: RE2 in pyarrow, one pass over the
    column; a hint RE2 cannot compile (a config pattern with a lookahead) falls back to re."""
    array = pa.array(values.astype("string[pyarrow]"), from_pandas=True)
    try:
        found = pc.match_substring_regex(array, hint)
    except pa.ArrowInvalid:
        return values.astype("string").str.contains(hint, regex=True, na=False).astype(bool)
    return pd.Series(found.fill_null(False).to_numpy(zero_copy_only=False), index=values.index)


def bundle_patterns(manifest: Mapping[str, Any]) -> list[str]:
    """The ``[redact] patterns`` of the config a bundle was collected with."""
    config = manifest.get("config") or {}
    table = config.get("redact") if isinstance(config, dict) else None
    patterns = table.get("patterns") if isinstance(table, dict) else None
    return [str(p) for p in patterns] if isinstance(patterns, list) else []


def for_bundle(manifest: Mapping[str, Any], extra: Iterable[str] = ()) -> Redactor:
    """A Redactor with the built-in rules, the bundle's configured patterns and ``extra``."""
    return Redactor.default([*bundle_patterns(manifest), *extra])


def redact_json(value: Any, redactor: Redactor) -> Any:
    """Every string inside a JSON-like value (keys included) masked, structure kept."""
    if isinstance(value, str):
        return redactor.text(value)
    if isinstance(value, list):
        return [redact_json(v, redactor) for v in value]
    if isinstance(value, dict):
        # A pair such as {"token": "x"} is only a secret together: mask it as text first.
        return {redactor.text(str(k)): _pair(k, v, redactor) for k, v in value.items()}
    return value


def _pair(key: Any, value: Any, redactor: Redactor) -> Any:
    secret = isinstance(value, str) and SECRET_KEY.fullmatch(str(key)) and value.strip()
    if secret and not PLACEHOLDER.fullmatch(value) and value.lower() not in ("null", "none"):
        return redactor.placeholder(value, "secret-pair")
    return redact_json(value, redactor)


def opens_key_block(text: str) -> bool:
    """Does ``text`` begin a private key block without ending it (`Redactor.frame` then
    masks the stream's next lines, a pass that needs the stream's neighbouring rows)?"""
    return bool(re.search(_PEM_BEGIN, text)) and not re.search(_PEM_END, text)
