package chainwatch.flink;

import org.apache.flink.api.common.functions.FilterFunction;
import org.apache.flink.types.Row;

/**
 * Keeps the batch rows of one lane (chainwatch.flink.step_operators.BATCH_ROW_TYPE: the lane is field
 * 2). In Java, because a Python filter per lane hands every batch into Python and back once per
 * lane, which costs more than the Java operator's whole work.
 */
public final class LaneFilter implements FilterFunction<Row> {

    private static final long serialVersionUID = 1L;

    private final String lane;

    public LaneFilter(String lane) {
        this.lane = lane;
    }

    @Override
    public boolean filter(Row row) {
        return lane.equals(row.getField(2));
    }
}
