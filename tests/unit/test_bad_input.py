"""Bad input ends in one clear error, exit status 2, and nothing written.

Each case runs the real entry point (main.py) in its own process on a broken
copy of an environment file, with an output directory that already holds a
previous synthesis, and checks the message and that the output is untouched.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.conftest import run_main, tree_digest

GOOD = """\
name: {name}
domain: platform.example.com
account_id: "111122223333"
regions:
  primary:
    name: us-east-1
    vpc_cidr: 10.0.0.0/16
  standby:
    name: us-west-2
    vpc_cidr: 10.1.0.0/16
eks:
  deployer_role_arn: arn:aws:iam::111122223333:role/deployer
"""


ACCOUNT = """\
name: {name}
account_id: "{account_id}"
home_region: us-east-1
regions: [us-east-1, us-west-2]
quotas:
  us-east-1: {{elastic_ips: 20}}
  us-west-2: {{elastic_ips: 20}}
"""


def _attempt(tmp_path: Path, text: str | bytes, *, name: str = "broken", select: str | None = None,
             others: dict[str, str] | None = None, accounts: dict[str, str] | None = None):
    """GIVEN an environment file with ``text`` (and ``others``, name -> text, beside it; ``accounts``,
    name -> text, in accounts/, by default one for account 111122223333) and an output dir from an
    earlier synth, WHEN main.py runs, THEN return its result and whether the output dir changed."""
    env_dir = tmp_path / "environments"
    (env_dir / "accounts").mkdir(parents=True)
    for account, account_text in (accounts if accounts is not None else
                                  {"shared": ACCOUNT.format(name="shared", account_id="111122223333")}).items():
        (env_dir / "accounts" / f"{account}.yaml").write_text(account_text)
    for other, other_text in (others or {}).items():
        (env_dir / f"{other}.yaml").write_text(other_text)
    path = env_dir / f"{name}.yaml"
    path.write_bytes(text) if isinstance(text, bytes) else path.write_text(text)
    # the file under test is the one just added: newer than the others (a message about a clash names it)
    later = max([p.stat().st_mtime for p in env_dir.glob("*.yaml")] + [0]) + 1
    os.utime(path, (later, later))
    outdir = tmp_path / "cdktf.out"
    (outdir / "stacks" / "old-stack").mkdir(parents=True)
    (outdir / "stacks" / "old-stack" / "cdk.tf.json").write_text('{"earlier": "synthesis"}')
    before = tree_digest(tmp_path)
    result = run_main(env={"SPOFLESS_ENV_DIR": str(env_dir), "CDKTF_OUTDIR": str(outdir),
                           **({"SPOFLESS_ENVS": select} if select else {})}, cwd=tmp_path, timeout=60)
    return result, tree_digest(tmp_path) == before


def _assert_rejected(result, untouched: bool, *fragments: str) -> str:
    assert result.returncode == 2, result.stdout + result.stderr
    assert untouched, "the output directory (or its parent) changed"
    assert result.stdout == ""
    assert "Traceback" not in result.stderr
    for fragment in fragments:
        assert fragment in result.stderr, result.stderr
    return result.stderr


def test_rejects_unknown_field(tmp_path):
    result, untouched = _attempt(tmp_path, GOOD.format(name="broken") + "netwrok:\n  nat_gateway_per_az: false\n")
    message = _assert_rejected(result, untouched, "environments/broken.yaml: netwrok:",
                               "unknown field", "did you mean 'network'", "allowed: account_id, backend, data, dns, domain")
    assert message.count("environments/broken.yaml") == 1


def test_rejects_unknown_nested_field(tmp_path):
    text = GOOD.format(name="broken").replace("vpc_cidr: 10.1.0.0/16", "vpc_cidr: 10.1.0.0/16\n    azcount: 3")
    _assert_rejected(*_attempt(tmp_path, text), "regions.standby.azcount: unknown field",
                     "did you mean 'az_count'", "allowed: availability_zones, az_count, name, vpc_cidr")


def test_rejects_wrong_type(tmp_path):
    text = GOOD.format(name="broken") + "network:\n  nat_gateway_per_az: sometimes\n"
    _assert_rejected(*_attempt(tmp_path, text), "network.nat_gateway_per_az: 'sometimes' has the wrong type",
                     "allowed: a valid boolean")


def test_rejects_unknown_region(tmp_path):
    text = GOOD.format(name="broken").replace("us-west-2", "us-west-9")
    _assert_rejected(*_attempt(tmp_path, text), "regions.standby.name: 'us-west-9' is not a known AWS region",
                     "allowed: af-south-1,", "us-west-2")


def test_rejects_standby_equal_to_primary(tmp_path):
    text = GOOD.format(name="broken").replace("us-west-2", "us-east-1")
    _assert_rejected(*_attempt(tmp_path, text), "regions.standby.name: 'us-east-1' must differ from "
                                                "regions.primary.name")


@pytest.mark.parametrize("count, allowed", [(1, "allowed: 2 to 6"), (7, "allowed: 2 to 6")])
def test_rejects_az_count_out_of_range(tmp_path, count, allowed):
    text = GOOD.format(name="broken").replace("vpc_cidr: 10.0.0.0/16", f"vpc_cidr: 10.0.0.0/16\n    az_count: {count}")
    _assert_rejected(*_attempt(tmp_path, text), f"regions.primary.az_count: {count} is out of range for us-east-1",
                     allowed)


def test_rejects_more_azs_than_the_region_has(tmp_path):
    text = GOOD.format(name="broken").replace(
        "vpc_cidr: 10.1.0.0/16", "vpc_cidr: 10.1.0.0/16\n    az_count: 5")
    _assert_rejected(*_attempt(tmp_path, text), "regions.standby.az_count: 5 is out of range for us-west-2",
                     "allowed: 2 to 4")


@pytest.mark.parametrize("cidr, reason", [
    ("10.0.0.1/16", "has host bits set"),
    ("10.0.0.0/33", "not a valid IPv4 network"),
    ("not-a-cidr", "not a valid IPv4 network"),
])
def test_rejects_malformed_cidr(tmp_path, cidr, reason):
    text = GOOD.format(name="broken").replace("10.0.0.0/16", cidr)
    _assert_rejected(*_attempt(tmp_path, text), f"regions.primary.vpc_cidr: '{cidr}'", reason,
                     "allowed: e.g. '10.0.0.0/16'")


def test_rejects_overlapping_cidrs(tmp_path):
    text = GOOD.format(name="broken").replace("10.1.0.0/16", "10.0.128.0/17")
    _assert_rejected(*_attempt(tmp_path, text), "regions.standby.vpc_cidr: '10.0.128.0/17' overlaps "
                                                "regions.primary.vpc_cidr '10.0.0.0/16'", "allowed:")


def test_rejects_cidr_too_small_for_the_subnets(tmp_path):
    text = GOOD.format(name="broken").replace("10.0.0.0/16", "10.0.0.0/24")
    _assert_rejected(*_attempt(tmp_path, text), "regions.primary.vpc_cidr: '10.0.0.0/24' is too small",
                     "allowed: a prefix from /16 to /22")


@pytest.mark.parametrize("domain", ["-bad.example.com", "localhost", "UPPER.example.com", "a..b.com",
                                    "under_score.example.com", "example.c0m"])
def test_rejects_invalid_domain(tmp_path, domain):
    text = GOOD.format(name="broken").replace("platform.example.com", domain)
    _assert_rejected(*_attempt(tmp_path, text), f"domain: '{domain}' is not a valid DNS domain name",
                     "allowed: e.g. 'platform.example.com'")


def test_rejects_unreadable_yaml(tmp_path):
    text = "name: broken\ndomain: [unclosed\nregions: {}\n"
    _assert_rejected(*_attempt(tmp_path, text), "environments/broken.yaml: is not valid YAML at line 2, column 9: a "
                                                "flow sequence that starts there is not closed")


# (line to break, how) -> the line the message must name: the line with the mistake, even where
# PyYAML only notices it lines later (an unclosed quote or bracket).
SYNTAX_MISTAKES = [
    ("    vpc_cidr: 10.1.0.0/16", "   vpc_cidr: 10.1.0.0/16", 10),                  # indentation
    ("    vpc_cidr: 10.1.0.0/16", "    vpc_cidr: [10.1.0.0/16", 10),                 # unclosed bracket
    ("    vpc_cidr: 10.1.0.0/16", "    vpc_cidr: {a: 10.1.0.0/16", 10),              # unclosed brace
    ("domain: platform.example.com", 'domain: "platform.example.com', 2),               # unclosed quote
    ("    name: us-east-1", "    name: us-east-1: x", 6),                               # a second colon
    ("  standby:", "\tstandby:", 8),                                                     # a tab
]


@pytest.mark.parametrize("line, broken, expected", SYNTAX_MISTAKES)
def test_yaml_syntax_errors_name_the_line_with_the_mistake(tmp_path, line, broken, expected):
    from environments.loader import ConfigError, load_file

    text = GOOD.format(name="broken") + 'eks_note: "a later quoted value"\n'
    assert line in text
    path = tmp_path / "broken.yaml"
    path.write_text(text.replace(line, broken, 1))
    with pytest.raises(ConfigError) as raised:
        load_file(path)
    message = str(raised.value)
    assert f"is not valid YAML at line {expected}" in message and "\n" not in message.strip(), message


def test_rejects_yaml_that_is_not_a_mapping(tmp_path):
    _assert_rejected(*_attempt(tmp_path, "- just\n- a list\n"), "must be a YAML mapping")


def test_rejects_name_that_differs_from_file_name(tmp_path):
    _assert_rejected(*_attempt(tmp_path, GOOD.format(name="other")),
                     "environments/broken.yaml: name: 'other' must equal the file name; allowed: 'broken'")


def test_rejects_unknown_environment_name(tmp_path):
    _assert_rejected(*_attempt(tmp_path, GOOD.format(name="broken"), select="broken,qa"),
                     "SPOFLESS_ENVS: 'qa' environment does not exist; allowed: broken")


def test_rejects_missing_required_field(tmp_path):
    text = GOOD.format(name="broken").replace("domain: platform.example.com\n", "")
    _assert_rejected(*_attempt(tmp_path, text), "environments/broken.yaml: domain: is required")


def test_rejects_s3_backend_without_bucket(tmp_path):
    text = GOOD.format(name="broken") + "backend:\n  type: s3\n"
    _assert_rejected(*_attempt(tmp_path, text), "backend.bucket: None is required when type is 's3'")


SECURITY = """\
security:
  rotation_function_arn: arn:aws:lambda:us-east-1:111122223333:function:rotate
  secrets:
    - name: gitops/github-token
      description: token
"""


def test_rejects_secret_referencing_an_unknown_key_purpose(tmp_path):
    text = GOOD.format(name="broken") + SECURITY + "      key: database\n"
    _assert_rejected(*_attempt(tmp_path, text), "security.secrets.0.key: 'database' is not one of the keys "
                                                "declared in security.keys; allowed: eks, secrets, logs, storage")


def test_rejects_unknown_key_purpose(tmp_path):
    text = GOOD.format(name="broken") + SECURITY + "  keys: [eks, logs, secrets, backups]\n"
    _assert_rejected(*_attempt(tmp_path, text), "security.keys.3: 'backups' is not a key purpose spofless knows",
                     "allowed: eks, secrets, logs, storage")


def test_rejects_key_list_without_a_required_purpose(tmp_path):
    text = GOOD.format(name="broken") + SECURITY + "  keys: [eks, secrets]\n"
    _assert_rejected(*_attempt(tmp_path, text), "security.keys: ['eks', 'secrets'] must include 'logs'")


def test_rejects_duplicate_secret_names(tmp_path):
    text = GOOD.format(name="broken") + SECURITY + "    - name: gitops/github-token\n      description: again\n"
    _assert_rejected(*_attempt(tmp_path, text), "security.secrets.1.name: 'gitops/github-token' is already the "
                                                "name of secrets.0; allowed: unique names")


@pytest.mark.parametrize("days", [0, 1001])
def test_rejects_rotation_period_out_of_range(tmp_path, days):
    text = GOOD.format(name="broken") + SECURITY + f"      rotation_days: {days}\n"
    _assert_rejected(*_attempt(tmp_path, text), f"security.secrets.0.rotation_days: {days} is out of AWS's "
                                                "range for automatic rotation; allowed: 1 to 1000")


def test_rejects_rotation_on_an_external_secret(tmp_path):
    text = (GOOD.format(name="broken") + "security:\n  secrets:\n    - name: gitops/github-token\n"
            "      description: a token set at the Git host\n      rotation_days: 30\n")
    _assert_rejected(*_attempt(tmp_path, text), "security.secrets.0.rotation_days: 30 applies only to value: "
                                                "generated", "a Lambda cannot mint it")


def test_rejects_rotation_function_outside_the_primary_region(tmp_path):
    text = GOOD.format(name="broken") + SECURITY.replace("lambda:us-east-1", "lambda:us-west-2")
    _assert_rejected(*_attempt(tmp_path, text), "security.rotation_function_arn: 'arn:aws:lambda:us-west-2:",
                     "is not in the primary region; allowed: a Lambda in us-east-1")


def test_rejects_malformed_rotation_function_arn(tmp_path):
    text = GOOD.format(name="broken") + SECURITY.replace("function:rotate", "rotate")
    _assert_rejected(*_attempt(tmp_path, text), "security.rotation_function_arn:", "is not a Lambda function ARN")


def test_rejects_invalid_secret_name(tmp_path):
    text = GOOD.format(name="broken") + SECURITY.replace("gitops/github-token", "gitops/github token!")
    _assert_rejected(*_attempt(tmp_path, text), "security.secrets.0.name: 'gitops/github token!' is not a "
                                                "valid secret name")


@pytest.mark.parametrize("field, value, expected", [
    ("waf_rate_limit", 10, "load_balancing.waf_rate_limit: 10 is out of range; allowed: greater than or equal to 100"),
    ("app_port", 80, "load_balancing.app_port: 80 is out of range; allowed: greater than or equal to 1024"),
])
def test_rejects_load_balancing_values_out_of_range(tmp_path, field, value, expected):
    text = GOOD.format(name="broken") + f"load_balancing:\n  {field}: {value}\n"
    _assert_rejected(*_attempt(tmp_path, text), expected)


def test_rejects_health_check_timeout_not_below_interval(tmp_path):
    text = GOOD.format(name="broken") + "load_balancing:\n  health_check:\n    interval_seconds: 10\n    timeout_seconds: 10\n"
    _assert_rejected(*_attempt(tmp_path, text), "load_balancing.health_check.timeout_seconds: 10 must be shorter "
                                                "than interval_seconds (10); allowed: 2 to 9")


def test_rejects_node_group_min_above_max(tmp_path):
    text = GOOD.format(name="broken") + "  spot: {min: 5, desired: 5, max: 3}\n"
    _assert_rejected(*_attempt(tmp_path, text), "eks.spot.min: 5 is larger than max (3); allowed: min <= desired <= max")


def test_rejects_node_group_desired_outside_its_bounds(tmp_path):
    text = GOOD.format(name="broken") + "  on_demand: {min: 2, desired: 12, max: 9}\n"
    _assert_rejected(*_attempt(tmp_path, text), "eks.on_demand.desired: 12 is outside min..max (2..9)")


def test_rejects_an_engine_override_for_a_region_the_environment_does_not_have(tmp_path):
    text = GOOD.format(name="broken") + "gitops:\n  active_by_region: {eu-west-1: flux}\n"
    _assert_rejected(*_attempt(tmp_path, text), "gitops.active_by_region.eu-west-1", "is not a region of this "
                                                "environment; allowed: us-east-1, us-west-2")


def test_rejects_unknown_gitops_engine(tmp_path):
    text = GOOD.format(name="broken") + "gitops:\n  active: jenkins\n"
    _assert_rejected(*_attempt(tmp_path, text), "gitops.active: 'jenkins' is not allowed; allowed: 'argocd' or 'flux'")


def test_rejects_public_api_open_to_the_internet(tmp_path):
    text = GOOD.format(name="broken") + "  public_endpoint_cidrs: ['0.0.0.0/0']\n"
    _assert_rejected(*_attempt(tmp_path, text), "eks.public_endpoint_cidrs.0: '0.0.0.0/0' opens the API to the whole "
                                                "internet")


def test_rejects_a_single_spot_instance_type(tmp_path):
    text = GOOD.format(name="broken") + "  spot_instance_types: [m6i.large]\n"
    _assert_rejected(*_attempt(tmp_path, text), "eks.spot_instance_types: ['m6i.large'] lists fewer than two "
                                                "instance types")


def test_rejects_an_unpinned_chart_version(tmp_path):
    text = GOOD.format(name="broken") + "gitops:\n  argocd_chart_version: '7.x'\n"
    _assert_rejected(*_attempt(tmp_path, text), "gitops.argocd_chart_version: '7.x' is not a pinned chart version")


def test_rejects_git_sources_whose_token_secret_does_not_exist(tmp_path):
    text = GOOD.format(name="broken") + SECURITY + (
        "gitops:\n  sources:\n    - name: platform\n      github: https://github.com/o/r.git\n"
        "      gitlab: https://gitlab.com/o/r.git\n")
    _assert_rejected(*_attempt(tmp_path, text), "gitops.gitlab_token_secret: 'gitops/gitlab-token' is not a secret "
                                                "in security.secrets; allowed: gitops/github-token")


def _dns(records: str) -> str:
    return GOOD.format(name="broken") + "dns:\n  records:\n" + records


def test_rejects_a_record_outside_the_zone(tmp_path):
    _assert_rejected(*_attempt(tmp_path, _dns("    - {name: www.example.org., values: [192.0.2.1]}\n")),
                     "dns.records.0.name: 'www.example.org.' is outside the zone platform.example.com")


def test_rejects_a_cname_at_the_apex(tmp_path):
    _assert_rejected(*_attempt(tmp_path, _dns("    - {name: '@', type: CNAME, values: [x.example.net]}\n")),
                     "dns.records.0.name: '@' cannot be a CNAME")


def test_rejects_conflicting_records_for_one_name(tmp_path):
    text = _dns("    - {name: www, type: CNAME, values: [app.platform.example.com]}\n"
                "    - {name: www, type: TXT, values: [hello]}\n")
    _assert_rejected(*_attempt(tmp_path, text), "dns.records.1.name: 'www' conflicts with dns.records.0 (CNAME for "
                                                "the same name)")


def test_rejects_an_unknown_target(tmp_path):
    _assert_rejected(*_attempt(tmp_path, _dns("    - {name: app, target: mainframe}\n")),
                     "dns.records.0.target: 'mainframe' is not allowed; allowed: 'platform'")


@pytest.mark.parametrize("ttl", [30, 90000])
def test_rejects_ttl_out_of_range(tmp_path, ttl):
    _assert_rejected(*_attempt(tmp_path, _dns(f"    - {{name: www, values: [192.0.2.1], ttl: {ttl}}}\n")),
                     f"dns.records.0.ttl: {ttl} is out of range; allowed: 60 to 86400 seconds")


def test_rejects_a_value_of_the_wrong_kind(tmp_path):
    _assert_rejected(*_attempt(tmp_path, _dns("    - {name: www, type: A, values: [not-an-ip]}\n")),
                     "dns.records.0.values.0: 'not-an-ip' is not a valid A value; allowed: an IPv4 address")


def test_rejects_a_deployer_that_is_not_a_role_arn(tmp_path):
    text = GOOD.format(name="broken").replace("role/deployer", "user/deployer")
    _assert_rejected(*_attempt(tmp_path, text), "eks.deployer_role_arn: 'arn:aws:iam::111122223333:user/deployer' "
                                                "is not an IAM role ARN")


def test_rejects_public_deployer_access_without_cidrs(tmp_path):
    text = GOOD.format(name="broken") + "  deployer_access: public\n"
    _assert_rejected(*_attempt(tmp_path, text), "eks.deployer_access: 'public' is 'public' but public_endpoint_cidrs "
                                                "is empty")


def test_rejects_an_s3_backend_without_a_standby_bucket(tmp_path):
    text = GOOD.format(name="broken") + "backend:\n  type: s3\n  bucket: state-primary\n"
    _assert_rejected(*_attempt(tmp_path, text), "backend.standby_bucket: None is required: the standby region's "
                                                "stacks keep their state in the standby region")


def test_rejects_a_state_key_on_one_side_of_the_replication_only(tmp_path):
    text = (GOOD.format(name="broken") + "backend:\n  type: s3\n  bucket: state-primary\n"
            "  standby_bucket: state-standby\n"
            "  kms_key_id: arn:aws:kms:us-east-1:111122223333:key/0f1e2d3c-aaaa-bbbb-cccc-000000000000\n")
    _assert_rejected(*_attempt(tmp_path, text), "backend.standby_kms_key_id: None is missing while kms_key_id is set; "
                     "allowed: both keys")


def test_rejects_a_state_key_given_by_alias(tmp_path):
    text = (GOOD.format(name="broken") + "backend:\n  type: s3\n  bucket: state-primary\n"
            "  standby_bucket: state-standby\n  kms_key_id: alias/state\n  standby_kms_key_id: alias/state\n")
    _assert_rejected(*_attempt(tmp_path, text), "backend.kms_key_id: 'alias/state' is not a KMS key ARN")


def test_rejects_an_alert_address_that_is_not_one(tmp_path):
    text = GOOD.format(name="broken") + "observability:\n  alert_emails: [oncall@example.com, not-an-address]\n"
    _assert_rejected(*_attempt(tmp_path, text),
                     "observability.alert_emails: 'not-an-address' is not an email address; allowed: name@domain")


def test_rejects_a_dynamodb_lock_with_a_standby_region(tmp_path):
    text = (GOOD.format(name="broken") + "backend:\n  type: s3\n  bucket: state-primary\n"
            "  standby_bucket: state-standby\n  lock: dynamodb\n  dynamodb_table: locks\n")
    _assert_rejected(*_attempt(tmp_path, text), "backend.lock: 'dynamodb' is 'dynamodb', but a lock table lives in "
                                                "one region")


def test_rejects_a_parent_domain_that_is_not_a_parent(tmp_path):
    text = GOOD.format(name="broken") + "dns:\n  parent_domain: example.org\n"
    _assert_rejected(*_attempt(tmp_path, text), "dns.parent_domain: 'example.org' is not a parent of the domain "
                                                "platform.example.com")


def test_rejects_cloudflare_name_servers_that_are_not_host_names(tmp_path):
    text = (GOOD.format(name="broken") + "dns:\n  cloudflare:\n    account_id: 0f1e2d3c4b5a69788796a5b4c3d2e1f0\n"
            "    zone_id: 9a8b7c6d5e4f30211203f4e5d6c7b8a9\n    name_servers: [ada.ns.cloudflare.com]\n")
    _assert_rejected(*_attempt(tmp_path, text), "dns.cloudflare.name_servers:", "two or more host names")


def test_rejects_a_kubernetes_version_at_the_end_of_its_support(tmp_path):
    text = GOOD.format(name="broken") + "  version: '1.31'\n  support_type: EXTENDED\n"
    message = _assert_rejected(*_attempt(tmp_path, text), "eks.version: '1.31' extended support ends 2026-11-26",
                               "less than 90 days after the version table's date",
                               "allowed at support_type EXTENDED: 1.35")
    assert "eks_versions.py" in message


def test_rejects_a_kubernetes_version_without_pinned_addons(tmp_path):
    text = GOOD.format(name="broken") + "  version: '1.36'\n"
    _assert_rejected(*_attempt(tmp_path, text), "eks.version: '1.36' has no pinned add-on builds",
                     "allowed at support_type STANDARD: 1.35")


def test_rejects_an_unknown_support_type(tmp_path):
    text = GOOD.format(name="broken") + "  support_type: FOREVER\n"
    _assert_rejected(*_attempt(tmp_path, text), "eks.support_type: 'FOREVER'", "STANDARD", "EXTENDED")


def test_rejects_an_account_id_that_is_not_twelve_digits(tmp_path):
    text = GOOD.format(name="broken").replace('account_id: "111122223333"', "account_id: 11112222333")
    _assert_rejected(*_attempt(tmp_path, text), "account_id: 11112222333 is not an AWS account id",
                     "allowed: 12 digits, quoted")


def test_rejects_an_environment_without_an_account(tmp_path):
    text = GOOD.format(name="broken").replace('account_id: "111122223333"\n', "")
    _assert_rejected(*_attempt(tmp_path, text), "account_id")


def test_rejects_the_nlb_path_on_the_app_port(tmp_path):
    text = GOOD.format(name="broken") + "load_balancing:\n  app_port: 9443\n  nlb_target_port: 9443\n"
    _assert_rejected(*_attempt(tmp_path, text), "load_balancing.nlb_target_port: 9443 is app_port too")


def test_rejects_the_firewall_entrypoint_on_a_load_balancer_port(tmp_path):
    text = GOOD.format(name="broken") + "load_balancing:\n  nlb_inspection:\n    inspected_port: 8444\n"
    _assert_rejected(*_attempt(tmp_path, text),
                     "load_balancing.nlb_inspection.inspected_port: 8444 is app_port or nlb_target_port too")


def test_rejects_a_firewall_threshold_no_request_can_stay_below(tmp_path):
    text = GOOD.format(name="broken") + "load_balancing:\n  nlb_inspection:\n    anomaly_threshold: 0\n"
    _assert_rejected(*_attempt(tmp_path, text), "load_balancing.nlb_inspection.anomaly_threshold: 0")


def test_rejects_a_signing_key_that_is_not_a_public_key(tmp_path):
    text = GOOD.format(name="broken") + ("gitops:\n  signing_keys:\n    - |\n"
                                         "      -----BEGIN PGP PRIVATE KEY BLOCK-----\n      xyz\n")
    _assert_rejected(*_attempt(tmp_path, text),
                     "gitops.signing_keys.0: '-----BEGIN PGP PRIVATE KEY BLOCK-----' does not start with "
                     "-----BEGIN PGP PUBLIC KEY BLOCK-----")


# -- hostile and malformed files ---------------------------------------------------------------------

def test_rejects_a_duplicate_key_at_any_depth(tmp_path):
    text = GOOD.format(name="broken").replace("    vpc_cidr: 10.1.0.0/16", "    vpc_cidr: 10.1.0.0/16\n    name: us-west-1")
    _assert_rejected(*_attempt(tmp_path, text), "environments/broken.yaml: line 11: repeats the key 'name' "
                                                "(first at line 9); allowed: each key once")


def test_rejects_a_file_that_is_not_utf8(tmp_path):
    text = GOOD.format(name="broken").replace("platform.example.com", "platform.ex\xe4mple.com")
    _assert_rejected(*_attempt(tmp_path, text.encode("latin-1")),
                     "environments/broken.yaml: line 2: is not UTF-8 text (byte 0xe4)")


def test_rejects_an_empty_file_saying_it_is_empty(tmp_path):
    _assert_rejected(*_attempt(tmp_path, "# nothing here yet\n\n"), "environments/broken.yaml: is empty")


def test_rejects_an_oversized_file_without_reading_it(tmp_path):
    text = GOOD.format(name="broken") + "# " + "x" * (300 * 1024) + "\n"
    _assert_rejected(*_attempt(tmp_path, text), "environments/broken.yaml: is ", "bytes; allowed: at most 262144")


def test_rejects_an_oversized_value_and_prints_only_its_length(tmp_path):
    text = GOOD.format(name="broken") + "tags:\n  Owner: " + "y" * 10000 + "\n"
    message = _assert_rejected(*_attempt(tmp_path, text), "tags.Owner: is 10000 characters; allowed: at most 4096")
    assert "y" * 100 not in message


def test_rejects_yaml_aliases_before_any_expansion(tmp_path):
    bomb = "".join(f"l{i}: &l{i} [" + ", ".join([f"*l{i - 1}"] * 9) + "]\n" for i in range(1, 9))
    text = GOOD.format(name="broken") + "x0: &l0 [lol]\n" + bomb
    result, untouched = _attempt(tmp_path, text)  # bounded by _attempt's 60 s timeout
    _assert_rejected(result, untouched, "uses a YAML alias (*name)", "anchors and aliases are not supported")


def test_never_echoes_a_credential(tmp_path):
    token = "ghp_" + "A1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q7r8"
    text = GOOD.format(name="broken") + f"  deployer_role_arn_typo: {token}\n"
    message = _assert_rejected(*_attempt(tmp_path, text), "eks.deployer_role_arn_typo: unknown field")
    assert token not in message
    text = GOOD.format(name="broken").replace("arn:aws:iam::111122223333:role/deployer", token)
    (tmp_path / "second").mkdir()
    message = _assert_rejected(*_attempt(tmp_path / "second", text), "eks.deployer_role_arn: <a value that looks "
                                                                      "like a credential, not shown>")
    assert token not in message


def test_rejects_an_instance_type_that_is_not_one(tmp_path):
    text = GOOD.format(name="broken") + "  on_demand_instance_types: ['m6i large']\n"
    _assert_rejected(*_attempt(tmp_path, text), "eks.on_demand_instance_types.0: 'm6i large' is not an EC2 "
                                                "instance type")


def test_rejects_overlapping_vpcs_of_two_environments_in_one_account_and_region(tmp_path):
    text = GOOD.format(name="two").replace("10.0.0.0/16", "10.0.128.0/17")
    _assert_rejected(*_attempt(tmp_path, text, name="two", others={"one": GOOD.format(name="one")}),
                     "environments/two.yaml: regions.primary.vpc_cidr: '10.0.128.0/17' overlaps one's 10.0.0.0/16 "
                     "in the same account and region (us-east-1)")


def test_rejects_a_key_list_without_a_purpose_the_constructs_use(tmp_path):
    """storage encrypts the nodes' volumes: leaving it out was a KeyError traceback at synthesis."""
    text = GOOD.format(name="broken") + "security:\n  keys: [eks, logs, secrets]\n"
    _assert_rejected(*_attempt(tmp_path, text), "security.keys: ", "must include 'storage' (the EKS nodes' volumes "
                                                                    "are encrypted with it)")


def _child(account: str = "111122223333", parent: str = "platform.example.com") -> str:
    return (GOOD.format(name="qa").replace("domain: platform.example.com", f"domain: qa.{parent}")
            .replace("111122223333", account).replace("10.0.0.0/16", "10.8.0.0/16").replace("10.1.0.0/16", "10.9.0.0/16")
            + f"dns:\n  parent_domain: {parent}\n")


def test_rejects_a_parent_domain_served_by_an_environment_in_another_account(tmp_path):
    """The dns-zone stack writes the delegation with the child's credentials: the parent zone must be
    in the child's account (a cross-account delegation is made at the parent by hand)."""
    result, untouched = _attempt(tmp_path, _child(account="444455556666"), name="qa", select="qa",
                                 others={"prod": GOOD.format(name="prod")})
    _assert_rejected(result, untouched, "qa.yaml", "dns.parent_domain", "'platform.example.com'",
                     "served by prod in account 111122223333", "allowed: a parent zone in account 444455556666")


@pytest.mark.parametrize("parent", ["platform.example.com", "example.org"])
def test_accepts_a_parent_domain_in_the_same_account_or_served_by_no_environment(tmp_path, parent):
    result, _ = _attempt(tmp_path, _child(parent=parent), name="qa", select="qa",
                         others={"prod": GOOD.format(name="prod")})
    assert result.returncode == 0, result.stderr


# -- the data tier -----------------------------------------------------------------------------------

@pytest.mark.parametrize("data, fragments", [
    ("  aurora: {instances: 1}\n", ("data.aurora.instances: 1 is below 2 in an environment with a standby region",
                                    "allowed: 2 to 15")),
    ("  aurora: {instance_class: db.t4g.medium}\n", ("data.aurora.instance_class: 'db.t4g.medium' is a burstable class",
                                                     "allowed: db.r5 and newer")),
    ("  cache: {node_type: cache.t4g.small}\n", ("data.cache.node_type: 'cache.t4g.small' is not a node type Global "
                                                 "Datastore supports", "allowed: cache.m5, m6g")),
    ("  aurora: {engine_version: '11.9'}\n", ("data.aurora.engine_version: '11.9' is not an Aurora PostgreSQL",
                                              "allowed: 13.x to 17.x")),
    ("  cache: {engine: valkey, engine_version: '6.2'}\n", ("data.cache.engine_version: '6.2' is not a valkey version",
                                                            "allowed: 7.2, 8.0, 8.1")),
    ("  backup: {schedule: 'rate(15 minutes)'}\n", ("data.backup.schedule: 'rate(15 minutes)' is not an AWS Backup "
                                                   "schedule", "allowed: cron(")),
    ("  repositories: [Platform/App]\n", ("data.repositories", "is not an ECR repository name")),
    ("  aurora: {backup_retention_days: 35}\n", ("data.aurora.backup_retention_days: 35 differs from what AWS Backup's "
                                                 "continuous rule keeps (30 days)", "allowed: 30, leave it out")),
])
def test_rejects_a_data_tier_aws_would_refuse_or_that_has_a_single_point_of_failure(tmp_path, data, fragments):
    _assert_rejected(*_attempt(tmp_path, GOOD.format(name="broken") + "data:\n" + data), "broken.yaml", *fragments)


def test_accepts_a_small_single_region_data_tier(tmp_path):
    text = (GOOD.format(name="small").split("  standby:")[0] + "  single_region_reason: 'dev, cost: a region outage "
            "takes it down'\neks:\n  deployer_role_arn: arn:aws:iam::111122223333:role/deployer\n"
            "data:\n  aurora: {instance_class: db.t4g.medium, instances: 1}\n  cache: {node_type: cache.t4g.small}\n")
    result, _ = _attempt(tmp_path, text, name="small", select="small")
    assert result.returncode == 0, result.stderr


def test_rejects_repositories_two_environments_of_one_account_and_region_declare(tmp_path):
    """A registry has one replication configuration: two owners would overwrite each other's rules."""
    other = (GOOD.format(name="prod").replace("10.0.0.0/16", "10.8.0.0/16").replace("10.1.0.0/16", "10.9.0.0/16")
             + "data:\n  repositories: [platform/app]\n")
    result, untouched = _attempt(tmp_path, GOOD.format(name="qa") + "data:\n  repositories: [platform/app]\n",
                                 name="qa", select="qa", others={"prod": other})
    _assert_rejected(result, untouched, "qa.yaml: data.repositories", "also declared by prod in account 111122223333",
                     "one replication configuration", "allowed: declare them in one environment per account and region")
    (tmp_path / "ok").mkdir()
    result, _ = _attempt(tmp_path / "ok", GOOD.format(name="qa").replace("domain: platform", "domain: qa.platform"),
                         name="qa", select="qa", others={"prod": other})
    assert result.returncode == 0, result.stderr


# -- the account: one owner, its regions, its quotas, names one environment claims --------------

def test_rejects_an_environment_whose_account_no_file_describes(tmp_path):
    result, untouched = _attempt(tmp_path, GOOD.format(name="qa"), name="qa", accounts={})
    _assert_rejected(result, untouched, "qa.yaml: account_id: '111122223333' is described by no file in",
                     "need one owner", "allowed: an account id of no account yet, or a new accounts/<name>.yaml")


def test_rejects_two_files_for_one_account(tmp_path):
    accounts = {name: ACCOUNT.format(name=name, account_id="111122223333") for name in ("one", "two")}
    result, untouched = _attempt(tmp_path, GOOD.format(name="qa"), name="qa", accounts=accounts)
    _assert_rejected(result, untouched, "accounts/two.yaml: account_id: '111122223333' is also described by",
                     "accounts/one.yaml", "allowed: one account file per AWS account")


def test_rejects_a_region_the_account_does_not_cover(tmp_path):
    account = ACCOUNT.format(name="shared", account_id="111122223333").replace(
        "regions: [us-east-1, us-west-2]", "regions: [us-east-1]\nsingle_region_reason: 'a sandbox account'").replace(
        "  us-west-2: {elastic_ips: 20}\n", "")
    result, untouched = _attempt(tmp_path, GOOD.format(name="qa"), name="qa", accounts={"shared": account})
    _assert_rejected(result, untouched, "qa.yaml: regions.standby.name: 'us-west-2' is not a region of account shared",
                     "allowed: us-east-1, or add it there")


@pytest.mark.parametrize("change, fragments", [
    (("name: shared", "name: other"), ("shared.yaml: name: 'other' must equal the file name",)),
    (("home_region: us-east-1", "home_region: eu-west-1"), ("regions: ['us-east-1', 'us-west-2'] does not include "
                                                           "home_region eu-west-1",)),
    (("{elastic_ips: 20}", "{elastic_ipz: 20}"), ("quotas.us-east-1.elastic_ipz: 'elastic_ipz' is not a quota",
                                                "allowed: elastic_ips, vpcs")),
    (("{elastic_ips: 20}", "{elastic_ips: 20, log_resource_policies: 12}"),
     ("quotas.us-east-1.log_resource_policies: 12 is above 10, and AWS does not raise 'CloudWatch Logs resource "
      "policies per Region'; allowed: at most 10",)),
    (("regions: [us-east-1, us-west-2]", "regions: [us-east-1, us-west-2]\naudit: {retention_days: 0}"),
     ("audit.retention_days: 0 is out of range; allowed: 1 to 3650 days",)),
    (("regions: [us-east-1, us-west-2]", "regions: [us-east-1, us-west-2]\nsingletons: {guardduty: adopt}"),
     ("singletons.guardduty: 'adopt' is not allowed; allowed: 'create' or 'existing'",)),
])
def test_rejects_an_account_file_aws_or_the_schema_would_refuse(tmp_path, change, fragments):
    account = ACCOUNT.format(name="shared", account_id="111122223333").replace(*change)
    result, untouched = _attempt(tmp_path, GOOD.format(name="qa"), name="qa", accounts={"shared": account})
    _assert_rejected(result, untouched, "accounts/shared.yaml", *fragments)


def test_rejects_an_environment_that_takes_another_ones_names(tmp_path):
    """A file copied from another environment that kept its domain would write into that environment's
    records and Cloudflare load balancers; the message is about the file changed last, the one just added."""
    first = GOOD.format(name="staging").replace("domain: platform", "domain: staging.platform")
    copied = first.replace("name: staging", "name: qa").replace("10.0.0.0/16", "10.8.0.0/16").replace(
        "10.1.0.0/16", "10.9.0.0/16")
    result, untouched = _attempt(tmp_path, copied, name="qa", select="qa", others={"staging": first})
    _assert_rejected(result, untouched, "qa.yaml: domain: 'staging.platform.example.com' claims "
                     "'staging.platform.example.com', which staging", "already serves",
                     "allowed: a domain of this environment's own (e.g. 'qa.platform.example.com')")


def test_rejects_a_fourth_environment_past_a_quota_and_names_the_quota(tmp_path):
    """Three environments in one account and region fit its declared Elastic IPs; a fourth does not."""
    account = ACCOUNT.format(name="shared", account_id="111122223333").replace("20}", "9}")
    others = {f"env{i}": GOOD.format(name=f"env{i}").replace("domain: platform", f"domain: env{i}.platform")
              .replace("10.0.0.0/16", f"10.{2 * i}.0.0/16").replace("10.1.0.0/16", f"10.{2 * i + 1}.0.0/16")
              for i in (1, 2, 3)}
    fits = _attempt(tmp_path / "three", others.pop("env3"), name="env3", others=others,
                    accounts={"shared": account})[0]
    assert fits.returncode == 0, fits.stderr
    fourth = GOOD.format(name="env4").replace("domain: platform", "domain: env4.platform").replace(
        "10.0.0.0/16", "10.40.0.0/16").replace("10.1.0.0/16", "10.41.0.0/16")
    others["env3"] = GOOD.format(name="env3").replace("domain: platform", "domain: env3.platform").replace(
        "10.0.0.0/16", "10.6.0.0/16").replace("10.1.0.0/16", "10.7.0.0/16")
    result, untouched = _attempt(tmp_path / "four", fourth, name="env4", others=others, accounts={"shared": account})
    message = _assert_rejected(result, untouched, "env4.yaml: regions: needs 12 of the quota 'EC2-VPC Elastic IPs' "
                               "(ec2 L-0263D0A3) in us-east-1 of account shared, which is 9 (declared)",
                               "env1 3, env2 3, env3 3, env4 3",
                               "raise environments/accounts/shared.yaml quotas.us-east-1.elastic_ips")
    assert "VPCs per Region" not in message  # four VPCs and the default VPC: 5 of 5 fit


# -- every input read once, by the hardened reader ---------------------------------------------------

CHILD = GOOD.replace("domain: platform.example.com", "domain: dev.platform.example.com").replace(
    "10.0.0.0/16", "10.2.0.0/16").replace("10.1.0.0/16", "10.3.0.0/16") + \
    "dns:\n  parent_domain: platform.example.com\ndata:\n  repositories: [app]\n"


def _environment_dir(tmp_path: Path, files: dict[str, str | bytes]) -> Path:
    env_dir = tmp_path / "environments"
    (env_dir / "accounts").mkdir(parents=True)
    (env_dir / "accounts" / "shared.yaml").write_text(ACCOUNT.format(name="shared", account_id="111122223333"))
    for name, text in files.items():
        path = env_dir / f"{name}.yaml"
        path.write_bytes(text) if isinstance(text, bytes) else path.write_text(text)
    return env_dir


def test_a_latin1_file_beside_valid_ones_is_judged_once_and_never_read_by_a_laxer_reader(tmp_path):
    """GIVEN a Latin-1 file beside two valid environments whose cross-file rules (parent domain, shared
    registries) read every neighbour, WHEN only a valid one is loaded, THEN it loads (the broken file is
    judged when selected); WHEN all are loaded, THEN the broken file's one problem is reported."""
    from environments.loader import ConfigError, load_environments

    broken = GOOD.format(name="broken").replace("platform.example.com", "platform.ex\xe4mple.com").replace(
        "10.0.0.0/16", "10.4.0.0/16").replace("10.1.0.0/16", "10.5.0.0/16")
    env_dir = _environment_dir(tmp_path, {"prod": GOOD.format(name="prod"), "dev": CHILD.format(name="dev"),
                                          "broken": broken.encode("latin-1")})
    assert [c.name for c in load_environments(["dev"], env_dir)] == ["dev"]
    with pytest.raises(ConfigError) as raised:
        load_environments(None, env_dir)
    assert [(Path(p.file).name, p.field, p.message) for p in raised.value.problems] == [
        ("broken.yaml", "line 2", "is not UTF-8 text (byte 0xe4); allowed: a UTF-8 YAML file")]


def test_every_environment_file_is_read_once_per_load(tmp_path, monkeypatch):
    """GIVEN three environments, the cross-file rules among them, WHEN they are loaded, THEN each file's
    bytes are read exactly once (the rules work on what the hardened reader returned)."""
    from collections import Counter

    from environments.loader import load_environments

    env_dir = _environment_dir(tmp_path, {"prod": GOOD.format(name="prod"), "dev": CHILD.format(name="dev")})
    reads: Counter = Counter()
    real_bytes, real_text = Path.read_bytes, Path.read_text

    def read_bytes(self):
        reads[self.name] += 1
        return real_bytes(self)

    def read_text(self, *args, **kwargs):
        reads[self.name] += 1
        return real_text(self, *args, **kwargs)

    monkeypatch.setattr(Path, "read_bytes", read_bytes)
    monkeypatch.setattr(Path, "read_text", read_text)
    assert sorted(c.name for c in load_environments(None, env_dir)) == ["dev", "prod"]
    assert {name: count for name, count in reads.items() if name in ("dev.yaml", "prod.yaml")} == \
        {"dev.yaml": 1, "prod.yaml": 1}


@pytest.mark.parametrize("line, expected", [
    ("canary_path: health/ready", "observability.canary_path: 'health/ready' is not an absolute URL path; "
                                  "allowed: /path"),
    ("canary_runtime: syn-nodejs-puppeteer-9.1", "observability.canary_runtime: 'syn-nodejs-puppeteer-9.1' is not a "
                                                 "Python Synthetics runtime; allowed: syn-python-selenium-<major>.<minor>"),
    ("canary_minutes: 60", "observability.canary_minutes: 60 is out of range; allowed: less than or equal to 59"),
])
def test_rejects_a_canary_it_could_not_run(tmp_path, line, expected):
    text = GOOD.format(name="broken") + f"observability:\n  {line}\n"
    _assert_rejected(*_attempt(tmp_path, text), expected)


@pytest.mark.parametrize("line, expected", [
    ("metrics_retention_days: 1096", "observability.metrics_retention_days: 1096 is out of range; allowed: less than "
                                     "or equal to 1095"),
    ("log_retention_days: 100", "observability.log_retention_days: 100 is not a CloudWatch Logs retention period"),
    ("crash_loop_minutes: 0", "observability.crash_loop_minutes: 0 is out of range; allowed: greater than or equal to 1"),
    ("cluster_metrics: maybe", "observability.cluster_metrics: 'maybe'"),
])
def test_rejects_cluster_metrics_settings_aws_would_refuse(tmp_path, line, expected):
    text = GOOD.format(name="broken") + f"observability:\n  {line}\n"
    _assert_rejected(*_attempt(tmp_path, text), expected)
