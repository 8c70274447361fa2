"""First-party federation: the organisation's own identity providers are not third parties.

An EKS cluster's pods get role credentials through the account's own OIDC provider (IRSA,
AssumeRoleWithWebIdentity), a GKE workload through its project's `PROJECT.svc.id.goog` pool:
federation by nature, but the org's own. Such an assumption is not a cross_account_entry when
its provider is first-party, which it is when

  * listed in `steps.cross_account_entry.first_party_providers`: a provider (`*` allowed),
    optionally with the subjects it may vouch for (`{provider: token.actions.githubusercontent.com,
    subjects: ["repo:example-org/*"]}`: GitHub Actions of the org's repositories only); or
  * learned from the telemetry: an EKS issuer registered as an OIDC provider
    (iam:CreateOpenIDConnectProvider of `oidc.eks.<region>.amazonaws.com/id/...`), an EKS
    cluster whose creation names its issuer, a GKE cluster created or updated with its
    project's workload pool. From that event's time on, for the job's state TTL.

Not learned: a GCP workload identity pool or an AWS OIDC/SAML provider of any other issuer:
those federate identities from elsewhere (a vendor, GitHub, an outside IdP), which is exactly
the third party AN1348 is about; list the org's own in conf, with their subjects.

Learned providers travel to every key bucket of the identity steps (steps.lanes, FACTS_KEY), as
the event that teaches one is about another identity than the roles later assumed through it.
No PyFlink here.
"""
from __future__ import annotations

import fnmatch
import re

from chainwatch.steps.sessions import FEDERATED_METHODS

FACTS_KEY = "org:first-party-providers"     # the identity-lane key learned providers travel under
# The methods a provider vouches for the caller by (GKE: the project's own pool).
_VOUCHED = FEDERATED_METHODS | {"GKEWorkloadIdentity"}


def subject_of(assume: dict) -> str:
    """Who the provider vouched for: the token's subject (AWS: `system:serviceaccount:ns:sa`,
    `repo:org/repo:ref:...`; GCP: the pool subject, `ns/ksa` of a GKE workload)."""
    caller, provider = assume.get("caller", ""), assume.get("caller_account", "")
    for prefix in ("WebIdentityUser:", "SAMLUser:"):
        if caller.startswith(prefix + provider + ":"):
            return caller[len(prefix) + len(provider) + 1:]
    if caller.startswith(("principal://", "principalSet://")):
        return re.split(r"/workloadIdentityPools/[^/]+/", caller, maxsplit=1)[-1]
    if ".svc.id.goog[" in caller:
        return caller.partition("[")[2].rstrip("]")
    return caller


def _aliases(provider: str) -> tuple[str, ...]:
    """Names a conf entry may use for a provider: its id, and an IAM provider ARN's issuer or name."""
    _, marker, rest = provider.partition(":oidc-provider/")
    if not marker:
        _, marker, rest = provider.partition(":saml-provider/")
    return (provider, rest) if marker else (provider,)


class FirstPartyProviders:
    """The listed providers (config) and those learned so far (in time order)."""

    def __init__(self, listed=()):
        self.listed = tuple(listed)     # ((provider pattern, subject patterns or ()), ...)
        self.learned: dict[str, dict] = {}      # provider -> {"since": ms, "how": ..., "event_id": ...}

    def learn(self, fact: dict, ts: int, event_id: str) -> bool:
        """A provider the telemetry shows is the org's; True when it is news."""
        known = self.learned.get(fact["provider"])
        if known is not None and known["since"] <= ts:
            return False
        self.learned[fact["provider"]] = {"since": ts, "how": fact["how"], "event_id": event_id}
        return True

    def restore(self, learned: dict) -> None:
        for provider, seen in learned.items():
            self.learn({"provider": provider, "how": seen["how"]}, seen["since"], seen["event_id"])

    def vouches(self, assume: dict, ts: int) -> str:
        """Why this assumption is first-party federation ('' when it is not): a listed provider
        (and subject), or one learned at or before `ts`."""
        provider = assume.get("caller_account", "")
        if not provider or assume.get("method") not in _VOUCHED:
            return ""
        names = _aliases(provider.lower())
        subject = None
        for pattern, subjects in self.listed:
            if any(fnmatch.fnmatchcase(name, pattern.lower()) for name in names):
                subject = subject_of(assume) if subject is None else subject
                if not subjects or any(fnmatch.fnmatchcase(subject, s) for s in subjects):
                    return f"first-party provider {provider} (listed)"
        learned = self.learned.get(provider)
        if learned is not None and learned["since"] <= ts:
            return f"first-party provider {provider} (learned from {learned['how']}, event {learned['event_id']})"
        return ""
