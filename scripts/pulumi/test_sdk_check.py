"""The SDK check passes the real program and fails each broken variant, each for a reason check.py's facts do
not see or see differently (mutation tests). Needs the Pulumi SDKs of the project's venv (scripts/setup --python)."""
import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import sdk_check  # noqa: E402
from test_check import Project  # noqa: E402


class SdkCheckTest(unittest.TestCase):
    def setUp(self):
        self.project = Project()

    def tearDown(self):
        self.project.close()

    def rejected(self, old, new, fragment):
        self.project.edit("Pulumi.yaml", old, new)
        errors, _ = sdk_check.check(self.project.dir)
        self.assertIn(fragment, "\n".join(errors), f"mutation {old!r} -> {new!r}")

    def test_the_real_program_runs_and_renders(self):
        errors, rendered = sdk_check.check(self.project.dir)
        self.assertEqual(errors, [])
        self.assertIn('export CACHELENS_DB_SECRET="arn:aws:secretsmanager:', rendered["userData"])
        self.assertIn("secretsmanager:GetSecretValue", rendered["policy"])

    def test_an_output_path_the_types_do_not_have(self):
        self.rejected("${database.masterUserSecrets[0].secretArn}\n                - ${cacheAuthSecret.arn}",
                      "${database.masterUserSecrets[0].secretArm}\n                - ${cacheAuthSecret.arn}",
                      "${database.masterUserSecrets[0].secretArm}: KeyError: 'secretArm")

    def test_an_index_past_the_end(self):
        self.rejected("availabilityZone: ${availabilityZones[1]}", "availabilityZone: ${availabilityZones[3]}",
                      "IndexError: [3] on a list of 3")

    def test_a_required_input_left_out(self):
        self.rejected("      instanceClass: ${dbInstanceClass}\n", "", "missing 1 required keyword-only argument: 'instance_class'")

    def test_a_nested_shape_the_types_refuse(self):
        self.rejected("httpTokens: required", "httpToken: required", "InstanceMetadataOptionsArgs takes no httpToken")

    def test_an_invoke_result_field_that_does_not_exist(self):
        self.rejected("return: insecureValue", "return: insecure", "GetParameterResult has no field insecure")

    def test_a_null_in_the_user_data(self):
        # An output AWS leaves empty (a VPC without IPv6 has no IPv6 block): Pulumi would write `<nil>`.
        self.rejected('export CACHELENS_TTL="${cacheTtlSeconds}"', 'export CACHELENS_TTL="${vpc.ipv6CidrBlock}"',
                      "a value interpolated into a string is null")

    def test_the_provider_gets_the_stack_region(self):
        self.rejected("    properties:\n      region: ${aws:region}\n", "", "awsProvider: region None, not the stack's aws:region 'us-east-1'")

    def test_an_unset_provider_setting(self):
        self.project.edit("Pulumi.dev.yaml", "  aws:region: us-east-1\n", "")
        errors, _ = sdk_check.check(self.project.dir)
        self.assertIn("${aws:region} is not set in the stack's config", "\n".join(errors))

    def test_wildcard_resources_only_for_the_session_manager_agent(self):
        self.rejected("                - ec2messages:SendReply\n", "                - ec2messages:SendReply\n                - s3:GetObject\n",
                      "IAM policy webSessionManager SessionManagerAgent: '*' is not an ARN")


if __name__ == "__main__":
    unittest.main()
