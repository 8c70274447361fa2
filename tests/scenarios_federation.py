"""First-party federation (issue 12): the org's own EKS cluster, and outside providers doing the same.

Each is a role assumed through an identity provider, then three privileged calls from a network
new for the role, which is AN1348's chain when the provider is a third party:
  * n13: an admin creates an EKS cluster and registers its OIDC issuer; the cluster's load-balancer
    controller (IRSA) then creates and attaches roles from the cluster's new NAT address: none.
  * p14: a vendor's OIDC issuer registered in the same account, from the same NAT address: one.
  * p15: an outside SAML IdP, from 91.219.236.15: one.
  * n16 / p17: GitHub Actions (listed in the test conf for repo:example-org/*): the org's
    repository none, another's one.
"""
from __future__ import annotations

from tests.builders import _hex, assume_federated, at, call, create_role, role_session, session_key
from tests.scenarios import ALICE, ATTACKER_IP, DAY, ORG, Scenario

NAT_IP = "34.234.17.5"          # AMAZON-AES, US: never seen before day 10
CONTROLLER_CALLS = (("iam.amazonaws.com", "CreateRole"), ("iam.amazonaws.com", "AttachRolePolicy"),
                    ("iam.amazonaws.com", "PutRolePolicy"), ("iam.amazonaws.com", "AttachRolePolicy"))


def _federated(name, method, provider, subject, src_ip, start_min, *, setup=()) -> Scenario:
    role = f"{name}-role"
    key = session_key(name)
    sc = Scenario(name, "AN1348", key, 0, records=list(setup))
    sc.records.append(create_role(at(DAY, minutes=start_min - 5), ALICE, ORG, role, seed=f"{name}-role"))
    sc.records.append(assume_federated(at(DAY, minutes=start_min), method, provider, subject,
                                       f"arn:aws:iam::{ORG}:role/{role}", key, src_ip, seed=name))
    session = role_session(ORG, role, name, key)
    sc.records += [call(at(DAY, minutes=start_min + 1, seconds=30 * i), session, source, action, src_ip,
                        seed=f"{name}-call-{i}", account=ORG,
                        params={"roleName": f"{name}-made-{i}", "policyArn": "arn:aws:iam::aws:policy/AdministratorAccess"})
                   for i, (source, action) in enumerate(CONTROLLER_CALLS)]
    sc.must_cite = [r["eventID"] for r in sc.records[-5:-1]]
    return sc


def _new_cluster(name, start_min) -> tuple[str, list]:
    """An admin's EKS cluster and its OIDC provider: (provider ARN, the two records)."""
    issuer = f"oidc.eks.us-east-1.amazonaws.com/id/{_hex(name, 32).upper()}"
    provider = f"arn:aws:iam::{ORG}:oidc-provider/{issuer}"
    cluster = call(at(DAY, minutes=start_min - 30), ALICE, "eks.amazonaws.com", "CreateCluster", "198.51.100.10",
                   seed=f"{name}-cluster", account=ORG, params={"name": name, "version": "1.31"},
                   response={"cluster": {"name": name, "status": "CREATING",
                                         "arn": f"arn:aws:eks:us-east-1:{ORG}:cluster/{name}"}})
    register = call(at(DAY, minutes=start_min - 10), ALICE, "iam.amazonaws.com", "CreateOpenIDConnectProvider",
                    "198.51.100.10", seed=f"{name}-oidc", account=ORG,
                    params={"url": f"https://{issuer}", "clientIDList": ["sts.amazonaws.com"]},
                    response={"openIDConnectProviderArn": provider})
    return provider, [cluster, register]


def federation_scenarios() -> list[Scenario]:
    start = 13 * 60
    provider, setup = _new_cluster("n13-platform", start)
    irsa = _federated("n13-eks-irsa-controller", "WebIdentity", provider,
                      "system:serviceaccount:kube-system:aws-load-balancer-controller", NAT_IP, start, setup=setup)
    vendor_issuer = "oidc.vendor-ci.example.net/tenants/7f3a"
    vendor_provider = f"arn:aws:iam::{ORG}:oidc-provider/{vendor_issuer}"
    vendor_setup = [call(at(DAY, minutes=start), ALICE, "iam.amazonaws.com", "CreateOpenIDConnectProvider",
                         "198.51.100.10", seed="p14-oidc", account=ORG,
                         params={"url": f"https://{vendor_issuer}", "clientIDList": ["sts.amazonaws.com"]},
                         response={"openIDConnectProviderArn": vendor_provider})]
    vendor = _federated("p14-vendor-oidc", "WebIdentity", vendor_provider, "deploy-bot", NAT_IP, start + 20,
                        setup=vendor_setup)
    saml = _federated("p15-outside-saml-idp", "SAML", f"arn:aws:iam::{ORG}:saml-provider/PartnerIdP",
                      "mallory@partner.example", ATTACKER_IP, start + 40)
    github = f"arn:aws:iam::{ORG}:oidc-provider/token.actions.githubusercontent.com"
    ours = _federated("n16-github-org-repo", "WebIdentity", github,
                      "repo:example-org/infra:ref:refs/heads/main", NAT_IP, start + 60)
    theirs = _federated("p17-github-outside-repo", "WebIdentity", github,
                        "repo:someone-else/infra:ref:refs/heads/main", NAT_IP, start + 80)
    for positive in (vendor, saml, theirs):
        positive.expect = 1
    return [irsa, vendor, saml, ours, theirs]
