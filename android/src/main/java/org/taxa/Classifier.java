package org.taxa;

import java.util.Arrays;
import java.util.List;
import java.util.concurrent.locks.ReentrantReadWriteLock;

/**
 * An offline species classifier over a taxa model bundle (.onnx).
 *
 * <p>Load once and share: {@code classify} may be called from many threads at once.
 * Close it to free the native model; any later call throws {@link IllegalStateException}.
 */
public final class Classifier implements AutoCloseable {
    static {
        System.loadLibrary("taxa_ffi");
    }

    private long handle;
    // Calls hold the read lock; close() takes the write lock, so the native
    // model is never freed under a running classification.
    private final ReentrantReadWriteLock lock = new ReentrantReadWriteLock();

    private Classifier(long handle) {
        this.handle = handle;
    }

    /** Loads a taxa bundle from a file. */
    public static Classifier fromPath(String modelPath) {
        return fromPath(modelPath, null);
    }

    /** Loads a bundle, or a plain ONNX file with a labels file (one label a line). */
    public static Classifier fromPath(String modelPath, String labelsPath) {
        try {
            return new Classifier(nativeLoadPath(modelPath, labelsPath));
        } catch (RuntimeException e) {
            throw wrap(e);
        }
    }

    /** Loads a bundle from bytes (e.g. an Android asset). */
    public static Classifier fromBytes(byte[] model) {
        return fromBytes(model, null);
    }

    /** Loads from bytes; labels are required for a plain ONNX model. */
    public static Classifier fromBytes(byte[] model, List<String> labels) {
        try {
            return new Classifier(nativeLoadBytes(model, labels == null ? null : String.join("\n", labels)));
        } catch (RuntimeException e) {
            throw wrap(e);
        }
    }

    /** Classifies an encoded image (JPEG, PNG, WebP…) with default options. */
    public Classification classify(byte[] image) {
        return classify(image, ClassifyOptions.defaults());
    }

    public Classification classify(byte[] image, ClassifyOptions o) {
        return call(() -> nativeClassify(handle, image, o.topK, o.minScore, String.join("\n", o.allow),
                String.join("\n", o.deny), o.rollupThreshold));
    }

    /** Classifies ARGB pixels, as {@code Bitmap.getPixels} returns them. */
    public Classification classify(int[] argb, int width, int height) {
        return classify(argb, width, height, ClassifyOptions.defaults());
    }

    public Classification classify(int[] argb, int width, int height, ClassifyOptions o) {
        return call(() -> nativeClassifyArgb(handle, argb, width, height, o.topK, o.minScore,
                String.join("\n", o.allow), String.join("\n", o.deny), o.rollupThreshold));
    }

    /** The model's class labels, in output order. */
    public List<String> labels() {
        return locked(() -> Arrays.asList(nativeLabels(handle)));
    }

    /** Frees the native model. Safe to call more than once. */
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

    private interface NativeCall<T> {
        T run();
    }

    private Classification call(NativeCall<String[]> call) {
        return locked(() -> Classification.fromFlat(call.run()));
    }

    /** Runs a native call under the read lock on an open handle, wrapping its errors. */
    private <T> T locked(NativeCall<T> call) {
        lock.readLock().lock();
        try {
            ensureOpen();
            return call.run();
        } catch (IllegalStateException e) {
            throw e;
        } catch (RuntimeException e) {
            throw wrap(e);
        } finally {
            lock.readLock().unlock();
        }
    }

    private void ensureOpen() {
        if (handle == 0) {
            throw new IllegalStateException("Classifier is closed");
        }
    }

    private static TaxaException wrap(RuntimeException e) {
        String message = e.getMessage() == null ? e.toString() : e.getMessage();
        return new TaxaException(message.replaceFirst("^Rust error: ", ""), e);
    }

    private static native long nativeLoadPath(String modelPath, String labelsPath);
    private static native long nativeLoadBytes(byte[] model, String labels);
    private static native String[] nativeClassify(long handle, byte[] image, int topK, float minScore,
                                                  String allow, String deny, float rollupThreshold);
    private static native String[] nativeClassifyArgb(long handle, int[] argb, int width, int height, int topK,
                                                      float minScore, String allow, String deny, float rollupThreshold);
    private static native String[] nativeLabels(long handle);
    private static native void nativeFree(long handle);
}
