package org.taxa;

import java.nio.ByteBuffer;
import java.util.Arrays;
import java.util.List;

/**
 * An offline species classifier over a taxa model bundle (.onnx).
 *
 * <p>Load once and share: {@code classify} may be called from many threads at once.
 * Failures throw {@link TaxaException} with a {@link TaxaException.Kind}. Close it to
 * free the native model; any later call throws {@link IllegalStateException}.
 */
public final class Classifier implements AutoCloseable {
    static {
        System.loadLibrary("taxa_ffi");
    }

    private final NativeHandle handle;

    private Classifier(long handle) {
        this.handle = new NativeHandle(handle, "Classifier", Classifier::nativeFree);
    }

    /** Loads a taxa bundle from a file. */
    public static Classifier fromPath(String modelPath) {
        return fromPath(modelPath, null);
    }

    /** Loads a bundle, or a plain ONNX file with a labels file (one label a line). */
    public static Classifier fromPath(String modelPath, String labelsPath) {
        return fromPath(modelPath, labelsPath, 1);
    }

    /**
     * As {@link #fromPath(String, String)}, running each image's inference on {@code threads}
     * threads (the classifier's own pool). Calls from several threads at once multiply it: keep
     * {@code threads} × images classified at once at or below the device's cores.
     *
     * @param labelsPath null for a bundle
     * @param threads threads per image, at least 1 (the other overloads use 1)
     * @throws TaxaException {@code INVALID_ARGUMENT} for fewer than 1 thread
     */
    public static Classifier fromPath(String modelPath, String labelsPath, int threads) {
        return new Classifier(nativeLoadPath(modelPath, labelsPath, threads));
    }

    /** Loads a bundle from bytes (e.g. an Android asset). */
    public static Classifier fromBytes(byte[] model) {
        return fromBytes(model, null);
    }

    /** Loads from bytes; labels are required for a plain ONNX model. */
    public static Classifier fromBytes(byte[] model, List<String> labels) {
        return fromBytes(model, labels, 1);
    }

    /**
     * As {@link #fromBytes(byte[], List)}, running each image's inference on {@code threads}
     * threads; see {@link #fromPath(String, String, int)}.
     *
     * @param labels null for a bundle
     * @param threads threads per image, at least 1 (the other overloads use 1)
     * @throws TaxaException {@code INVALID_ARGUMENT} for fewer than 1 thread
     */
    public static Classifier fromBytes(byte[] model, List<String> labels, int threads) {
        return new Classifier(nativeLoadBytes(model, labels == null ? null : labels.toArray(new String[0]), threads));
    }

    /** Classifies an encoded image (JPEG, PNG, WebP…) with default options. */
    public Classification classify(byte[] image) {
        return classify(image, ClassifyOptions.defaults());
    }

    public Classification classify(byte[] image, ClassifyOptions o) {
        return handle.with(h -> nativeClassify(h, image, o));
    }

    /** Classifies ARGB pixels, as {@code Bitmap.getPixels} returns them. */
    public Classification classify(int[] argb, int width, int height) {
        return classify(argb, width, height, ClassifyOptions.defaults());
    }

    public Classification classify(int[] argb, int width, int height, ClassifyOptions o) {
        return handle.with(h -> nativeClassifyArgb(h, argb, width, height, o));
    }

    /**
     * Classifies a YUV 4:2:0 camera frame as Android's {@code ImageFormat.YUV_420_888}
     * delivers it: for an {@code Image} (or CameraX {@code ImageProxy}) pass
     * {@code getPlanes()[i].getBuffer()}, {@code getRowStride()} and {@code getPixelStride()}
     * for Y, U and V, the image's width and height, and
     * {@code getImageInfo().getRotationDegrees()}. NV21 and NV12 fit as pixel stride 2.
     * Full range (JFIF BT.601), default options, no smoothing.
     *
     * @param rotationDegrees how far the frame must turn clockwise to stand upright: 0, 90, 180 or 270
     * @throws TaxaException {@code INVALID_ARGUMENT} naming the plane and numbers when a plane is too
     *     short or its strides do not fit the size, or the rotation is not a right angle
     */
    public Classification classifyYuv420(int width, int height,
                                         ByteBuffer y, int yRowStride, int yPixelStride,
                                         ByteBuffer u, int uRowStride, int uPixelStride,
                                         ByteBuffer v, int vRowStride, int vPixelStride,
                                         int rotationDegrees) {
        return classifyYuv420(width, height, y, yRowStride, yPixelStride, u, uRowStride, uPixelStride,
                v, vRowStride, vPixelStride, rotationDegrees, YuvRange.FULL, ClassifyOptions.defaults(), null);
    }

    /**
     * As {@link #classifyYuv420(int, int, ByteBuffer, int, int, ByteBuffer, int, int, ByteBuffer, int, int, int)},
     * with the range, options and an optional {@link ScoreSmoother} (null: this frame alone).
     * Each plane is read from its buffer's position to its limit. Direct buffers (what
     * {@code Image.Plane} gives) are read in place, without a copy; others are copied first.
     * The buffers must not change during the call.
     */
    public Classification classifyYuv420(int width, int height,
                                         ByteBuffer y, int yRowStride, int yPixelStride,
                                         ByteBuffer u, int uRowStride, int uPixelStride,
                                         ByteBuffer v, int vRowStride, int vPixelStride,
                                         int rotationDegrees, YuvRange range, ClassifyOptions o,
                                         ScoreSmoother smoother) {
        ByteBuffer dy = direct(y), du = direct(u), dv = direct(v);
        // The smoother's handle stays open for the call; 0 means none.
        NativeHandle.Call<Classification> run = s -> handle.with(h -> nativeClassifyYuv(h, width, height,
                dy, offset(dy), length(dy), yRowStride, yPixelStride,
                du, offset(du), length(du), uRowStride, uPixelStride,
                dv, offset(dv), length(dv), vRowStride, vPixelStride,
                range == YuvRange.VIDEO, rotationDegrees, s, o));
        return smoother == null ? run.run(0) : smoother.with(run);
    }

    /** The model's class labels, in output order. */
    public List<String> labels() {
        return handle.with(h -> Arrays.asList(nativeLabels(h)));
    }

    /** Threads each image's inference runs on, as loaded (1 unless a {@code threads} overload said otherwise). */
    public int threads() {
        return handle.with(Classifier::nativeThreads);
    }

    /** Frees the native model. Safe to call more than once. */
    @Override
    public void close() {
        handle.close();
    }

    /** A direct view of the buffer's remaining bytes: the buffer itself when it is direct. */
    private static ByteBuffer direct(ByteBuffer b) {
        if (b == null || b.isDirect()) {
            return b;
        }
        ByteBuffer copy = ByteBuffer.allocateDirect(b.remaining());
        copy.put(b.duplicate());
        copy.flip();
        return copy;
    }

    private static int offset(ByteBuffer b) {
        return b == null ? 0 : b.position();
    }

    private static int length(ByteBuffer b) {
        return b == null ? 0 : b.remaining();
    }

    private static native long nativeLoadPath(String modelPath, String labelsPath, int threads);
    private static native long nativeLoadBytes(byte[] model, String[] labels, int threads);
    private static native Classification nativeClassify(long handle, byte[] image, ClassifyOptions options);
    private static native Classification nativeClassifyArgb(long handle, int[] argb, int width, int height,
                                                            ClassifyOptions options);
    private static native Classification nativeClassifyYuv(long handle, int width, int height,
                                                           ByteBuffer y, int yOffset, int yLength, int yRowStride, int yPixelStride,
                                                           ByteBuffer u, int uOffset, int uLength, int uRowStride, int uPixelStride,
                                                           ByteBuffer v, int vOffset, int vLength, int vRowStride, int vPixelStride,
                                                           boolean videoRange, int rotationDegrees, long smoother,
                                                           ClassifyOptions options);
    private static native String[] nativeLabels(long handle);
    private static native int nativeThreads(long handle);
    private static native void nativeFree(long handle);
}
