#!/usr/bin/env python3
"""Validates Pulumi.yaml and its stack files offline, against the pulumi-aws facts (facts.py), and checks the
stack's security promises. Prints one line a problem and exits 1 when there is any.

    scripts/pulumi/check.py [--project DIR] [--facts FILE]

What it checks: type tokens; property names, nested objects and required inputs; `${…}` references to
resources (and their outputs), variables and config; fn::invoke functions, arguments and `return` fields;
config types and defaults; stack config keys and value types; files named by fn::fileAsset/fn::readFile;
resource options. Security: no 0.0.0.0/0 (or ::/0) to MySQL or Redis ports, no SSH ingress, no key pair,
IMDSv2 required, RDS storage encrypted, ElastiCache TLS in transit and encryption at rest.
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
FUNCTIONS = {"fn::invoke", "fn::join", "fn::split", "fn::select", "fn::toJSON", "fn::toBase64", "fn::fromBase64",
             "fn::secret", "fn::readFile", "fn::fileAsset", "fn::stringAsset", "fn::remoteAsset", "fn::fileArchive",
             "fn::remoteArchive", "fn::assetArchive", "fn::method"}
FILE_FUNCTIONS = {"fn::readFile", "fn::fileAsset", "fn::fileArchive"}
PULUMI_BUILTINS = {"pulumi.cwd", "pulumi.project", "pulumi.stack", "pulumi.organization", "pulumi.rootDirectory"}
SENSITIVE_PORTS = {3306: "MySQL", 6379: "Redis", 22: "SSH"}


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
        self.check_config()
        for name, value in self.variables.items():
            self.check_value(value, f"variables.{name}")
        for name, resource in self.resources.items():
            self.check_resource(name, resource)
        for name, value in (doc.get("outputs") or {}).items():
            self.check_value(value, f"outputs.{name}")
        for stack_file in sorted(f for f in os.listdir(self.project) if re.match(r"Pulumi\.[\w-]+\.yaml$", f)):
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

    def check_stack(self, stack_file):
        with open(os.path.join(self.project, stack_file), encoding="utf-8") as f:
            stack = yaml.safe_load(f) or {}
        project = self.doc.get("name")
        for key, value in (stack.get("config") or {}).items():
            where = f"{stack_file}: config {key}"
            namespace, _, name = key.partition(":")
            if not name:
                self.error(where, f"stack config keys need a namespace ({project}:{key} or aws:{key})")
            elif namespace == "aws":
                if name not in self.facts["provider_config"]:
                    self.error(where, f"not a pulumi-aws provider setting{suggest(name, self.facts['provider_config'])}")
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

    def check_resource(self, name, resource):
        where = f"resources.{name}"
        token = resource.get("type")
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
        self.check_properties(resource.get("properties") or {}, details["inputs"], details["module"], f"{where}.properties", token)

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
            self.error(where, f"unknown function {fn}{suggest(fn, FUNCTIONS)}")
            return
        if fn in FILE_FUNCTIONS:
            if not isinstance(args, str) or not os.path.exists(os.path.join(self.project, args)):
                self.error(where, f"{fn}: file {args} does not exist" + (" (run scripts/package first)" if "dist/" in str(args) else ""))
            return
        if fn == "fn::invoke":
            token = args.get("function")
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

    # --- security promises
    def resolved(self, value):
        """A value with `${config}` replaced by the config default, for the security checks."""
        if isinstance(value, str):
            m = re.fullmatch(r"\$\{(\w+)\}", value)
            if m and m.group(1) in self.config:
                return self.config[m.group(1)].get("default")
        return value

    def check_security(self):
        # Who may reach the dashboard is the user's to say: a default would open it to everyone who forgot.
        if (self.config.get("allowedCidr") or {}).get("default") in ("0.0.0.0/0", "::/0"):
            self.error("security: config.allowedCidr", "no world-open default: leave it unset so `pulumi up` asks")
        for name, resource in self.resources.items():
            token, props = resource.get("type"), resource.get("properties") or {}
            where = f"security: resources.{name}"
            if token == "aws:ec2/securityGroup:SecurityGroup":
                for i, rule in enumerate(props.get("ingress") or []):
                    low, high = self.resolved(rule.get("fromPort")), self.resolved(rule.get("toPort"))
                    if not isinstance(low, int) or not isinstance(high, int):
                        self.error(where, f"ingress[{i}] ports must be known numbers")
                        continue
                    cidrs = [self.resolved(c) for c in (rule.get("cidrBlocks") or []) + (rule.get("ipv6CidrBlocks") or [])]
                    for port, service in SENSITIVE_PORTS.items():
                        if not (low <= port <= high or rule.get("protocol") in ("-1", "all")):
                            continue
                        if service == "SSH":
                            self.error(where, f"ingress[{i}] opens SSH (port 22); use SSM Session Manager")
                        elif any(c in ("0.0.0.0/0", "::/0") for c in cidrs):
                            self.error(where, f"ingress[{i}] opens {service} (port {port}) to the internet")
            elif token == "aws:ec2/instance:Instance":
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
            elif token == "aws:elasticache/replicationGroup:ReplicationGroup":
                if props.get("transitEncryptionEnabled") is not True:
                    self.error(where, "the cache needs TLS in transit (transitEncryptionEnabled: true)")
                if props.get("atRestEncryptionEnabled") is not True:
                    self.error(where, "the cache needs encryption at rest (atRestEncryptionEnabled: true)")


def check(project, facts_path):
    with open(facts_path, encoding="utf-8") as f:
        facts = json.load(f)
    return Checker(project, facts).run()


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--project", default=os.path.dirname(os.path.dirname(HERE)))
    ap.add_argument("--facts", default=os.path.join(HERE, "pulumi-aws-facts.json"))
    a = ap.parse_args()
    errors = check(a.project, a.facts)
    for e in errors:
        print(e)
    if errors:
        sys.exit(1)
    print(f"Pulumi program in {a.project}: valid against pulumi-aws facts, security checks pass")


if __name__ == "__main__":
    main()
