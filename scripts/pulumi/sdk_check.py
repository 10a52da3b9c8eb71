#!/usr/bin/env python3
"""The second offline check of Pulumi.yaml: the whole program run through the real Pulumi Python SDK and the
providers' own generated SDKs (pulumi_aws 7.51.1, pulumi_random 4.21.4, from PyPI) under the SDK's mocks.

check.py reads the program against facts extracted from those SDKs; this one lets the SDKs judge: every
resource is built from its own `…Args` class (unknown or missing inputs raise), every nested object from its
nested `…Args` class, every `${res.out[0].field}` is read through the resource's typed outputs (a wrong name or
an index past the end fails), every fn::invoke goes through the provider's function (its arguments and result
fields). Then it prints what the mocks received for the web server's user data and the IAM policy, and checks
them: no unresolved `${`, no `None`, every export filled in, the policy's resources all ARNs.

    scripts/pulumi/sdk_check.py [--project DIR] [--stack dev] [--quiet]

The mocks answer with plausible outputs (an RDS secret ARN, endpoints, a CloudFront domain); they stand in for
AWS, not for the code under test, which is the program. Exits 1 with one line a problem.
"""
import argparse
import base64
import importlib
import inspect
import json
import os
import re
import sys
import warnings

import yaml

# pulumi_aws announces its deprecated resources as it loads them; none of them is used here.
warnings.filterwarnings("ignore", category=DeprecationWarning)

HERE = os.path.dirname(os.path.abspath(__file__))
REF = re.compile(r"\$\{([^}]*)\}")
PATH_PART = re.compile(r"\.([A-Za-z_][\w-]*)|\[(\d+)\]|\[\"([^\"]+)\"\]")
ACCOUNT = "123456789012"
# The services whose actions Session Manager's agent needs, on no resource narrower than "*".
SESSION_MANAGER_SERVICES = {"ssmmessages", "ec2messages"}
REGION = "us-east-1"


class ProgramError(Exception):
    pass


def snake(name):
    return re.sub(r"(?<=[a-z0-9])([A-Z])", r"_\1", name).lower()


def module_and_name(token):
    """`aws:ec2/vpc:Vpc` → (pulumi_aws.ec2, Vpc); `aws:index/getRegion:getRegion` → (pulumi_aws, getRegion)."""
    package, middle, name = token.split(":")
    module = middle.split("/")[0]
    base = importlib.import_module(f"pulumi_{package}")
    return (base if module == "index" else importlib.import_module(f"pulumi_{package}.{module}")), name


def mock_outputs(typ, name, inputs):
    """What AWS would answer with, for the outputs the program reads."""
    arn = f"arn:aws:mock:{REGION}:{ACCOUNT}:{name}"
    out = {"arn": arn, "name": inputs.get("name", f"{name}-mock")}
    if typ == "aws:rds/instance:Instance":
        out.update(address=f"{name}.mock.{REGION}.rds.amazonaws.com", port=3306,
                   endpoint=f"{name}.mock.{REGION}.rds.amazonaws.com:3306",
                   masterUserSecrets=[{"secretArn": f"arn:aws:secretsmanager:{REGION}:{ACCOUNT}:secret:rds!db-mock-AbCdEf",
                                       "secretStatus": "active", "kmsKeyId": f"arn:aws:kms:{REGION}:{ACCOUNT}:key/mock"}])
    elif typ == "aws:elasticache/replicationGroup:ReplicationGroup":
        clustered = inputs.get("clusterMode") == "enabled"
        out.update(primaryEndpointAddress="" if clustered else f"master.{name}.mock.cache.amazonaws.com",
                   configurationEndpointAddress=f"clustercfg.{name}.mock.cache.amazonaws.com" if clustered else "")
    elif typ == "aws:ec2/instance:Instance":
        out.update(publicIp="203.0.113.10", publicDns="ec2-203-0-113-10.compute-1.amazonaws.com")
    elif typ == "aws:cloudfront/distribution:Distribution":
        out.update(domainName="d111111abcdef8.cloudfront.net")
    elif typ == "aws:s3/bucket:Bucket":
        bucket = inputs.get("bucketPrefix", "") + "mock"
        out.update(bucket=bucket, arn=f"arn:aws:s3:::{bucket}")
    elif typ == "aws:s3/bucketObjectv2:BucketObjectv2":
        out.update(etag="0123456789abcdef0123456789abcdef")
    elif typ == "aws:secretsmanager/secret:Secret":
        out.update(arn=f"arn:aws:secretsmanager:{REGION}:{ACCOUNT}:secret:{inputs.get('namePrefix', name)}mock-AbCdEf")
    elif typ == "aws:iam/role:Role":
        out.update(arn=f"arn:aws:iam::{ACCOUNT}:role/{name}-mock")
    elif typ == "random:index/randomPassword:RandomPassword":
        out.update(result="m" * int(inputs.get("length", 16)))
    return {**inputs, **out}


def mock_call(token, args):
    if token == "aws:index/getAvailabilityZones:getAvailabilityZones":
        return {"names": [f"{REGION}a", f"{REGION}b", f"{REGION}c"], "zoneIds": ["use1-az1", "use1-az2", "use1-az4"], "id": REGION}
    if token == "aws:index/getRegion:getRegion":
        return {"region": REGION, "name": REGION, "id": REGION}
    if token == "aws:ssm/getParameter:getParameter":
        return {"name": args.get("name"), "value": "ami-0123456789abcdef0", "insecureValue": "ami-0123456789abcdef0",
                "type": "String", "id": args.get("name")}
    if token == "aws:ec2/getManagedPrefixList:getManagedPrefixList":
        return {"id": "pl-3b927c52", "name": args.get("name"), "arn": f"arn:aws:ec2:{REGION}:aws:prefix-list/pl-3b927c52"}
    if token == "aws:secretsmanager/getSecret:getSecret":
        return {"arn": args.get("arn"), "name": "rds!db-mock", "id": args.get("arn")}
    raise ProgramError(f"the mocks have no answer for {token}: add one to sdk_check.py")


class Program:
    """Pulumi.yaml evaluated as Pulumi YAML would: config, then variables and resources on demand."""

    def __init__(self, project, stack, pulumi):
        self.pulumi = pulumi
        self.project = project
        with open(os.path.join(project, "Pulumi.yaml"), encoding="utf-8") as f:
            self.doc = yaml.safe_load(f)
        self.config = {k: v.get("default") for k, v in (self.doc.get("config") or {}).items()}
        stack_file = os.path.join(project, f"Pulumi.{stack}.yaml")
        if os.path.exists(stack_file):
            with open(stack_file, encoding="utf-8") as f:
                for key, value in ((yaml.safe_load(f) or {}).get("config") or {}).items():
                    namespace, _, name = key.partition(":")
                    if namespace == self.doc["name"]:
                        self.config[name] = value
                    else:
                        # A provider's setting, read as `${aws:region}`.
                        self.config[key] = value
        missing = [k for k, v in self.config.items() if v is None]
        if missing:
            raise ProgramError(f"config without a value: {', '.join(missing)}")
        self.variables = self.doc.get("variables") or {}
        self.resources = self.doc.get("resources") or {}
        self.built, self.values, self.busy = {}, {}, set()
        self.errors = []

    def fail(self, where, message):
        self.errors.append(f"{where}: {message}")

    def guarded(self, where, fn):
        """`fn` for an apply: a failure inside is recorded with its place, not raised out of the event loop."""
        def run(value):
            try:
                return fn(value)
            except Exception as e:  # noqa: BLE001 - every failure is a finding
                self.fail(where, f"{type(e).__name__}: {e}")
                return None
        return run

    # --- expressions
    def eval(self, node, where):
        Output = self.pulumi.Output
        if isinstance(node, str):
            refs = REF.findall(node)
            if not refs:
                return node.replace("$${", "${")
            if re.fullmatch(r"\$\{[^}]*\}", node):
                return self.reference(refs[0], where)
            parts = re.split(r"(\$\{[^}]*\})", node)
            values = [self.reference(p[2:-1], where) if REF.fullmatch(p) else p for p in parts]
            return Output.all(*values).apply(self.guarded(where, lambda xs: "".join(interpolate(x, where) for x in xs)))
        if isinstance(node, list):
            return [self.eval(item, f"{where}[{i}]") for i, item in enumerate(node)]
        if isinstance(node, dict):
            if len(node) == 1 and next(iter(node)).startswith("fn::"):
                fn, args = next(iter(node.items()))
                return self.function(fn, args, where)
            return {k: self.eval(v, f"{where}.{k}") for k, v in node.items()}
        return node

    def function(self, fn, args, where):
        Output, pulumi = self.pulumi.Output, self.pulumi
        if fn == "fn::invoke":
            return self.invoke(args, where)
        if fn == "fn::join":
            delimiter, items = args
            values = self.eval(items, where)
            return Output.all(*values).apply(self.guarded(where, lambda xs: delimiter.join(interpolate(x, where) for x in xs)))
        if fn == "fn::toJSON":
            return Output.json_dumps(self.eval(args, where))
        if fn == "fn::select":
            index, items = args
            return Output.all(*self.eval(items, where)).apply(self.guarded(where, lambda xs: xs[index]))
        if fn == "fn::split":
            delimiter, text = args
            return Output.from_input(self.eval(text, where)).apply(self.guarded(where, lambda t: t.split(delimiter)))
        if fn == "fn::toBase64":
            return Output.from_input(self.eval(args, where)).apply(lambda t: base64.b64encode(t.encode()).decode())
        if fn == "fn::secret":
            return Output.secret(self.eval(args, where))
        if fn == "fn::readFile":
            with open(os.path.join(self.project, args), encoding="utf-8") as f:
                return f.read()
        if fn == "fn::fileAsset":
            return pulumi.FileAsset(os.path.join(self.project, args))
        if fn == "fn::stringAsset":
            return pulumi.StringAsset(self.eval(args, where))
        raise ProgramError(f"{where}: {fn} is not evaluated by sdk_check.py")

    def invoke(self, args, where):
        token = args["function"]
        module, name = module_and_name(token)
        fn = getattr(module, snake(name) + "_output", None)
        if fn is None:
            raise ProgramError(f"{where}: {token} is not a function of pulumi_{token.split(':')[0]}")
        kwargs = {snake(k): self.eval(v, f"{where}.arguments.{k}") for k, v in (args.get("arguments") or {}).items()}
        try:
            result = fn(**kwargs)
        except TypeError as e:
            raise ProgramError(f"{where}: {token}: {e}") from e
        field = args.get("return")
        if field is None:
            return result
        return result.apply(self.guarded(f"{where}.return", lambda r: attribute(r, field)))

    def reference(self, expr, where):
        if re.fullmatch(r"[\w-]+:[\w-]+", expr.strip()):
            if expr.strip() not in self.config:
                raise ProgramError(f"{where}: ${{{expr}}} is not set in the stack's config")
            return self.config[expr.strip()]
        m = re.match(r"^([A-Za-z_][\w-]*)", expr.strip())
        if not m:
            raise ProgramError(f"{where}: cannot read ${{{expr}}}")
        root, rest = m.group(1), expr.strip()[m.end():]
        if root == "pulumi":
            return {"cwd": self.project, "project": self.doc["name"], "stack": "dev"}.get(rest.lstrip("."), "")
        if root in self.config:
            value = self.config[root]
        elif root in self.variables:
            value = self.variable(root)
        elif root in self.resources:
            value = self.resource(root)
        else:
            raise ProgramError(f"{where}: ${{{expr}}} names nothing")
        parts = [(a or c, int(b) if b else None) for a, b, c in PATH_PART.findall(rest)]
        if not parts:
            return value
        if root in self.resources:
            first, index = parts[0]
            if first is None:
                raise ProgramError(f"{where}: ${{{expr}}}: a resource is read by property, not index")
            try:
                value = getattr(value, snake(first))
            except AttributeError:
                raise ProgramError(f"{where}: ${{{expr}}}: {first} is not an output of {self.resources[root]['type']}") from None
            parts = parts[1:]
        return self.pulumi.Output.from_input(value).apply(self.guarded(f"{where}: ${{{expr}}}", lambda v: walk(v, parts)))

    def variable(self, name):
        if name not in self.values:
            if name in self.busy:
                raise ProgramError(f"variables.{name}: refers to itself")
            self.busy.add(name)
            self.values[name] = self.eval(self.variables[name], f"variables.{name}")
            self.busy.discard(name)
        return self.values[name]

    # --- resources
    def resource(self, name):
        if name in self.built:
            return self.built[name]
        if name in self.busy:
            raise ProgramError(f"resources.{name}: a dependency cycle runs through it")
        self.busy.add(name)
        spec = self.resources[name]
        where = f"resources.{name}"
        token = spec["type"]
        options = spec.get("options") or {}
        depends = [self.resource(REF.fullmatch(d).group(1)) for d in options.get("dependsOn") or []]
        opts = self.pulumi.ResourceOptions(depends_on=depends or None, ignore_changes=options.get("ignoreChanges"),
                                           version=options.get("version"))
        props = spec.get("properties") or {}
        if token.startswith("pulumi:providers:"):
            package = token.split(":")[2]
            cls = importlib.import_module(f"pulumi_{package}").Provider
            args_cls = importlib.import_module(f"pulumi_{package}").ProviderArgs
        else:
            module, cls_name = module_and_name(token)
            cls = getattr(module, cls_name, None)
            args_cls = getattr(module, cls_name + "Args", None)
            if cls is None or args_cls is None:
                raise ProgramError(f"{where}: {token} is not a resource of pulumi_{token.split(':')[0]}")
        args = self.build_args(args_cls, props, where, module_of(cls))
        self.built[name] = cls(name, args, opts=opts)
        self.busy.discard(name)
        return self.built[name]

    def build_args(self, args_cls, props, where, module):
        """`args_cls(**inputs)`, nested objects built from their own Args classes: the SDK refuses a key it does
        not know and a required one left out."""
        params = inspect.signature(args_cls.__init__).parameters
        kwargs = {}
        for key, value in props.items():
            arg = snake(key)
            if arg not in params:
                raise ProgramError(f"{where}: {args_cls.__name__} takes no {key} ({arg})")
            nested = nested_args(params[arg].annotation, module)
            at = f"{where}.{key}"
            if nested is not None and isinstance(value, dict) and not next(iter(value), "").startswith("fn::"):
                kwargs[arg] = self.build_args(nested, value, at, module)
            elif nested is not None and isinstance(value, list):
                kwargs[arg] = [self.build_args(nested, item, f"{at}[{i}]", module) if isinstance(item, dict) else self.eval(item, at)
                               for i, item in enumerate(value)]
            else:
                kwargs[arg] = self.eval(value, at)
        try:
            return args_cls(**kwargs)
        except TypeError as e:
            raise ProgramError(f"{where}: {args_cls.__name__}: {e}") from e

    def run(self):
        for name in self.resources:
            self.resource(name)
        exported = []
        for name, value in (self.doc.get("outputs") or {}).items():
            output = self.pulumi.Output.from_input(self.eval(value, f"outputs.{name}"))
            self.pulumi.export(name, output)
            exported.append(output.apply(self.guarded(f"outputs.{name}", lambda v, n=name: none_check(v, f"outputs.{n}"))))
        return self.pulumi.Output.all(*exported)


def module_of(cls):
    return importlib.import_module(cls.__module__.rsplit(".", 1)[0])


def nested_args(annotation, module):
    text = annotation if isinstance(annotation, str) else repr(annotation)
    m = re.search(r"'(\w+Args)'|ForwardRef\('(\w+Args)'\)|\.(\w+Args)\b", text)
    if not m:
        return None
    name = next(g for g in m.groups() if g)
    return getattr(module, name, None)


def attribute(value, field):
    """A field of an output or result object by its schema name, as the SDK's typed classes expose it."""
    if isinstance(value, dict):
        # The SDK hands nested outputs over with its Python names.
        for key in (field, snake(field)):
            if key in value:
                return value[key]
        raise KeyError(f"{field} (fields: {', '.join(sorted(value))})")
    try:
        return getattr(value, snake(field))
    except AttributeError:
        raise AttributeError(f"{type(value).__name__} has no field {field}") from None


def walk(value, parts):
    for name, index in parts:
        if index is not None:
            if not isinstance(value, (list, tuple)):
                raise TypeError(f"[{index}] on a {type(value).__name__}")
            if index >= len(value):
                raise IndexError(f"[{index}] on a list of {len(value)}")
            value = value[index]
        else:
            value = attribute(value, name)
    return value


def interpolate(value, where):
    if value is None:
        raise ValueError("a value interpolated into a string is null (Pulumi would render <nil>)")
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def none_check(value, where):
    if value is None:
        raise ValueError(f"{where} is null")
    return value


def check_rendered(rendered, errors):
    """The user data and the IAM policy as the mocks received them."""
    user_data = rendered.get("userData")
    if not user_data:
        errors.append("webServer: no user data was rendered")
    else:
        for i, line in enumerate(user_data.splitlines(), 1):
            if line.startswith("export "):
                m = re.fullmatch(r'export ([A-Z_]+)="(.*)"', line)
                if not m:
                    errors.append(f"user data line {i}: export not in the form NAME=\"value\": {line}")
                elif m.group(2) in ("", "None", "<nil>") and m.group(1) not in ("CACHELENS_REDIS_CONFIGURATION", "CACHELENS_REDIS_PRIMARY"):
                    errors.append(f"user data line {i}: {m.group(1)} is empty")
            if "${" in line and not line.lstrip().startswith("#") and "export " in line:
                errors.append(f"user data line {i}: unresolved {line}")
    if not rendered.get("policy"):
        errors.append("webAccess: no IAM policy was rendered")
    for name, policy in (rendered.get("policies") or {}).items():
        for statement in json.loads(policy)["Statement"]:
            actions = [statement["Action"]] if isinstance(statement["Action"], str) else statement["Action"]
            resources = [statement["Resource"]] if isinstance(statement["Resource"], str) else statement["Resource"]
            for resource in resources:
                # Session Manager's agent actions take no narrower resource; every other grant names its ARNs.
                agent_only = all(a.split(":")[0] in SESSION_MANAGER_SERVICES or a == "ssm:UpdateInstanceInformation" for a in actions)
                if not str(resource).startswith("arn:") and not (resource == "*" and agent_only):
                    errors.append(f"IAM policy {name} {statement.get('Sid')}: {resource!r} is not an ARN")
    region = (rendered.get("awsProvider") or {}).get("region")
    if region != rendered.get("stackRegion"):
        errors.append(f"awsProvider: region {region!r}, not the stack's aws:region {rendered.get('stackRegion')!r}: "
                      "an explicit provider reads no stack config, so pass region: ${aws:region}")


def check(project, stack="dev"):
    """Runs the program under mocks; returns (errors, rendered), rendered holding the user data and policy."""
    import pulumi

    rendered = {}

    class Mocks(pulumi.runtime.Mocks):
        def new_resource(self, args):
            if args.typ == "aws:ec2/instance:Instance":
                rendered["userData"] = args.inputs.get("userData")
            if args.typ == "aws:iam/rolePolicy:RolePolicy":
                rendered.setdefault("policies", {})[args.name] = args.inputs.get("policy")
                if args.name == "webAccess":
                    rendered["policy"] = args.inputs.get("policy")
            if args.typ == "pulumi:providers:aws":
                rendered["awsProvider"] = dict(args.inputs)
            return [f"{args.name}-id", mock_outputs(args.typ, args.name, dict(args.inputs))]

        def call(self, args):
            return mock_call(args.token, dict(args.args))

    pulumi.runtime.set_mocks(Mocks(), project="cachelens", stack=stack, preview=False)
    program = Program(project, stack, pulumi)
    rendered["stackRegion"] = program.config.get("aws:region")
    errors = []

    @pulumi.runtime.test
    def run():
        return program.run()

    try:
        run()
    except ProgramError as e:
        errors.append(str(e))
    except Exception as e:  # noqa: BLE001 - the SDK's own refusals are findings
        errors.append(f"{type(e).__name__}: {e}")
    errors += program.errors
    if not errors:
        check_rendered(rendered, errors)
    return errors, rendered


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--project", default=os.path.dirname(os.path.dirname(HERE)))
    ap.add_argument("--stack", default="dev")
    ap.add_argument("--quiet", action="store_true", help="do not print the rendered user data and policy")
    a = ap.parse_args()
    errors, rendered = check(a.project, a.stack)
    if not a.quiet:
        for key in ("userData", "policy"):
            if rendered.get(key):
                text = rendered[key]
                if key == "policy":
                    text = json.dumps(json.loads(text), indent=2)
                else:
                    # The bootstrap script is the repository's file; the part Pulumi fills in is the header.
                    text = text.split("# cachelens web server bootstrap")[0] + "# … scripts/deploy/user-data.sh follows"
                print(f"--- rendered {key}\n{text}")
    for e in errors:
        print(e)
    if errors:
        sys.exit(1)
    print(f"Pulumi program in {a.project}: runs under the Pulumi Python SDK with pulumi_aws and pulumi_random (stack {a.stack})")


if __name__ == "__main__":
    main()
