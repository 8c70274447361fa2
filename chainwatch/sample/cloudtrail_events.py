"""Builders for CloudTrail records shaped like real S3-delivered events.

Key order follows what CloudTrail writes, so the files read like real ones.
"""
from __future__ import annotations

from urllib.parse import quote

from chainwatch.sample.ids import Ids, iam_date, iso
from chainwatch.sample.org import REGION, VPC_ID, Instance, Role, Session, User

CLI_UA = "aws-cli/2.15.30 Python/3.11.8 Linux/6.5.0-1014-aws exe/x86_64.ubuntu.22 prompt/off"
BOTO_UA = ("Boto3/1.34.40 md/Botocore#1.34.40 ua/2.0 os/linux#5.10.205 md/arch#x86_64 "
           "lang/python#3.11.6 md/pyimpl#CPython cfg/retry-mode#legacy Botocore/1.34.40")
JAVA_UA = ("aws-sdk-java/2.21.10 Linux/5.10.205-195.807.amzn2.x86_64 OpenJDK_64-Bit_Server_VM/17.0.9+8-LTS "
           "Java/17.0.9 vendor/Amazon.com_Inc. io/sync http/Apache cfg/retry-mode/legacy")
TERRAFORM_UA = "APN/1.0 HashiCorp/1.0 Terraform/1.6.6 (+https://www.terraform.io) terraform-provider-aws/5.31.0"
CONSOLE_UA = "AWS Internal"
BROWSER_UA = ("Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 "
              "(KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36")
EC2_TRUST = '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"ec2.amazonaws.com"},"Action":"sts:AssumeRole"}]}'

# Older services still write 1.08; the rest moved to 1.09.
_V108 = {"signin.amazonaws.com", "sts.amazonaws.com", "iam.amazonaws.com"}


def _host(source: str) -> str:
    service = source.split(".")[0]
    return f"{service}.amazonaws.com" if service in ("iam", "signin") else f"{service}.{REGION}.amazonaws.com"


def user_identity(user: User, with_key: bool = True) -> dict:
    ident = {"type": "IAMUser", "principalId": user.principal_id, "arn": user.arn, "accountId": user.account}
    if with_key:
        ident["accessKeyId"] = user.access_key
    ident["userName"] = user.name
    return ident


def session_identity(session: Session) -> dict:
    role = session.role
    return {
        "type": "AssumedRole",
        "principalId": session.principal_id,
        "arn": session.arn,
        "accountId": role.account,
        "accessKeyId": session.access_key,
        "sessionContext": {
            "sessionIssuer": {"type": "Role", "principalId": role.role_id, "arn": role.arn,
                              "accountId": role.account, "userName": role.name},
            "attributes": {"creationDate": iso(session.issued_at), "mfaAuthenticated": "false"},
        },
    }


def ec2_service_identity() -> dict:
    return {"type": "AWSService", "invokedBy": "ec2.amazonaws.com"}


class EventFactory:
    def __init__(self, ids: Ids):
        self.ids = ids

    def event(self, ts: int, identity: dict, account: str, source: str, name: str, source_ip: str,
              user_agent: str, request: dict | None, response: dict | None = None, *,
              read_only: bool, resources: list | None = None, extra: dict | None = None,
              category: str = "Management", event_type: str = "AwsApiCall") -> dict:
        ids = self.ids
        ev = {
            "eventVersion": "1.08" if source in _V108 else "1.09",
            "userIdentity": identity,
            "eventTime": iso(ts),
            "eventSource": source,
            "eventName": name,
            "awsRegion": REGION,
            "sourceIPAddress": source_ip,
            "userAgent": user_agent,
            "requestParameters": request,
            "responseElements": response,
        }
        extra = dict(extra or {})
        if "additionalEventData" in extra:
            ev["additionalEventData"] = extra.pop("additionalEventData")
        ev["requestID"] = ids.s3_request_id() if source == "s3.amazonaws.com" else ids.uuid()
        ev["eventID"] = ids.uuid()
        ev["readOnly"] = read_only
        if resources:
            ev["resources"] = resources
        ev["eventType"] = event_type
        ev["managementEvent"] = category == "Management"
        ev["recipientAccountId"] = account
        ev.update(extra)
        ev["eventCategory"] = category
        if not source_ip.endswith("amazonaws.com"):
            ev["tlsDetails"] = {"tlsVersion": "TLSv1.3", "cipherSuite": "TLS_AES_128_GCM_SHA256",
                                "clientProvidedHostHeader": _host(source)}
        return ev

    # -- S3 data events -------------------------------------------------

    def s3_object(self, ts: int, identity: dict, owner: str, source_ip: str, user_agent: str,
                  name: str, bucket: str, key: str, bytes_out: int, vpce: str | None = None,
                  bytes_in: int = 0) -> dict:
        extra = {"additionalEventData": self._s3_extra(bytes_out, bytes_in)}
        if vpce:
            extra["vpcEndpointId"] = vpce
        return self.event(
            ts, identity, owner, "s3.amazonaws.com", name, source_ip, f"[{user_agent}]",
            {"bucketName": bucket, "Host": f"{bucket}.s3.{REGION}.amazonaws.com", "key": key},
            None, read_only=True, category="Data", extra=extra,
            resources=[{"type": "AWS::S3::Object", "ARN": f"arn:aws:s3:::{bucket}/{key}"},
                       {"accountId": owner, "type": "AWS::S3::Bucket", "ARN": f"arn:aws:s3:::{bucket}"}])

    def s3_list(self, ts: int, identity: dict, owner: str, source_ip: str, user_agent: str,
                bucket: str, prefix: str, bytes_out: int, vpce: str | None = None) -> dict:
        extra = {"additionalEventData": self._s3_extra(bytes_out)}
        if vpce:
            extra["vpcEndpointId"] = vpce
        return self.event(
            ts, identity, owner, "s3.amazonaws.com", "ListObjects", source_ip, f"[{user_agent}]",
            {"bucketName": bucket, "Host": f"{bucket}.s3.{REGION}.amazonaws.com", "prefix": prefix,
             "delimiter": "/", "encoding-type": "url"},
            None, read_only=True, category="Data", extra=extra,
            resources=[{"accountId": owner, "type": "AWS::S3::Bucket", "ARN": f"arn:aws:s3:::{bucket}"}])

    def _s3_extra(self, bytes_out: int, bytes_in: int = 0) -> dict:
        return {"SignatureVersion": "SigV4", "CipherSuite": "TLS_AES_128_GCM_SHA256",
                "bytesTransferredIn": bytes_in, "AuthenticationMethod": "AuthHeader",
                "x-amz-id-2": self.ids.alnum(56), "bytesTransferredOut": bytes_out}

    # -- STS and sign-in --------------------------------------------------

    def assume_role(self, ts: int, caller: dict, source_ip: str, user_agent: str, session: Session,
                    duration: int = 3600, cross_account: bool = False) -> dict:
        """`session` is the one the call creates; its key is what later events carry."""
        role = session.role
        extra = {"sharedEventID": self.ids.uuid()} if cross_account else None
        return self.event(
            ts, caller, role.account, "sts.amazonaws.com", "AssumeRole", source_ip, user_agent,
            {"roleArn": role.arn, "roleSessionName": session.name, "durationSeconds": duration},
            {"credentials": {"accessKeyId": session.access_key, "sessionToken": self.ids.session_token(),
                             "expiration": iam_date(ts + duration)},
             "assumedRoleUser": {"assumedRoleId": session.principal_id, "arn": session.arn}},
            read_only=True, extra=extra,
            resources=[{"accountId": role.account, "type": "AWS::IAM::Role", "ARN": role.arn}])

    def console_login(self, ts: int, user: User) -> dict:
        return self.event(
            ts, user_identity(user, with_key=False), user.account, "signin.amazonaws.com", "ConsoleLogin",
            user.source_ip, BROWSER_UA, None, {"ConsoleLogin": "Success"}, read_only=False,
            event_type="AwsConsoleSignIn",
            extra={"additionalEventData": {"LoginTo": "https://console.aws.amazon.com/console/home",
                                           "MobileVersion": "No", "MFAUsed": "Yes"}})

    # -- IAM -------------------------------------------------------------

    def iam(self, ts: int, identity: dict, account: str, source_ip: str, user_agent: str,
            name: str, request: dict, response: dict | None = None) -> dict:
        return self.event(ts, identity, account, "iam.amazonaws.com", name, source_ip, user_agent,
                          request, response, read_only=False)

    def create_role(self, ts, identity, source_ip, user_agent, role: Role) -> dict:
        return self.iam(ts, identity, role.account, source_ip, user_agent, "CreateRole",
                        {"roleName": role.name, "assumeRolePolicyDocument": EC2_TRUST},
                        {"role": {"path": "/", "roleName": role.name, "roleId": role.role_id, "arn": role.arn,
                                  "createDate": iam_date(ts), "assumeRolePolicyDocument": quote(EC2_TRUST)}})

    def create_instance_profile(self, ts, identity, source_ip, user_agent, role: Role, profile_id: str) -> dict:
        arn = f"arn:aws:iam::{role.account}:instance-profile/{role.name}"
        return self.iam(ts, identity, role.account, source_ip, user_agent, "CreateInstanceProfile",
                        {"instanceProfileName": role.name},
                        {"instanceProfile": {"path": "/", "instanceProfileName": role.name,
                                             "instanceProfileId": profile_id, "arn": arn,
                                             "createDate": iam_date(ts), "roles": []}})

    def create_user(self, ts, identity, source_ip, user_agent, user: User) -> dict:
        return self.iam(ts, identity, user.account, source_ip, user_agent, "CreateUser",
                        {"userName": user.name},
                        {"user": {"path": "/", "userName": user.name, "userId": user.principal_id,
                                  "arn": user.arn, "createDate": iam_date(ts)}})

    def create_access_key(self, ts, identity, source_ip, user_agent, user: User) -> dict:
        return self.iam(ts, identity, user.account, source_ip, user_agent, "CreateAccessKey",
                        {"userName": user.name},
                        {"accessKey": {"userName": user.name, "accessKeyId": user.access_key,
                                       "status": "Active", "createDate": iam_date(ts)}})

    # -- EC2 -------------------------------------------------------------

    def run_instances(self, ts: int, identity: dict, account: str, source_ip: str, user_agent: str,
                      instances: list[Instance], image_id: str = "ami-0fc5d935ebf8bc3bc",
                      instance_type: str = "m6i.large") -> dict:
        profile = instances[0]
        items = [{
            "instanceId": i.instance_id, "imageId": image_id,
            "instanceState": {"code": 0, "name": "pending"},
            "privateDnsName": f"ip-{i.private_ip.replace('.', '-')}.ec2.internal",
            "amiLaunchIndex": n, "instanceType": instance_type, "launchTime": ts * 1000,
            "placement": {"availabilityZone": f"{REGION}a", "tenancy": "default"},
            "monitoring": {"state": "disabled"}, "subnetId": i.subnet_id, "vpcId": VPC_ID,
            "privateIpAddress": i.private_ip, "architecture": "x86_64", "rootDeviceType": "ebs",
            "networkInterfaceSet": {"items": [{
                "networkInterfaceId": i.eni, "subnetId": i.subnet_id, "vpcId": VPC_ID,
                "ownerId": account, "status": "in-use", "macAddress": f"0e:{self.ids.hex(2)}:{self.ids.hex(2)}:"
                f"{self.ids.hex(2)}:{self.ids.hex(2)}:{self.ids.hex(2)}", "privateIpAddress": i.private_ip,
                "sourceDestCheck": True, "interfaceType": "interface",
                "attachment": {"attachmentId": "eni-attach-0" + self.ids.hex(16), "deviceIndex": 0,
                               "networkCardIndex": 0, "status": "attaching", "attachTime": ts * 1000,
                               "deleteOnTermination": True},
                "privateIpAddressesSet": {"item": [{"privateIpAddress": i.private_ip, "primary": True}]},
            }]},
            "iamInstanceProfile": {"arn": i.profile_arn, "id": i.profile_id},
        } for n, i in enumerate(instances)]
        request = {
            "instancesSet": {"items": [{"imageId": image_id, "minCount": len(instances),
                                        "maxCount": len(instances)}]},
            "instanceType": instance_type, "subnetId": profile.subnet_id,
            "iamInstanceProfile": {"name": profile.role.name},
            "disableApiTermination": False, "clientToken": self.ids.uuid(),
        }
        response = {"requestId": self.ids.uuid(), "reservationId": "r-0" + self.ids.hex(16),
                    "ownerId": account, "groupSet": {}, "instancesSet": {"items": items}}
        return self.event(ts, identity, account, "ec2.amazonaws.com", "RunInstances", source_ip,
                          user_agent, request, response, read_only=False)
