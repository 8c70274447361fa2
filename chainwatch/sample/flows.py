"""VPC Flow Log records in the custom (version 5) format delivered to S3."""
from __future__ import annotations

import random
from dataclasses import dataclass

from chainwatch.sample.org import PROD, Instance

HEADER = ("version account-id interface-id srcaddr dstaddr srcport dstport protocol packets bytes "
          "start end action log-status instance-id flow-direction pkt-srcaddr pkt-dstaddr")
TCP, UDP = 6, 17


@dataclass(frozen=True)
class Flow:
    eni: str
    instance_id: str | None
    start: int
    end: int
    src: str | None = None
    dst: str | None = None
    srcport: int | None = None
    dstport: int | None = None
    protocol: int | None = None
    packets: int | None = None
    bytes: int | None = None
    action: str | None = None
    direction: str | None = None
    status: str = "OK"
    account: str = PROD

    def line(self) -> str:
        fields = (5, self.account, self.eni, self.src, self.dst, self.srcport, self.dstport, self.protocol,
                  self.packets, self.bytes, self.start, self.end, self.action, self.status,
                  self.instance_id, self.direction, self.src, self.dst)
        return " ".join("-" if f is None else str(f) for f in fields)


def instance_flow(rng: random.Random, inst: Instance, start: int, peer: str, port: int, nbytes: int, *,
                  kind: str = "egress", protocol: int = TCP, action: str = "ACCEPT",
                  show_instance: bool | None = None, ephemeral: int | None = None) -> Flow:
    """A flow on `inst`'s ENI for a connection to `peer:port` (or from `peer` to local `port`).

    kind: "egress" the instance opened it; "reply" the return half of such a
    connection; "ingress" the peer opened it to the instance's `port`.
    """
    if show_instance is None:
        show_instance = not inst.hides_instance_id
    eph = ephemeral or rng.randint(32768, 60999)
    # Bulk transfers fill the MTU; chatty flows carry small packets.
    packets = max(1, nbytes // (1400 if nbytes > 1_000_000 else rng.randint(90, 600)))
    if kind == "egress":
        src, dst, srcport, dstport = inst.private_ip, peer, eph, port
    elif kind == "reply":
        src, dst, srcport, dstport = peer, inst.private_ip, port, eph
    else:
        src, dst, srcport, dstport = peer, inst.private_ip, eph, port
    # Logged in the account owning the ENI: the instance's, which is its instance-profile role's.
    return Flow(eni=inst.eni, instance_id=inst.instance_id if show_instance else None,
                start=start, end=start + rng.randint(5, 60), src=src, dst=dst, srcport=srcport,
                dstport=dstport, protocol=protocol, packets=packets, bytes=nbytes, action=action,
                direction="egress" if kind == "egress" else "ingress", account=inst.role.account)


def nodata(inst: Instance, start: int) -> Flow:
    """AWS writes these when an ENI saw no traffic during the capture window."""
    return Flow(eni=inst.eni, instance_id=None if inst.hides_instance_id else inst.instance_id,
                start=start, end=start + 60, status="NODATA", account=inst.role.account)
