"""CloudTrail records for the enterprise principals' everyday calls, sized like real ones.

Real records are ~1-2 KB: besides the identity they carry the user agent, request parameters,
resources, TLS details and session context. The calls here fill those the way AWS does, so a
throughput figure measured on this data holds for real trails. None is privileged, none
creates an identity and none enters from outside: they must not change what the detector finds.
"""
from __future__ import annotations

import random
from itertools import accumulate

from chainwatch.sample import cloudtrail_events as ct
from chainwatch.sample.cloudtrail_events import EventFactory
from chainwatch.sample.enterprise_org import Principal
from chainwatch.sample.ids import FastIds, iso
from chainwatch.sample.org import REGION

LAMBDA_UAS = (
    "Boto3/1.34.84 md/Botocore#1.34.84 ua/2.0 os/linux#5.10.214-223.820.amzn2.x86_64 md/arch#x86_64 "
    "lang/python#3.12.3 md/pyimpl#CPython exec-env/AWS_Lambda_python3.12 cfg/retry-mode#legacy Botocore/1.34.84",
    "aws-sdk-js/3.575.0 ua/2.0 os/linux#5.10.214-223.820.amzn2.x86_64 lang/js md/nodejs#20.12.2 "
    "exec-env/AWS_Lambda_nodejs20.x",
)
ECS_UA = ("aws-sdk-java/2.25.40 Linux/5.10.215-203.850.amzn2.x86_64 OpenJDK_64-Bit_Server_VM/21.0.3+9-LTS "
          "Java/21.0.3 vendor/Amazon.com_Inc. exec-env/AWS_ECS_FARGATE io/sync http/Apache cfg/retry-mode/standard")


def _weighted(table):
    names = [row[0] for row in table]
    return names, list(accumulate(row[1] for row in table))


# Workloads (Lambda, ECS, instance roles): besides S3, their calls are mostly key, secret and
# parameter reads; a few describe calls from SDK start-up.
_WORKLOAD = _weighted([("kms_decrypt", 30), ("kms_data_key", 8), ("secret", 12), ("parameter", 14),
                       ("caller_identity", 6), ("ecr_token", 4), ("describe_table", 8), ("log_stream", 10),
                       ("describe_tags", 8)])
# People (SSO roles, IAM users) read: console pages and CLI look-ups.
_HUMAN = _weighted([("describe_instances", 20), ("metric_data", 14), ("filter_logs", 10), ("get_function", 8),
                    ("get_role", 8), ("list_buckets", 8), ("describe_stacks", 10), ("describe_db", 6),
                    ("describe_alarms", 8), ("bucket_policy", 8)])
# CI and integrations: deploy look-ups and monitoring pulls, some artifact uploads.
_SERVICE_USER = _weighted([("put_artifact", 18), ("ecr_token", 10), ("describe_stacks", 16), ("metric_data", 22),
                           ("describe_instances", 14), ("get_function", 10), ("caller_identity", 10)])


class Calls:
    def __init__(self, rng: random.Random):
        self.rng = rng
        self.ids = FastIds(rng)
        self.f = EventFactory(self.ids)

    # -- what each kind of principal does ---------------------------------

    def workload(self, ts: int, p: Principal, ident: dict, ip: str, ua: str, vpce: str, s3_share: float) -> dict:
        if self.rng.random() < s3_share:
            return self.s3(ts, p, ident, ip, ua, vpce)
        name = self.rng.choices(_WORKLOAD[0], cum_weights=_WORKLOAD[1])[0]
        return getattr(self, name)(ts, p, ident, ip, ua, vpce)

    def human(self, ts: int, p: Principal, ident: dict, ip: str, ua: str, console: bool) -> dict:
        name = self.rng.choices(_HUMAN[0], cum_weights=_HUMAN[1])[0]
        ev = getattr(self, name)(ts, p, ident, ip, ua, None)
        if console:
            ev["sessionCredentialFromConsole"] = "true"
        return ev

    def service_user(self, ts: int, p: Principal, ident: dict) -> dict:
        name = self.rng.choices(_SERVICE_USER[0], cum_weights=_SERVICE_USER[1])[0]
        ua = ct.TERRAFORM_UA if p.app.startswith("terraform") else ct.BOTO_UA
        return getattr(self, name)(ts, p, ident, p.user.source_ip, ua, None)

    def service_assume(self, ts: int, service: str, session, duration: int) -> dict:
        """A service (Lambda, ECS tasks, EC2) fetching its role's credentials."""
        return self.f.assume_role(ts, {"type": "AWSService", "invokedBy": service}, service, service,
                                  session, duration=duration)

    def agent_check_in(self, ts: int, inst, ident: dict) -> dict:
        account = inst.role.account
        return self.f.event(
            ts, ident, account, "ssm.amazonaws.com", "UpdateInstanceInformation", inst.private_ip,
            "aws-sdk-go/1.44.260 (go1.21.9; linux; amd64) amazon-ssm-agent/3.3.380.0",
            {"instanceId": inst.instance_id, "agentVersion": "3.3.380.0", "agentStatus": "Active",
             "platformType": "Linux", "platformName": "Amazon Linux", "platformVersion": "2023",
             "iPAddress": inst.private_ip, "computerName": f"ip-{inst.private_ip.replace('.', '-')}.ec2.internal",
             "agentName": "amazon-ssm-agent", "availabilityZone": f"{REGION}a", "availabilityZoneId": "use1-az1"},
            None, read_only=False,
            resources=[{"accountId": account, "type": "AWS::EC2::Instance",
                        "ARN": f"arn:aws:ec2:{REGION}:{account}:instance/{inst.instance_id}"}])

    # -- the calls ---------------------------------------------------------

    def _call(self, ts, p: Principal, ident, ip, ua, vpce, source, name, request, response=None, *,
              resources=None, read_only=True, extra=None) -> dict:
        extra = dict(extra or {})
        if vpce:
            extra.update(vpcEndpointId=vpce, vpcEndpointAccountId=p.account)
        return self.f.event(ts, ident, p.account, source, name, ip, ua, request, response, read_only=read_only,
                            resources=resources, extra=extra)

    def s3(self, ts, p: Principal, ident, ip, ua, vpce) -> dict:
        rng = self.rng
        bucket = rng.choice(p.buckets)
        day = ts - ts % 86400
        prefix = f"{p.app or 'shared'}/{iso(day)[:10].replace('-', '/')}/"
        name = rng.choices(("GetObject", "PutObject", "HeadObject", "ListObjects"), (62, 20, 10, 8))[0]
        if name == "ListObjects":
            return self.f.s3_list(ts, ident, p.account, ip, ua, bucket, prefix, rng.randint(600, 40_000), vpce)
        key = f"{prefix}{self.ids.hex(12)}.{rng.choice(('json', 'parquet', 'csv.gz', 'avro'))}"
        size = int(2 ** rng.uniform(10, 21))
        return self.f.s3_object(ts, ident, p.account, ip, ua, name, bucket, key,
                                size if name == "GetObject" else 0, vpce, bytes_in=size if name == "PutObject" else 0)

    def kms_decrypt(self, ts, p, ident, ip, ua, vpce) -> dict:
        context = ({"aws:lambda:FunctionArn": f"arn:aws:lambda:{REGION}:{p.account}:function:{p.app}"}
                   if p.kind == "lambda" else {"SecretARN": p.secret, "SecretVersionId": self.ids.uuid()})
        return self._call(ts, p, ident, ip, ua, vpce, "kms.amazonaws.com", "Decrypt",
                          {"encryptionContext": context, "encryptionAlgorithm": "SYMMETRIC_DEFAULT"},
                          resources=[{"accountId": p.account, "type": "AWS::KMS::Key", "ARN": p.kms_key}])

    def kms_data_key(self, ts, p, ident, ip, ua, vpce) -> dict:
        bucket = self.rng.choice(p.buckets)
        return self._call(ts, p, ident, ip, ua, vpce, "kms.amazonaws.com", "GenerateDataKey",
                          {"keyId": p.kms_key, "encryptionContext": {"aws:s3:arn": f"arn:aws:s3:::{bucket}"},
                           "keySpec": "AES_256"},
                          resources=[{"accountId": p.account, "type": "AWS::KMS::Key", "ARN": p.kms_key}])

    def secret(self, ts, p, ident, ip, ua, vpce) -> dict:
        return self._call(ts, p, ident, ip, ua, vpce, "secretsmanager.amazonaws.com", "GetSecretValue",
                          {"secretId": p.secret},
                          resources=[{"accountId": p.account, "type": "AWS::SecretsManager::Secret", "ARN": p.secret}])

    def parameter(self, ts, p, ident, ip, ua, vpce) -> dict:
        arn = f"arn:aws:ssm:{REGION}:{p.account}:parameter{p.parameter}"
        return self._call(ts, p, ident, ip, ua, vpce, "ssm.amazonaws.com", "GetParameter",
                          {"name": p.parameter, "withDecryption": True},
                          resources=[{"accountId": p.account, "type": "AWS::SSM::Parameter", "ARN": arn}])

    def caller_identity(self, ts, p, ident, ip, ua, vpce) -> dict:
        return self._call(ts, p, ident, ip, ua, vpce, "sts.amazonaws.com", "GetCallerIdentity", None)

    def ecr_token(self, ts, p, ident, ip, ua, vpce) -> dict:
        return self._call(ts, p, ident, ip, ua, vpce, "ecr.amazonaws.com", "GetAuthorizationToken",
                          {"registryIds": [p.account]})

    def describe_table(self, ts, p, ident, ip, ua, vpce) -> dict:
        table = f"{p.app.split('-')[0]}-{self.rng.choice(('events', 'state', 'sessions', 'idempotency'))}"
        return self._call(ts, p, ident, ip, ua, vpce, "dynamodb.amazonaws.com", "DescribeTable",
                          {"tableName": table},
                          resources=[{"accountId": p.account, "type": "AWS::DynamoDB::Table",
                                      "ARN": f"arn:aws:dynamodb:{REGION}:{p.account}:table/{table}"}])

    def log_stream(self, ts, p, ident, ip, ua, vpce) -> dict:
        group = f"/aws/lambda/{p.app}" if p.kind == "lambda" else f"/app/{p.app}"
        stream = f"{iso(ts)[:10].replace('-', '/')}/[$LATEST]{self.ids.hex(32)}"
        return self._call(ts, p, ident, ip, ua, vpce, "logs.amazonaws.com", "CreateLogStream",
                          {"logGroupName": group, "logStreamName": stream}, read_only=False)

    def describe_tags(self, ts, p, ident, ip, ua, vpce) -> dict:
        ids = [i.instance_id for i in p.fleet[:1]] or [p.app]
        return self._call(ts, p, ident, ip, ua, vpce, "ec2.amazonaws.com", "DescribeTags",
                          {"filterSet": {"items": [{"name": "resource-id",
                                                    "valueSet": {"items": [{"value": v} for v in ids]}}]}})

    def describe_instances(self, ts, p, ident, ip, ua, vpce) -> dict:
        return self._call(ts, p, ident, ip, ua, vpce, "ec2.amazonaws.com", "DescribeInstances",
                          {"instancesSet": {}, "filterSet": {"items": [
                              {"name": "instance-state-name", "valueSet": {"items": [{"value": "running"}]}},
                              {"name": "tag:team", "valueSet": {"items": [{"value": p.app or "platform"}]}}]},
                           "maxResults": 1000})

    def metric_data(self, ts, p, ident, ip, ua, vpce) -> dict:
        return self._call(ts, p, ident, ip, ua, vpce, "monitoring.amazonaws.com", "GetMetricData",
                          {"metricDataQueries": [{"id": f"m{n}", "metricStat": {"metric": {
                              "namespace": ns, "metricName": metric}, "period": 300, "stat": "Average"},
                              "returnData": True} for n, (ns, metric) in enumerate(
                              (("AWS/EC2", "CPUUtilization"), ("AWS/Lambda", "Errors")))],
                           "startTime": iso(ts - 3600), "endTime": iso(ts)})

    def filter_logs(self, ts, p, ident, ip, ua, vpce) -> dict:
        return self._call(ts, p, ident, ip, ua, vpce, "logs.amazonaws.com", "FilterLogEvents",
                          {"logGroupName": f"/aws/lambda/{self.rng.choice(('api', 'worker', 'etl'))}-handler",
                           "startTime": (ts - 3600) * 1000, "endTime": ts * 1000, "filterPattern": "ERROR",
                           "interleaved": True})

    def get_function(self, ts, p, ident, ip, ua, vpce) -> dict:
        return self._call(ts, p, ident, ip, ua, vpce, "lambda.amazonaws.com", "GetFunction20150331v2",
                          {"functionName": f"arn:aws:lambda:{REGION}:{p.account}:function:"
                                           f"{self.rng.choice(('api', 'worker', 'etl'))}-handler"})

    def get_role(self, ts, p, ident, ip, ua, vpce) -> dict:
        return self._call(ts, p, ident, ip, ua, vpce, "iam.amazonaws.com", "GetRole",
                          {"roleName": f"{self.rng.choice(('api', 'worker', 'etl'))}-handler-role"})

    def list_buckets(self, ts, p, ident, ip, ua, vpce) -> dict:
        return self._call(ts, p, ident, ip, ua, vpce, "s3.amazonaws.com", "ListBuckets",
                          {"Host": f"s3.{REGION}.amazonaws.com"},
                          extra={"additionalEventData": {"SignatureVersion": "SigV4",
                                                         "CipherSuite": "TLS_AES_128_GCM_SHA256",
                                                         "AuthenticationMethod": "AuthHeader"}})

    def bucket_policy(self, ts, p, ident, ip, ua, vpce) -> dict:
        bucket = self.rng.choice(p.buckets) if p.buckets else f"example-{p.account}-artifacts"
        return self._call(ts, p, ident, ip, ua, vpce, "s3.amazonaws.com", "GetBucketPolicy",
                          {"bucketName": bucket, "Host": f"{bucket}.s3.{REGION}.amazonaws.com", "policy": ""},
                          resources=[{"accountId": p.account, "type": "AWS::S3::Bucket",
                                      "ARN": f"arn:aws:s3:::{bucket}"}])

    def describe_stacks(self, ts, p, ident, ip, ua, vpce) -> dict:
        stack = f"{p.app or 'platform'}-{self.rng.choice(('network', 'service', 'pipeline', 'data'))}"
        return self._call(ts, p, ident, ip, ua, vpce, "cloudformation.amazonaws.com", "DescribeStacks",
                          {"stackName": f"arn:aws:cloudformation:{REGION}:{p.account}:stack/{stack}/{self.ids.uuid()}"})

    def describe_db(self, ts, p, ident, ip, ua, vpce) -> dict:
        return self._call(ts, p, ident, ip, ua, vpce, "rds.amazonaws.com", "DescribeDBInstances",
                          {"dBInstanceIdentifier": f"{self.rng.choice(('orders', 'ledger', 'catalog'))}-primary",
                           "maxRecords": 100})

    def describe_alarms(self, ts, p, ident, ip, ua, vpce) -> dict:
        return self._call(ts, p, ident, ip, ua, vpce, "monitoring.amazonaws.com", "DescribeAlarms",
                          {"stateValue": "ALARM", "alarmTypes": ["CompositeAlarm", "MetricAlarm"], "maxRecords": 100})

    def put_artifact(self, ts, p, ident, ip, ua, vpce) -> dict:
        bucket = p.buckets[0]
        key = f"builds/{p.app}/{ts // 3600}/{self.ids.hex(40)}.zip"
        size = int(2 ** self.rng.uniform(16, 26))
        return self.f.s3_object(ts, ident, p.account, ip, ua, "PutObject", bucket, key, 0, None, bytes_in=size)
