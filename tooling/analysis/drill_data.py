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


@dataclass(frozen=True)
class RegionMove:
    """How a store reaches the standby when the primary region is lost: the Region switch plan's arithmetic."""

    detect: float  # until the plan's trigger alarm is in ALARM (its datapoints, plus one canary run)
    trigger: float  # until the plan runs: the trigger's evaluation (automatic) or a person's reaction (approval)
    automatic: bool
    steps: dict  # store -> (its step's seconds, the figure's key), from DATA_FIGURES

    def rto(self, store: str) -> float:
        return self.detect + self.trigger + self.steps[store][0]

    def how(self, store: str, mechanism: str) -> str:
        who = "trigger" if self.automatic else "approval (declared reaction)"
        return (f"{mechanism} by the Region switch plan: detect {fmt_seconds(self.detect)} + {who} "
                f"{fmt_seconds(self.trigger)} + step {fmt_seconds(self.steps[store][0])}")


def region_move(output: Output, env: str, targets: dict, standby: Optional[str]) -> Optional[RegionMove]:
    """The plan's figures toward ``standby``: None without a plan (the stores then move by hand)."""
    from policies.model.failover import region_switch_plan
    from policies.model.platform import build

    plan = region_switch_plan(output, env) if standby else None
    if plan is None or standby not in plan.workflows:
        return None
    model = build(output, env)
    detect = INF
    for name, alarm in (plan.properties.get("AssociatedAlarms") or {}).items():
        if alarm.get("AlarmType") != "trigger":
            continue
        found = model.alarms.get(str(alarm.get("ResourceIdentifier", "")).rsplit(":", 1)[-1])
        canary = model.canaries.get((found.conf.get("dimensions") or {}).get("CanaryName")) if found else None
        if found is not None and canary is not None and canary.region == standby:
            detect = min(detect, found.delay + canary.every)
    automatic = plan.automatic and detect != INF
    if not automatic:
        # a person is paged, reads, decides and approves: the time declared in drill_targets.yaml, after the
        # alarm that pages them (the standby's peer canary, the same detection)
        detect = min((a.delay + c.every for c in model.canaries.values() if c.region == standby
                      for a in model.alarms.values() if (a.conf.get("dimensions") or {}).get("CanaryName") == c.name
                      and a.notifies), default=0.0)
    steps = {}
    for step in plan.workflows[standby]:
        if step.kind == "AuroraGlobalDatabase":
            steps["Aurora"] = (float(DATA_FIGURES["aurora-global"][0]), "aurora-global")
        elif step.action == "promote-cache":
            steps["cache"] = (float(DATA_FIGURES["cache-global"][0]), "cache-global")
    trigger = float(targets.get("trigger_evaluation_seconds", 60) if automatic
                    else targets.get("human_reaction_seconds", 900))
    return RegionMove(detect, trigger, automatic, steps)


def data_scenarios(output: Output, env: str, targets: dict) -> list[DataScenario]:
    """Each store of the data tier against an AZ failure, a primary-region failure and a mistake."""
    bounds = targets.get("data", {})
    members = data_members(output, env)
    primary, standby = region_of_alias(output, env, "primary"), region_of_alias(output, env, "standby")
    declared = declared_single_region(output, env) is not None
    played: list[DataScenario] = []
    move = region_move(output, env, targets, standby)

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
        judge("Aurora", f"region {primary}", "region", *_region_row(
            "Aurora", joined, move, f"managed failover to the global database's secondary in {standby}",
            DATA_FIGURES["aurora-global"]), True)
    if member.cache_nodes:
        multi = member.cache_nodes >= 2 and member.cache_multi_az
        judge("cache", f"AZ of the primary node in {primary}", "az",
              "a replica in another AZ is promoted" if multi else "no replica in another AZ",
              DATA_FIGURES["cache-multi-az"] if multi else (None, None))
        joined = other is not None and other.cache_global
        judge("cache", f"region {primary}", "region", *_region_row(
            "cache", joined, move, f"the global datastore's secondary in {standby} is promoted",
            DATA_FIGURES["cache-global"]), True)
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


def _region_row(store: str, joined: bool, move: Optional[RegionMove], mechanism: str, figures: tuple) -> tuple:
    """(how, (rto, rpo)) of a global store when its primary region is lost."""
    if not joined:
        return "no copy in another region", (None, None)
    if move is None or store not in move.steps:
        return f"{mechanism}, by hand: no Region switch plan step moves it", (None, figures[1])
    return move.how(store, mechanism), (move.rto(store), figures[1])


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


