package org.taxa;

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

    private final NativeHandle handle;

    /** Over the last 5 frames. */
    public ScoreSmoother() {
        this(5);
    }

    /** Over the last {@code window} frames (at least 1). */
    public ScoreSmoother(int window) {
        handle = new NativeHandle(nativeNew(window), "ScoreSmoother", ScoreSmoother::nativeFree);
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
        handle.close();
    }

    /** Runs with the native handle held open (the classifier uses this too). */
    <T> T with(NativeHandle.Call<T> call) {
        return handle.with(call);
    }

    private static native long nativeNew(int window);
    private static native void nativeReset(long handle);
    private static native int nativeWindow(long handle);
    private static native int nativeFrames(long handle);
    private static native void nativeFree(long handle);
}
