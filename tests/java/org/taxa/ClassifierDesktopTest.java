package org.taxa;

import java.awt.image.BufferedImage;
import java.io.File;
import java.nio.file.Files;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import javax.imageio.ImageIO;

/**
 * The Android-facing Java API on the desktop JVM, against the host-built
 * libtaxa_ffi. Args: BUNDLE PHOTOS_DIR. Photos are named after their species.
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
                    }
                }
                try {
                    classifier.classify(new int[10], 5, 5);
                    throw new AssertionError("short pixel array accepted");
                } catch (TaxaException e) {
                    check(e.getMessage().contains("needs"), e.getMessage());
                }
                try {
                    classifier.classify(Files.readAllBytes(photos[0].toPath()), ClassifyOptions.defaults().topK(0));
                    throw new AssertionError("topK 0 accepted");
                } catch (TaxaException e) {
                    check(e.getMessage().contains("topK"), e.getMessage());
                }
                check(classifier.classify(Files.readAllBytes(photos[0].toPath())).predictions.size() == 5, "still serving");
            });

            test("a missing model is a TaxaException naming the file", () -> {
                try {
                    Classifier.fromPath("/nonexistent/model.onnx");
                    throw new AssertionError("loaded a missing file");
                } catch (TaxaException e) {
                    check(e.getMessage().contains("/nonexistent/model.onnx"), e.getMessage());
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
}
