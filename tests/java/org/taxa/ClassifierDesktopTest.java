package org.taxa;

import java.awt.image.BufferedImage;
import java.io.File;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import javax.imageio.ImageIO;

/**
 * The Android-facing Java API on the desktop JVM, against the host-built
 * libtaxa_ffi. Args: BUNDLE PHOTOS_DIR QUADRANTS_BUNDLE. Photos are named after
 * their species; the quadrants bundle's classes are the input's four quadrants
 * (top-left … bottom-right), so it sees how a camera frame is rotated.
 * No test framework is available offline, so this counts its own checks.
 */
public final class ClassifierDesktopTest {
    private static int passed = 0;
    private static final List<String> failures = new ArrayList<>();

    interface Check {
        void run() throws Exception;
    }

    static void test(String name, Check check) {
        try {
            check.run();
            passed++;
            System.out.println("ok   " + name);
        } catch (Throwable t) {
            failures.add(name + ": " + t);
            System.out.println("FAIL " + name + ": " + t);
        }
    }

    static void check(boolean condition, String message) {
        if (!condition) throw new AssertionError(message);
    }

    static String truth(File photo) {
        String base = photo.getName().replaceFirst("\\.[a-z]+$", "").replace('_', ' ');
        return Character.toUpperCase(base.charAt(0)) + base.substring(1);
    }

    public static void main(String[] args) throws Exception {
        String bundle = args[0];
        File[] photos = new File(args[1]).listFiles((d, n) -> n.endsWith(".jpg"));
        check(photos != null && photos.length > 0, "photos in " + args[1]);

        try (Classifier classifier = Classifier.fromPath(bundle)) {
            test("labels are the bundle's", () -> {
                check(classifier.labels().size() == 6, "6 labels, got " + classifier.labels());
            });

            test("encoded photos classify to their species or genus", () -> {
                for (File photo : photos) {
                    Classification c = classifier.classify(Files.readAllBytes(photo.toPath()));
                    check(c.predictions.size() == 5, "top-5 for " + photo);
                    List<String> top2 = new ArrayList<>();
                    top2.add(c.predictions.get(0).label);
                    top2.add(c.predictions.get(1).label);
                    check(top2.contains(truth(photo)), truth(photo) + " not in " + top2);
                    check(c.rollup != null && !c.lineage.isEmpty(), "roll-up for " + photo);
                    check(c.predictions.get(0).kingdom != null, "taxonomy carried");
                    check(c.lineage.get(0).rank == Rank.KINGDOM && c.rollup.rank instanceof Rank, "ranks are an enum: " + c.lineage);
                    check(c.rollup.score == c.lineage.get(c.lineage.size() - 1).score, "roll-up ends its lineage");
                }
            });

            test("ARGB pixels agree with the encoded photo", () -> {
                for (File photo : photos) {
                    BufferedImage image = ImageIO.read(photo);
                    int w = image.getWidth(), h = image.getHeight();
                    int[] argb = image.getRGB(0, 0, w, h, null, 0, w);
                    Classification fromPixels = classifier.classify(argb, w, h);
                    Classification fromBytes = classifier.classify(Files.readAllBytes(photo.toPath()));
                    check(fromPixels.predictions.get(0).label.equals(fromBytes.predictions.get(0).label),
                            "pixels " + fromPixels.predictions + " vs bytes " + fromBytes.predictions);
                }
            });

            test("options: top-k, allow list by higher taxon", () -> {
                byte[] frog = Files.readAllBytes(photos[0].toPath());
                Classification c = classifier.classify(frog, ClassifyOptions.defaults().topK(2).allow("Plantae"));
                check(c.predictions.size() == 2, "2 predictions, got " + c.predictions);
                for (Prediction p : c.predictions) check("Plantae".equals(p.kingdom), p.label + " is not a plant");
            });

            test("bad input throws TaxaException and the classifier survives", () -> {
                byte[][] bad = { new byte[0], "not an image".getBytes(), new byte[] { (byte) 0xff, (byte) 0xd8, (byte) 0xff, 0 } };
                for (byte[] b : bad) {
                    try {
                        classifier.classify(b);
                        throw new AssertionError("no exception for " + b.length + " bytes");
                    } catch (TaxaException e) {
                        check(e.getMessage() != null && !e.getMessage().isEmpty(), "message kept");
                        check(e.kind() == TaxaException.Kind.INVALID_IMAGE, "kind " + e.kind());
                    }
                }
                try {
                    classifier.classify(new int[10], 5, 5);
                    throw new AssertionError("short pixel array accepted");
                } catch (TaxaException e) {
                    check(e.getMessage().contains("needs"), e.getMessage());
                    check(e.kind() == TaxaException.Kind.INVALID_ARGUMENT, "kind " + e.kind());
                }
                try {
                    classifier.classify(Files.readAllBytes(photos[0].toPath()), ClassifyOptions.defaults().topK(0));
                    throw new AssertionError("topK 0 accepted");
                } catch (TaxaException e) {
                    check(e.getMessage().contains("topK"), e.getMessage());
                    check(e.kind() == TaxaException.Kind.INVALID_ARGUMENT, "kind " + e.kind());
                }
                try {
                    Classifier.fromBytes("garbage".getBytes());
                    throw new AssertionError("garbage model loaded");
                } catch (TaxaException e) {
                    check(e.kind() == TaxaException.Kind.INVALID_MODEL, "kind " + e.kind() + ": " + e.getMessage());
                }
                check(classifier.classify(Files.readAllBytes(photos[0].toPath())).predictions.size() == 5, "still serving");
            });

            test("a missing model is a TaxaException naming the file", () -> {
                try {
                    Classifier.fromPath("/nonexistent/model.onnx");
                    throw new AssertionError("loaded a missing file");
                } catch (TaxaException e) {
                    check(e.getMessage().contains("/nonexistent/model.onnx"), e.getMessage());
                    check(e.kind() == TaxaException.Kind.IO, "kind " + e.kind());
                }
            });

            test("8 threads agree with serial results", () -> {
                List<byte[]> images = new ArrayList<>();
                List<String> serial = new ArrayList<>();
                for (File photo : photos) {
                    byte[] b = Files.readAllBytes(photo.toPath());
                    images.add(b);
                    serial.add(classifier.classify(b).predictions.toString());
                }
                ExecutorService pool = Executors.newFixedThreadPool(8);
                List<Future<Boolean>> results = new ArrayList<>();
                for (int t = 0; t < 8; t++) {
                    final int offset = t;
                    results.add(pool.submit(() -> {
                        for (int k = 0; k < images.size() * 2; k++) {
                            int i = (offset + k) % images.size();
                            if (!classifier.classify(images.get(i)).predictions.toString().equals(serial.get(i))) return false;
                        }
                        return true;
                    }));
                }
                for (Future<Boolean> r : results) check(r.get(), "a thread disagreed");
                pool.shutdown();
            });

            test("2 threads per image classify as 1 does; fewer than 1 is INVALID_ARGUMENT", () -> {
                check(classifier.threads() == 1, "default threads " + classifier.threads());
                try (Classifier two = Classifier.fromPath(bundle, null, 2);
                     Classifier twoFromBytes = Classifier.fromBytes(Files.readAllBytes(new File(bundle).toPath()), null, 2)) {
                    check(two.threads() == 2 && twoFromBytes.threads() == 2, "threads " + two.threads() + ", " + twoFromBytes.threads());
                    for (File photo : photos) {
                        byte[] b = Files.readAllBytes(photo.toPath());
                        Classification one = classifier.classify(b);
                        for (Classification got : new Classification[] { two.classify(b), twoFromBytes.classify(b) }) {
                            check(labels(got).equals(labels(one)), photo + ": " + got + " vs " + one);
                            for (int i = 0; i < one.predictions.size(); i++) {
                                float a = one.predictions.get(i).score, c = got.predictions.get(i).score;
                                check(Math.abs(a - c) <= 1e-5f, photo + ": " + got + " vs " + one);
                            }
                        }
                    }
                }
                for (int threads : new int[] { 0, -1 }) {
                    try {
                        Classifier.fromPath(bundle, null, threads).close();
                        throw new AssertionError(threads + " threads accepted");
                    } catch (TaxaException e) {
                        check(e.kind() == TaxaException.Kind.INVALID_ARGUMENT, threads + " threads: kind " + e.kind());
                        check(e.getMessage().contains("threads"), e.getMessage());
                    }
                }
            });
        }

        try (Classifier quadrants = Classifier.fromPath(args[2]);
             Classifier demo = Classifier.fromPath(bundle)) {
            int[][] scene = brightCornerScene(photos[0]);
            ClassifyOptions all4 = ClassifyOptions.defaults().topK(4);

            test("YUV frames in every rotation, layout and range match the ARGB path", () -> {
                int w = scene[0][0], h = scene[0][1];
                for (int rotation = 0; rotation < 360; rotation += 90) {
                    // What a camera reporting `rotation` delivers: the scene turned anticlockwise.
                    int[] stored = turn(scene[1], w, h, rotation, false);
                    int sw = rotation % 180 == 0 ? w : h, sh = rotation % 180 == 0 ? h : w;
                    for (YuvRange range : YuvRange.values()) {
                        Yuv yuv = new Yuv(stored, sw, sh, range == YuvRange.FULL);
                        int[] upright = turn(yuv.referenceArgb(), sw, sh, rotation, true);
                        Classification expected = quadrants.classify(upright, w, h, all4);
                        check(expected.predictions.get(0).label.equals("top-left"), "reference " + expected);
                        for (String layout : new String[] {"I420", "NV21", "NV12 heap buffers"}) {
                            Classification got = yuv.classify(quadrants, layout, rotation, range, all4, null);
                            String what = layout + " rotation " + rotation + " " + range;
                            check(labels(got).equals(labels(expected)), what + ": " + got + " vs " + expected);
                            for (int i = 0; i < 4; i++) {
                                float a = got.predictions.get(i).score, b = expected.predictions.get(i).score;
                                check(Math.abs(a - b) <= 1e-3f, what + ": " + got + " vs " + expected);
                            }
                        }
                    }
                }
                // The photos themselves, as a phone held upright reports them (90°).
                for (File photo : photos) {
                    BufferedImage image = ImageIO.read(photo);
                    int w0 = image.getWidth(), h0 = image.getHeight();
                    int[] argb = image.getRGB(0, 0, w0, h0, null, 0, w0);
                    Yuv yuv = new Yuv(turn(argb, w0, h0, 90, false), h0, w0, true);
                    Classification got = yuv.classify(demo, "NV21", 90, YuvRange.FULL, ClassifyOptions.defaults(), null);
                    Classification expected = demo.classify(turn(yuv.referenceArgb(), h0, w0, 90, true), w0, h0);
                    check(labels(got).equals(labels(expected)), photo + ": " + got + " vs " + expected);
                }
            });

            test("bad frames throw INVALID_ARGUMENT naming the plane", () -> {
                int w = scene[0][0], h = scene[0][1];
                Yuv yuv = new Yuv(scene[1], w, h, true);
                ByteBuffer y = yuv.direct(yuv.y, 0), u = yuv.direct(yuv.u, 0), v = yuv.direct(yuv.v, 0);
                int cw = (w + 1) / 2;
                ByteBuffer shortU = ByteBuffer.allocateDirect(100);
                String[][] cases = {
                    {"U plane", "short"}, {"Y plane", "stride"}, {"45", "rotation"}, {"null", "null"}, {"negative", "negative"},
                };
                for (String[] c : cases) {
                    try {
                        switch (c[1]) {
                            case "short": demo.classifyYuv420(w, h, y, w, 1, shortU, cw, 1, v, cw, 1, 0); break;
                            case "stride": demo.classifyYuv420(w, h, y, w - 1, 1, u, cw, 1, v, cw, 1, 0); break;
                            case "rotation": demo.classifyYuv420(w, h, y, w, 1, u, cw, 1, v, cw, 1, 45); break;
                            case "null": demo.classifyYuv420(w, h, y, w, 1, null, cw, 1, v, cw, 1, 0); break;
                            default: demo.classifyYuv420(w, h, y, w, 1, u, -cw, 1, v, cw, 1, 0); break;
                        }
                        throw new AssertionError(c[1] + " accepted");
                    } catch (TaxaException e) {
                        check(e.kind() == TaxaException.Kind.INVALID_ARGUMENT, c[1] + ": kind " + e.kind());
                        check(e.getMessage().contains(c[0]), c[1] + ": " + e.getMessage());
                    }
                }
                check(demo.classifyYuv420(w, h, y, w, 1, u, cw, 1, v, cw, 1, 0).predictions.size() == 5, "still serving");
            });

            test("a ScoreSmoother averages the last frames before top-k", () -> {
                int w = scene[0][0], h = scene[0][1];
                Yuv upright = new Yuv(scene[1], w, h, true);
                Yuv flipped = new Yuv(turn(scene[1], w, h, 180, false), w, h, true);
                Classification a = upright.classify(quadrants, "I420", 0, YuvRange.FULL, all4, null);
                Classification b = flipped.classify(quadrants, "I420", 0, YuvRange.FULL, all4, null);
                check(b.predictions.get(0).label.equals("bottom-right"), "flipped " + b);
                try (ScoreSmoother smoother = new ScoreSmoother(3)) {
                    check(smoother.window() == 3 && smoother.frames() == 0, "fresh smoother");
                    upright.classify(quadrants, "I420", 0, YuvRange.FULL, all4, smoother);
                    upright.classify(quadrants, "NV21", 0, YuvRange.FULL, all4, smoother);
                    Classification c = flipped.classify(quadrants, "I420", 0, YuvRange.FULL, all4, smoother);
                    check(smoother.frames() == 3, "3 frames held");
                    check(c.predictions.get(0).label.equals("top-left"), "smoothed " + c);
                    for (Prediction p : c.predictions) {
                        float mean = (2 * score(a, p.label) + score(b, p.label)) / 3;
                        check(Math.abs(p.score - mean) <= 1e-5f, p.label + ": " + p.score + " vs " + mean);
                    }
                    try {
                        upright.classify(demo, "I420", 0, YuvRange.FULL, ClassifyOptions.defaults(), smoother);
                        throw new AssertionError("another model's frame accepted");
                    } catch (TaxaException e) {
                        check(e.kind() == TaxaException.Kind.INVALID_ARGUMENT && e.getMessage().contains("reset"), e.getMessage());
                    }
                    smoother.reset();
                    check(smoother.frames() == 0, "reset");
                }
                try {
                    new ScoreSmoother(0);
                    throw new AssertionError("window 0 accepted");
                } catch (TaxaException e) {
                    check(e.kind() == TaxaException.Kind.INVALID_ARGUMENT, "kind " + e.kind());
                }
                ScoreSmoother closed = new ScoreSmoother();
                closed.close();
                try {
                    upright.classify(quadrants, "I420", 0, YuvRange.FULL, all4, closed);
                    throw new AssertionError("closed smoother used");
                } catch (IllegalStateException e) {
                    check(e.getMessage().contains("closed"), e.getMessage());
                }
            });
        }

        test("close() then use is a clear IllegalStateException", () -> {
            Classifier c = Classifier.fromBytes(Files.readAllBytes(new File(bundle).toPath()));
            c.close();
            c.close();
            try {
                c.classify(Files.readAllBytes(photos[0].toPath()));
                throw new AssertionError("used after close");
            } catch (IllegalStateException e) {
                check(e.getMessage().contains("closed"), e.getMessage());
            }
        });

        System.out.println(passed + " passed, " + failures.size() + " failed");
        if (!failures.isEmpty()) System.exit(1);
    }

    static List<String> labels(Classification c) {
        List<String> out = new ArrayList<>();
        for (Prediction p : c.predictions) out.add(p.label);
        return out;
    }

    static float score(Classification c, String label) {
        for (Prediction p : c.predictions) if (p.label.equals(label)) return p.score;
        throw new AssertionError(label + " not in " + c);
    }

    /** {{width, height}, argb}: an odd-sized crop of a photo, its top-left quarter brightened. */
    static int[][] brightCornerScene(File photo) throws Exception {
        BufferedImage image = ImageIO.read(photo).getSubimage(40, 13, 333, 247);
        int w = image.getWidth(), h = image.getHeight();
        int[] argb = image.getRGB(0, 0, w, h, null, 0, w);
        for (int y = 0; y < h / 2; y++) {
            for (int x = 0; x < w / 2; x++) {
                int p = argb[y * w + x], out = 0xff000000;
                for (int shift = 0; shift < 24; shift += 8) {
                    out |= Math.min(255, (int) (((p >> shift) & 0xff) * 0.3 + 170)) << shift;
                }
                argb[y * w + x] = out;
            }
        }
        return new int[][] {{w, h}, argb};
    }

    /** Turns a w×h image by `degrees` clockwise (or anticlockwise). */
    static int[] turn(int[] px, int w, int h, int degrees, boolean clockwise) {
        for (int k = 0; k < degrees / 90; k++) {
            int[] out = new int[px.length];
            for (int y = 0; y < h; y++) {
                for (int x = 0; x < w; x++) {
                    if (clockwise) out[x * h + (h - 1 - y)] = px[y * w + x];
                    else out[(w - 1 - x) * h + y] = px[y * w + x];
                }
            }
            px = out;
            int t = w; w = h; h = t;
        }
        return px;
    }

    /** A frame as BT.601 YUV 4:2:0 planes (2×2-averaged chroma), and its exact decoding. */
    static final class Yuv {
        final int w, h, cw, ch;
        final boolean full;
        final byte[] y, u, v;

        Yuv(int[] argb, int w, int h, boolean full) {
            this.w = w; this.h = h; this.full = full;
            cw = (w + 1) / 2; ch = (h + 1) / 2;
            y = new byte[w * h]; u = new byte[cw * ch]; v = new byte[cw * ch];
            double[] us = new double[cw * ch], vs = new double[cw * ch], n = new double[cw * ch];
            for (int row = 0; row < h; row++) {
                for (int x = 0; x < w; x++) {
                    int p = argb[row * w + x];
                    double r = (p >> 16) & 0xff, g = (p >> 8) & 0xff, b = p & 0xff;
                    double yy = 0.299 * r + 0.587 * g + 0.114 * b;
                    double uu = -0.168736 * r - 0.331264 * g + 0.5 * b, vv = 0.5 * r - 0.418688 * g - 0.081312 * b;
                    if (!full) { yy = 16 + yy * 219 / 255; uu = uu * 224 / 255; vv = vv * 224 / 255; }
                    y[row * w + x] = toByte(yy);
                    int c = (row / 2) * cw + x / 2;
                    us[c] += uu; vs[c] += vv; n[c] += 1;
                }
            }
            for (int c = 0; c < cw * ch; c++) {
                u[c] = toByte(128 + us[c] / n[c]);
                v[c] = toByte(128 + vs[c] / n[c]);
            }
        }

        static byte toByte(double d) {
            return (byte) Math.max(0, Math.min(255, Math.round(d)));
        }

        /** The whole frame by the exact formula, chroma repeated over its 2×2 block. */
        int[] referenceArgb() {
            int[] out = new int[w * h];
            for (int row = 0; row < h; row++) {
                for (int x = 0; x < w; x++) {
                    double yy = y[row * w + x] & 0xff;
                    double uu = (u[(row / 2) * cw + x / 2] & 0xff) - 128, vv = (v[(row / 2) * cw + x / 2] & 0xff) - 128;
                    if (!full) { yy = (yy - 16) * 255 / 219; uu = uu * 255 / 224; vv = vv * 255 / 224; }
                    int r = toByte(yy + 1.402 * vv) & 0xff, g = toByte(yy - 0.344136 * uu - 0.714136 * vv) & 0xff;
                    int b = toByte(yy + 1.772 * uu) & 0xff;
                    out[row * w + x] = 0xff000000 | (r << 16) | (g << 8) | b;
                }
            }
            return out;
        }

        /** A direct buffer of the plane with `pad` junk bytes after every row, positioned at 3 to test offsets. */
        ByteBuffer direct(byte[] plane, int pad) {
            int pw = plane == y ? w : cw, ph = plane == y ? h : ch;
            ByteBuffer b = ByteBuffer.allocateDirect(3 + ph * (pw + pad));
            b.put(new byte[] {9, 9, 9});
            for (int row = 0; row < ph; row++) {
                b.put(plane, row * pw, pw);
                for (int i = 0; i < pad; i++) b.put((byte) 0x5a);
            }
            b.position(3);
            return b;
        }

        /** Interleaved chroma rows (first, second) with padding, as one array. */
        byte[] interleaved(byte[] first, byte[] second, int pad) {
            int stride = 2 * cw + pad;
            byte[] out = new byte[stride * ch];
            for (int row = 0; row < ch; row++) {
                for (int x = 0; x < cw; x++) {
                    out[row * stride + 2 * x] = first[row * cw + x];
                    out[row * stride + 2 * x + 1] = second[row * cw + x];
                }
            }
            return out;
        }

        Classification classify(Classifier c, String layout, int rotation, YuvRange range, ClassifyOptions o, ScoreSmoother s) {
            int pad = 5;
            ByteBuffer yb = direct(y, pad);
            if (layout.equals("I420")) {
                return c.classifyYuv420(w, h, yb, w + pad, 1, direct(u, 3), cw + 3, 1, direct(v, 3), cw + 3, 1, rotation, range, o, s);
            }
            // Android's NV21: the V and U planes are views one byte apart into one VU buffer.
            boolean nv21 = layout.equals("NV21");
            byte[] pairs = nv21 ? interleaved(v, u, 4) : interleaved(u, v, 4);
            ByteBuffer all = nv21 ? ByteBuffer.allocateDirect(pairs.length) : ByteBuffer.allocate(pairs.length);
            all.put(pairs);
            ByteBuffer first = all.duplicate().position(0).limit(pairs.length - 1).slice();
            ByteBuffer second = all.duplicate().position(1).slice();
            ByteBuffer ub = nv21 ? second : first, vb = nv21 ? first : second;
            return c.classifyYuv420(w, h, yb, w + pad, 1, ub, 2 * cw + 4, 2, vb, 2 * cw + 4, 2, rotation, range, o, s);
        }
    }
}
