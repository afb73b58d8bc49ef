"""The schema of ``environments/<env>.yaml``: one place that says what is allowed.

Every model is frozen and forbids unknown fields, so a typo is an error, not a
silently ignored key. Defaults are the highly available choice; an environment
overrides only what differs (and the knob's name says what it gives up).

One module per domain (common types first); everything is re-exported here, so
``from environments.schema import EnvironmentConfig`` is the way to use it.
"""

from environments.schema.common import (  # noqa: F401
    MIN_VPC_PREFIX,
    MAX_VPC_PREFIX,
    LOG_RETENTION_DAYS,
    DNS_LABEL,
    ENV_NAME,
    Frozen,
    schema_error,
    check_region,
    check_domain,
    check_retention,
    Region,
    Domain,
    RetentionDays,
)
from environments.schema.network import (  # noqa: F401
    RegionConfig,
    RegionsConfig,
    NetworkConfig,
)
from environments.schema.backend import (  # noqa: F401
    BackendConfig,
)
from environments.schema.load_balancing import (  # noqa: F401
    HealthCheckConfig,
    LoadBalancingConfig,
)
from environments.schema.dns import (  # noqa: F401
    record_fqdn,
    RECORD_TYPES,
    RECORD_TARGETS,
    RecordConfig,
    HealthCheckDnsConfig,
    CloudflareConfig,
    DnsConfig,
)
from environments.schema.eks import (  # noqa: F401
    NodeGroupSize,
    IAM_ROLE_ARN,
    EksConfig,
)
from environments.schema.gitops import (  # noqa: F401
    GITOPS_ENGINES,
    GIT_URL,
    GitSourceConfig,
    GitopsConfig,
)
from environments.schema.data import (  # noqa: F401
    AuroraConfig,
    CacheConfig,
    BucketConfig,
    BackupConfig,
    DataConfig,
)
from environments.schema.security import (  # noqa: F401
    KEY_PURPOSES,
    REQUIRED_KEY_PURPOSES,
    SECRET_NAME,
    LAMBDA_ARN,
    SecretConfig,
    SecurityConfig,
)
from environments.schema.observability import ObservabilityConfig  # noqa: F401
from environments.schema.environment import (  # noqa: F401
    EnvironmentConfig,
)

__all__ = [
    "MIN_VPC_PREFIX",
    "MAX_VPC_PREFIX",
    "LOG_RETENTION_DAYS",
    "Frozen",
    "Region",
    "Domain",
    "RetentionDays",
    "RegionConfig",
    "RegionsConfig",
    "NetworkConfig",
    "BackendConfig",
    "HealthCheckConfig",
    "LoadBalancingConfig",
    "record_fqdn",
    "RECORD_TYPES",
    "RECORD_TARGETS",
    "RecordConfig",
    "HealthCheckDnsConfig",
    "CloudflareConfig",
    "DnsConfig",
    "NodeGroupSize",
    "EksConfig",
    "GITOPS_ENGINES",
    "GitSourceConfig",
    "GitopsConfig",
    "KEY_PURPOSES",
    "REQUIRED_KEY_PURPOSES",
    "SecretConfig",
    "SecurityConfig",
    "EnvironmentConfig",
]
