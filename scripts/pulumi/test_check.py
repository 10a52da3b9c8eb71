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
        return check.check(self.dir)

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
        self.assertRejected("Pulumi.yaml", "name: com.amazonaws.global.cloudfront.origin-facing", "nme: com.amazonaws.global.cloudfront.origin-facing",
                            "nme is not an argument of aws:ec2/getManagedPrefixList:getManagedPrefixList (did you mean name?)")
        self.assertRejected("Pulumi.yaml", "return: insecureValue", "return: insecure",
                            "return insecure is not a result field")

    def each_rejected(self, cases):
        """Each (old, new, fragment) on a fresh copy of the program."""
        for old, new, fragment in cases:
            with self.subTest(new=new):
                project = Project()
                try:
                    project.edit("Pulumi.yaml", old, new)
                    self.assertIn(fragment, "\n".join(project.errors()))
                finally:
                    project.close()

    def test_random_resources_are_checked_too(self):
        self.assertRejected("Pulumi.yaml", "      length: 32\n", "      lenght: 32\n",
                            "lenght is not an input of random:index/randomPassword:RandomPassword (did you mean length?)",
                            "missing required input length")
        self.assertRejected("Pulumi.yaml", "${accessToken.result}", "${accessToken.value}",
                            "value is not an output of random:index/randomPassword:RandomPassword")

    def test_literal_scalar_types(self):
        cases = [
            ("      port: 6379\n", "      port: \"6379\"\n", "cache.properties.port: '6379' is not a int"),
            ("      allocatedStorage: 20\n", "      allocatedStorage: true\n", "allocatedStorage: True is not a int"),
            ("      storageEncrypted: true\n", "      storageEncrypted: \"yes\"\n", "storageEncrypted: 'yes' is not a bool"),
            ("      engine: mysql\n", "      engine: 8.4\n", "engine: 8.4 is not a str (quote it)"),
            ("      allocatedStorage: 20\n", "      allocatedStorage: ${dbInstanceClass}\n",
             "config dbInstanceClass is a string, the input wants int"),
        ]
        self.each_rejected(cases)

    def test_depends_on_forms(self):
        cases = [
            ("        - ${webAccess}\n", "        - ${webAccess.id}\n", "is not a resource reference"),
            ("        - ${webAccess}\n", "        - ${webAcess}\n", "${webAcess} is not a resource (did you mean webAccess?)"),
            ("      dependsOn:\n        - ${webAccess}\n", "      dependsOn: ${webAccess}\n      dependsOnRest:\n        - ${webAccess}\n",
             "must be a list of resources"),
        ]
        self.each_rejected(cases)

    def test_providers_pinned_at_the_checked_versions(self):
        self.assertRejected("Pulumi.yaml", "      version: 7.51.1\n", "      version: 7.52.0\n", "pin the aws provider at 7.51.1")
        self.assertRejected("Pulumi.yaml", "    type: pulumi:providers:random\n    defaultProvider: true\n",
                            "    type: pulumi:providers:random\n", "random has no explicit default provider")

    def test_cache_engine_version_and_parameter_group_go_together(self):
        self.assertRejected("Pulumi.dev.yaml", "cachelens:cacheEngine: redis", "cachelens:cacheEngine: valkey",
                            "Pulumi.dev.yaml: cache: valkey 7.1 is not a supported engine and version")

    def test_cluster_mode_needs_its_parameter_group(self):
        self.assertRejected("Pulumi.dev.yaml", "cachelens:cacheParameterGroup: default.redis7",
                            "cachelens:cacheParameterGroup: default.redis7\n  cachelens:cacheClusterMode: enabled",
                            "redis 7.1 with cacheClusterMode enabled needs cacheParameterGroup default.redis7.cluster.on")

    def test_unknown_option_and_function(self):
        self.assertRejected("Pulumi.yaml", "ignoreChanges:\n        - ami", "ignoreChange:\n        - ami",
                            "unknown option ignoreChange (did you mean ignoreChanges?)")
        self.assertRejected("Pulumi.yaml", "fn::toJSON:", "fn::toJson:", "fn::toJson: write it fn::toJSON")
        self.assertRejected("Pulumi.yaml", "fn::join:", "fn::method:", "unknown function fn::method")


class SecurityTest(unittest.TestCase):
    def setUp(self):
        self.project = Project()

    def tearDown(self):
        self.project.close()

    def rejected(self, old, new, fragment, count=1):
        self.project.edit("Pulumi.yaml", old, new, count)
        self.assertIn(fragment, "\n".join(self.project.errors()))

    def test_mysql_open_to_the_internet(self):
        self.rejected("          securityGroups:\n            - ${webSecurityGroup.id}\n      # None: security groups are stateful (replies pass), and the data stores start no connections.\n      egress: []\n  cacheSecurityGroup",
                      "          cidrBlocks:\n            - 0.0.0.0/0\n      egress: []\n  cacheSecurityGroup",
                      "security: resources.dbSecurityGroup: ingress[0] opens MySQL (port 3306) to the internet")

    def test_the_dashboard_open_to_the_world(self):
        self.rejected("      prefixListId: ${cloudfrontOriginFacing}", "      cidrIpv4: 0.0.0.0/0",
                      "security: resources.webFromCloudfront: opens the dashboard (port 8008) to the internet; admit CloudFront's")

    def test_redis_through_a_rule_resource(self):
        self.rejected("      fromPort: ${appPort}\n      toPort: ${appPort}\n      prefixListId: ${cloudfrontOriginFacing}",
                      "      fromPort: 6000\n      toPort: 7000\n      cidrIpv4: 0.0.0.0/0",
                      "webFromCloudfront: opens Redis (port 6379) to the internet")

    def test_a_world_open_default_for_a_cidr(self):
        self.project.edit("Pulumi.yaml", "  appPort:\n", "  allowedCidr:\n    type: string\n    default: 0.0.0.0/0\n  appPort:\n")
        self.assertIn("config.allowedCidr: no world-open default", "\n".join(self.project.errors()))

    def test_ssh(self):
        self.rejected("      fromPort: ${appPort}\n      toPort: ${appPort}", "      fromPort: 22\n      toPort: 22", "opens SSH (port 22)")

    def test_imds_v1(self):
        self.rejected("httpTokens: required", "httpTokens: optional", "IMDSv2 must be required")

    def test_key_pair(self):
        self.rejected("      associatePublicIpAddress: true", "      associatePublicIpAddress: true\n      keyName: mine", "no SSH key pair")

    def test_unencrypted_storage_and_cache(self):
        self.rejected("storageEncrypted: true", "storageEncrypted: false", "RDS storage must be encrypted")
        self.rejected("transitEncryptionEnabled: true", "transitEncryptionEnabled: false", "the cache needs TLS in transit")
        self.rejected("atRestEncryptionEnabled: true", "atRestEncryptionEnabled: false", "encryption at rest")

    # --- issue 25: the stack deploys where it is told, and admits only what it needs
    def test_the_region_reaches_the_explicit_provider(self):
        self.rejected("    properties:\n      region: ${aws:region}\n", "",
                      "resources.awsProvider: an explicit aws provider reads no stack config: pass properties.region: ${aws:region}")

    def test_the_region_is_set_in_every_stack(self):
        self.project.edit("Pulumi.dev.yaml", "  aws:region: us-east-1\n", "")
        self.assertIn("${aws:region} is not set in Pulumi.dev.yaml", "\n".join(self.project.errors()))

    def test_a_misspelled_provider_setting_reference(self):
        self.rejected("region: ${aws:region}", "region: ${aws:regoin}", "${aws:regoin}: not a pulumi-aws provider setting (did you mean region?)")

    def test_the_zone_without_t3_is_excluded(self):
        self.rejected("        excludeZoneIds:\n          - use1-az3\n", "", "exclude use1-az3 (excludeZoneIds)")

    def test_no_parameter_store_for_the_instance(self):
        self.project.edit("Pulumi.yaml", "  webProfile:\n", "  webSsmCore:\n    type: aws:iam/rolePolicyAttachment:RolePolicyAttachment\n"
                          "    properties:\n      role: ${webRole.name}\n      policyArn: arn:aws:iam::aws:policy/AmazonSSMManagedInstanceCore\n  webProfile:\n")
        self.assertIn("AmazonSSMManagedInstanceCore also reads every Parameter Store value", "\n".join(self.project.errors()))

    def test_no_get_parameter_in_inline_policies(self):
        self.rejected("                - ssm:UpdateInstanceInformation\n", "                - ssm:UpdateInstanceInformation\n                - ssm:GetParametersByPath\n",
                      "SessionManagerAgent: ssm:GetParametersByPath reads Parameter Store values")

    def test_rds_requires_tls(self):
        self.rejected("          value: \"1\"\n", "          value: \"0\"\n", "require_secure_transport to 1")
        self.project.close()
        self.project = Project()
        self.rejected("      parameterGroupName: ${dbParameters.name}\n", "", "give RDS a parameter group of the stack's own")

    def test_the_data_stores_have_no_egress(self):
        self.rejected("      egress: []\n  cacheSecurityGroup", "      egress:\n        - protocol: \"-1\"\n          fromPort: 0\n          toPort: 0\n"
                      "          cidrBlocks:\n            - 0.0.0.0/0\n  cacheSecurityGroup",
                      "resources.dbSecurityGroup: the data stores start no connections")

    def test_cloudfront_sends_the_origin_secret_and_the_app_checks_it(self):
        self.rejected("          customHeaders:\n            - name: X-Origin-Verify\n              value: ${originSecret.result}\n", "",
                      "origins[0] sends no X-Origin-Verify header")
        self.project.close()
        self.project = Project()
        self.rejected('            - export CACHELENS_ORIGIN_SECRET_SECRET="${originSecretSecret.arn}"\n', "",
                      "the user data passes no CACHELENS_ORIGIN_SECRET_SECRET")


if __name__ == "__main__":
    unittest.main()
