package org.taxa;

import java.util.concurrent.locks.ReentrantReadWriteLock;

/**
 * A running mean of the last {@code window} frames' class probabilities, as
 * iNaturalist's camera keeps over 5 frames. Pass it to
 * {@link Classifier#classifyYuv420} and the top-k and roll-up come from the
 * smoothed scores, so the answer stops flickering between species. One per
 * camera stream; thread-safe. Close it to free the native state.
 */
public final class ScoreSmoother implements AutoCloseable {
    static {
        System.loadLibrary("taxa_ffi");
    }

    private long handle;
    private final ReentrantReadWriteLock lock = new ReentrantReadWriteLock();

    /** Over the last 5 frames. */
    public ScoreSmoother() {
        this(5);
    }

    /** Over the last {@code window} frames (at least 1). */
    public ScoreSmoother(int window) {
        handle = nativeNew(window);
    }

    /** Forgets every frame (a new subject, or another model). */
    public void reset() {
        with(h -> { nativeReset(h); return null; });
    }

    public int window() {
        return with(ScoreSmoother::nativeWindow);
    }

    /** How many frames the mean is over now (at most {@link #window()}). */
    public int frames() {
        return with(ScoreSmoother::nativeFrames);
    }

    @Override
    public void close() {
        lock.writeLock().lock();
        try {
            if (handle != 0) {
                nativeFree(handle);
                handle = 0;
            }
        } finally {
            lock.writeLock().unlock();
        }
    }

    interface HandleCall<T> {
        T run(long handle);
    }

    /** Runs with the native handle held open (the classifier uses this too). */
    <T> T with(HandleCall<T> call) {
        lock.readLock().lock();
        try {
            if (handle == 0) {
                throw new IllegalStateException("ScoreSmoother is closed");
            }
            return call.run(handle);
        } finally {
            lock.readLock().unlock();
        }
    }

    private static native long nativeNew(int window);
    private static native void nativeReset(long handle);
    private static native int nativeWindow(long handle);
    private static native int nativeFrames(long handle);
    private static native void nativeFree(long handle);
}
