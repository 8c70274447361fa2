"""MITRE ATT&CK (Enterprise) ids -> names and reference URLs, for formats that carry them (ECS).

Patterns name techniques by id and tactics by name (patterns/*.yaml `mitre:`). The tactic list
is ATT&CK's fixed set of 14; technique names are kept for the techniques chainwatch's patterns
use and their cloud neighbours. An id not listed here still gets its id and reference URL.
"""
from __future__ import annotations

_BASE = "https://attack.mitre.org"

TACTICS = {
    "Reconnaissance": "TA0043", "Resource Development": "TA0042", "Initial Access": "TA0001",
    "Execution": "TA0002", "Persistence": "TA0003", "Privilege Escalation": "TA0004",
    "Defense Evasion": "TA0005", "Credential Access": "TA0006", "Discovery": "TA0007",
    "Lateral Movement": "TA0008", "Collection": "TA0009", "Command and Control": "TA0011",
    "Exfiltration": "TA0010", "Impact": "TA0040",
}

TECHNIQUES = {
    "T1078": "Valid Accounts", "T1078.004": "Cloud Accounts",
    "T1098": "Account Manipulation", "T1098.001": "Additional Cloud Credentials",
    "T1098.003": "Additional Cloud Roles",
    "T1136": "Create Account", "T1136.003": "Cloud Account",
    "T1530": "Data from Cloud Storage",
    "T1537": "Transfer Data to Cloud Account",
    "T1550": "Use Alternate Authentication Material", "T1550.001": "Application Access Token",
    "T1562": "Impair Defenses", "T1562.008": "Disable or Modify Cloud Logs",
    "T1567": "Exfiltration Over Web Service", "T1567.002": "Exfiltration to Cloud Storage",
    "T1048": "Exfiltration Over Alternative Protocol",
    "T1580": "Cloud Infrastructure Discovery",
}


# The tactics ATT&CK files each technique under (a sub-technique under its parent's).
TECHNIQUE_TACTICS = {
    "T1078": ("Defense Evasion", "Persistence", "Privilege Escalation", "Initial Access"),
    "T1098": ("Persistence", "Privilege Escalation"),
    "T1136": ("Persistence",),
    "T1530": ("Collection",),
    "T1537": ("Exfiltration",),
    "T1550": ("Defense Evasion", "Lateral Movement"),
    "T1562": ("Defense Evasion",),
    "T1567": ("Exfiltration",),
    "T1048": ("Exfiltration",),
    "T1580": ("Discovery",),
}


def attacks(techniques, pattern_tactics) -> list[dict]:
    """Each technique with its own tactics: those of ATT&CK's that the pattern names (all of
    ATT&CK's when it names none of them); a technique not listed here gets the pattern's."""
    result = []
    for technique in techniques:
        own = TECHNIQUE_TACTICS.get(technique.split(".")[0])
        if own:
            tactics = [t for t in own if t in pattern_tactics] or list(own)
        else:
            tactics = list(pattern_tactics)
        result.append({"technique": {"uid": technique, "name": TECHNIQUES.get(technique, "")},
                       "tactics": [{"uid": TACTICS.get(t, ""), "name": t} for t in tactics]})
    return result


def technique_reference(technique_id: str) -> str:
    """T1136.003 -> https://attack.mitre.org/techniques/T1136/003/"""
    return f"{_BASE}/techniques/{technique_id.replace('.', '/')}/"


def tactic_reference(tactic_id: str) -> str:
    return f"{_BASE}/tactics/{tactic_id}/"
