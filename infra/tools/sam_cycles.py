"""Run the SAM transform offline on a template and fail on resource dependency cycles.

CloudFormation rejects a stack whose resources depend on each other in a cycle (for example a
function role whose policy names `${SearchDomain.Arn}` while the domain's access policy names
that role), but neither cfn-lint nor `sam validate --lint` reports it. This checks the expanded
template: Ref, Fn::GetAtt, Fn::Sub references and DependsOn.

    python infra/tools/sam_cycles.py template.yaml
"""

import json
import os
import re
import sys

import samtranslator
from samtranslator.translator.transform import transform
from samtranslator.yaml_helper import yaml_parse


class ManagedPolicies:
    """The managed-policy map the SAM translator wants, from its bundled data (no AWS call)."""

    def load(self):
        path = os.path.join(os.path.dirname(samtranslator.__file__), "internal/data/aws_managed_policies.json")
        with open(path, encoding="utf-8") as f:
            data = json.load(f)
        return data.get("aws", data)


def references(node, found):
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "Ref" and isinstance(value, str):
                found.add(value)
            elif key == "Fn::GetAtt":
                found.add(value[0] if isinstance(value, list) else value.split(".")[0])
            elif key == "Fn::Sub":
                text = value if isinstance(value, str) else value[0]
                found.update(name.split(".")[0] for name in re.findall(r"\$\{([^}!][^}]*)\}", text))
                if isinstance(value, list):
                    references(value[1], found)
            else:
                references(value, found)
    elif isinstance(node, list):
        for item in node:
            references(item, found)


def main(path):
    with open(path, encoding="utf-8") as f:
        template = yaml_parse(f.read())
    template.setdefault("Globals", {}).setdefault("Function", {})["CodeUri"] = "s3://bucket/key"
    parameters = {"AWS::Region": "us-east-1", "AWS::Partition": "aws", "AWS::AccountId": "123456789012"}
    resources = transform(template, parameters, ManagedPolicies())["Resources"]
    deps = {}
    for name, resource in resources.items():
        found = set()
        references(resource.get("Properties", {}), found)
        depends = resource.get("DependsOn", [])
        found.update([depends] if isinstance(depends, str) else depends)
        deps[name] = {d for d in found if d in resources and d != name}
    state, stack, cycles = {}, [], []

    def visit(node):
        state[node] = 1
        stack.append(node)
        for dep in sorted(deps[node]):
            if state.get(dep) == 1:
                cycles.append(stack[stack.index(dep):] + [dep])
            elif dep not in state:
                visit(dep)
        stack.pop()
        state[node] = 2

    sys.setrecursionlimit(10000)
    for node in sorted(deps):
        if node not in state:
            visit(node)
    if cycles:
        for cycle in cycles:
            print("dependency cycle: " + " -> ".join(cycle), file=sys.stderr)
        return 1
    print(f"{len(resources)} resources after the SAM transform, no dependency cycles")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else "template.yaml"))
