"""The three attack chains planted on the last day, each with its ground truth.

Every chain returns its CloudTrail records, its flow records and a summary
naming the identities involved and the eventID of every contributing event,
so tests and demos can check exactly what a detector should have found.
"""
from __future__ import annotations

import random

from chainwatch.sample import cloudtrail_events as ct
from chainwatch.sample.cloudtrail_events import EventFactory, session_identity, user_identity
from chainwatch.sample.flows import UDP, Flow, instance_flow
from chainwatch.sample.ids import Ids, iso
from chainwatch.sample.org import DATA, DNS_SERVER, PROD, SUBNETS, TRAIL_ARN, Instance, Org, Role, Session, User

EXFIL_DST = "45.155.205.17"
S3_THIEF_IP = "45.155.205.40"
EXTERNAL_IP = "91.219.236.15"
EXTERNAL_ACCOUNT = "999900001111"
THEFT_BUCKETS = ["example-corp-customer-exports", "example-corp-billing-archive",
                 "example-corp-hr-records", "example-corp-app-data"]
RCLONE_UA = "rclone/v1.65.0"


class Attacks:
    def __init__(self, org: Org, rng: random.Random):
        self.org, self.rng = org, rng
        self.ids = Ids(rng)
        self.f = EventFactory(self.ids)

    def run(self, day_start: int) -> tuple[list[dict], list[Flow], dict]:
        events: list[dict] = []
        flows: list[Flow] = []
        summary = {}
        for key, fn, offset in (("AN1328_flows", self.role_to_flow_exfil, 10 * 3600 + 12 * 60),
                                ("AN1328_s3", self.new_user_s3_download, 15 * 3600 + 40 * 60),
                                ("AN1348", self.external_assume_role, 19 * 3600 + 7 * 60)):
            ev, fl, info = fn(day_start + offset + self.rng.randint(0, 59))
            events += ev
            flows += fl
            info["event_ids"] = [e["eventID"] for e in ev]
            summary[key] = info
        return events, flows, summary

    def _s3_gets(self, t0: int, span: int, count: int, ident: dict, owner: str, ip: str, ua: str,
                 buckets: list[str], size: tuple[int, int], vpce: str | None = None) -> list[dict]:
        rng = self.rng
        out = []
        for n in range(count):
            bucket = rng.choice(buckets)
            key = f"{bucket.split('-')[-1]}/{n // 50:03d}/{self.ids.hex(8)}.csv.gz"
            out.append(self.f.s3_object(t0 + rng.randint(0, span - 1), ident, owner, ip, ua, "GetObject",
                                        bucket, key, rng.randint(*size), vpce))
        return out

    def role_to_flow_exfil(self, t: int) -> tuple[list[dict], list[Flow], dict]:
        """New role + instance profile, an instance using it mass-reads S3, then ships it out."""
        rng, f = self.rng, self.f
        alice = self.org.user(PROD, "alice")
        ident, ip, ua = user_identity(alice), alice.source_ip, ct.CLI_UA
        role = Role(PROD, "svc-backup-sync", self.ids.unique_id("AROA"))
        inst = Instance("i-0badc0ffee0000001", role, self.ids.unique_id("AIPA"), "10.0.9.9", "eni-0bad0001",
                        SUBNETS[9], THEFT_BUCKETS, 0)
        events = [
            f.create_role(t, ident, ip, ua, role),
            f.iam(t + 40, ident, PROD, ip, ua, "AttachRolePolicy",
                  {"roleName": role.name, "policyArn": "arn:aws:iam::aws:policy/AmazonS3ReadOnlyAccess"}),
            f.create_instance_profile(t + 70, ident, ip, ua, role, inst.profile_id),
            f.iam(t + 95, ident, PROD, ip, ua, "AddRoleToInstanceProfile",
                  {"instanceProfileName": role.name, "roleName": role.name}),
            f.run_instances(t + 300, ident, PROD, ip, ua, [inst], instance_type="c6i.xlarge"),
        ]
        session = Session(role, inst.instance_id, self.ids.access_key("ASIA"), t + 370, inst.private_ip, ct.BOTO_UA)
        events.append(f.assume_role(session.issued_at, ct.ec2_service_identity(), "ec2.amazonaws.com",
                                    "ec2.amazonaws.com", session, duration=21600))
        sident = session_identity(session)
        reads = [f.s3_list(t + 600 + 20 * n, sident, PROD, inst.private_ip, ct.BOTO_UA, b, "", rng.randint(2_000, 60_000),
                           "vpce-0f1e2d3c4b5a69788") for n, b in enumerate(THEFT_BUCKETS * 3)]
        reads += self._s3_gets(t + 600, 480, 350, sident, PROD, inst.private_ip, ct.BOTO_UA, THEFT_BUCKETS,
                               (2_000_000, 6_000_000), "vpce-0f1e2d3c4b5a69788")
        events += reads

        flows = [instance_flow(rng, inst, t + 1490, DNS_SERVER, 53, 180, protocol=UDP)]
        port = rng.randint(32768, 60999)
        sent, target, ts = 0, 1_500_000_000, t + 1500
        while sent < target:
            nbytes = rng.randint(50_000_000, 150_000_000)
            # Roughly a third of the records omit instance-id: only the ENI links them to the instance.
            show = rng.random() > 0.33
            flows.append(instance_flow(rng, inst, ts, EXFIL_DST, 443, nbytes, ephemeral=port, show_instance=show))
            flows.append(instance_flow(rng, inst, ts, EXFIL_DST, 443, nbytes // 50, kind="reply",
                                       ephemeral=port, show_instance=show))
            sent += nbytes
            ts += rng.randint(60, 100)
        egress = [fl for fl in flows if fl.direction == "egress" and fl.dst == EXFIL_DST]
        return events, flows, {
            "technique": "AN1328", "variant": "flows", "account": PROD,
            "actor_arn": alice.arn, "role_arn": role.arn, "session_arn": session.arn,
            "session_access_key": session.access_key, "instance_id": inst.instance_id,
            "instance_profile_arn": inst.profile_arn, "private_ip": inst.private_ip, "eni": inst.eni,
            "exfil_destination": EXFIL_DST, "start": iso(t), "end": iso(max(fl.end for fl in flows)),
            "s3_reads": {"GetObject": 350, "ListObjects": len(THEFT_BUCKETS) * 3,
                         "bytes": sum(e["additionalEventData"]["bytesTransferredOut"] for e in reads)},
            "flows": {"egress_records": len(egress), "bytes": sum(fl.bytes for fl in egress),
                      "records_without_instance_id": sum(fl.instance_id is None for fl in egress)},
        }

    def new_user_s3_download(self, t: int) -> tuple[list[dict], list[Flow], dict]:
        """A fresh IAM user with a fresh key downloads bulk data from an outside address."""
        alice = self.org.user(DATA, "alice")
        ident, ip, ua = user_identity(alice), alice.source_ip, ct.CLI_UA
        thief = User(DATA, "tmp-migration", self.ids.unique_id("AIDA"), self.ids.access_key("AKIA"), S3_THIEF_IP)
        events = [self.f.create_user(t, ident, ip, ua, thief),
                  self.f.create_access_key(t + 60, ident, ip, ua, thief)]
        reads = self._s3_gets(t + 60 + 900, 600, 300, user_identity(thief), DATA, S3_THIEF_IP, RCLONE_UA,
                              self.org.data_buckets[:2], (3_000_000, 8_000_000))
        events += reads
        return events, [], {
            "technique": "AN1328", "variant": "s3_download", "account": DATA,
            "actor_arn": alice.arn, "user_arn": thief.arn, "access_key": thief.access_key,
            "source_ip": S3_THIEF_IP, "start": iso(t), "end": max(e["eventTime"] for e in reads),
            "s3_reads": {"GetObject": len(reads),
                         "bytes": sum(e["additionalEventData"]["bytesTransferredOut"] for e in reads)},
        }

    def external_assume_role(self, t: int) -> tuple[list[dict], list[Flow], dict]:
        """An unknown outside principal assumes the partner role and escalates at once."""
        f, role = self.f, self.org.partner_access
        outsider = User(EXTERNAL_ACCOUNT, "ext-ops", self.ids.unique_id("AIDA"), self.ids.access_key("AKIA"),
                        EXTERNAL_IP)
        ua = ct.CLI_UA
        session = Session(role, "ops-sync", self.ids.access_key("ASIA"), t, EXTERNAL_IP, ua)
        assume = f.assume_role(t, user_identity(outsider), EXTERNAL_IP, ua, session, cross_account=True)
        ident = session_identity(session)
        backdoor = User(PROD, "svc-support", self.ids.unique_id("AIDA"), self.ids.access_key("AKIA"), EXTERNAL_IP)
        bucket = "example-corp-customer-exports"
        policy = {"Version": "2012-10-17", "Statement": [{
            "Sid": "sync", "Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{EXTERNAL_ACCOUNT}:root"},
            "Action": ["s3:GetObject", "s3:ListBucket"],
            "Resource": [f"arn:aws:s3:::{bucket}", f"arn:aws:s3:::{bucket}/*"]}]}
        privileged = [
            f.create_user(t + 35, ident, EXTERNAL_IP, ua, backdoor),
            f.iam(t + 62, ident, PROD, EXTERNAL_IP, ua, "AttachUserPolicy",
                  {"userName": backdoor.name, "policyArn": "arn:aws:iam::aws:policy/AdministratorAccess"}),
            f.create_access_key(t + 90, ident, EXTERNAL_IP, ua, backdoor),
            f.event(t + 131, ident, PROD, "s3.amazonaws.com", "PutBucketPolicy", EXTERNAL_IP, ua,
                    {"bucketPolicy": policy, "bucketName": bucket, "Host": f"{bucket}.s3.amazonaws.com",
                     "policy": ""}, None, read_only=False,
                    resources=[{"accountId": PROD, "type": "AWS::S3::Bucket", "ARN": f"arn:aws:s3:::{bucket}"}]),
            f.event(t + 168, ident, PROD, "cloudtrail.amazonaws.com", "StopLogging", EXTERNAL_IP, ua,
                    {"name": TRAIL_ARN}, None, read_only=False),
        ]
        return [assume, *privileged], [], {
            "technique": "AN1348", "account": PROD, "external_principal_arn": outsider.arn,
            "external_account": EXTERNAL_ACCOUNT, "role_arn": role.arn, "session_arn": session.arn,
            "session_access_key": session.access_key, "source_ip": EXTERNAL_IP,
            "start": iso(t), "end": iso(t + 168),
            "assume_role_event_id": assume["eventID"],
            "privileged_event_ids": [e["eventID"] for e in privileged],
            "created_user_arn": backdoor.arn,
        }
