"""Operator uids: how the state in a savepoint finds its operator in a changed job.

Flink matches savepoint state to operators by operator id. Without a uid it derives the id from
the shape of the job graph, so an upgrade that adds a sink, a source or a pattern, or a PyFlink
that chains operators differently, gives the stateful operators new ids: their state no longer
maps and the restore fails (or, with non-restored state allowed, silently starts over).

So every operator chainwatch builds gets a uid from here, next to its readable `.name()`:
- a uid never changes once released: renaming an operator's `.name()` is free, changing its uid
  drops its state (the savepoint then needs --allowNonRestoredState);
- per-source operators are named after the source (`sources[].name`), sinks after the sink
  (`sinks[].name`), findings after the pattern id: renaming one of those in the config starts
  its state afresh (a Kafka source then resumes from the consumer group's committed offsets);
- the SQL operators (each pattern's MATCH_RECOGNIZE, each kafka sink's writer and committer) get
  theirs from Flink's planner, with a prefix per pattern (pipeline.build_matches) and per sink
  (sinks.kafka.TableSinks): table_uids.

When PyFlink fuses consecutive Python operators into one, the fused operator keeps the uid of
the first one: the keyed (stateful) operator is always first in its chain, after a key_by.
"""
from __future__ import annotations

# Operators of the steps (pipeline.build_steps): one each per job.
LANE_INSTANCE_HOP = "lane-instance-hop"
LANE_IDENTITY_HOP = "lane-identity-hop"
LANE_IDENTITY = "lane-identity"
RESOLVE_INSTANCE = "resolve-instance"
RESOLVE_IDENTITY = "resolve-identity"
ATTRIBUTED_EGRESS = "attributed-egress"
IDENTITY_STEPS = "identity-steps"
UNATTRIBUTED = "unattributed-egress"
UNATTRIBUTED_JSON = "unattributed-egress-json"

# replay (sources.flink.read_files)
REPLAY_FILES = "replay-files"
REPLAY_READ = "replay-read"

# Outputs given on the command line (--out, --dlq), and dead letters on stdout by default.
OUT_FINDINGS = "out-findings"
OUT_DEAD_LETTERS = "out-dead-letters"
STDOUT_DEAD_LETTERS = "stdout-dead-letters"


def source(name: str) -> str:
    """The source itself: Kafka offsets, or the files watched and the offset in the file being read."""
    return f"source-{name}"


def parse(name: str) -> str:
    """The keyed parse operator of a source: the flow-log header of the file each reader is in."""
    return f"parse-{name}"


def event_time(name: str) -> str:
    return f"event-time-{name}"


def findings(pattern_id: str) -> str:
    return f"findings-{pattern_id}"


def cep_prefix(pattern_id: str) -> str:
    """The prefix of the planner's uids for a pattern's SQL operators (MATCH_RECOGNIZE)."""
    return f"cep-{pattern_id}"


def sink_uid(sink, part: str = "") -> str:
    """A configured sink (config `sinks:`): its operators are named after it (a kafka sink's SQL
    operators: `sink-<name>-<n>-<kind>`)."""
    return f"sink-{sink.name}" + (f"-{part}" if part else "")


def table_uids(t_env, prefix: str) -> None:
    """Make the planner give the SQL operators it translates next the uids `<prefix>-<n>-<kind>`
    (e.g. cep-AN1328-4-match): `n` numbers the planner's nodes from 1 for this translation.

    Flink's planner sets uids only on pipelines from a compiled plan unless told ALWAYS, and
    numbers its nodes with a counter static to the client JVM: the same job built after another
    one in the same process (a test, `chainwatch run` after a restore there) would get other
    numbers. So the counter is reset before each translation (ExecNodeContext.resetIdCounter,
    reached through the planner's class loader: the planner jar is loaded in isolation), and the
    prefix keeps one pattern's operators apart from another's. A pattern's uids then change only
    when its own SQL changes shape."""
    from pyflink.java_gateway import get_gateway
    config = t_env.get_config()
    config.set("table.exec.uid.generation", "ALWAYS")
    config.set("table.exec.uid.format", f"{prefix}-<id>-<transformation>")
    gateway = get_gateway()
    loader = t_env._j_tenv.getPlanner().getClass().getClassLoader()
    context = loader.loadClass("org.apache.flink.table.planner.plan.nodes.exec.ExecNodeContext")
    context.getMethod("resetIdCounter", gateway.new_array(gateway.jvm.Class, 0)).invoke(
        None, gateway.new_array(gateway.jvm.Object, 0))
