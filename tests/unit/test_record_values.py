"""DNS record values: parsed once, rendered per provider, compared as record data."""

from __future__ import annotations

import typing

import pytest

from environments import record_values as rv
from environments.schema import RecordConfig
from modules.dns import cloudflare, records, route53
from tooling.analysis import dns_check as consistency

VALID = [
    ("A", "192.0.2.10", rv.Address("192.0.2.10")),
    ("AAAA", "2001:db8::1", rv.Address("2001:db8::1")),
    ("CNAME", "app.platform.example.com.", rv.Host("app.platform.example.com.")),
    ("TXT", "v=spf1 -all", rv.Text("v=spf1 -all")),
    ("MX", "10 mail.example.net", rv.MailExchange(10, "mail.example.net")),
    ("CAA", '0 issue "amazon.com"', rv.Caa(0, "issue", "amazon.com")),
]
INVALID = [
    ("A", "2001:db8::1"), ("A", "192.0.2"), ("AAAA", "192.0.2.10"), ("CNAME", "under_score.example.com"),
    ("TXT", ""), ("TXT", "x" * 256), ("MX", "mail.example.net"), ("MX", "70000 mail.example.net"),
    ("MX", "10 "), ("CAA", '0 issue amazon.com'), ("CAA", '0 issues "amazon.com"'), ("CAA", '256 issue "a.com"'),
    ("CAA", '0 issue "amazon.com'),
]


@pytest.mark.parametrize("record_type, text, typed", VALID)
def test_a_value_parses_once_and_renders_for_each_provider(record_type, text, typed):
    value = rv.parse(record_type, text)
    assert value == typed and value.text() == text  # Route53 gets the zone-file form back
    # Cloudflare's fields read back into the same value
    assert rv.from_cloudflare({"type": record_type, **value.cloudflare()}) == value


@pytest.mark.parametrize("record_type, text", INVALID)
def test_an_invalid_value_says_what_is_allowed(record_type, text):
    with pytest.raises(rv.InvalidValue) as raised:
        rv.parse(record_type, text)
    assert raised.value.allowed == rv.PARSERS[record_type][1]


def test_the_schema_accepts_exactly_the_types_every_provider_supports():
    literal = typing.get_args(RecordConfig.model_fields["type"].annotation)
    assert set(literal) == set(rv.RECORD_TYPES)
    for provider in (route53.Route53Records, cloudflare.CloudflareRecords):
        assert set(rv.RECORD_TYPES) <= provider.SUPPORTS, provider.__name__


def test_a_provider_refuses_a_type_it_does_not_support():
    record = records.StaticRecord("platform.example.com", "SRV", 300, ())
    with pytest.raises(ValueError, match="Cloudflare does not serve SRV records .*platform.example.com"):
        records.require_supported("Cloudflare", frozenset({"A"}), record)


def test_record_data_is_compared_typed_not_as_strings():
    def route53_stack(*values, ttl=300, record_type="CNAME"):
        return {"resource": {"aws_route53_record": {"r": {"name": "www.example.com", "type": record_type,
                                                          "ttl": ttl, "records": list(values)}}}}

    def cloudflare_stack(*fields, ttl=300, record_type="CNAME"):
        return {"resource": {"cloudflare_dns_record": {f"c{i}": {"name": "www.example.com", "type": record_type,
                                                                 "ttl": ttl, **f} for i, f in enumerate(fields)}}}

    # a trailing dot on a host name is the same record data
    assert consistency.compare("e", route53_stack("app.example.com."), cloudflare_stack({"content": "app.example.com"})) == []
    # another host, another TTL, or another MX priority are not
    assert consistency.compare("e", route53_stack("app.example.com"), cloudflare_stack({"content": "web.example.com"}))
    assert consistency.compare("e", route53_stack("app.example.com"),
                               cloudflare_stack({"content": "app.example.com"}, ttl=60))
    (difference,) = consistency.compare("e", route53_stack("10 mx.example.net", record_type="MX"),
                                        cloudflare_stack({"content": "mx.example.net", "priority": 20},
                                                         record_type="MX"))
    assert difference.route53 == (300, ("10 mx.example.net",))
    assert difference.cloudflare == (300, ("20 mx.example.net",))
    # a value that does not parse never matches, and is shown as written
    (difference,) = consistency.compare("e", route53_stack("not an address", record_type="A"),
                                        cloudflare_stack({"content": "192.0.2.1"}, record_type="A"))
    assert difference.route53 == (300, ("not an address",))


def test_values_read_back_from_output_never_fail_and_match_nothing_typed():
    assert rv.read("A", "not an address") == rv.Unparsed("not an address")
    assert rv.read("SRV", "0 5 5060 sip.example.com") == rv.Unparsed("0 5 5060 sip.example.com")  # unknown type
    assert rv.from_cloudflare({"type": "MX", "content": "mx.example.net"}) == rv.Unparsed("mx.example.net")
    assert rv.Unparsed("v=spf1 -all").key() != rv.Text("v=spf1 -all").key()
