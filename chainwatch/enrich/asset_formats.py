"""Asset inventory exports -> facts (enrich.asset_inventory). One reader per export, told apart by content:

  AWS    DescribeInstances ({"Reservations": ...}), DescribeNetworkInterfaces ({"NetworkInterfaces": ...}),
         IAM GetAccountAuthorizationDetails ({"RoleDetailList"/"UserDetailList": ...}),
         an AWS Config snapshot ({"configurationItems": [...]}: the same items, in camelCase)
  GCP    a Cloud Asset Inventory export (JSON Lines or an array of {"assetType", "name", "resource"})
  Azure  a Resource Graph export (an array, or {"data": [...]}, of {"type", "id", "properties", ...})

Facts, each a tuple:
  ("alias", alias key, instance)            a workload alias (steps.workload_binding) of an instance
  ("special", alias key, kind)              an ENI that is no instance's: nat_gateway | load_balancer
  ("instance", instance, principal_type, principal)
  ("profile", instance profile ARN, role ARN)
  ("created", identity key, epoch ms)
A field of the wrong type raises AssetError naming the field (never its value).
"""
from __future__ import annotations

from chainwatch.core.errors import ChainwatchError
from chainwatch.core.identity_keys import canonical_identity, instance_key, principal_key
from chainwatch.core.units import parse_timestamp_ms


class AssetError(ChainwatchError, ValueError):
    def __init__(self, field: str, problem: str):
        self.field, self.problem = field, problem
        super().__init__(f"{field}: {problem}")


def _get(item: dict, name: str):
    """A DescribeInstances field as the API writes it (InstanceId) or AWS Config (instanceId)."""
    value = item.get(name)
    return item.get(name[0].lower() + name[1:]) if value is None else value


def _text(item: dict, name: str, where: str) -> str:
    value = _get(item, name)
    if value is None or isinstance(value, str):
        return value or ""
    raise AssetError(f"{where}.{name}", f"expected a string, got {type(value).__name__}")


def _list(item: dict, name: str, where: str) -> list:
    value = _get(item, name)
    if value is None:
        return []
    if not isinstance(value, list):
        raise AssetError(f"{where}.{name}", f"expected a list, got {type(value).__name__}")
    return [v for v in value if isinstance(v, dict)]


def _time_ms(value, where: str) -> int:
    try:
        return parse_timestamp_ms(str(value))
    except ValueError:
        raise AssetError(where, "not an ISO-8601 timestamp") from None


def aws_instance(item: dict, account: str, where: str):
    instance = _text(item, "InstanceId", where)
    if not instance:
        raise AssetError(f"{where}.InstanceId", "missing")
    ip = _text(item, "PrivateIpAddress", where)
    if ip and account:
        yield "alias", f"ip:{account}:{ip}", instance
    for n, eni in enumerate(_list(item, "NetworkInterfaces", where)):
        eni_id = _text(eni, "NetworkInterfaceId", f"{where}.NetworkInterfaces[{n}]")
        if eni_id:
            yield "alias", f"eni:{eni_id}", instance
        for address in _list(eni, "PrivateIpAddresses", f"{where}.NetworkInterfaces[{n}]"):
            private = _text(address, "PrivateIpAddress", f"{where}.NetworkInterfaces[{n}].PrivateIpAddresses")
            if private and account:
                yield "alias", f"ip:{account}:{private}", instance
    profile = _get(item, "IamInstanceProfile")
    if isinstance(profile, dict) and _text(profile, "Arn", f"{where}.IamInstanceProfile"):
        yield "instance", instance, "role", _text(profile, "Arn", f"{where}.IamInstanceProfile")


def _eni_kind(eni: dict, where: str) -> str:
    """nat_gateway | load_balancer for an ENI no instance holds; '' for others."""
    kind = _text(eni, "InterfaceType", where).lower()
    description = _text(eni, "Description", where)
    if kind == "nat_gateway" or description.startswith("Interface for NAT Gateway"):
        return "nat_gateway"
    if kind in ("network_load_balancer", "gateway_load_balancer", "load_balancer") or description.startswith("ELB "):
        return "load_balancer"
    return ""


def aws_network_interface(eni: dict, where: str):
    eni_id = _text(eni, "NetworkInterfaceId", where)
    if not eni_id:
        raise AssetError(f"{where}.NetworkInterfaceId", "missing")
    account = _text(eni, "OwnerId", where)
    attachment = _get(eni, "Attachment") if isinstance(_get(eni, "Attachment"), dict) else {}
    instance = _text(attachment, "InstanceId", f"{where}.Attachment")
    special = _eni_kind(eni, where)
    addresses = [_text(a, "PrivateIpAddress", f"{where}.PrivateIpAddresses")
                 for a in _list(eni, "PrivateIpAddresses", where)] + [_text(eni, "PrivateIpAddress", where)]
    aliases = [f"eni:{eni_id}"] + [f"ip:{account}:{ip}" for ip in addresses if ip and account]
    for alias in aliases:
        if special:
            yield "special", alias, special
        elif instance:
            yield "alias", alias, instance


def aws_identity(item: dict, where: str):
    arn = _text(item, "Arn", where)
    key, _kind = canonical_identity(arn)
    if not key:
        raise AssetError(f"{where}.Arn", "not an IAM user or role ARN")
    if _get(item, "CreateDate") is not None:
        yield "created", key, _time_ms(_get(item, "CreateDate"), f"{where}.CreateDate")
    for n, profile in enumerate(_list(item, "InstanceProfileList", where)):
        profile_arn = _text(profile, "Arn", f"{where}.InstanceProfileList[{n}]")
        if profile_arn:
            yield "profile", profile_arn, key


def _aws_document(data: dict):
    for r, reservation in enumerate(_list(data, "Reservations", "")):
        account = _text(reservation, "OwnerId", f"Reservations[{r}]")
        for i, item in enumerate(_list(reservation, "Instances", f"Reservations[{r}]")):
            yield from aws_instance(item, account, f"Reservations[{r}].Instances[{i}]")
    for n, eni in enumerate(_list(data, "NetworkInterfaces", "")):
        yield from aws_network_interface(eni, f"NetworkInterfaces[{n}]")
    for name in ("UserDetailList", "RoleDetailList"):
        for n, item in enumerate(_list(data, name, "")):
            yield from aws_identity(item, f"{name}[{n}]")
    for n, item in enumerate(_list(data, "configurationItems", "")):
        where, config = f"configurationItems[{n}]", item.get("configuration")
        if not isinstance(config, dict):
            continue
        kind = item.get("resourceType")
        if kind == "AWS::EC2::Instance":
            yield from aws_instance(config, str(item.get("awsAccountId") or ""), f"{where}.configuration")
        elif kind == "AWS::EC2::NetworkInterface":
            yield from aws_network_interface(config, f"{where}.configuration")
        elif kind in ("AWS::IAM::Role", "AWS::IAM::User"):
            yield from aws_identity(config, f"{where}.configuration")


def _gcp_asset(asset: dict, where: str):
    if asset.get("assetType") != "compute.googleapis.com/Instance":
        return
    name = asset.get("name")
    parts = name.split("/") if isinstance(name, str) else []
    # //compute.googleapis.com/projects/P/zones/Z/instances/N
    if len(parts) < 9 or parts[3] != "projects" or parts[5] != "zones" or parts[7] != "instances":
        raise AssetError(f"{where}.name", "not an instance resource name")
    project, instance = parts[4], instance_key(parts[4], parts[6], parts[8])
    data = (asset.get("resource") or {}).get("data") if isinstance(asset.get("resource"), dict) else None
    data = data if isinstance(data, dict) else {}
    for n, nic in enumerate(_list(data, "networkInterfaces", f"{where}.resource.data")):
        ip = _text(nic, "networkIP", f"{where}.resource.data.networkInterfaces[{n}]")
        if ip:
            yield "alias", f"ip:{project}:{ip}", instance
    for n, account in enumerate(_list(data, "serviceAccounts", f"{where}.resource.data")[:1]):
        email = _text(account, "email", f"{where}.resource.data.serviceAccounts[{n}]")
        if email:
            yield "instance", instance, "service_account", f"serviceAccount:{email.lower()}"


def _azure_row(row: dict, where: str):
    kind = str(row.get("type") or "").lower()
    resource_id = _text(row, "id", where).lower()
    props = row.get("properties") if isinstance(row.get("properties"), dict) else {}
    subscription = _text(row, "subscriptionId", where).lower()
    if kind == "microsoft.compute/virtualmachines":
        identity = row.get("identity") if isinstance(row.get("identity"), dict) else {}
        users = identity.get("userAssignedIdentities") if isinstance(identity.get("userAssignedIdentities"), dict) else {}
        principals = [v.get("principalId") for v in users.values() if isinstance(v, dict)] + [identity.get("principalId")]
        principal = next((p for p in principals if isinstance(p, str) and p), "")
        network = props.get("networkProfile") if isinstance(props.get("networkProfile"), dict) else {}
        nics = [n.get("id", "").lower() for n in _list(network, "networkInterfaces", f"{where}.properties.networkProfile")
                if isinstance(n.get("id"), str)]
        if principal:
            for instance in [resource_id] + nics:
                yield "instance", instance, "managed_identity", principal_key(principal)
    elif kind == "microsoft.network/networkinterfaces":
        vm = props.get("virtualMachine") if isinstance(props.get("virtualMachine"), dict) else {}
        instance = str(vm.get("id") or "").lower() or resource_id
        for n, config in enumerate(_list(props, "ipConfigurations", f"{where}.properties")):
            inner = config.get("properties") if isinstance(config.get("properties"), dict) else {}
            ip = _text(inner, "privateIPAddress", f"{where}.properties.ipConfigurations[{n}].properties")
            if ip and subscription:
                yield "alias", f"ip:{subscription}:{ip}", instance


def read_document(data):
    """Facts of one parsed export (a JSON document, or the list of a JSON Lines file's values)."""
    if isinstance(data, dict) and isinstance(data.get("data"), list):      # Resource Graph, paged export
        data = data["data"]
    if isinstance(data, dict):
        yield from _aws_document(data)
        return
    if not isinstance(data, list):
        raise AssetError("", "expected a JSON object or array")
    for n, item in enumerate(data):
        if not isinstance(item, dict):
            raise AssetError(f"[{n}]", "expected an object")
        if "assetType" in item:
            yield from _gcp_asset(item, f"[{n}]")
        elif "type" in item and "id" in item:
            yield from _azure_row(item, f"[{n}]")
        else:
            yield from _aws_document(item)
