package chainwatch.flink;

import org.apache.flink.streaming.api.operators.AbstractStreamOperator;
import org.apache.flink.streaming.api.operators.OneInputStreamOperator;
import org.apache.flink.streaming.runtime.streamrecord.StreamRecord;
import org.apache.flink.streaming.runtime.watermarkstatus.WatermarkStatus;

/**
 * Where the event times of all sources meet: passes records and the combined watermark on, but
 * never an IDLE status, so no operator after it is ever idle. Its input is rebalanced, so each
 * subtask hears every source subtask and computes the same combined watermark.
 *
 * <p>Why: the job's graph has paths of different lengths to one operator (flows pass two
 * resolvers before the identity steps; API calls go there directly). Flink's watermark valve
 * treats an input that comes back from idle with a watermark behind the valve's output as not
 * counting until it catches up, and when all inputs are idle it moves on to their highest
 * watermark. So after a quiet spell the short path could move an operator's event time past
 * records the long path was still handing on, and those arrived late (seen in
 * tests/integration/test_quiet_spells.py). With every operator after this one always active,
 * each one's watermark stays at or behind that of every operator before it, as in steady state.
 * Idleness still does its job here: a quiet source stops holding the combined watermark back.
 */
public final class AlwaysActiveMerge<T> extends AbstractStreamOperator<T> implements OneInputStreamOperator<T, T> {

    private static final long serialVersionUID = 1L;

    @Override
    public void processElement(StreamRecord<T> element) {
        output.collect(element);
    }

    @Override
    public void processWatermarkStatus(WatermarkStatus status) {
        // Not forwarded: see the class comment. (The valve before this operator has already
        // moved to the highest watermark of its inputs when they all went idle.)
    }
}
