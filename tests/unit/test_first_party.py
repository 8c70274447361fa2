"""First-party federation (steps.first_party): listed and learned providers, subjects."""
from __future__ import annotations

import pytest

from chainwatch.core.identity_keys import eks_provider, gke_pool_project
from chainwatch.parsers import aws_cloudtrail
from chainwatch.steps.first_party import FirstPartyProviders, subject_of
from tests.builders import at, call, user

ORG = "111122223333"
EKS = f"arn:aws:iam::{ORG}:oidc-provider/oidc.eks.us-east-1.amazonaws.com/id/ABCDEF0123456789"
GITHUB = f"arn:aws:iam::{ORG}:oidc-provider/token.actions.githubusercontent.com"


def _assume(provider, subject, method="WebIdentity"):
    prefix = "WebIdentityUser" if method == "WebIdentity" else "SAMLUser"
    return {"caller": f"{prefix}:{provider}:{subject}", "caller_account": provider, "method": method}


def test_only_eks_issuers_are_learnable():
    assert eks_provider(ORG, "https://oidc.eks.us-east-1.amazonaws.com/id/ABCDEF0123456789") == EKS
    assert eks_provider(ORG, "https://token.actions.githubusercontent.com") == ""
    assert eks_provider(ORG, "https://oidc.eks.us-east-1.amazonaws.com.evil.example/id/AB") == ""
    assert eks_provider(ORG, {"url": "x"}) == ""
    assert gke_pool_project("acme-prod.svc.id.goog") == "acme-prod"
    assert gke_pool_project("projects/1/locations/global/workloadIdentityPools/github") == ""


def test_subject_of_each_provider_kind():
    assert subject_of(_assume(EKS, "system:serviceaccount:kube-system:lb")) == "system:serviceaccount:kube-system:lb"
    assert subject_of({"caller": "principal://iam.googleapis.com/projects/1/locations/global/workloadIdentityPools/"
                                 "gh/subject/repo:acme/x", "caller_account": "gh"}) == "subject/repo:acme/x"
    assert subject_of({"caller": "serviceAccount:acme-prod.svc.id.goog[ns/ksa]"}) == "ns/ksa"


def test_a_listed_provider_vouches_for_its_subjects_only():
    providers = FirstPartyProviders([("token.actions.githubusercontent.com", ("repo:example-org/*",))])
    assert providers.vouches(_assume(GITHUB, "repo:example-org/infra:ref:refs/heads/main"), 0)
    assert not providers.vouches(_assume(GITHUB, "repo:other/infra:ref:refs/heads/main"), 0)
    assert not providers.vouches(_assume(EKS, "system:serviceaccount:a:b"), 0)


def test_a_learned_provider_vouches_from_its_time_on_and_never_for_assume_role():
    providers = FirstPartyProviders()
    assert providers.learn({"provider": EKS, "how": "iam:CreateOpenIDConnectProvider"}, 1_000, "e1")
    assert not providers.learn({"provider": EKS, "how": "again"}, 2_000, "e2")
    assert not providers.vouches(_assume(EKS, "system:serviceaccount:a:b"), 999)
    assert "learned from iam:CreateOpenIDConnectProvider, event e1" in providers.vouches(
        _assume(EKS, "system:serviceaccount:a:b"), 1_000)
    assert not providers.vouches({"caller": "x", "caller_account": EKS, "method": "AssumeRole"}, 5_000)


@pytest.fixture(scope="module")
def reference(config):
    return config.reference


def test_cloudtrail_marks_an_eks_issuer_registration_and_not_a_vendor_issuer(reference):
    def register(url):
        record = call(at(1), user(ORG, "alice"), "iam.amazonaws.com", "CreateOpenIDConnectProvider", "198.51.100.10",
                      seed=str(url), account=ORG, params={"url": url})
        return aws_cloudtrail.parse(record, reference)[0]
    assert register("https://oidc.eks.us-east-1.amazonaws.com/id/ABCDEF0123456789")["first_party"] == {
        "provider": EKS, "how": "iam:CreateOpenIDConnectProvider"}
    assert "first_party" not in register("https://oidc.vendor.example/x")
    assert "first_party" not in register(["not", "a", "url"])


def test_config_reads_providers_and_names_a_bad_entry(config_path):
    from chainwatch.config import load_config
    from chainwatch.core.errors import ChainwatchError
    path = config_path.parent / "first-party.yaml"      # beside the test config it includes
    path.write_text(f"include: {config_path.name}\nsteps:\n  cross_account_entry:\n    first_party_providers:\n"
                    "      - oidc.eks.us-east-1.amazonaws.com/id/*\n"
                    "      - {provider: token.actions.githubusercontent.com, subjects: [\"repo:acme/*\"]}\n"
                    "      - {subjects: [x]}\n")
    with pytest.raises(ChainwatchError) as raised:
        load_config(path)
    assert "steps.cross_account_entry.first_party_providers[2].provider" in str(raised.value)
    path.write_text(f"include: {config_path.name}\nsteps:\n  cross_account_entry:\n    first_party_providers:\n"
                    "      - oidc.eks.us-east-1.amazonaws.com/id/*\n"
                    "      - {provider: token.actions.githubusercontent.com, subjects: [\"repo:acme/*\"]}\n")
    assert load_config(path).cross_account.first_party_providers == (
        ("oidc.eks.us-east-1.amazonaws.com/id/*", ()), ("token.actions.githubusercontent.com", ("repo:acme/*",)))
