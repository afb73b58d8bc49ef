"""The failure drill's data scenarios: each store of the data tier (Aurora, the cache, the objects, the
backups) and the account baseline the environment relies on, against an AZ failure, a primary-region
failure and a mistake, with the recovery time and data loss AWS documents for the mechanism that answers.
Reads the read model (:func:`policies.model.platform.data_members`, :func:`baseline_of`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional, Sequence

from policies.model.output import Output
from policies.model.platform import INF, baseline_of, data_members, declared_single_region
from policies.model.topology import region_of_alias


def fmt_seconds(seconds: float) -> str:
    return "-" if seconds == INF else f"{seconds:.0f}s"


# -- the data tier ----------------------------------------------------------------------------------

# How long AWS takes, and how much it can lose, per mechanism (seconds), each from AWS's documentation:
DATA_FIGURES = {
    # "failover ... typically completes within 30 seconds" to a reader in another AZ; without one,
    # Aurora recreates the writer ("typically less than 10 minutes"); storage is 6 copies over 3 AZs.
    # https://docs.aws.amazon.com/AmazonRDS/latest/AuroraUserGuide/Concepts.AuroraHighAvailability.html
    "aurora-reader": (30, 0), "aurora-recreate": (600, 0),
    # managed failover of a global database: the secondary is promoted in about a minute; replication
    # lag is typically under a second (RPO measured in seconds).
    # https://docs.aws.amazon.com/AmazonRDS/latest/AuroraUserGuide/aurora-global-database-disaster-recovery.html
    "aurora-global": (60, 1),
    # Multi-AZ with automatic failover promotes a replica in another AZ, typically within a minute.
    # https://docs.aws.amazon.com/AmazonElastiCache/latest/dg/AutoFailover.html
    "cache-multi-az": (60, 0),
    # promoting a Global Datastore secondary: under a minute; cross-region lag typically under a second.
    # https://docs.aws.amazon.com/AmazonElastiCache/latest/dg/Redis-Global-Datastore.html
    "cache-global": (60, 1),
    # Replication Time Control replicates 99.99 % of objects within 15 minutes; without it, no bound.
    # https://docs.aws.amazon.com/AmazonS3/latest/userguide/replication-time-control.html
    "s3-rtc": (0, 900),
    # continuous backup restores to a point about 5 minutes behind (Aurora/S3 point-in-time restore).
    # https://docs.aws.amazon.com/aws-backup/latest/devguide/point-in-time-recovery.html
    "backup-continuous": (None, 300),
}


@dataclass
class DataScenario:
    env: str
    store: str
    failure: str
    how: str
    rto: float
    rpo: float
    bounds: dict
    verdict: str
    problems: list[str]

    def row(self) -> dict:
        return {"store": self.store, "failure": self.failure, "how": self.how, "rto": fmt_seconds(self.rto),
                "rpo": fmt_seconds(self.rpo), "target": ", ".join(f"{k} {fmt_seconds(v)}" for k, v in self.bounds.items()),
                "verdict": self.verdict}


def _account_scenarios(output: Output, env: str, primary: str, standby: Optional[str], judge) -> None:
    """The account baseline the environment relies on: its audit record when the trail's home region is lost,
    and threat detection in the standby region when the primary is lost."""
    baseline = baseline_of(output, env)
    home = next((b for b in baseline.values() if b.trails), None)
    if home is not None:
        locked = [region for _, region in home.locked_buckets]
        copy = next((r for r in locked if r != home.region), None) if home.replicates else None
        judge("audit trail", f"region {home.region}", "objects",
              f"the locked replica in {copy} holds the record (Replication Time Control); the multi-region trail "
              "delivers again when the home region is back" if copy else "no copy of the record in another region",
              DATA_FIGURES["s3-rtc"] if copy else (None, None), True)
    watcher = baseline.get(standby) if standby else None
    detects = watcher is not None and watcher.guardduty
    judge("detection", f"region {primary}", "region",
          f"GuardDuty, Security Hub and AWS Config in {standby} run on their own" if detects
          else (f"nothing detects threats in {standby}" if standby else "no other region to watch"),
          (0, 0) if detects else (None, None), True)


def data_scenarios(output: Output, env: str, targets: dict) -> list[DataScenario]:
    """Each store of the data tier against an AZ failure, a primary-region failure and a mistake."""
    bounds = targets.get("data", {})
    members = data_members(output, env)
    primary, standby = region_of_alias(output, env, "primary"), region_of_alias(output, env, "standby")
    declared = declared_single_region(output, env) is not None
    played: list[DataScenario] = []

    def judge(store: str, failure: str, cls: str, how: str, figures: tuple, region_class: bool = False):
        rto, rpo = (INF if v is None else float(v) for v in figures)
        limit = bounds.get(cls, {})
        missed = {k: v for k, v in (("rto", rto), ("rpo", rpo)) if k in limit and v > limit[k]}
        problems = [f"{k} {fmt_seconds(v)} exceeds the target {fmt_seconds(limit[k])}" for k, v in missed.items()]
        verdict = "survived" if not problems else ("declared" if region_class and declared and standby is None
                                                    else ("NOT SURVIVED" if INF in missed.values() else "MISSED TARGET"))
        played.append(DataScenario(env, store, failure, how, rto, rpo,
                                   {k: v for k, v in limit.items()}, verdict, problems))

    member = members.get(primary)
    if member is None:
        return played
    other = members.get(standby) if standby else None
    if member.aurora_cluster:
        zones = {i.zone for i in member.aurora}
        key = "aurora-reader" if len(zones) >= 2 else "aurora-recreate"
        judge("Aurora", f"AZ of the writer in {primary}", "az",
              "a reader in another AZ is promoted" if len(zones) >= 2 else "the writer is recreated (no reader)",
              DATA_FIGURES[key])
        joined = other is not None and other.aurora_cluster and other.aurora_global
        judge("Aurora", f"region {primary}", "region",
              f"managed failover to the global database's secondary in {standby}" if joined
              else "no copy in another region", DATA_FIGURES["aurora-global"] if joined else (None, None), True)
    if member.cache_nodes:
        multi = member.cache_nodes >= 2 and member.cache_multi_az
        judge("cache", f"AZ of the primary node in {primary}", "az",
              "a replica in another AZ is promoted" if multi else "no replica in another AZ",
              DATA_FIGURES["cache-multi-az"] if multi else (None, None))
        joined = other is not None and other.cache_global
        judge("cache", f"region {primary}", "region",
              f"the global datastore's secondary in {standby} is promoted" if joined else "no copy in another region",
              DATA_FIGURES["cache-global"] if joined else (None, None), True)
    rules = member.bucket_rules
    if rules or declared:
        # Replication Time Control bounds the lag (99.99% of objects in 15 min) only where its status is Enabled
        timed = rules and all(enabled for _, enabled in rules)
        judge("objects", f"region {primary}", "objects",
              "the other region's bucket holds them" + (" (Replication Time Control)" if timed else " (no time bound)")
              if rules else "no copy in another region",
              DATA_FIGURES["s3-rtc"] if timed else ((0, None) if rules else (None, None)), True)
    _account_scenarios(output, env, primary, standby, judge)
    if member.backup_plans:
        judge("backups", "data deleted or corrupted by mistake", "logical",
              "point-in-time restore (continuous backup)" if member.backup_continuous
              else "restore of the last scheduled backup",
              DATA_FIGURES["backup-continuous"] if member.backup_continuous else (None, member.backup_interval))
    return played


def data_failures(results: dict[str, list[DataScenario]]) -> list[DataScenario]:
    return [s for played in results.values() for s in played if s.verdict in ("NOT SURVIVED", "MISSED TARGET")]


def folded_rows(rows: list[list[str]], columns: Sequence[tuple[str, int, str]]) -> list[str]:
    """Rows of cells as aligned text lines: each column as wide as its widest cell up to its column's limit,
    a longer cell folded at spaces onto the next lines of the same column."""
    import textwrap

    # as wide as the content up to the limit, and never narrower than the column's longest word
    widths = [max(min(limit, max(len(r[i]) for r in rows)), max(len(w) for r in rows for w in r[i].split() or ['']))
              for i, (_, limit, _) in enumerate(columns)]
    lines = []
    for row in rows:
        cells = [textwrap.wrap(cell, width, break_long_words=False, break_on_hyphens=False) or [""]
                 for cell, width in zip(row, widths)]
        for depth in range(max(len(c) for c in cells)):
            parts = [f"{(c[depth] if depth < len(c) else ''):{align}{width}}"
                     for c, width, (_, _, align) in zip(cells, widths, columns)]
            lines.append(("  " + " ".join(parts)).rstrip())
    return lines


DATA_TEXT_COLUMNS = (("store", 10, "<"), ("failure", 40, "<"), ("how", 62, "<"), ("RTO", 6, ">"), ("RPO", 6, ">"),
                     ("verdict", 14, "<"))


def data_text(results: dict[str, list[DataScenario]]) -> str:
    lines = []
    for env, played in results.items():
        bad = [s for s in played if s.verdict in ("NOT SURVIVED", "MISSED TARGET")]
        lines.append(f"{env} data: {len(played)} scenarios, {len(bad)} not survived or late")
        rows = [[name for name, _, _ in DATA_TEXT_COLUMNS]]
        rows += [[s.store, s.failure, s.how, str(s.row()["rto"]), str(s.row()["rpo"]), s.verdict] for s in played]
        lines += folded_rows(rows, DATA_TEXT_COLUMNS)
        lines += [f"  {s.store}, {s.failure}: " + "; ".join(s.problems) for s in bad]
    return "\n".join(lines)


def data_markdown(results: dict[str, list[DataScenario]]) -> str:
    columns = ("store", "failure", "how", "rto", "rpo", "target", "verdict")
    lines = ["# Data tier", ""]
    for env, played in results.items():
        lines += [f"## {env}", "", "| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
        lines += ["| " + " | ".join(str(s.row()[c]) for c in columns) + " |" for s in played]
        lines.append("")
    return "\n".join(lines)


