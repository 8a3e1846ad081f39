"""services/exposure.py: which addresses a listener may take, and the one line it says when it may not or should
not."""
import logging

import pytest

from lenet_services import exposure

OPEN_TO_ALL = ["0.0.0.0", "", "::", "[::]", "192.0.2.7", "2001:db8::1"]
LOOPBACK = ["127.0.0.1", "127.3.4.5", "::1", "[::1]", "localhost"]


@pytest.mark.parametrize("host", LOOPBACK)
def test_loopback_is_always_allowed_and_says_nothing(host, caplog):
    assert exposure.is_loopback(host)
    assert exposure.check("gateway", host, tokens=False, insecure_open=False, plaintext_fix=exposure.SERVE_TLS) is None
    assert exposure.check_metrics("gateway metrics", host, metrics_open=False) is None
    assert caplog.records == []


@pytest.mark.parametrize("host", OPEN_TO_ALL)
def test_beyond_loopback_without_tokens_is_refused_in_one_line_saying_how_to_set_them(host):
    assert not exposure.is_loopback(host)
    with pytest.raises(exposure.Refused) as refused:
        exposure.check("gateway", host, tokens=False, insecure_open=False, plaintext_fix=exposure.SERVE_TLS)
    line = str(refused.value)
    assert "\n" not in line and line.startswith("gateway: refusing")
    assert "LENET_TOKENS=user:TOKEN" in line and "--insecure-open" in line and "127.0.0.1" in line


def test_a_host_name_counts_as_loopback_only_when_all_its_addresses_are():
    assert not exposure.is_loopback("no-such-host.invalid")


def test_the_override_opens_it_with_a_warning(caplog):
    caplog.set_level(logging.WARNING)
    warning = exposure.check("dashboard", "0.0.0.0", tokens=False, insecure_open=True,
                             plaintext_fix=exposure.TLS_PROXY)
    assert "open to anyone" in warning and "--insecure-open" in warning and "\n" not in warning
    assert [record.getMessage() for record in caplog.records] == [warning]


def test_tokens_in_plaintext_beyond_loopback_are_allowed_with_a_warning_naming_tls(caplog):
    caplog.set_level(logging.WARNING)
    warning = exposure.check("gateway", "0.0.0.0", tokens=True, insecure_open=False,
                             plaintext_fix=exposure.SERVE_TLS)
    assert "plaintext" in warning and "--tls-cert/--tls-key" in warning
    assert [record.getMessage() for record in caplog.records] == [warning]
    assert "TLS proxy" in exposure.check("dashboard", "0.0.0.0", tokens=True, insecure_open=False,
                                         plaintext_fix=exposure.TLS_PROXY)


def test_tokens_over_tls_say_nothing(caplog):
    assert exposure.check("gateway", "0.0.0.0", tokens=True, insecure_open=False, plaintext_fix=None) is None
    assert caplog.records == []


def test_metrics_take_no_tokens_so_only_their_own_setting_opens_them():
    with pytest.raises(exposure.Refused) as refused:
        exposure.check_metrics("worker cpu-1", "0.0.0.0", metrics_open=False)
    assert "\n" not in str(refused.value) and "LENET_METRICS_OPEN=true" in str(refused.value)
    assert "LENET_METRICS_OPEN" in exposure.check_metrics("worker cpu-1", "0.0.0.0", metrics_open=True)
