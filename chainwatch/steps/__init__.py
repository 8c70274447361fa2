"""Step computation: every chain step becomes a plain row before CEP (MATCH_RECOGNIZE cannot call Python).

Step names (the vocabulary patterns use in their `where` conditions):
  AN1328: new_identity, object_access_spike, external_exfiltration   (keyed by principal)
  AN1348: cross_account_entry, privileged_burst, unfamiliar_origin    (keyed by session)
"""
NEW_IDENTITY = "new_identity"
OBJECT_ACCESS_SPIKE = "object_access_spike"
EXTERNAL_EXFILTRATION = "external_exfiltration"
CROSS_ACCOUNT_ENTRY = "cross_account_entry"
PRIVILEGED_BURST = "privileged_burst"
UNFAMILIAR_ORIGIN = "unfamiliar_origin"
# Every kind's parameters, evidence, clause and handler: steps.registry.
