package chainwatch.flink;

import org.apache.flink.api.common.eventtime.SerializableTimestampAssigner;
import org.apache.flink.types.Row;

/**
 * A batch row's event time (chainwatch.flink.step_operators.BATCH_ROW_TYPE: field 3), for the
 * watermark strategies. In Java, because PyFlink runs a Python timestamp assigner as an extra
 * Python operator that every batch enters and leaves.
 */
public final class BatchTime implements SerializableTimestampAssigner<Row> {

    private static final long serialVersionUID = 1L;

    @Override
    public long extractTimestamp(Row row, long recordTimestamp) {
        return (Long) row.getField(3);
    }
}
