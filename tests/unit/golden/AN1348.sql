SELECT 'AN1348' AS analytic, session AS match_key, account, region, cloud,
  s1_ts, s1_evidence, s2_ts, s2_evidence, s3_ts, s3_evidence
FROM (SELECT * FROM steps WHERE step IN ('cross_account_entry', 'privileged_burst', 'unfamiliar_origin') AND session <> '')
MATCH_RECOGNIZE (
  PARTITION BY session
  ORDER BY rt, ts, seq
  MEASURES
    FIRST(S1.account) AS account,
    FIRST(S1.region) AS region,
    FIRST(S1.cloud) AS cloud,
    FIRST(S1.ts) AS s1_ts,
    FIRST(S1.evidence) AS s1_evidence,
    FIRST(S2.ts) AS s2_ts,
    FIRST(S2.evidence) AS s2_evidence,
    FIRST(S3.ts) AS s3_ts,
    FIRST(S3.evidence) AS s3_evidence
  ONE ROW PER MATCH
  AFTER MATCH SKIP PAST LAST ROW
  PATTERN (S1 F1*? S2 F2*? S3) WITHIN INTERVAL '1' HOUR
  DEFINE
    S1 AS S1.step = 'cross_account_entry',
    S2 AS S2.step = 'privileged_burst' AND S2.ts >= S1.ts AND S2.ts - S1.ts < 3600000,
    S3 AS S3.step = 'unfamiliar_origin' AND S3.ts >= S2.ts AND S3.ts - S1.ts < 3600000
)
