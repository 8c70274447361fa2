"""Issue 12 coverage scenario: account 222233334444 sends CloudTrail all day and flow logs until
04:00, then flows stop while its CloudTrail continues (one gap); alice stops the trail at 05:00,
a record delivered twice (one change); an application deletes 100 of its log streams and its own
log group (housekeeping: none)."""
from __future__ import annotations

from tests.builders import at, call, flow_line, role_session, session_key, user

ACCOUNT = "222233334444"
DAY = 10
FLOWS_STOP_MIN = 4 * 60
STOP_LOGGING_MIN = 5 * 60


def coverage_records() -> tuple[list[dict], list[str], dict]:
    """(CloudTrail records, flow lines, what the job must find: {"change": event id, "gap": stream})."""
    app = role_session(ACCOUNT, "orders-api", "i-0abc", session_key("cov-orders"))
    ops = user(ACCOUNT, "cov-ops")
    records, flows = [], []
    for minute in range(0, 10 * 60, 5):
        records.append(call(at(DAY, minutes=minute), ops, "ec2.amazonaws.com", "DescribeInstances", "198.51.100.10",
                            seed=f"cov-describe-{minute}", account=ACCOUNT))
        if minute < FLOWS_STOP_MIN:
            flows.append(flow_line(ACCOUNT, "eni-0c0c0c0c0c0c0c0c0", "10.22.1.5", "10.22.2.9", 4_000,
                                   at(DAY, minutes=minute)))
    for n in range(100):
        records.append(call(at(DAY, minutes=n * 5, seconds=30), app, "logs.amazonaws.com", "DeleteLogStream",
                            "10.22.1.5", seed=f"cov-logstream-{n}", account=ACCOUNT,
                            params={"logGroupName": "/ecs/orders-api", "logStreamName": f"ecs/orders/{n:032x}"}))
    records.append(call(at(DAY, minutes=7 * 60), app, "logs.amazonaws.com", "DeleteLogGroup", "10.22.1.5",
                        seed="cov-loggroup", account=ACCOUNT, params={"logGroupName": "/ecs/orders-api-old"}))
    stop = call(at(DAY, minutes=STOP_LOGGING_MIN), user(ACCOUNT, "cov-alice"), "cloudtrail.amazonaws.com",
                "StopLogging", "198.51.100.10", seed="cov-stop-logging", account=ACCOUNT,
                params={"name": f"arn:aws:cloudtrail:us-east-1:{ACCOUNT}:trail/org-trail"})
    records += [stop, dict(stop)]           # delivered twice, as Kafka may
    return records, flows, {"change": stop["eventID"], "gap": "flow"}
