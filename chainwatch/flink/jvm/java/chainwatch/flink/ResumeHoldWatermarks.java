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
 */
public final class ResumeHoldWatermarks<T> implements WatermarkGenerator<T> {

    private final long delayMs;
    private final long idleNanos;
    private final long holdNanos;
    private final RelativeClock clock;

    private long maxTimestamp = Long.MIN_VALUE;
    private long lastEventNanos;
    private long holdUntilNanos;
    private boolean idle;

    ResumeHoldWatermarks(long delayMs, long idleMs, long holdMs, RelativeClock clock) {
        this.delayMs = delayMs;
        this.idleNanos = idleMs * 1_000_000L;
        this.holdNanos = holdMs * 1_000_000L;
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
    }

    @Override
    public void onPeriodicEmit(WatermarkOutput output) {
        long now = clock.relativeTimeNanos();
        if (idleNanos > 0 && now - lastEventNanos >= idleNanos) {
            if (!idle) {
                // An input that resumed and goes quiet again within its hold publishes the event
                // time of its last events once the hold is over, then goes idle: otherwise what
                // they complete would wait for the next record to arrive, however long.
                if (now - holdUntilNanos < 0) {
                    return;
                }
                if (maxTimestamp != Long.MIN_VALUE) {
                    output.emitWatermark(new Watermark(maxTimestamp - delayMs - 1));
                }
                idle = true;
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
    public static <T> WatermarkStrategy<T> strategy(long delayMs, long idleMs, long holdMs) {
        return new Strategy<>(delayMs, idleMs, holdMs);
    }

    private static final class Strategy<T> implements WatermarkStrategy<T> {
        private static final long serialVersionUID = 1L;
        private final long delayMs;
        private final long idleMs;
        private final long holdMs;

        Strategy(long delayMs, long idleMs, long holdMs) {
            this.delayMs = delayMs;
            this.idleMs = idleMs;
            this.holdMs = holdMs;
        }

        @Override
        public WatermarkGenerator<T> createWatermarkGenerator(WatermarkGeneratorSupplier.Context context) {
            return new ResumeHoldWatermarks<>(delayMs, idleMs, holdMs, context.getInputActivityClock());
        }
    }
}
