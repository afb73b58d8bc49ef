"""A regional WAFv2 web ACL for the ALBs, with logging."""

from __future__ import annotations

from constructs import Construct

from modules.iam import AccountContext, policy_document
from modules.providers import aws
from modules.security.keys import RegionalKey

# (priority, rule group) of the AWS managed rule groups every ALB gets.
MANAGED_RULE_GROUPS = (
    (10, "AWSManagedRulesCommonRuleSet"),
    (20, "AWSManagedRulesKnownBadInputsRuleSet"),  # includes the Log4j (Log4Shell) rules
    (30, "AWSManagedRulesSQLiRuleSet"),
    (40, "AWSManagedRulesAmazonIpReputationList"),
    (45, "AWSManagedRulesAnonymousIpList"),
)
# Static versions the versioned groups are pinned to: a new AWS default version never changes
# what is blocked without a reviewed change here. The IP reputation groups are not versioned.
# https://docs.aws.amazon.com/waf/latest/developerguide/waf-managed-rule-groups-deployments.html
# https://docs.aws.amazon.com/waf/latest/developerguide/aws-managed-rule-groups-changelog.html
RULE_GROUP_VERSIONS = {
    "AWSManagedRulesCommonRuleSet": "Version_1.19",        # changelog 2025-08-14
    "AWSManagedRulesSQLiRuleSet": "Version_2.3",            # changelog, newest SQLi row
    # its changelog row was not readable offline: public configurations pin 1.24; confirm with
    # `aws wafv2 list-available-managed-rule-group-versions --vendor-name AWS --scope REGIONAL
    #  --name AWSManagedRulesKnownBadInputsRuleSet` (README, "Deploy to a real account", prerequisite 8)
    "AWSManagedRulesKnownBadInputsRuleSet": "Version_1.24",
}
# The common rule set blocks request bodies over 8 KB (8,192 bytes); an ALB's WAF inspects only
# that much of a body, a limit that cannot be raised for ALBs.
# https://docs.aws.amazon.com/waf/latest/developerguide/aws-managed-rule-groups-baseline.html
WAF_BODY_LIMIT_KIB = 8
BODY_SIZE_RULE = ("AWSManagedRulesCommonRuleSet", "SizeRestrictions_BODY")
# Sub-rules that only count: clients legitimately calling from cloud hosts must not be blocked.
COUNT_ONLY = {"AWSManagedRulesAnonymousIpList": ("HostingProviderIPList",)}
# Request headers that carry credentials; WAF logs them as REDACTED.
REDACTED_HEADERS = ("authorization", "cookie")
# Terminating and counting actions worth a log line; ALLOW is dropped (the access logs have it).
LOGGED_ACTIONS = ("BLOCK", "COUNT", "CAPTCHA", "CHALLENGE", "EXCLUDED_AS_COUNT")


class WebAcl(Construct):
    """Web ACL: managed common, known-bad-inputs, SQL injection, IP reputation and anonymous-IP rules,
    a per-IP rate limit, and full logging to a KMS-encrypted CloudWatch log group."""

    def __init__(self, scope: Construct, construct_id: str, *, name: str, region: str, rate_limit: int,
                 body_limit_kib: int, log_retention_days: int, logs_key: RegionalKey, account: AccountContext):
        super().__init__(scope, construct_id)
        count_only = {group: list(rules) for group, rules in COUNT_ONLY.items()}
        if body_limit_kib > WAF_BODY_LIMIT_KIB:
            # bodies up to the configured limit are allowed: the size rule only counts, and the
            # in-cluster gateway enforces the limit on every path (load_balancing.request_body_limit_kib)
            count_only.setdefault(BODY_SIZE_RULE[0], []).append(BODY_SIZE_RULE[1])
        waf = aws("wafv2_web_acl")
        visibility = lambda metric: {"cloudwatch_metrics_enabled": True, "metric_name": metric,  # noqa: E731
                                     "sampled_requests_enabled": True}
        rules = [
            waf.Wafv2WebAclRule(
                name=group, priority=priority,
                override_action=waf.Wafv2WebAclRuleOverrideAction(none=waf.Wafv2WebAclRuleOverrideActionNone()),
                # `statement` is untyped in the bindings (WAF's schema nests too deep) and
                # passes through as written: Terraform's own block names.
                statement={"managed_rule_group_statement": {
                    "name": group, "vendor_name": "AWS",
                    **({"version": RULE_GROUP_VERSIONS[group]} if group in RULE_GROUP_VERSIONS else {}),
                    **({"rule_action_override": [{"name": rule, "action_to_use": {"count": {}}}
                                                 for rule in count_only[group]]} if group in count_only else {}),
                }},
                visibility_config=visibility(group),
            )
            for priority, group in MANAGED_RULE_GROUPS
        ]
        rules.append(waf.Wafv2WebAclRule(
            name="rate-limit-per-ip", priority=50,
            action=waf.Wafv2WebAclRuleAction(block=waf.Wafv2WebAclRuleActionBlock()),
            statement={"rate_based_statement": {"limit": rate_limit, "aggregate_key_type": "IP"}},
            visibility_config=visibility("rate-limit-per-ip"),
        ))
        self.acl = waf.Wafv2WebAcl(
            self, "acl", name=name, scope="REGIONAL",
            default_action=waf.Wafv2WebAclDefaultAction(allow=waf.Wafv2WebAclDefaultActionAllow()),
            rule=rules, visibility_config=visibility(name),
        )
        # WAF requires the log group name to start with aws-waf-logs-.
        group = aws("cloudwatch_log_group").CloudwatchLogGroup(
            self, "logs", name=f"aws-waf-logs-{name}", retention_in_days=log_retention_days,
            kms_key_id=logs_key.arn)
        aws("cloudwatch_log_resource_policy").CloudwatchLogResourcePolicy(
            self, "log-delivery", policy_name=f"{name}-waf-log-delivery",
            policy_document=policy_document([{
                "Sid": "WafLogDelivery", "Effect": "Allow",
                "Principal": {"Service": "delivery.logs.amazonaws.com"},
                "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
                "Resource": f"{group.arn}:*",
                "Condition": {"StringEquals": {"aws:SourceAccount": account.account_id},
                              "ArnLike": {"aws:SourceArn": f"arn:{account.partition}:logs:{region}:"
                                                           f"{account.account_id}:*"}},
            }]))
        logging = aws("wafv2_web_acl_logging_configuration")
        logging.Wafv2WebAclLoggingConfiguration(
            self, "logging", resource_arn=self.acl.arn, log_destination_configs=[group.arn],
            # Credentials never reach the logs: WAF writes REDACTED for these headers.
            # https://docs.aws.amazon.com/waf/latest/developerguide/logging-management.html
            redacted_fields=[logging.Wafv2WebAclLoggingConfigurationRedactedFields(
                single_header=logging.Wafv2WebAclLoggingConfigurationRedactedFieldsSingleHeader(name=header))
                for header in REDACTED_HEADERS],
            # Only what WAF acted on is kept (and paid for); every request, allowed ones included,
            # is in the load balancers' access logs already.
            # https://docs.aws.amazon.com/waf/latest/developerguide/logging-filtering.html
            logging_filter=logging.Wafv2WebAclLoggingConfigurationLoggingFilter(
                default_behavior="DROP",
                filter=[logging.Wafv2WebAclLoggingConfigurationLoggingFilterFilter(
                    behavior="KEEP", requirement="MEETS_ANY",
                    condition=[logging.Wafv2WebAclLoggingConfigurationLoggingFilterFilterCondition(
                        action_condition={"action": action}) for action in LOGGED_ACTIONS])]))
        self.arn: str = self.acl.arn

    def protect(self, construct_id: str, resource_arn: str) -> None:
        """Associate the web ACL with a load balancer."""
        aws("wafv2_web_acl_association").Wafv2WebAclAssociation(
            self, construct_id, resource_arn=resource_arn, web_acl_arn=self.acl.arn)
