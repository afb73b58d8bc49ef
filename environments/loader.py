"""Read ``environments/*.yaml`` into frozen ``EnvironmentConfig`` objects, or fail clearly.

Every failure, whatever its cause (YAML syntax, typo, wrong type, a rule of the
schema, an unknown environment name), becomes one ``ConfigError`` whose lines
each name the file, the field path, the value received and what is allowed.
Nothing here imports cdktf, so bad input is reported in well under a second and
before anything could be written to ``cdktf.out``.
"""

from __future__ import annotations

import difflib
import ipaddress
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, Optional, Sequence

import yaml
from pydantic import BaseModel, ValidationError

from environments.schema import EnvironmentConfig
from environments.schema.account import QUOTAS, AccountConfig, quota_usage
from environments.schema.dns import record_fqdn

ENVIRONMENTS_DIR = Path(__file__).resolve().parent
ACCOUNTS = "accounts"  # <environments dir>/accounts/<name>.yaml: one file per AWS account
SELECT_ENV_VAR = "SPOFLESS_ENVS"
ENVIRONMENT_FIELDS = "name, regions, domain, ..."
_MISSING = object()
# Bounds that keep a careless or hostile file from costing unbounded time or memory.
MAX_FILE_BYTES = 256 * 1024  # the largest environment file here is ~4 KB
MAX_VALUE_CHARS = 4096  # no field takes more (Secrets Manager's description limit is 2048)
SHOWN_VALUE_CHARS = 80  # a message never prints more of a value than this
# Values that look like credentials are never echoed back in a message.
_CREDENTIAL = re.compile(
    r"(AKIA|ASIA)[0-9A-Z]{16}|gh[pousr]_[A-Za-z0-9]{20,}|github_pat_\w{20,}|glpat-[\w-]{20,}|"
    r"xox[abpr]-[\w-]{10,}|-----BEGIN [A-Z ]*PRIVATE KEY-----|(?i:(password|secret|token)\s*[:=]\s*\S{6,})")


@dataclass(frozen=True)
class Problem:
    """One thing wrong with one file."""

    file: str
    field: str
    message: str
    value: Any = _MISSING

    def __str__(self) -> str:
        where = f"{self.file}: {self.field}" if self.field else self.file
        if self.value is _MISSING:
            return f"{where}: {self.message}"
        return f"{where}: {shown(self.value)} {self.message}"


def shown(value: Any) -> str:
    """A value as a message may print it: bounded, and never a credential."""
    text = repr(value)
    if _CREDENTIAL.search(text):
        return "<a value that looks like a credential, not shown>"
    if len(text) > SHOWN_VALUE_CHARS:
        return f"{text[:SHOWN_VALUE_CHARS]}... ({len(text)} characters)"
    return text


class _StrictLoader(yaml.SafeLoader):
    """SafeLoader that refuses duplicate keys and aliases (no expansion bombs), with line numbers."""

    def compose_node(self, parent, index):  # noqa: D102 - PyYAML hook
        if self.check_event(yaml.AliasEvent):
            mark = self.peek_event().start_mark
            raise _InputError(f"line {mark.line + 1}", "uses a YAML alias (*name); allowed: write the value out "
                                                      "(anchors and aliases are not supported here)")
        return super().compose_node(parent, index)

    def construct_mapping(self, node, deep=False):  # noqa: D102 - PyYAML hook
        seen: dict = {}
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=True)
            if isinstance(key, (str, int, float, bool)) and key in seen:
                raise _InputError(f"line {key_node.start_mark.line + 1}",
                                  f"repeats the key {shown(key)} (first at line {seen[key]}); allowed: each key once")
            seen[key] = key_node.start_mark.line + 1
        return super().construct_mapping(node, deep=deep)


class _InputError(Exception):
    def __init__(self, where: str, message: str):
        super().__init__(message)
        self.where, self.message = where, message


def _long_values(data: Any, path: str = "") -> Iterable[tuple[str, Any]]:
    """Every string longer than MAX_VALUE_CHARS, with its field path."""
    if isinstance(data, dict):
        for key, value in data.items():
            yield from _long_values(value, f"{path}.{key}" if path else str(key))
    elif isinstance(data, list):
        for index, value in enumerate(data):
            yield from _long_values(value, f"{path}.{index}")
    elif isinstance(data, str) and len(data) > MAX_VALUE_CHARS:
        yield path, data


class ConfigError(Exception):
    """Invalid environment input; ``str()`` is the message to show the user."""

    def __init__(self, problems: Sequence[Problem]):
        self.problems = tuple(problems)
        super().__init__("\n".join(str(p) for p in self.problems))


def _display_path(path: Path) -> str:
    try:
        return os.path.relpath(path)
    except ValueError:  # another drive on Windows
        return str(path)


def _model_at(model: type[BaseModel], loc: Sequence[Any]) -> Optional[type[BaseModel]]:
    """The model class that owns the field at ``loc`` (for listing allowed fields)."""
    current: Any = model
    for part in loc:
        if not (isinstance(current, type) and issubclass(current, BaseModel)):
            return None
        field = current.model_fields.get(str(part))
        if field is None:
            return None
        current = _unwrap(field.annotation)
    return current if isinstance(current, type) and issubclass(current, BaseModel) else None


def _unwrap(annotation: Any) -> Any:
    """``Optional[X]`` -> ``X``; anything else unchanged."""
    for arg in getattr(annotation, "__args__", ()) or ():
        if isinstance(arg, type) and issubclass(arg, BaseModel):
            return arg
    return annotation


def _problem(file: str, error: dict, model: type[BaseModel] = EnvironmentConfig) -> Problem:
    loc = [str(part) for part in error["loc"]]
    context = error.get("ctx") or {}
    kind = error["type"]
    if kind == "extra_forbidden":
        parent = _model_at(model, loc[:-1])
        allowed = sorted(parent.model_fields) if parent else []
        hint = difflib.get_close_matches(loc[-1], allowed, n=1)
        message = "unknown field" + (f" (did you mean '{hint[0]}'?)" if hint else "")
        message += f"; allowed: {', '.join(allowed)}" if allowed else ""
        return Problem(file, ".".join(loc), message)
    if kind == "missing":
        return Problem(file, ".".join(loc), "is required")
    if "field" in context:
        loc.append(str(context["field"]))
    value = context.get("value", error.get("input", _MISSING))
    message = error["msg"]
    prefix = "Input should be "
    if message.startswith(prefix):
        allowed = message[len(prefix):]
        if kind.endswith(("_type", "_parsing")):
            message = f"has the wrong type; allowed: {allowed}"
        elif kind == "literal_error":
            message = f"is not allowed; allowed: {allowed}"
        else:
            message = f"is out of range; allowed: {allowed}"
    return Problem(file, ".".join(loc), message, value)


def available(directory: Path = ENVIRONMENTS_DIR) -> list[str]:
    """Names of the environments that have a YAML file, sorted."""
    return sorted(p.stem for p in directory.glob("*.yaml"))


# Errors where PyYAML notices the mistake far from it: an unclosed quote or bracket is found at the
# next character that cannot belong to it, maybe dozens of lines later. Its context mark is where
# the unclosed construct starts, which is the line to fix.
_OPENED_AT_CONTEXT = ("while scanning a quoted scalar", "while parsing a flow", "while scanning a block scalar",
                      "while scanning an anchor", "while scanning an alias", "while scanning a tag")


def _yaml_syntax_message(exc: yaml.YAMLError) -> str:
    """One line: where the syntax mistake is (line, column) and what PyYAML found."""
    problem, context = getattr(exc, "problem_mark", None), getattr(exc, "context_mark", None)
    reason = shown(getattr(exc, "problem", None) or str(exc))
    if problem is None:
        return f"is not valid YAML: {reason}"
    opened = getattr(exc, "context", None) or ""
    if context is not None and opened.startswith(_OPENED_AT_CONTEXT) and context.line != problem.line:
        what = opened.removeprefix("while scanning ").removeprefix("while parsing ")
        return (f"is not valid YAML at line {context.line + 1}, column {context.column + 1}: {what} that starts "
                f"there is not closed (noticed at line {problem.line + 1}: {reason})")
    opened_quote = _unbalanced_quote_line(getattr(problem, "buffer", None) or "", problem.line)
    if opened_quote is not None:
        return (f"is not valid YAML at line {opened_quote + 1}: a double quote opened there is not closed "
                f"(noticed at line {problem.line + 1}, column {problem.column + 1}: {reason})")
    return f"is not valid YAML at line {problem.line + 1}, column {problem.column + 1}: {reason}"


def _unbalanced_quote_line(text: str, before: int) -> Optional[int]:
    """The first line before ``before`` with an odd number of double quotes (outside comments), if any.

    A quoted scalar left open swallows the lines after it until the next quote, so PyYAML reports
    the mistake where that quote lands; this names the line where it was opened."""
    for number, line in enumerate(text.split("\n")[:before]):
        if line.lstrip().startswith("#"):
            continue
        if line.replace('\\"', "").count('"') % 2:
            return number
    return None


def _read_mapping(path: Path, what: str) -> dict:
    """One YAML file as a mapping, bounded and strict, or ConfigError naming the file (and line)."""
    name = _display_path(path)
    try:
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            raise ConfigError([Problem(name, "", f"is {size} bytes; allowed: at most {MAX_FILE_BYTES}")])
        raw = path.read_bytes()
    except OSError as exc:
        raise ConfigError([Problem(name, "", f"cannot be read: {exc.strerror}")]) from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[:exc.start].count(b"\n") + 1
        raise ConfigError([Problem(name, f"line {line}", f"is not UTF-8 text (byte 0x{raw[exc.start]:02x}); "
                                                          "allowed: a UTF-8 YAML file")]) from None
    if not text.strip() or all(not line.strip() or line.lstrip().startswith("#") for line in text.splitlines()):
        raise ConfigError([Problem(name, "", f"is empty; allowed: a YAML mapping of fields ({what}), see "
                                             "environments/schema/")])
    try:
        data = yaml.load(text, Loader=_StrictLoader)  # noqa: S506 - a SafeLoader subclass
    except _InputError as exc:
        raise ConfigError([Problem(name, exc.where, exc.message)]) from None
    except yaml.YAMLError as exc:
        raise ConfigError([Problem(name, "", _yaml_syntax_message(exc))]) from None
    if not isinstance(data, dict):
        raise ConfigError([Problem(name, "", f"must be a YAML mapping of fields ({what}); allowed: see "
                                             "environments/schema/", type(data).__name__)])
    long = list(_long_values(data))
    if long:
        raise ConfigError([Problem(name, field, f"is {len(value)} characters; allowed: at most {MAX_VALUE_CHARS}")
                           for field, value in long])
    return data


def _validated(path: Path, model: type[BaseModel], what: str, data: Optional[dict] = None):
    """Parse and validate one file against ``model`` (``data``: its mapping, already read); its ``name``
    must equal the file name."""
    data = _read_mapping(path, what) if data is None else data
    name = _display_path(path)
    try:
        config = model.model_validate(data)
    except ValidationError as exc:
        raise ConfigError([_problem(name, e, model) for e in exc.errors()]) from None
    if config.name != path.stem:
        raise ConfigError([Problem(name, "name", f"must equal the file name; allowed: '{path.stem}'", config.name)])
    return config


def load_file(path: Path) -> EnvironmentConfig:
    """Parse and validate one environment file."""
    return _validated(path, EnvironmentConfig, ENVIRONMENT_FIELDS)


def load_account_file(path: Path) -> AccountConfig:
    """Parse and validate one account file (``environments/accounts/<name>.yaml``)."""
    return _validated(path, AccountConfig, "name, account_id, home_region, regions, ...")


def selected_names(requested: Optional[Iterable[str]] = None) -> Optional[list[str]]:
    """Environment names asked for by argument or ``SPOFLESS_ENVS`` (comma-separated); None = all."""
    if requested is None:
        raw = os.environ.get(SELECT_ENV_VAR, "")
        requested = [part for part in raw.replace(" ", ",").split(",") if part]
    names = list(dict.fromkeys(requested))
    return names or None


class EnvironmentFiles:
    """The environment files of one directory, each read and parsed once by the hardened reader
    (:func:`_read_mapping`): the selected files and every rule that spans files (domains, registries,
    claimed names, quotas) work on what it returned, so a file that is not UTF-8, too large or not YAML
    is reported once, as a problem of that file, and never read again with a laxer reader."""

    def __init__(self, directory: Path):
        self.directory = directory
        self.names = available(directory)
        self._mappings: dict[str, Any] = {}
        self._configs: dict[str, Any] = {}

    def path(self, name: str) -> Path:
        return self.directory / f"{name}.yaml"

    @staticmethod
    def _once(cache: dict, name: str, compute: Callable[[], Any]) -> Any:
        """``compute()`` the first time, its result (or its ConfigError, raised again) every time."""
        if name not in cache:
            try:
                cache[name] = compute()
            except ConfigError as exc:
                cache[name] = exc
        if isinstance(cache[name], ConfigError):
            raise cache[name]
        return cache[name]

    def mapping(self, name: str) -> dict:
        """The file's YAML mapping; ConfigError (the same one every time) when it cannot be read."""
        return self._once(self._mappings, name, lambda: _read_mapping(self.path(name), ENVIRONMENT_FIELDS))

    def config(self, name: str) -> EnvironmentConfig:
        """The file validated; ConfigError (the same one every time) when it does not validate."""
        return self._once(self._configs, name, lambda: _validated(
            self.path(name), EnvironmentConfig, ENVIRONMENT_FIELDS, data=self.mapping(name)))

    def readable(self) -> Iterator[tuple[str, dict]]:
        """``(name, mapping)`` of every file that parses; one that does not is judged when selected."""
        for name in self.names:
            try:
                yield name, self.mapping(name)
            except ConfigError:
                continue


def load_environments(names: Optional[Iterable[str]] = None,
                      directory: Path = ENVIRONMENTS_DIR) -> list[EnvironmentConfig]:
    """Load the named environments (all when None), validating every one before returning.

    Raises ConfigError listing every problem in every selected file, so one run
    shows everything that needs fixing. Every file is read once (:class:`EnvironmentFiles`).
    """
    files = EnvironmentFiles(directory)
    known = files.names
    wanted = list(names) if names is not None else known
    problems: list[Problem] = []
    for name in wanted:
        if name not in known:
            problems.append(Problem(SELECT_ENV_VAR, "", f"environment does not exist; allowed: "
                                                        f"{', '.join(known) or 'none found'}", name))
    if not wanted:
        problems.append(Problem(_display_path(directory), "", "holds no <env>.yaml file"))
    if problems:
        raise ConfigError(problems)
    configs = []
    for name in wanted:
        try:
            configs.append(files.config(name))
        except ConfigError as exc:
            problems.extend(exc.problems)
    problems += _overlaps(configs, directory)
    problems += _foreign_parents(configs, files)
    problems += _shared_registries(configs, files)
    if problems:
        raise ConfigError(problems)
    neighbours = _every_environment(files, configs)
    problems += _claimed_names(configs, neighbours, directory)
    accounts, account_problems = _accounts(configs, directory)
    problems += account_problems
    if not account_problems:
        problems += _quotas(configs, neighbours, accounts, directory)
    if problems:
        raise ConfigError(problems)
    for config in configs:
        config._account_config = accounts[config.account_id]  # noqa: SLF001 - resolved here, read as .account
    return configs


def _every_environment(files: EnvironmentFiles, selected: Sequence[EnvironmentConfig]
                       ) -> dict[str, EnvironmentConfig]:
    """Every environment file that validates, by name (the selected ones as loaded): the rules that
    span environments judge a file against all its neighbours, selected or not. A file that does not
    validate is judged when it is selected, not here."""
    found = {config.name: config for config in selected}
    for name in files.names:
        if name not in found:
            try:
                found[name] = files.config(name)
            except ConfigError:
                continue
    return found


def _newest_first(directory: Path, *names: str) -> list[str]:
    """Environment names, the file changed last first: the one a collision message is about (just added
    or just edited), then the one it collides with."""
    def changed(name: str):
        try:
            return (directory / f"{name}.yaml").stat().st_mtime_ns, name
        except OSError:
            return 0, name
    return sorted(names, key=changed, reverse=True)


def claimed_names(config: EnvironmentConfig) -> dict[str, str]:
    """``{DNS name: the field that claims it}`` an environment writes records, load balancers or
    certificates for: its zone apex, every record, every certificate name. Two environments that
    claim one name would overwrite each other's records (Route53 zones, Cloudflare records and load
    balancers are named by it)."""
    claims = {config.domain: "domain"}
    for index, record in enumerate(config.dns.records):
        fqdn = record_fqdn(record.name, config.domain)
        if fqdn:
            claims.setdefault(fqdn, f"dns.records.{index}.name")
    for index, name in enumerate(config.load_balancing.certificate_names):
        claims.setdefault(record_fqdn(name, config.domain) or name, f"load_balancing.certificate_names.{index}")
    return claims


def _claimed_names(configs: Sequence[EnvironmentConfig], every: dict[str, EnvironmentConfig],
                   directory: Path) -> list[Problem]:
    """Names two environments both claim (a copied file that kept its origin's domain): each name has one
    owner, like each CIDR. The message is about the file changed last and names the other."""
    problems, reported = [], set()
    claimed = {name: claimed_names(env) for name, env in every.items()}
    for config in configs:
        for other in every.values():
            if other.name == config.name or frozenset((config.name, other.name)) in reported:
                continue
            shared = sorted(set(claimed[config.name]) & set(claimed[other.name]))
            if not shared:
                continue
            reported.add(frozenset((config.name, other.name)))
            about, owner = _newest_first(directory, config.name, other.name)
            claims = claimed[about]
            name = every[about].domain if every[about].domain in shared else shared[0]
            labels = every[owner].domain.split(".")
            base = ".".join(labels[1:]) if len(labels) > 2 else every[owner].domain
            problems.append(Problem(
                _display_path(directory / f"{about}.yaml"), claims[name],
                f"claims {name!r}, which {owner} ({_display_path(directory / f'{owner}.yaml')}) already serves"
                f"{f' with {len(shared) - 1} more name(s)' if len(shared) > 1 else ''}; both would write its "
                "Route53 and Cloudflare records and load balancers; allowed: a domain of this environment's own "
                f"(e.g. '{about}.{base}'), and names no other environment serves",
                every[about].domain))
    return problems


def load_accounts(directory: Path = ENVIRONMENTS_DIR) -> tuple[list[AccountConfig], list[Problem]]:
    """Every account file of ``directory/accounts``, validated, and every problem with them."""
    accounts, problems = [], []
    for path in sorted((directory / ACCOUNTS).glob("*.yaml")):
        try:
            accounts.append(load_account_file(path))
        except ConfigError as exc:
            problems.extend(exc.problems)
    return accounts, problems


def _accounts(configs: Sequence[EnvironmentConfig], directory: Path
              ) -> tuple[dict[str, AccountConfig], list[Problem]]:
    """``{account_id: its account}`` for the selected environments: exactly one account file owns each
    account, and it covers every region an environment of it uses."""
    accounts, problems = load_accounts(directory)
    owners: dict[str, AccountConfig] = {}
    for account in accounts:
        if account.account_id in owners:
            problems.append(Problem(
                _display_path(directory / ACCOUNTS / f"{account.name}.yaml"), "account_id",
                f"is also described by {_display_path(directory / ACCOUNTS / f'{owners[account.account_id].name}.yaml')}"
                "; an account-wide piece needs one owner; allowed: one account file per AWS account",
                account.account_id))
        else:
            owners[account.account_id] = account
    for config in configs:
        account = owners.get(config.account_id)
        where = _display_path(directory / f"{config.name}.yaml")
        if account is None:
            problems.append(Problem(
                where, "account_id", f"is described by no file in {_display_path(directory / ACCOUNTS)}; its "
                "service-linked roles, quotas, audit trail and threat detection need one owner; allowed: an account "
                f"id of {', '.join(sorted(owners)) or 'no account yet'}, or a new accounts/<name>.yaml with "
                f"account_id: '{config.account_id}'", config.account_id))
            continue
        for role, region in (("primary", config.regions.primary), ("standby", config.regions.standby)):
            if region is not None and region.name not in account.regions:
                problems.append(Problem(
                    where, f"regions.{role}.name", f"is not a region of account {account.name} "
                    f"({_display_path(directory / ACCOUNTS / f'{account.name}.yaml')}: regions); detection and "
                    f"quotas would not cover it; allowed: {', '.join(account.regions)}, or add it there",
                    region.name))
    return owners, problems


def _quotas(configs: Sequence[EnvironmentConfig], every: dict[str, EnvironmentConfig],
            accounts: dict[str, AccountConfig], directory: Path) -> list[Problem]:
    """The combined usage of every environment of an account, per region (and AZ), against the quota the
    account declares: a stack that applies past a quota fails half way (AddressLimitExceeded, VpcLimitExceeded)."""
    problems = []
    usage = {name: quota_usage(env) for name, env in every.items()}
    selected = {config.name for config in configs}
    for account_id in sorted({config.account_id for config in configs}):
        account = accounts[account_id]
        totals: dict[tuple[str, str, Optional[str]], dict[str, int]] = {}
        for name in sorted(name for name, other in every.items() if other.account_id == account_id):
            for key, count in usage[name].items():
                totals.setdefault(key, {})[name] = count
        reported = set()
        for (region, quota, zone), by_env in sorted(totals.items(), key=lambda item: (item[0][0], item[0][1],
                                                                                     item[0][2] or "")):
            used = sum(by_env.values()) + (1 if quota == "vpcs" and account.default_vpcs else 0)
            limit = account.quota(region, quota)
            if used <= limit or not selected & set(by_env) or (region, quota) in reported:
                continue
            reported.add((region, quota))
            about = _newest_first(directory, *by_env)[0]
            spec = QUOTAS[quota]
            parts = ", ".join(f"{name} {count}" for name, count in sorted(by_env.items()))
            if quota == "vpcs" and account.default_vpcs:
                parts += ", the default VPC 1"
            problems.append(Problem(
                _display_path(directory / f"{about}.yaml"), "regions",
                f"needs {used} of the quota '{spec.title}' ({spec.service_code} {spec.quota_code or 'fixed'}) in {region}"
                f"{' ' + zone if zone else ''} of account {account.name}, which is {limit} "
                f"({'declared' if region in account.quotas and quota in account.quotas[region] else 'AWS default'}"
                f"): {parts}; allowed: at most {limit}: " + (
                    f"raise {_display_path(directory / ACCOUNTS / f'{account.name}.yaml')} quotas.{region}.{quota} "
                    "(the baseline requests it through Service Quotas), or fewer NAT gateways / regions"
                    if spec.adjustable else "AWS does not raise it: fewer environments in this account and region")))
    return problems


def _declared_domains(files: EnvironmentFiles) -> dict[str, tuple[str, str]]:
    """``{domain: (environment, account_id)}`` of every environment file that parses (one that does not
    is judged when it is selected, not here)."""
    found = {}
    for name, data in files.readable():
        if isinstance(data.get("domain"), str):
            found[data["domain"].rstrip(".").lower()] = (name, str(data.get("account_id", "")))
    return found


def _foreign_parents(configs: Sequence[EnvironmentConfig], files: EnvironmentFiles) -> list[Problem]:
    """A ``dns.parent_domain`` served by an environment in another account: the dns-zone stack looks
    the parent zone up and writes the delegation into it with this environment's credentials, so
    the parent must be in the same account (a cross-account delegation is made at the parent by hand)."""
    problems = []
    domains = None
    for config in configs:
        parent = config.dns.parent_domain
        if not parent:
            continue
        domains = domains if domains is not None else _declared_domains(files)
        owner = domains.get(parent.rstrip(".").lower())
        if owner and owner[1] != config.account_id:
            problems.append(Problem(
                _display_path(files.path(config.name)), "dns.parent_domain",
                f"is served by {owner[0]} in account {owner[1]}, and {config.name} is in account "
                f"{config.account_id}; the delegation is written with {config.name}'s credentials; allowed: "
                f"a parent zone in account {config.account_id}, or no parent_domain (delegate at the parent "
                "by hand: README \"Deploy to a real account\")", parent))
    return problems


def _registry_owners(files: EnvironmentFiles) -> dict[tuple[str, str], str]:
    """``{(account_id, region): environment}`` of every environment file that declares ECR
    repositories (a file that does not parse is judged when it is selected)."""
    owners: dict[tuple[str, str], str] = {}
    for name, data in files.readable():
        section, regions = data.get("data"), data.get("regions")
        if not isinstance(section, dict) or not section.get("repositories") or not isinstance(regions, dict):
            continue
        for role in ("primary", "standby"):
            region = regions.get(role)
            if isinstance(region, dict) and isinstance(region.get("name"), str):
                owners.setdefault((str(data.get("account_id", "")), region["name"]), name)
    return owners


def _shared_registries(configs: Sequence[EnvironmentConfig], files: EnvironmentFiles) -> list[Problem]:
    """ECR repositories declared by two environments of one account and region. A registry has ONE
    replication configuration (PutReplicationConfiguration replaces it whole), so two environments
    managing it would overwrite each other's rules on every apply, and would both create the same
    repositories. https://docs.aws.amazon.com/AmazonECR/latest/userguide/replication.html"""
    problems = []
    owners = None
    for config in configs:
        if not config.data.repositories:
            continue
        owners = owners if owners is not None else _registry_owners(files)
        for role, region in (("primary", config.regions.primary), ("standby", config.regions.standby)):
            owner = owners.get((config.account_id, region.name)) if region else None
            if owner and owner != config.name:
                problems.append(Problem(
                    _display_path(files.path(config.name)), "data.repositories",
                    f"are also declared by {owner} in account {config.account_id} and {region.name} (this "
                    f"environment's {role} region); a registry has one replication configuration and one set of "
                    f"repositories; allowed: declare them in one environment per account and region, and pull "
                    f"from there in the others", list(config.data.repositories)))
                break
    return problems


def _overlaps(configs: Sequence[EnvironmentConfig], directory: Path) -> list[Problem]:
    """VPC CIDRs that overlap between environments of one account and region (they could never be peered)."""
    problems = []
    vpcs = [(c, role, r) for c in configs for role, r in (("primary", c.regions.primary),
                                                          ("standby", c.regions.standby)) if r is not None]
    for index, (config, role, region) in enumerate(vpcs):
        for other, other_role, other_region in vpcs[:index]:
            if other.name == config.name or other.account_id != config.account_id or other_region.name != region.name:
                continue
            if ipaddress.ip_network(region.vpc_cidr).overlaps(ipaddress.ip_network(other_region.vpc_cidr)):
                problems.append(Problem(
                    _display_path(directory / f"{config.name}.yaml"), f"regions.{role}.vpc_cidr",
                    f"overlaps {other.name}'s {other_region.vpc_cidr} in the same account and region "
                    f"({region.name}); allowed: a CIDR that overlaps no other environment's there", region.vpc_cidr))
    return problems
