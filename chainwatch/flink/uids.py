"""Operator uids: how the state in a savepoint finds its operator in a changed job.

Flink matches savepoint state to operators by operator id. Without a uid it derives the id from
the shape of the job graph, so an upgrade that adds a sink, a source or a pattern, or a PyFlink
that chains operators differently, gives the stateful operators new ids: their state no longer
maps and the restore fails (or, with non-restored state allowed, silently starts over).

So every operator that holds state gets a uid from here, next to its readable `.name()`: the
sources, the keyed operators, the sinks and the SQL operators.
- a uid never changes once released: renaming an operator's `.name()` is free, changing its uid
  drops its state (the savepoint then needs --allowNonRestoredState);
- per-source operators are named after the source (`sources[].name`), sinks after the sink
  (`sinks[].name`): renaming one of those in the config starts its state afresh (a Kafka source
  then resumes from the consumer group's committed offsets);
- the SQL operators (each pattern's MATCH_RECOGNIZE, each kafka sink's writer and committer) get
  theirs from Flink's planner, with a prefix per pattern (flink.graph.build_matches) and per sink
  (flink.kafka_sink.TableSinks): table_uids.

Stateless Python functions (filters, maps: no state to restore, so no uid needed) get none:
PyFlink fuses consecutive Python operators into one that keeps the first one's uid, and on the
execute_and_collect path (replay, the pattern cases) it leaves the unfused originals in the graph
as well, so a uid on the first of a fused chain appears twice and the job does not start
("Hash collision on user-specified ID"). A keyed operator is never fused behind another (a
key_by comes before it); chainwatch's keyed operators are not fused with what follows them
either (several consumers, or a Java operator next).
"""
from __future__ import annotations

# The keyed operators of the steps (flink.graph.build_steps): one each per job. `-v2`: keyed by
# bucket (steps.lanes), each key's state in a MapState; the unversioned uids held a ValueState
# per key, which Flink cannot restore into the new layout, so their state is left behind.
EVENT_TIME_MERGE = "event-time-merge"
RESOLVE_INSTANCE = "resolve-instance-v2"
RESOLVE_IDENTITY = "resolve-identity-v2"
IDENTITY_STEPS = "identity-steps-v2"
COVERAGE = "coverage-v1"

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


def suppress(pattern_id: str) -> str:
    """A pattern's suppression: the first finding of each group and its count (findings.suppression)."""
    return f"suppress-{pattern_id}"


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
