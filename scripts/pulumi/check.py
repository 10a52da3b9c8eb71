#!/usr/bin/env python3
"""Validates Pulumi.yaml and its stack files offline, against the provider facts (facts.py: pulumi-aws and
pulumi-random), and checks the stack's security promises. Prints one line a problem and exits 1 when there is any.

    scripts/pulumi/check.py [--project DIR] [--facts FILE ...]

What it checks: type tokens; property names, nested objects, required inputs and literal scalar types (a
string where a number goes, `8.4` unquoted where a version string goes); `${…}` references to resources (and
their outputs), variables and config; Pulumi YAML's real built-in functions; fn::invoke functions, arguments
and `return` fields; config types and defaults; stack config keys and value types; files named by
fn::fileAsset/fn::readFile; resource options, `dependsOn` as a list of resources; explicit default providers
pinned at the facts' versions for every package used; the cache engine, version, parameter group and cluster
mode as a valid set, for the defaults and every stack file. Security: no 0.0.0.0/0 (or ::/0) to MySQL,
Redis or the dashboard port, no SSH ingress, no key pair, IMDSv2 required, RDS storage encrypted, ElastiCache
TLS in transit and encryption at rest.

The second, independent check is sdk_check.py: the same program through the Pulumi Python SDK under mocks.
"""
import argparse
import difflib
import json
import os
import re
import sys

import yaml

HERE = os.path.dirname(os.path.abspath(__file__))
REF = re.compile(r"\$\{([^}]*)\}")
REF_PATH = re.compile(r"^([A-Za-z_][\w-]*(?:\.[A-Za-z_][\w-]*)?)?((?:\.[A-Za-z_]\w*|\[\d+\]|\[\"[^\"]+\"\])*)$")
CONFIG_TYPES = {"string": str, "integer": int, "boolean": bool, "number": (int, float), "array": list, "object": dict}
OPTIONS = {"additionalSecretOutputs", "aliases", "customTimeouts", "deleteBeforeReplace", "deletedWith", "dependsOn",
           "ignoreChanges", "import", "parent", "protect", "provider", "providers", "replaceOnChanges", "retainOnDelete",
           "version", "pluginDownloadURL", "replaceWith", "hideDiffs"}
# Pulumi YAML's built-ins, as its parser (pkg/pulumiyaml/ast/expr.go) knows them; fn::stackReference is
# deprecated there and refused here.
FUNCTIONS = {"fn::invoke", "fn::join", "fn::split", "fn::select", "fn::toJSON", "fn::toBase64", "fn::fromBase64",
             "fn::secret", "fn::readFile", "fn::fileAsset", "fn::stringAsset", "fn::remoteAsset", "fn::fileArchive",
             "fn::remoteArchive", "fn::assetArchive"}
SCALARS = {"str": (str,), "int": (int,), "bool": (bool,), "float": (int, float)}
CONFIG_SCALARS = {"string": "str", "integer": "int", "boolean": "bool", "number": "float"}
# The cache engines and versions the stack supports, with their parameter group families.
CACHE_ENGINES = {("redis", "7.1"): "default.redis7", ("valkey", "7.2"): "default.valkey7", ("valkey", "8.0"): "default.valkey8"}
FILE_FUNCTIONS = {"fn::readFile", "fn::fileAsset", "fn::fileArchive"}
PULUMI_BUILTINS = {"pulumi.cwd", "pulumi.project", "pulumi.stack", "pulumi.organization", "pulumi.rootDirectory"}
SENSITIVE_PORTS = {3306: "MySQL", 6379: "Redis", 22: "SSH"}
DEFAULT_FACTS = ("pulumi-aws-facts.json", "pulumi-random-facts.json")


def suggest(word, choices):
    close = difflib.get_close_matches(word, list(choices), n=1)
    return f" (did you mean {close[0]}?)" if close else ""


class Checker:
    def __init__(self, project, facts):
        self.project = project
        self.facts = facts
        self.errors = []
        with open(os.path.join(project, "Pulumi.yaml"), encoding="utf-8") as f:
            self.doc = yaml.safe_load(f)

    def error(self, where, message):
        self.errors.append(f"{where}: {message}")

    # --- the program
    def run(self):
        doc = self.doc
        for key in doc:
            if key not in {"name", "runtime", "description", "config", "variables", "resources", "outputs", "backend", "options", "template", "main", "plugins", "packages"}:
                self.error("Pulumi.yaml", f"unknown top-level key {key}{suggest(key, ['config', 'variables', 'resources', 'outputs'])}")
        if doc.get("runtime") not in ("yaml", {"name": "yaml"}):
            self.error("Pulumi.yaml", "runtime must be yaml")
        self.config = doc.get("config") or {}
        self.variables = doc.get("variables") or {}
        self.resources = doc.get("resources") or {}
        self.invoked_packages = set()
        self.check_config()
        for name, value in self.variables.items():
            self.check_value(value, f"variables.{name}")
        for name, resource in self.resources.items():
            self.check_resource(name, resource)
        for name, value in (doc.get("outputs") or {}).items():
            self.check_value(value, f"outputs.{name}")
        self.check_providers_pinned()
        self.check_cache_engine("Pulumi.yaml defaults", {})
        for stack_file in self.stack_files():
            self.check_stack(stack_file)
        self.check_security()
        return self.errors

    def check_config(self):
        for key, spec in self.config.items():
            where = f"config.{key}"
            if not isinstance(spec, dict) or "type" not in spec:
                self.error(where, "declare a type (typed config block)")
                continue
            kind = CONFIG_TYPES.get(spec["type"])
            if kind is None:
                self.error(where, f"unknown type {spec['type']}")
            elif "default" in spec and not (isinstance(spec["default"], kind) and not (kind is int and isinstance(spec["default"], bool))):
                self.error(where, f"default {spec['default']!r} is not a {spec['type']}")

    def check_cache_engine(self, where, overrides):
        """The engine, version, parameter group and cluster mode the stack would create must go together."""
        def value(key):
            return overrides.get(key, (self.config.get(key) or {}).get("default"))
        engine, version, group, mode = (value(k) for k in ("cacheEngine", "cacheEngineVersion", "cacheParameterGroup", "cacheClusterMode"))
        if engine is None:
            return
        family = CACHE_ENGINES.get((engine, str(version)))
        valid = ", ".join(f"{e} {v}" for e, v in CACHE_ENGINES)
        if family is None:
            self.error(f"{where}: cache", f"{engine} {version} is not a supported engine and version ({valid})")
            return
        wanted = family + (".cluster.on" if mode == "enabled" else "")
        if group != wanted:
            self.error(f"{where}: cache", f"{engine} {version} with cacheClusterMode {mode} needs cacheParameterGroup {wanted}, not {group}")

    def check_stack(self, stack_file):
        with open(os.path.join(self.project, stack_file), encoding="utf-8") as f:
            stack = yaml.safe_load(f) or {}
        project = self.doc.get("name")
        self.check_cache_engine(stack_file, {k.partition(":")[2]: v for k, v in (stack.get("config") or {}).items()
                                            if k.startswith(f"{project}:")})
        for key, value in (stack.get("config") or {}).items():
            where = f"{stack_file}: config {key}"
            namespace, _, name = key.partition(":")
            if not name:
                self.error(where, f"stack config keys need a namespace ({project}:{key} or aws:{key})")
            elif namespace in self.facts["provider_config"]:
                settings = self.facts["provider_config"][namespace]
                if name not in settings:
                    self.error(where, f"not a pulumi-{namespace} provider setting{suggest(name, settings)}")
            elif namespace == project:
                spec = self.config.get(name)
                if spec is None:
                    self.error(where, f"not declared in Pulumi.yaml config{suggest(name, self.config)}")
                else:
                    kind = CONFIG_TYPES.get(spec.get("type"), object)
                    if not isinstance(value, kind):
                        self.error(where, f"{value!r} is not a {spec.get('type')}")
            else:
                self.error(where, f"unknown namespace {namespace}")

    def check_provider(self, name, resource, package):
        where = f"resources.{name}"
        version = self.facts["versions"].get(package)
        if version is None:
            self.error(where, f"no facts for package {package}: add it to facts.py")
            return
        for key in resource:
            if key not in {"type", "properties", "options", "defaultProvider"}:
                self.error(where, f"unknown key {key}")
        pinned = (resource.get("options") or {}).get("version")
        if pinned != version:
            self.error(where, f"pin the {package} provider at {version} (options.version), the version the checks know; found {pinned!r}")
        # An explicit provider reads no stack config: without `region` it deploys wherever the environment says.
        if package == "aws" and "region" not in (resource.get("properties") or {}):
            self.error(where, "an explicit aws provider reads no stack config: pass properties.region: ${aws:region}")
        for key, value in (resource.get("properties") or {}).items():
            if key not in self.facts["provider_config"].get(package, []):
                self.error(f"{where}.properties", f"{key} is not a setting of the {package} provider{suggest(key, self.facts['provider_config'].get(package, []))}")
            self.check_value(value, f"{where}.properties.{key}")

    def check_providers_pinned(self):
        """Every package the program uses has an explicit default provider, so no plugin version is left to chance."""
        used = {str(r.get("type")).split(":")[0] for r in self.resources.values() if not str(r.get("type")).startswith("pulumi:")}
        used |= self.invoked_packages
        pinned = {str(r.get("type")).split(":")[2] for r in self.resources.values()
                  if str(r.get("type")).startswith("pulumi:providers:") and r.get("defaultProvider") is True}
        for package in sorted(used - pinned):
            self.error("providers", f"{package} has no explicit default provider (type pulumi:providers:{package}, defaultProvider: true, options.version)")

    def check_resource(self, name, resource):
        where = f"resources.{name}"
        token = resource.get("type")
        if isinstance(token, str) and token.startswith("pulumi:providers:"):
            self.check_provider(name, resource, token.split(":", 2)[2])
            return
        if token not in self.facts["resource_tokens"]:
            self.error(where, f"unknown type token {token}{suggest(str(token), self.facts['resource_tokens'])}")
            return
        details = self.facts["resources"].get(token)
        if details is None:
            self.error(where, f"{token} has no details in the facts: rerun scripts/pulumi/facts.py")
            return
        for key in resource:
            if key not in {"type", "properties", "options", "get", "defaultProvider"}:
                self.error(where, f"unknown key {key}")
        for key, value in (resource.get("options") or {}).items():
            if key not in OPTIONS:
                self.error(f"{where}.options", f"unknown option {key}{suggest(key, OPTIONS)}")
            self.check_value(value, f"{where}.options.{key}")
        self.check_depends_on((resource.get("options") or {}).get("dependsOn"), f"{where}.options.dependsOn")
        self.check_properties(resource.get("properties") or {}, details["inputs"], details["module"], f"{where}.properties", token)

    def check_depends_on(self, value, where):
        if value is None:
            return
        if not isinstance(value, list):
            self.error(where, "must be a list of resources (- ${name})")
            return
        for i, item in enumerate(value):
            m = re.fullmatch(r"\$\{([\w-]+)\}", item) if isinstance(item, str) else None
            if not m:
                self.error(f"{where}[{i}]", f"{item!r} is not a resource reference: write ${{name}}, a whole resource")
            elif m.group(1) not in self.resources:
                self.error(f"{where}[{i}]", f"${{{m.group(1)}}} is not a resource{suggest(m.group(1), self.resources)}")

    def check_scalar(self, value, field, where):
        """A literal (or a whole ${config}) where the schema wants a scalar must be of its type."""
        want = field.get("scalar")
        if want is None:
            return
        if field.get("list") and isinstance(value, list):
            for i, item in enumerate(value):
                self.check_scalar(item, {"scalar": want}, f"{where}[{i}]")
            return
        if field.get("map") and isinstance(value, dict) and not self.is_function(value):
            for key, item in value.items():
                self.check_scalar(item, {"scalar": want}, f"{where}.{key}")
            return
        config = re.fullmatch(r"\$\{(\w+)\}", value) if isinstance(value, str) else None
        if config and config.group(1) in self.config:
            have = CONFIG_SCALARS.get(self.config[config.group(1)].get("type"))
            # Pulumi turns numbers and booleans into strings where strings go; the other way round fails.
            if have and have != want and want != "str" and not (want == "float" and have == "int"):
                self.error(where, f"config {config.group(1)} is a {self.config[config.group(1)].get('type')}, the input wants {want}")
            return
        if isinstance(value, (dict, list)) or (isinstance(value, str) and REF.search(value)):
            return
        ok = isinstance(value, SCALARS[want]) and not (want in ("int", "float") and isinstance(value, bool))
        if not ok:
            hint = " (quote it)" if want == "str" else ""
            self.error(where, f"{value!r} is not a {want}{hint}")

    def check_properties(self, props, fields, module, where, owner):
        if not isinstance(props, dict) or self.is_function(props):
            self.check_value(props, where)
            return
        for key, value in props.items():
            field = fields.get(key)
            if field is None:
                self.error(where, f"{key} is not an input of {owner}{suggest(key, fields)}")
                continue
            nested = self.facts["types"].get(f"{module}.{field['type']}") if field["type"] else None
            if nested is None:
                self.check_scalar(value, field, f"{where}.{key}")
                self.check_value(value, f"{where}.{key}")
                continue
            items = value if isinstance(value, list) else [value]
            for i, item in enumerate(items):
                at = f"{where}.{key}[{i}]" if isinstance(value, list) else f"{where}.{key}"
                self.check_properties(item, nested, module, at, field["type"])
        for key, field in fields.items():
            if field["required"] and key not in props:
                self.error(where, f"missing required input {key} of {owner}")

    @staticmethod
    def is_function(value):
        return isinstance(value, dict) and len(value) == 1 and next(iter(value)).startswith("fn::")

    def check_value(self, value, where):
        if isinstance(value, str):
            for expr in REF.findall(value):
                self.check_reference(expr, where)
        elif isinstance(value, list):
            for i, item in enumerate(value):
                self.check_value(item, f"{where}[{i}]")
        elif isinstance(value, dict):
            if self.is_function(value):
                self.check_function(next(iter(value)), next(iter(value.values())), where)
            else:
                for key, item in value.items():
                    self.check_value(item, f"{where}.{key}")

    def check_function(self, fn, args, where):
        if fn not in FUNCTIONS:
            if fn.lower() in {f.lower() for f in FUNCTIONS}:
                self.error(where, f"{fn}: write it {next(f for f in FUNCTIONS if f.lower() == fn.lower())} (Pulumi warns on other casing)")
            else:
                self.error(where, f"unknown function {fn}{suggest(fn, FUNCTIONS)}")
            return
        if fn in FILE_FUNCTIONS:
            if not isinstance(args, str) or not os.path.exists(os.path.join(self.project, args)):
                self.error(where, f"{fn}: file {args} does not exist" + (" (run scripts/package first)" if "dist/" in str(args) else ""))
            return
        if fn == "fn::invoke":
            token = args.get("function")
            self.invoked_packages.add(str(token).split(":")[0])
            details = self.facts["functions"].get(token)
            if details is None:
                known = token in self.facts["function_tokens"]
                self.error(where, f"{token} has no details in the facts: rerun scripts/pulumi/facts.py" if known
                           else f"unknown function token {token}{suggest(str(token), self.facts['function_tokens'])}")
                return
            for key in args:
                if key not in {"function", "arguments", "return", "options"}:
                    self.error(where, f"fn::invoke: unknown key {key}")
            for arg, value in (args.get("arguments") or {}).items():
                if arg not in details["args"]:
                    self.error(f"{where}.arguments", f"{arg} is not an argument of {token}{suggest(arg, details['args'])}")
                self.check_value(value, f"{where}.arguments.{arg}")
            ret = args.get("return")
            if ret is not None and ret not in details["returns"]:
                self.error(where, f"return {ret} is not a result field of {token}{suggest(ret, details['returns'])}")
            return
        self.check_value(args, where)

    def check_reference(self, expr, where):
        namespaced = re.fullmatch(r"([\w-]+):([\w-]+)", expr.strip())
        if namespaced:
            self.check_namespaced_config(namespaced.group(1), namespaced.group(2), where)
            return
        m = REF_PATH.match(expr.strip())
        if not m or not m.group(1):
            self.error(where, f"cannot read reference ${{{expr}}}")
            return
        root, rest = m.group(1), m.group(2)
        if root in PULUMI_BUILTINS or root.startswith("pulumi."):
            if root not in PULUMI_BUILTINS:
                self.error(where, f"unknown ${{{root}}}")
            return
        if "." in root:
            # `${name.prop}`: the regex took the first property into the root.
            root, first = root.split(".", 1)
            rest = f".{first}{rest}"
        if root in self.resources:
            first = re.match(r"\.(\w+)", rest)
            token = self.resources[root].get("type")
            details = self.facts["resources"].get(token)
            if first and details and first.group(1) not in details["outputs"]:
                self.error(where, f"${{{expr}}}: {first.group(1)} is not an output of {token}{suggest(first.group(1), details['outputs'])}")
        elif root in self.variables or root in self.config:
            pass
        else:
            names = list(self.resources) + list(self.variables) + list(self.config)
            self.error(where, f"${{{expr}}}: no resource, variable or config named {root}{suggest(root, names)}")

    def stack_files(self):
        return sorted(f for f in os.listdir(self.project) if re.match(r"Pulumi\.[\w-]+\.yaml$", f))

    def check_namespaced_config(self, namespace, name, where):
        """`${aws:region}` reads the stack's provider setting: it must be one, and every stack file must set it
        (Pulumi YAML has no default for it, so `up` would stop)."""
        settings = self.facts["provider_config"].get(namespace)
        if settings is None:
            self.error(where, f"${{{namespace}:{name}}}: {namespace} is not a provider whose settings a program can read")
            return
        if name not in settings:
            self.error(where, f"${{{namespace}:{name}}}: not a pulumi-{namespace} provider setting{suggest(name, settings)}")
            return
        for stack_file in self.stack_files():
            with open(os.path.join(self.project, stack_file), encoding="utf-8") as f:
                stack = (yaml.safe_load(f) or {}).get("config") or {}
            if f"{namespace}:{name}" not in stack:
                self.error(where, f"${{{namespace}:{name}}} is not set in {stack_file}: `pulumi config set {namespace}:{name} …`")

    # --- security promises
    def resolved(self, value):
        """A value with `${config}` replaced by the config default, for the security checks."""
        if isinstance(value, str):
            m = re.fullmatch(r"\$\{(\w+)\}", value)
            if m and m.group(1) in self.config:
                return self.config[m.group(1)].get("default")
        return value

    def check_secure_transport(self, where, group_ref):
        """RDS MySQL 8.4 takes plain-text logins unless its parameter group sets require_secure_transport."""
        m = re.fullmatch(r"\$\{(\w+)\.name\}", str(group_ref))
        group = self.resources.get(m.group(1)) if m else None
        if not group or group.get("type") != "aws:rds/parameterGroup:ParameterGroup":
            self.error(where, "give RDS a parameter group of the stack's own (parameterGroupName: ${…name}) with require_secure_transport 1")
            return
        params = {p.get("name"): str(p.get("value")) for p in (group.get("properties") or {}).get("parameters") or []}
        if params.get("require_secure_transport") not in ("1", "ON", "on"):
            self.error(where, "its parameter group must set require_secure_transport to 1: RDS otherwise accepts plain-text logins")

    def check_zones(self):
        """us-east-1's use1-az3 offers no t3 instances: the zone lookup must leave it out, by id."""
        for name, value in self.variables.items():
            invoke = (value or {}).get("fn::invoke") if isinstance(value, dict) else None
            if invoke and invoke.get("function") == "aws:index/getAvailabilityZones:getAvailabilityZones":
                if "use1-az3" not in ((invoke.get("arguments") or {}).get("excludeZoneIds") or []):
                    self.error(f"variables.{name}", "exclude use1-az3 (excludeZoneIds): it offers no t3 instances")

    def check_security(self):
        self.check_zones()
        # Who may reach the dashboard is the user's to say: a default would open it to everyone who forgot.
        if (self.config.get("allowedCidr") or {}).get("default") in ("0.0.0.0/0", "::/0"):
            self.error("security: config.allowedCidr", "no world-open default: leave it unset so `pulumi up` asks")
        app_port = self.resolved("${appPort}")
        for name, resource in self.resources.items():
            token, props = resource.get("type"), resource.get("properties") or {}
            where = f"security: resources.{name}"
            if token == "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule":
                low, high = self.resolved(props.get("fromPort")), self.resolved(props.get("toPort"))
                cidr = self.resolved(props.get("cidrIpv4")) or self.resolved(props.get("cidrIpv6"))
                if not isinstance(low, int) or not isinstance(high, int):
                    self.error(where, "ports must be known numbers")
                    continue
                for port, service in list(SENSITIVE_PORTS.items()) + [(app_port, "the dashboard")]:
                    if not (low <= port <= high or props.get("ipProtocol") == "-1"):
                        continue
                    if service == "SSH":
                        self.error(where, "opens SSH (port 22); use SSM Session Manager")
                    elif cidr in ("0.0.0.0/0", "::/0"):
                        self.error(where, f"opens {service} (port {port}) to the internet"
                                   + ("; admit CloudFront's origin-facing prefix list only" if port == app_port else ""))
            elif token == "aws:ec2/securityGroup:SecurityGroup":
                if name in ("dbSecurityGroup", "cacheSecurityGroup") and props.get("egress") != []:
                    self.error(where, "the data stores start no connections: egress: [] (replies pass a stateful group anyway)")
                for i, rule in enumerate(props.get("ingress") or []):
                    low, high = self.resolved(rule.get("fromPort")), self.resolved(rule.get("toPort"))
                    if not isinstance(low, int) or not isinstance(high, int):
                        self.error(where, f"ingress[{i}] ports must be known numbers")
                        continue
                    cidrs = [self.resolved(c) for c in (rule.get("cidrBlocks") or []) + (rule.get("ipv6CidrBlocks") or [])]
                    for port, service in list(SENSITIVE_PORTS.items()) + [(app_port, "the dashboard")]:
                        if not (low <= port <= high or rule.get("protocol") in ("-1", "all")):
                            continue
                        if service == "SSH":
                            self.error(where, f"ingress[{i}] opens SSH (port 22); use SSM Session Manager")
                        elif any(c in ("0.0.0.0/0", "::/0") for c in cidrs):
                            self.error(where, f"ingress[{i}] opens {service} (port {port}) to the internet")
            elif token == "aws:iam/rolePolicyAttachment:RolePolicyAttachment":
                if "AmazonSSMManagedInstanceCore" in str(props.get("policyArn")):
                    self.error(where, "AmazonSSMManagedInstanceCore also reads every Parameter Store value in the account: "
                                      "grant only Session Manager's actions (ssm:UpdateInstanceInformation, ssmmessages:*, ec2messages:*)")
            elif token == "aws:iam/rolePolicy:RolePolicy":
                policy = (props.get("policy") or {}).get("fn::toJSON") or {}
                for statement in policy.get("Statement") or []:
                    actions = statement.get("Action") or []
                    for action in [actions] if isinstance(actions, str) else actions:
                        if action in ("*", "ssm:*") or str(action).startswith("ssm:GetParameter"):
                            self.error(where, f"{statement.get('Sid')}: {action} reads Parameter Store values the server has no use for")
            elif token == "aws:cloudfront/distribution:Distribution":
                for i, origin in enumerate(props.get("origins") or []):
                    names = [str(h.get("name")).lower() for h in origin.get("customHeaders") or []]
                    if "x-origin-verify" not in names:
                        self.error(where, f"origins[{i}] sends no X-Origin-Verify header: any CloudFront distribution could reach the instance")
            elif token == "aws:ec2/instance:Instance":
                if "CACHELENS_ORIGIN_SECRET_SECRET" not in json.dumps(props.get("userData")):
                    self.error(where, "the user data passes no CACHELENS_ORIGIN_SECRET_SECRET: the app would admit requests from any distribution")
                if (props.get("metadataOptions") or {}).get("httpTokens") != "required":
                    self.error(where, "IMDSv2 must be required (metadataOptions.httpTokens: required)")
                if "keyName" in props:
                    self.error(where, "no SSH key pair: use SSM Session Manager")
                if (props.get("rootBlockDevice") or {}).get("encrypted") is not True:
                    self.error(where, "the root volume must be encrypted")
            elif token == "aws:rds/instance:Instance":
                if props.get("storageEncrypted") is not True:
                    self.error(where, "RDS storage must be encrypted (storageEncrypted: true)")
                if props.get("publiclyAccessible") is True:
                    self.error(where, "RDS must not be publicly accessible")
                self.check_secure_transport(where, props.get("parameterGroupName"))
            elif token == "aws:elasticache/replicationGroup:ReplicationGroup":
                if props.get("transitEncryptionEnabled") is not True:
                    self.error(where, "the cache needs TLS in transit (transitEncryptionEnabled: true)")
                if props.get("atRestEncryptionEnabled") is not True:
                    self.error(where, "the cache needs encryption at rest (atRestEncryptionEnabled: true)")


def load_facts(paths):
    """The facts of several packages as one: tokens, details and types together; versions and provider settings
    by package."""
    merged = {"resource_tokens": set(), "function_tokens": set(), "resources": {}, "functions": {}, "types": {},
              "versions": {}, "provider_config": {}}
    for path in paths:
        with open(path, encoding="utf-8") as f:
            facts = json.load(f)
        name = facts.get("name", "aws")
        merged["versions"][name] = facts["version"]
        merged["provider_config"][name] = facts["provider_config"]
        for key in ("resource_tokens", "function_tokens"):
            merged[key] |= set(facts[key])
        for key in ("resources", "functions"):
            merged[key].update(facts[key])
        merged["types"].update({f"{name}:{k}": v for k, v in facts["types"].items()})
        for details in facts["resources"].values():
            details["module"] = f"{name}:{details['module']}"
    return merged


def check(project, facts_paths=None):
    paths = facts_paths or [os.path.join(HERE, f) for f in DEFAULT_FACTS]
    return Checker(project, load_facts(paths)).run()


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--project", default=os.path.dirname(os.path.dirname(HERE)))
    ap.add_argument("--facts", nargs="+", default=[os.path.join(HERE, f) for f in DEFAULT_FACTS])
    a = ap.parse_args()
    errors = check(a.project, a.facts)
    for e in errors:
        print(e)
    if errors:
        sys.exit(1)
    print(f"Pulumi program in {a.project}: valid against the provider facts, security checks pass")


if __name__ == "__main__":
    main()
