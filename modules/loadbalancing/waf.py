"""A regional WAFv2 web ACL for the ALBs, with logging."""

from __future__ import annotations

from constructs import Construct

from modules.iam import AccountContext, policy_document
from modules.providers import aws

# (priority, rule group) of the AWS managed rule groups every ALB gets.
MANAGED_RULE_GROUPS = (
    (10, "AWSManagedRulesCommonRuleSet"),
    (20, "AWSManagedRulesKnownBadInputsRuleSet"),  # includes the Log4j (Log4Shell) rules
    (30, "AWSManagedRulesSQLiRuleSet"),
    (40, "AWSManagedRulesAmazonIpReputationList"),
    (45, "AWSManagedRulesAnonymousIpList"),
)
# Sub-rules that only count: clients legitimately calling from cloud hosts must not be blocked.
COUNT_ONLY = {"AWSManagedRulesAnonymousIpList": ("HostingProviderIPList",)}


class WebAcl(Construct):
    """Web ACL: managed common, known-bad-inputs, SQL injection, IP reputation and anonymous-IP rules,
    a per-IP rate limit, and full logging to a KMS-encrypted CloudWatch log group."""

    def __init__(self, scope: Construct, construct_id: str, *, name: str, region: str, rate_limit: int,
                 log_retention_days: int, logs_kms_key_arn: str, account: AccountContext):
        super().__init__(scope, construct_id)
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
                    **({"rule_action_override": [{"name": rule, "action_to_use": {"count": {}}}
                                                 for rule in COUNT_ONLY[group]]} if group in COUNT_ONLY else {}),
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
            kms_key_id=logs_kms_key_arn)
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
        aws("wafv2_web_acl_logging_configuration").Wafv2WebAclLoggingConfiguration(
            self, "logging", resource_arn=self.acl.arn, log_destination_configs=[group.arn])
        self.arn: str = self.acl.arn

    def protect(self, construct_id: str, resource_arn: str) -> None:
        """Associate the web ACL with a load balancer."""
        aws("wafv2_web_acl_association").Wafv2WebAclAssociation(
            self, construct_id, resource_arn=resource_arn, web_acl_arn=self.acl.arn)
