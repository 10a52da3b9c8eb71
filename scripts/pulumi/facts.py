#!/usr/bin/env python3
"""Regenerates the provider schema facts (pulumi-aws, pulumi-random) the offline checker validates Pulumi.yaml
against.

The Pulumi CLI and its plugins cannot be downloaded everywhere; the PyPI wheel of the same provider version
can, and its generated Python SDK names every type token, input (with its schema name and whether it is
required), nested input type, output, invoke argument and invoke result. This reads those with `ast`.

    scripts/pulumi/facts.py [--package aws|random] [--version V] [--program Pulumi.yaml] [--out FILE]

The versions default to the ones Pulumi.yaml pins (aws 7.51.1, random 4.21.4); FILE to
scripts/pulumi/pulumi-<package>-facts.json.

All tokens are recorded; full details for the tokens the program uses (and their nested types), so the
committed file stays small. Add a resource to Pulumi.yaml, rerun this.
"""
import argparse
import ast
import json
import os
import re
import subprocess
import sys
import tempfile
import zipfile

PINNED = {"aws": "7.51.1", "random": "4.21.4"}
QUOTED_TYPE = re.compile(r"'(\w+Args)'")
SCALAR = re.compile(r"Input\[(?:Optional\[)?(?:_builtins\.)?(str|int|bool|float)\]")


def token_pattern(package):
    return re.compile(rf"^{package}:[A-Za-z0-9]+/[A-Za-z0-9]+:[A-Za-z0-9]+$")


def getter_name(fn):
    """The schema name of a @pulumi.getter property: name=… when given, else the Python name."""
    for d in fn.decorator_list:
        target = d.func if isinstance(d, ast.Call) else d
        if isinstance(target, ast.Attribute) and target.attr == "getter":
            if isinstance(d, ast.Call):
                for kw in d.keywords:
                    if kw.arg == "name":
                        return kw.value.value
            return fn.name
    return None


def getters(cls):
    return {fn.name: getter_name(fn) for fn in cls.body if isinstance(fn, ast.FunctionDef) and getter_name(fn)}


def init_fields(cls):
    """Input fields of an Args class: schema name, required, nested type, list-ness."""
    init = next((f for f in cls.body if isinstance(f, ast.FunctionDef) and f.name == "__init__"), None)
    if init is None:
        return {}
    names = getters(cls)
    fields = {}
    for arg, default in zip(init.args.kwonlyargs, init.args.kw_defaults):
        annotation = ast.unparse(arg.annotation) if arg.annotation else ""
        nested = QUOTED_TYPE.search(annotation)
        scalar = SCALAR.search(annotation)
        fields[names.get(arg.arg, arg.arg)] = {
            "scalar": scalar.group(1) if scalar and not nested else None,
            "required": default is None,
            "type": nested.group(1) if nested else None,
            "list": "Sequence[" in annotation,
            "map": "Mapping[" in annotation and not nested,
        }
    return fields


def first_token(node, token):
    for n in ast.walk(node):
        if isinstance(n, ast.Constant) and isinstance(n.value, str) and token.match(n.value):
            return n.value
    return None


def scan(root, package):
    token_re = token_pattern(package)
    resources, functions, types = {}, {}, {}
    for dirpath, _, files in os.walk(root):
        module = os.path.relpath(dirpath, root).replace(os.sep, ".")
        for name in files:
            if not name.endswith(".py"):
                continue
            path = os.path.join(dirpath, name)
            with open(path, encoding="utf-8") as f:
                source = f.read()
            if "pulumi.CustomResource" not in source and "runtime.invoke(" not in source and "@pulumi.input_type" not in source:
                continue
            tree = ast.parse(source)
            classes = {c.name: c for c in tree.body if isinstance(c, ast.ClassDef)}
            for cls in classes.values():
                bases = [ast.unparse(b) for b in cls.bases]
                if "pulumi.CustomResource" in bases:
                    token = first_token(cls, token_re)
                    if token:
                        args = classes.get(cls.name + "Args")
                        outputs = sorted(set(getters(cls).values()) | {"id", "urn"})
                        resources[token] = {"module": module, "inputs": init_fields(args) if args else {}, "outputs": outputs}
                elif any(ast.unparse(d) == "pulumi.input_type" for d in cls.decorator_list) and name == "_inputs.py":
                    types[f"{module}.{cls.name}"] = init_fields(cls)
            for fn in tree.body:
                if isinstance(fn, ast.FunctionDef) and not fn.name.endswith("_output"):
                    token = first_token(fn, token_re)
                    if not token or "runtime.invoke" not in ast.unparse(fn):
                        continue
                    args = []
                    for n in ast.walk(fn):
                        if (isinstance(n, ast.Assign) and isinstance(n.targets[0], ast.Subscript)
                                and ast.unparse(n.targets[0].value) == "__args__"):
                            args.append(n.targets[0].slice.value)
                    result = next((c for c in classes.values() if c.name.endswith("Result") and not c.name.startswith("Awaitable")), None)
                    functions[token] = {"module": module, "args": sorted(args), "returns": sorted(set(getters(result).values())) if result else []}
    return resources, functions, types


def used_tokens(program, package):
    with open(program, encoding="utf-8") as f:
        text = f.read()
    return set(re.findall(rf"\b({package}:[A-Za-z0-9]+/[A-Za-z0-9]+:[A-Za-z0-9]+)\b", text))


def nested_closure(resources, types, selected):
    """Every nested input type reachable from the selected resources, keyed module.Name."""
    wanted, todo = {}, []
    for token in selected:
        r = resources.get(token)
        if r:
            todo += [(r["module"], f["type"]) for f in r["inputs"].values() if f["type"]]
    while todo:
        module, name = todo.pop()
        key = f"{module}.{name}"
        if key in wanted or key not in types:
            continue
        wanted[key] = types[key]
        todo += [(module, f["type"]) for f in types[key].values() if f["type"]]
    return wanted


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    top = os.path.dirname(os.path.dirname(here))
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--package", default="aws", choices=sorted(PINNED))
    ap.add_argument("--version")
    ap.add_argument("--program", default=os.path.join(top, "Pulumi.yaml"))
    ap.add_argument("--out")
    ap.add_argument("--wheel", help="a downloaded pulumi_<package> wheel (default: pip download it)")
    a = ap.parse_args()
    package = a.package
    a.version = a.version or PINNED[package]
    a.out = a.out or os.path.join(here, f"pulumi-{package}-facts.json")

    with tempfile.TemporaryDirectory() as tmp:
        wheel = a.wheel
        if not wheel:
            subprocess.run([sys.executable, "-m", "pip", "download", "-q", "--no-deps", f"pulumi-{package}=={a.version}", "-d", tmp],
                           check=True)
            wheel = next(os.path.join(tmp, f) for f in os.listdir(tmp) if f.endswith(".whl"))
        zipfile.ZipFile(wheel).extractall(tmp)
        resources, functions, types = scan(os.path.join(tmp, f"pulumi_{package}"), package)
        config_vars = sorted(getters_of_config(os.path.join(tmp, f"pulumi_{package}", "config", "vars.py")))

    used = used_tokens(a.program, package)
    facts = {
        "package": f"pulumi-{package}",
        "name": package,
        "version": a.version,
        "note": f"Generated by scripts/pulumi/facts.py from the pulumi-{package} {a.version} wheel on PyPI.",
        "provider_config": config_vars,
        "resource_tokens": sorted(resources),
        "function_tokens": sorted(functions),
        "resources": {t: resources[t] for t in sorted(used) if t in resources},
        "functions": {t: functions[t] for t in sorted(used) if t in functions},
        "types": dict(sorted(nested_closure(resources, types, used).items())),
    }
    with open(a.out, "w", encoding="utf-8") as f:
        json.dump(facts, f, indent=1, sort_keys=False)
        f.write("\n")
    print(f"{len(resources)} resources, {len(functions)} functions; details for {len(facts['resources'])} + {len(facts['functions'])} used -> {a.out}")


def getters_of_config(path):
    if not os.path.exists(path):
        return set()
    with open(path, encoding="utf-8") as f:
        tree = ast.parse(f.read())
    names = set()
    for cls in (c for c in tree.body if isinstance(c, ast.ClassDef)):
        for fn in cls.body:
            if isinstance(fn, ast.FunctionDef) and any(ast.unparse(d).endswith("property") for d in fn.decorator_list):
                for n in ast.walk(fn):
                    if (isinstance(n, ast.Call) and ast.unparse(n.func).startswith("__config__.get")
                            and n.args and isinstance(n.args[0], ast.Constant)):
                        names.add(n.args[0].value)
    return names


if __name__ == "__main__":
    main()
