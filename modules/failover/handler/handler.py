"""The Region switch plan's custom steps, run in the region being activated (RegionToRun: activatingRegion).

    {"action": "promote-cache"}  make this region's ElastiCache replication group the global datastore's primary
                                 (``spofless failover`` calls it with ungraceful=True after an ungraceful run)
    {"action": "dns"}            make both DNS providers answer this region: the other regions' RegionInactive
                                 metric to 1 (their Route53 health checks go unhealthy), this region's to 0,
                                 and Cloudflare's pools of the other regions off, this region's on

Each action is idempotent (Region switch retries a failed step every RetryIntervalMinutes until its
timeout) and reaches only what the function's environment names. Standard library and boto3 only.
"""

from __future__ import annotations

import json
import os
import time
import urllib.error
import urllib.request

import boto3

REGION = os.environ.get("AWS_REGION", "")
CLOUDFLARE_API = "https://api.cloudflare.com/client/v4"
WAIT_SECONDS = 600  # under the function's 15 min; Region switch retries the step after that


def _config() -> dict:
    return json.loads(os.environ["FAILOVER_CONFIG"])


def handler(event, context=None):
    # the plan's Payload, plus InvokedBy, PlanArn, ExecutionId and StepName (Region switch's event); the plan
    # runs these steps in graceful runs only, so the region left still answers
    action = (event or {}).get("action")
    if action == "promote-cache":
        return promote_cache(_config())
    if action == "dns":
        return dns(_config())
    raise ValueError(f"unknown action {action!r}; allowed: promote-cache, dns")


def promote_cache(config: dict, *, ungraceful: bool = False, client=None, sleep=time.sleep, clock=time.monotonic):
    """Promote this region's member of the global datastore. Gracefully: FailoverGlobalReplicationGroup (the old
    primary becomes a secondary). When that fails in an ungraceful run (the primary's region does not answer),
    this member leaves the datastore and serves as a standalone primary (DisassociateGlobalReplicationGroup).
    https://docs.aws.amazon.com/AmazonElastiCache/latest/dg/Redis-Global-Datastores-Console.html"""
    client = client or boto3.client("elasticache", region_name=REGION)
    member = config["cache_group"]
    group = client.describe_replication_groups(ReplicationGroupId=member)["ReplicationGroups"][0]
    info = group.get("GlobalReplicationGroupInfo") or {}
    global_id = info.get("GlobalReplicationGroupId")
    if not global_id:
        return {"action": "promote-cache", "result": f"{member} is standalone: nothing to promote"}
    if info.get("GlobalReplicationGroupMemberRole") == "PRIMARY":
        return {"action": "promote-cache", "result": f"{member} is already the primary of {global_id}"}
    try:
        client.failover_global_replication_group(GlobalReplicationGroupId=global_id, PrimaryRegion=REGION,
                                                 PrimaryReplicationGroupId=member)
    except Exception:  # noqa: BLE001 - any refusal: detach when allowed to lose the other region
        if not ungraceful:
            raise
        client.disassociate_global_replication_group(GlobalReplicationGroupId=global_id,
                                                     ReplicationGroupId=member, ReplicationGroupRegion=REGION)
        return {"action": "promote-cache", "result": f"{member} left {global_id} and serves as a standalone primary"}
    started = clock()
    while clock() - started < WAIT_SECONDS:
        group = client.describe_replication_groups(ReplicationGroupId=member)["ReplicationGroups"][0]
        if (group.get("GlobalReplicationGroupInfo") or {}).get("GlobalReplicationGroupMemberRole") == "PRIMARY" \
                and group.get("Status") == "available":
            return {"action": "promote-cache", "result": f"{member} is the primary of {global_id}"}
        sleep(15)
    raise TimeoutError(f"{member} is not yet the primary of {global_id}; the step is retried")


def dns(config: dict, *, cloudwatch=None, secrets=None, request=None):
    """Both providers answer this region: Route53 through the RegionInactive alarms, Cloudflare through its pools.
    This region's metric and Cloudflare first; the other regions' metric last and best effort, so a region
    that does not answer never keeps the step from finishing (its health checks fail on their own)."""
    def publish(region: str) -> None:
        client = (cloudwatch or (lambda r: boto3.client("cloudwatch", region_name=r)))(region)
        client.put_metric_data(Namespace=config["namespace"], MetricData=[{
            "MetricName": config["metric"], "Dimensions": [{"Name": "Environment", "Value": config["env"]}],
            "Value": 0.0 if region == REGION else 1.0, "Unit": "Count"}])

    publish(REGION)
    done = [f"RegionInactive: {REGION}=0"]
    pools = config.get("cloudflare_pools") or {}
    if pools:
        secrets = secrets or boto3.client("secretsmanager", region_name=REGION)
        token = secrets.get_secret_value(SecretId=config["cloudflare_token_secret"])["SecretString"].strip()
        send = request or _cloudflare
        listed = send(token, "GET", f"/accounts/{config['cloudflare_account']}/load_balancers/pools", None)
        by_name = {pool["name"]: pool["id"] for pool in listed.get("result", [])}
        for region, names in sorted(pools.items()):
            for name in names:
                if name not in by_name:
                    raise LookupError(f"Cloudflare has no pool {name}")
                send(token, "PATCH", f"/accounts/{config['cloudflare_account']}/load_balancers/pools/{by_name[name]}",
                     {"enabled": region == REGION})
            done.append(f"Cloudflare pools of {region}: {'on' if region == REGION else 'off'}")
    for region in config["regions"]:
        if region == REGION:
            continue
        try:
            publish(region)
            done.append(f"RegionInactive: {region}=1")
        except Exception as error:  # noqa: BLE001 - the region left may not answer
            done.append(f"RegionInactive: {region} not written ({type(error).__name__}); its health checks decide")
    return {"action": "dns", "result": "; ".join(done)}


def _cloudflare(token: str, method: str, path: str, body):
    """One Cloudflare API call; the token never leaves the Authorization header (errors name the path only)."""
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(CLOUDFLARE_API + path, data=data, method=method,
                                 headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=20) as response:  # noqa: S310 - fixed https endpoint
            return json.loads(response.read())
    except urllib.error.HTTPError as error:
        raise RuntimeError(f"Cloudflare refused {method} {path}: HTTP {error.code}") from None
