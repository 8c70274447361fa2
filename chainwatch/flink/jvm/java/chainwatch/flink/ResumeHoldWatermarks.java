package chainwatch.flink;

import org.apache.flink.api.common.eventtime.Watermark;
import org.apache.flink.api.common.eventtime.WatermarkGenerator;
import org.apache.flink.api.common.eventtime.WatermarkGeneratorSupplier;
import org.apache.flink.api.common.eventtime.WatermarkOutput;
import org.apache.flink.api.common.eventtime.WatermarkStrategy;
import org.apache.flink.util.clock.RelativeClock;

/**
 * Bounded out-of-orderness watermarks for a live input that goes quiet and resumes.
 *
 * <p>Like {@code forBoundedOutOfOrderness(delay).withIdleness(idle)}: the watermark trails the
 * latest event time by {@code delay}, and an input quiet for {@code idle} is marked idle, so it
 * no longer holds event time back. Unlike it, an input that resumes after being idle stays idle
 * towards downstream for {@code hold} more: its events flow on, but its watermark does not.
 *
 * <p>Why: after a quiet spell every input is idle. With plain idleness, the first input to resume
 * alone decides event time (Flink's watermark valve ignores idle inputs, and inputs whose last
 * watermark is behind), so it moves event time past the backlog that the other inputs have not
 * yet delivered, and their first events arrive late. Holding back for a grace period after a
 * resume gives the others time to resume and deliver; their events wait downstream in keyed
 * state instead of arriving behind the watermark. The cost: findings after a quiet spell come
 * out up to {@code hold} later. Staying idle during the hold (rather than re-sending the old
 * watermark) means an input that resumes while the others are busy never stalls them.
 *
 * <p>And an input quiet for {@code flush} has delivered what it had: it publishes the event time
 * of its latest event. While other inputs are active this changes nothing (the valve leaves idle
 * inputs out); when every input has been quiet that long, event time moves to the latest event of
 * all, so what the last burst completes comes out then, not only when a newer record arrives,
 * however long that takes. With {@code flush} at least {@code delay} this keeps the lateness bound
 * the delay sets for a live feed (a record arrives at most {@code delay} after its event time); a
 * record that still arrives after it, older than it, is a late event: counted and processed at
 * once by the step operators, never silently dropped.
 */
public final class ResumeHoldWatermarks<T> implements WatermarkGenerator<T> {

    private final long delayMs;
    private final long idleNanos;
    private final long holdNanos;
    private final long flushNanos;
    private final RelativeClock clock;

    private long maxTimestamp = Long.MIN_VALUE;
    private long lastEventNanos;
    private long holdUntilNanos;
    private boolean idle;
    private boolean flushed;

    ResumeHoldWatermarks(long delayMs, long idleMs, long holdMs, long flushMs, RelativeClock clock) {
        this.delayMs = delayMs;
        this.idleNanos = idleMs * 1_000_000L;
        this.holdNanos = holdMs * 1_000_000L;
        this.flushNanos = flushMs * 1_000_000L;
        this.clock = clock;
        this.lastEventNanos = clock.relativeTimeNanos();
        this.holdUntilNanos = lastEventNanos;
    }

    @Override
    public void onEvent(T event, long timestamp, WatermarkOutput output) {
        maxTimestamp = Math.max(maxTimestamp, timestamp);
        long now = clock.relativeTimeNanos();
        if (idle) {             // resuming: downstream still sees this input idle until the hold ends
            idle = false;
            holdUntilNanos = now + holdNanos;
        }
        lastEventNanos = now;
        flushed = false;
    }

    @Override
    public void onPeriodicEmit(WatermarkOutput output) {
        long now = clock.relativeTimeNanos();
        if (idleNanos > 0 && now - lastEventNanos >= idleNanos) {
            if (!idle) {
                // An input that resumed and goes quiet again within its hold publishes the event
                // time of its last events once the hold is over, then goes idle (and, quiet for
                // flush, its latest: see the class comment).
                if (now - holdUntilNanos < 0) {
                    return;
                }
                if (maxTimestamp != Long.MIN_VALUE) {
                    output.emitWatermark(new Watermark(maxTimestamp - delayMs - 1));
                }
                idle = true;
                output.markIdle();
            }
            if (!flushed && flushNanos > 0 && now - lastEventNanos >= flushNanos && maxTimestamp != Long.MIN_VALUE) {
                flushed = true;
                output.emitWatermark(new Watermark(maxTimestamp));
                output.markIdle();
            }
            return;
        }
        if (now - holdUntilNanos < 0 || maxTimestamp == Long.MIN_VALUE) {
            return;
        }
        output.emitWatermark(new Watermark(maxTimestamp - delayMs - 1));
    }

    /** The strategy: new watermarks of this kind for every parallel instance. */
    public static <T> WatermarkStrategy<T> strategy(long delayMs, long idleMs, long holdMs, long flushMs) {
        return new Strategy<>(delayMs, idleMs, holdMs, flushMs);
    }

    private static final class Strategy<T> implements WatermarkStrategy<T> {
        private static final long serialVersionUID = 1L;
        private final long delayMs;
        private final long idleMs;
        private final long holdMs;
        private final long flushMs;

        Strategy(long delayMs, long idleMs, long holdMs, long flushMs) {
            this.delayMs = delayMs;
            this.idleMs = idleMs;
            this.holdMs = holdMs;
            this.flushMs = flushMs;
        }

        @Override
        public WatermarkGenerator<T> createWatermarkGenerator(WatermarkGeneratorSupplier.Context context) {
            return new ResumeHoldWatermarks<>(delayMs, idleMs, holdMs, flushMs, context.getInputActivityClock());
        }
    }
}
