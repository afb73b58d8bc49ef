"""Kubernetes versions on Amazon EKS: support dates and the add-on builds pinned for each.

The one table of versions and dates. The schema accepts a version only if it is
supported, at the support type the environment chooses, for at least
:data:`SUPPORT_MARGIN_DAYS` after :data:`CHECKED_ON` (the date the rows were last
checked against the sources), and only if its add-ons are pinned here; the
cluster, its add-ons and the Cluster Autoscaler take their versions from the same
row, so changing ``eks.version`` alone never leaves add-ons on another version's
builds. The deploy rules (SPOF_DEPLOY_15) read the same table.

Refreshing it (a platform task every few months, and before ``CHECKED_ON`` is a
quarter old): dates from the EKS calendar; add-on builds from
``aws eks describe-addon-versions --kubernetes-version <v> --addon-name <name>``
(the one authority for ``-eksbuild.N``); the autoscaler from its chart's
``appVersion``.

Sources:
- calendar: https://docs.aws.amazon.com/eks/latest/userguide/kubernetes-versions.html
  (standard 14 months, extended 12 more, billed at the extended-support rate)
- what happens at the end of each support type (``upgrade_policy.support_type``):
  https://docs.aws.amazon.com/eks/latest/userguide/view-upgrade-policy.html
- kube-proxy and CoreDNS builds per version:
  https://docs.aws.amazon.com/eks/latest/userguide/managing-kube-proxy.html
  https://docs.aws.amazon.com/eks/latest/userguide/managing-coredns.html
- VPC CNI: https://docs.aws.amazon.com/eks/latest/userguide/managing-vpc-cni.html
- Cluster Autoscaler: its minor must match the cluster's minor,
  https://github.com/kubernetes/autoscaler/tree/master/cluster-autoscaler#releases
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Literal, Optional

SupportType = Literal["STANDARD", "EXTENDED"]

CHECKED_ON = date(2026, 11, 25)
"""When every row below was last checked against the sources."""

SUPPORT_MARGIN_DAYS = 90
"""A version must stay supported at least this long after ``CHECKED_ON``: a cluster
created now has a quarter to be upgraded on the team's own schedule, before EKS
upgrades the control plane itself and leaves the pinned add-ons a version behind."""

CALENDAR_SOURCE = "https://docs.aws.amazon.com/eks/latest/userguide/kubernetes-versions.html"


@dataclass(frozen=True)
class Autoscaler:
    chart: str
    """cluster-autoscaler chart version (https://kubernetes.github.io/autoscaler)."""
    image: str
    """Image tag, the same minor as the cluster."""
    digest: str
    """The tag's image index digest (``sha256:...``): the image is pulled by it, so a re-pushed tag
    cannot change what runs."""

    @property
    def reference(self) -> str:
        """``<tag>@<digest>``: what the chart's ``image.tag`` renders after ``<repository>:``."""
        return f"{self.image}@{self.digest}"


@dataclass(frozen=True)
class EksVersion:
    version: str
    released: date
    end_of_standard: date
    end_of_extended: date
    addons: dict[str, str] = field(default_factory=dict)
    """Pinned EKS add-on builds; empty when the version has no pinned set here."""
    autoscaler: Optional[Autoscaler] = None
    observability_addon: Optional[str] = None
    """The ``amazon-cloudwatch-observability`` build (container logs and traces); None when not pinned here."""

    def end_of(self, support_type: SupportType) -> date:
        return self.end_of_standard if support_type == "STANDARD" else self.end_of_extended


VERSIONS: dict[str, EksVersion] = {v.version: v for v in (
    EksVersion("1.28", date(2023, 9, 26), date(2024, 11, 26), date(2025, 11, 26)),
    EksVersion("1.29", date(2024, 1, 23), date(2025, 3, 23), date(2026, 3, 23)),
    EksVersion("1.30", date(2024, 5, 23), date(2025, 7, 23), date(2026, 7, 23)),
    EksVersion("1.31", date(2024, 9, 26), date(2025, 11, 26), date(2026, 11, 26)),
    EksVersion("1.32", date(2025, 1, 23), date(2026, 3, 23), date(2027, 3, 23)),
    EksVersion("1.33", date(2025, 5, 29), date(2026, 7, 29), date(2027, 7, 29)),
    EksVersion("1.34", date(2025, 10, 2), date(2026, 12, 2), date(2027, 12, 2)),
    EksVersion(
        "1.35", date(2026, 1, 27), date(2027, 3, 27), date(2028, 3, 27),
        addons={
            "vpc-cni": "v1.21.1-eksbuild.7",            # managing-vpc-cni: latest for 1.29-1.35
            "coredns": "v1.14.3-eksbuild.3",            # managing-coredns: latest for 1.35
            "kube-proxy": "v1.35.3-eksbuild.13",        # managing-kube-proxy: latest for 1.35
            "aws-ebs-csi-driver": "v1.61.1-eksbuild.1",  # describe-addon-versions, 1.35
            "eks-pod-identity-agent": "v1.3.10-eksbuild.3",  # describe-addon-versions, 1.35
        },
        # chart 9.59.0's appVersion is 1.35.0; the digest is registry.k8s.io's multi-arch index for
        # autoscaling/cluster-autoscaler:v1.35.0 (`crane digest` / `docker buildx imagetools inspect`)
        autoscaler=Autoscaler(chart="9.59.0", image="v1.35.0",
                              digest="sha256:2fc9433dd3b47baef0e68d6b1110b770a3c93db10c7bead4c5bc6cb21c72b875"),
        # the build AWS's own sample pins for 1.35 (aws-solutions-library-samples/global-capacity-orchestrator-
        # on-aws, gco/stacks/constants.py); describe-addon-versions before raising it
        observability_addon="v6.6.0-eksbuild.1",
    ),
    EksVersion("1.36", date(2026, 6, 2), date(2027, 8, 2), date(2028, 8, 2)),
)}

ADDON_NAMES = ("vpc-cni", "coredns", "kube-proxy", "aws-ebs-csi-driver", "eks-pod-identity-agent")
DEFAULT_VERSION = "1.35"


def supported(support_type: SupportType) -> list[str]:
    """Versions the schema accepts at ``support_type``: supported long enough, and pinned."""
    return [v.version for v in VERSIONS.values()
            if (v.end_of(support_type) - CHECKED_ON).days >= SUPPORT_MARGIN_DAYS and v.addons and v.autoscaler
            and v.observability_addon]


def refusal(version: str, support_type: SupportType) -> Optional[str]:
    """Why ``version`` is refused at ``support_type`` (None when accepted)."""
    row = VERSIONS.get(version)
    if row is None:
        return f"is not a Kubernetes version EKS offers (known: {', '.join(VERSIONS)})"
    end = row.end_of(support_type)
    if (end - CHECKED_ON).days < SUPPORT_MARGIN_DAYS:
        when = "ended" if end <= CHECKED_ON else "ends"
        return (f"{support_type.lower()} support {when} {end.isoformat()}, less than {SUPPORT_MARGIN_DAYS} days "
                f"after the version table's date {CHECKED_ON.isoformat()}")
    if not row.addons or row.autoscaler is None or row.observability_addon is None:
        return "has no pinned add-on builds in environments/eks_versions.py yet"
    return None
