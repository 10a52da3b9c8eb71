"""The Pulumi checker accepts the real program and rejects each kind of mistake (mutation tests)."""
import os
import re
import shutil
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import check  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.dirname(os.path.dirname(HERE))
FACTS = os.path.join(HERE, "pulumi-aws-facts.json")
BUNDLE = "dist/cachelens-0.1.0-x86_64-linux.tar.gz"


class Project:
    """A copy of the Pulumi program in a temporary folder, to mutate."""

    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="cachelens-pulumi-")
        for f in ("Pulumi.yaml", "Pulumi.dev.yaml", "scripts/deploy/user-data.sh"):
            os.makedirs(os.path.dirname(os.path.join(self.dir, f)), exist_ok=True)
            shutil.copy(os.path.join(TOP, f), os.path.join(self.dir, f))
        # The bundle is build output; the checker only needs it to exist.
        os.makedirs(os.path.join(self.dir, "dist"))
        with open(os.path.join(self.dir, BUNDLE), "w"):
            pass

    def edit(self, file, old, new, count=1):
        path = os.path.join(self.dir, file)
        with open(path, encoding="utf-8") as f:
            text = f.read()
        assert old in text, f"{old!r} not in {file}"
        with open(path, "w", encoding="utf-8") as f:
            f.write(text.replace(old, new, count))

    def errors(self):
        return check.check(self.dir, FACTS)

    def close(self):
        shutil.rmtree(self.dir)


class CheckerTest(unittest.TestCase):
    def setUp(self):
        self.project = Project()

    def tearDown(self):
        self.project.close()

    def assertRejected(self, file, old, new, *fragments):
        self.project.edit(file, old, new)
        errors = self.project.errors()
        joined = "\n".join(errors)
        for fragment in fragments:
            self.assertIn(fragment, joined, f"mutation {old!r} -> {new!r} not reported as {fragment!r}")

    def test_the_real_program_is_valid_and_secure(self):
        self.assertEqual(self.project.errors(), [])

    def test_misspelled_property(self):
        self.assertRejected("Pulumi.yaml", "cidrBlock: 10.0.0.0/16", "cidrBlok: 10.0.0.0/16",
                            "resources.vpc.properties: cidrBlok is not an input of aws:ec2/vpc:Vpc (did you mean cidrBlock?)")

    def test_misspelled_nested_property(self):
        self.assertRejected("Pulumi.yaml", "httpPutResponseHopLimit: 1", "httpPutResponseHopLimt: 1",
                            "metadataOptions: httpPutResponseHopLimt is not an input of InstanceMetadataOptionsArgs")

    def test_misspelled_property_inside_a_list_of_objects(self):
        self.assertRejected("Pulumi.yaml", "gatewayId: ${internetGateway.id}", "gatewayID: ${internetGateway.id}",
                            "routes[0]: gatewayID is not an input of RouteTableRouteArgs")

    def test_misspelled_token(self):
        self.assertRejected("Pulumi.yaml", "type: aws:ec2/vpc:Vpc", "type: aws:ec2/vpcs:Vpc",
                            "resources.vpc: unknown type token aws:ec2/vpcs:Vpc (did you mean aws:ec2/vpc:Vpc?)")

    def test_misspelled_output(self):
        self.assertRejected("Pulumi.yaml", "webserverPublicIp: ${webServer.publicIp}", "webserverPublicIp: ${webServer.publicIP}",
                            "publicIP is not an output of aws:ec2/instance:Instance (did you mean publicIp?)")

    def test_reference_to_nothing(self):
        self.assertRejected("Pulumi.yaml", "vpcId: ${vpc.id}", "vpcId: ${vcp.id}", "no resource, variable or config named vcp")

    def test_invoke_argument_and_return_field(self):
        self.assertRejected("Pulumi.yaml", "passwordLength: 40", "passwordLenght: 40",
                            "passwordLenght is not an argument of aws:secretsmanager/getRandomPassword:getRandomPassword")
        self.assertRejected("Pulumi.yaml", "return: randomPassword", "return: password",
                            "return password is not a result field")

    def test_missing_required_input(self):
        self.assertRejected("Pulumi.yaml", "      policyArn: arn:aws:iam::aws:policy/AmazonSSMManagedInstanceCore\n", "",
                            "missing required input policyArn of aws:iam/rolePolicyAttachment:RolePolicyAttachment")

    def test_config_typing_and_stack_keys(self):
        self.assertRejected("Pulumi.yaml", "default: 8008", "default: \"8008\"", "config.appPort: default '8008' is not a integer")
        self.assertRejected("Pulumi.dev.yaml", "cachelens:webInstanceType:", "cachelens:webInstanceTyp:",
                            "config cachelens:webInstanceTyp: not declared in Pulumi.yaml config (did you mean webInstanceType?)")
        self.assertRejected("Pulumi.dev.yaml", "aws:region:", "aws:regoin:", "not a pulumi-aws provider setting (did you mean region?)")

    def test_missing_file(self):
        os.remove(os.path.join(self.project.dir, "scripts/deploy/user-data.sh"))
        self.assertIn("fn::readFile: file ./scripts/deploy/user-data.sh does not exist", "\n".join(self.project.errors()))

    def test_unknown_option_and_function(self):
        self.assertRejected("Pulumi.yaml", "ignoreChanges:\n        - authToken", "ignoreChange:\n        - authToken",
                            "unknown option ignoreChange (did you mean ignoreChanges?)")
        self.assertRejected("Pulumi.yaml", "fn::toJSON:", "fn::toJson:", "unknown function fn::toJson")


class SecurityTest(unittest.TestCase):
    def setUp(self):
        self.project = Project()

    def tearDown(self):
        self.project.close()

    def rejected(self, old, new, fragment, count=1):
        self.project.edit("Pulumi.yaml", old, new, count)
        self.assertIn(fragment, "\n".join(self.project.errors()))

    def test_mysql_open_to_the_internet(self):
        self.rejected("          securityGroups:\n            - ${webSecurityGroup.id}\n      egress:\n        - description: replies stay inside the VPC\n          protocol: tcp\n          fromPort: 0",
                      "          cidrBlocks:\n            - 0.0.0.0/0\n      egress:\n        - description: replies stay inside the VPC\n          protocol: tcp\n          fromPort: 0",
                      "security: resources.dbSecurityGroup: ingress[0] opens MySQL (port 3306) to the internet")

    def test_redis_open_through_the_allowed_cidr_default(self):
        self.project.edit("Pulumi.yaml", "  allowedCidr:\n    type: string\n", "  allowedCidr:\n    type: string\n    default: 10.0.0.0/8\n")
        self.project.edit("Pulumi.yaml", "default: 10.0.0.0/8", "default: 0.0.0.0/0")
        self.rejected("          fromPort: 6379\n          toPort: 6379\n          securityGroups:\n            - ${webSecurityGroup.id}",
                      "          fromPort: 6379\n          toPort: 6379\n          cidrBlocks:\n            - ${allowedCidr}",
                      "opens Redis (port 6379) to the internet")

    def test_a_world_open_default_for_the_dashboard(self):
        self.rejected("  allowedCidr:\n    type: string\n", "  allowedCidr:\n    type: string\n    default: 0.0.0.0/0\n",
                      "config.allowedCidr: no world-open default")

    def test_ssh(self):
        self.rejected("        - description: dashboard\n          protocol: tcp\n          fromPort: ${appPort}",
                      "        - description: ssh\n          protocol: tcp\n          fromPort: 22\n          toPort: 22\n          cidrBlocks: [10.0.0.0/8]\n        - description: dashboard\n          protocol: tcp\n          fromPort: ${appPort}",
                      "opens SSH (port 22)")

    def test_imds_v1(self):
        self.rejected("httpTokens: required", "httpTokens: optional", "IMDSv2 must be required")

    def test_key_pair(self):
        self.rejected("      associatePublicIpAddress: true", "      associatePublicIpAddress: true\n      keyName: mine", "no SSH key pair")

    def test_unencrypted_storage_and_cache(self):
        self.rejected("storageEncrypted: true", "storageEncrypted: false", "RDS storage must be encrypted")
        self.rejected("transitEncryptionEnabled: true", "transitEncryptionEnabled: false", "the cache needs TLS in transit")
        self.rejected("atRestEncryptionEnabled: true", "atRestEncryptionEnabled: false", "encryption at rest")


if __name__ == "__main__":
    unittest.main()
