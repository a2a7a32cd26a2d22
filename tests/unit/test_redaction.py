"""Diagnostics never echo what looks like a secret (the pull-request summary and CI logs are public)."""

from __future__ import annotations

import pytest

from generator.errors import Diagnostic, secret_spans

SHOWN_AS_IS = [  # references to secrets, and values that cannot be one
    "    settingsSecret: {name: m2-secret-dir, key: settings.xml}",
    "    managerPasswordSecret: {name: jenkins-ldap, key: manager-password}",
    "    managerPasswordEnv: LDAP_MANAGER_PASSWORD",
    "      credentialsId: github-token",
    '  managerPasswordSecret: "${LDAP_MANAGER_PASSWORD}"',
    "  legacyApiTokens: false",
    "  apiTokenUsageStatistics: true",
    "  tokenCount: 3",
    "  propertiesSecret:",
    "  displayName: Eclipse Passwords  # the word in a value is not a key",
]


@pytest.mark.parametrize("line", SHOWN_AS_IS)
def test_references_and_plain_settings_are_not_redacted(line):
    assert secret_spans(line) == []


@pytest.mark.parametrize("line,secret", [
    ('  adminPassword: "s3cr3t value"', '"s3cr3t value"'),
    ("  password: hunter22", "hunter22"),
    ("  api_key: 'abc''def'", "'abc''def'"),
    ("  clientSecret: c0ffee-c0ffee", "c0ffee-c0ffee"),
    ("  privateKey: MIIEvQIBADANBgkqhkiG9w0BAQEFAASC", "MIIEvQIBADANBgkqhkiG9w0BAQEFAASC"),
    ("ldap: {managerPassword: hunter22, url: x}", "hunter22"),
    ("- {user: bot, token: 11a0c2e5f6d7b8a9c0d1e2f3a4b5c6d7e8}", "11a0c2e5f6d7b8a9c0d1e2f3a4b5c6d7e8"),
    ("  systemMessage: see ghp_" + "A1b2C3d4" * 5, "ghp_" + "A1b2C3d4" * 5),  # a token format, whatever the key
    ("  note: -----BEGIN OPENSSH PRIVATE KEY-----", "-----BEGIN OPENSSH PRIVATE KEY-----"),
    ("  token: abc # a comment stays", "abc"),
])
def test_secrets_are_found(line, secret):
    (span,) = secret_spans(line)
    assert line[span[0]:span[1]] == secret


def _diag(line: str, column: int, span: int, message: str = "bad value", hint: str = "") -> str:
    return Diagnostic("f.yaml", 3, column, "k", message, hint=hint, source_line=line, span=span).format()


def test_the_caret_moves_with_the_text():
    line = "ldap: {managerPassword: hunter22, urll: x}"
    text = _diag(line, line.index("urll") + 1, 4, message="unknown key 'urll'")
    assert text.splitlines()[1:] == ["  3 | ldap: {managerPassword: <redacted>, urll: x}",
                                     "    | " + " " * 36 + "^~~~"]


def test_a_caret_on_the_secret_underlines_the_marker_and_the_message_loses_the_value():
    line = "  maxConcurrency: 11a0c2e5f6d7b8a9c0d1e2f3a4b5c6d7e8"
    text = _diag(line, 19, 34, message="expected a whole number, found the string '11a0c2e5f6d7b8a9c0d1e2f3a4b5c6d7e8'",
                 hint='quote it: "11a0c2e5f6d7b8a9c0d1e2f3a4b5c6d7e8"')
    assert text.splitlines() == ["f.yaml:3:19: error: k: expected a whole number, found the string '<redacted>'",
                                 "  3 |   maxConcurrency: <redacted>",
                                 "    |                   ^~~~~~~~~~",
                                 '  hint: quote it: "<redacted>"']


def test_a_line_without_a_secret_is_unchanged():
    line = "  maxConcurrency: many"
    assert _diag(line, 19, 4).splitlines()[1:] == ["  3 |   maxConcurrency: many", "    |                   ^~~~"]
