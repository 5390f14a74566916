"""The Python package (UniFFI, built by maturin), used as a Python user would.

Run by the Rust test `tests/tests/bindings.rs` in a fresh venv where the
taxa_ffi wheel and tests/python/requirements.txt are installed, with
TAXA_BUNDLE / TAXA_PHOTOS / TAXA_QUADRANTS set (the last a bundle whose
classes are the input's four quadrants, so it sees rotation).
"""
import os
import threading
import unittest
from pathlib import Path

import numpy as np

import taxa_ffi

BUNDLE = os.environ["TAXA_BUNDLE"]
QUADRANTS = os.environ["TAXA_QUADRANTS"]
PHOTOS = sorted(Path(os.environ["TAXA_PHOTOS"]).glob("*.jpg"))
FIELD_CASES = Path(__file__).resolve().parent.parent / "field-cases"


def truth(photo):
    return photo.stem.replace("_", " ").capitalize()


class ClassifierTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.classifier = taxa_ffi.Classifier.from_path(BUNDLE, None)

    def test_info(self):
        info = self.classifier.info()
        self.assertEqual(len(info.labels), 6)
        self.assertTrue(info.has_taxonomy)
        self.assertEqual((info.input_width, info.input_height), (96, 96))

    def test_encoded_photos(self):
        for photo in PHOTOS:
            result = self.classifier.classify(photo.read_bytes(), taxa_ffi.default_options())
            self.assertEqual(len(result.predictions), 5)
            top2 = [p.label for p in result.predictions[:2]]
            self.assertIn(truth(photo), top2)
            self.assertIsNotNone(result.rollup)
            self.assertEqual(result.rollup.lineage[0].rank, "kingdom")

    def test_pixels_match_encoded(self):
        from PIL import Image

        for photo in PHOTOS:
            image = Image.open(photo).convert("RGBA")
            w, h = image.size
            options = taxa_ffi.default_options()
            from_pixels = self.classifier.classify_pixels(w, h, w * 4, taxa_ffi.PixelFormat.RGBA8, image.tobytes(), options)
            from_bytes = self.classifier.classify(photo.read_bytes(), options)
            self.assertEqual(from_pixels.predictions[0].label, from_bytes.predictions[0].label)

    def test_options(self):
        options = taxa_ffi.ClassifyOptions(top_k=2, min_score=0.0, allow=["Plantae"], deny=[], rollup_threshold=0.8)
        result = self.classifier.classify(PHOTOS[0].read_bytes(), options)
        self.assertEqual(len(result.predictions), 2)
        self.assertTrue(all(p.taxon.kingdom == "Plantae" for p in result.predictions))

    def test_bad_input_raises_and_classifier_survives(self):
        options = taxa_ffi.default_options()
        for bad in [b"", b"not an image", b"\xff\xd8\xff\x00"]:
            with self.assertRaises(taxa_ffi.TaxaFfiError.InvalidImage) as caught:
                self.classifier.classify(bad, options)
            self.assertTrue(str(caught.exception))
        with self.assertRaises(taxa_ffi.TaxaFfiError.InvalidArgument):
            self.classifier.classify_pixels(10, 10, 30, taxa_ffi.PixelFormat.RGB8, b"\x00" * 100, options)
        with self.assertRaises(taxa_ffi.TaxaFfiError.Io) as caught:
            taxa_ffi.Classifier.from_path("/nonexistent/model.onnx", None)
        self.assertIn("/nonexistent/model.onnx", str(caught.exception))
        with self.assertRaises(taxa_ffi.TaxaFfiError.InvalidModel):
            taxa_ffi.Classifier.from_bytes(b"garbage", None)
        self.assertEqual(len(self.classifier.classify(PHOTOS[0].read_bytes(), options).predictions), 5)

    def test_truncated_photos_are_refused_unless_allowed(self):
        whole = PHOTOS[0].read_bytes()
        for cut in (len(whole) // 10, len(whole) * 4 // 10, len(whole) * 9 // 10, len(whole) - 2):
            with self.assertRaises(taxa_ffi.TaxaFfiError.InvalidImage) as caught:
                self.classifier.classify(whole[:cut], taxa_ffi.default_options())
            self.assertIn("truncated", str(caught.exception))
        allowed = taxa_ffi.ClassifyOptions(top_k=5, min_score=0.0, allow=[], deny=[], rollup_threshold=0.8, allow_truncated=True)
        partial = self.classifier.classify(whole[: len(whole) * 9 // 10], allowed)
        self.assertTrue(partial.truncated)
        self.assertFalse(self.classifier.classify(whole, allowed).truncated)

    def test_a_panicking_decoder_is_an_error_not_a_crash(self):
        # tests/field-cases/tiff-planar-panic: the TIFF decoder panics on it.
        tiff = FIELD_CASES / "tiff-planar-panic" / "planar_tiled_8bit_deflate.tif"
        try:
            self.classifier.classify(tiff.read_bytes(), taxa_ffi.default_options())
        except taxa_ffi.TaxaFfiError.InvalidImage as error:
            self.assertIn("TIFF", str(error))
        self.assertEqual(len(self.classifier.classify(PHOTOS[0].read_bytes(), taxa_ffi.default_options()).predictions), 5)

    def test_threads_agree_with_serial(self):
        options = taxa_ffi.default_options()
        images = [p.read_bytes() for p in PHOTOS]
        serial = [[(p.label, p.score) for p in self.classifier.classify(b, options).predictions] for b in images]
        disagreements = []

        def work(offset):
            for k in range(len(images) * 2):
                i = (offset + k) % len(images)
                got = [(p.label, p.score) for p in self.classifier.classify(images[i], options).predictions]
                if got != serial[i]:
                    disagreements.append(i)

        threads = [threading.Thread(target=work, args=(t,)) for t in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        self.assertEqual(disagreements, [])

    def test_two_threads_per_image_classify_as_one_does(self):
        self.assertEqual(self.classifier.threads(), 1)
        two = taxa_ffi.Classifier.from_path(BUNDLE, None, threads=2)
        two_from_bytes = taxa_ffi.Classifier.from_bytes(Path(BUNDLE).read_bytes(), None, 2)
        self.assertEqual((two.threads(), two_from_bytes.threads()), (2, 2))
        options = taxa_ffi.default_options()
        for photo in PHOTOS:
            one = self.classifier.classify(photo.read_bytes(), options)
            for got in (two.classify(photo.read_bytes(), options), two_from_bytes.classify(photo.read_bytes(), options)):
                self.assertEqual([p.label for p in got.predictions], [p.label for p in one.predictions], photo.name)
                for a, b in zip(got.predictions, one.predictions):
                    self.assertAlmostEqual(a.score, b.score, delta=1e-5, msg=photo.name)
        with self.assertRaises(taxa_ffi.TaxaFfiError.InvalidArgument) as caught:
            taxa_ffi.Classifier.from_path(BUNDLE, None, threads=0)
        self.assertIn("threads", str(caught.exception))
        with self.assertRaises(taxa_ffi.TaxaFfiError.InvalidArgument):
            taxa_ffi.Classifier.from_bytes(Path(BUNDLE).read_bytes(), None, threads=0)


# BT.601, as cameras write it: full range (JFIF, Android) or video range.
def rgb_to_yuv420(rgb, full):
    r, g, b = (rgb[..., i].astype(np.float64) for i in range(3))
    y = 0.299 * r + 0.587 * g + 0.114 * b
    u = -0.168736 * r - 0.331264 * g + 0.5 * b
    v = 0.5 * r - 0.418688 * g - 0.081312 * b
    if not full:
        y, u, v = 16 + y * 219 / 255, u * 224 / 255, v * 224 / 255
    h, w = y.shape
    ch, cw = (h + 1) // 2, (w + 1) // 2

    def subsample(c):
        c = np.pad(c, ((0, 2 * ch - h), (0, 2 * cw - w)), mode="edge")
        return c.reshape(ch, 2, cw, 2).mean(axis=(1, 3))

    byte = lambda a: np.clip(np.round(a), 0, 255).astype(np.uint8)
    return byte(y), byte(128 + subsample(u)), byte(128 + subsample(v))


def yuv420_to_rgb_reference(y, u, v, full):
    """The whole frame by the exact formula, chroma repeated over its 2×2 block."""
    h, w = y.shape
    up = lambda c: np.repeat(np.repeat(c, 2, axis=0), 2, axis=1)[:h, :w].astype(np.float64) - 128
    yy, uu, vv = y.astype(np.float64), up(u), up(v)
    if not full:
        yy, uu, vv = (yy - 16) * 255 / 219, uu * 255 / 224, vv * 255 / 224
    rgb = np.stack([yy + 1.402 * vv, yy - 0.344136 * uu - 0.714136 * vv, yy + 1.772 * uu], axis=-1)
    return np.clip(np.round(rgb), 0, 255).astype(np.uint8)


def padded(plane, pad):
    """Plane bytes with `pad` junk bytes after every row, and the row stride."""
    h, w = plane.shape
    out = np.full((h, w + pad), 0xA5, np.uint8)
    out[:, :w] = plane
    return out.tobytes(), w + pad


def interleaved(first, second, pad):
    h, w = first.shape
    pairs = np.stack([first, second], axis=-1).reshape(h, 2 * w)
    return padded(pairs, pad)


def frame_calls(classifier, stored, full, rotation, options, smoother=None, layouts=("I420", "NV21", "NV12")):
    """The same stored frame through every entry point: I420 and Android NV21
    (pixel stride 2, the V and U planes one byte apart) through
    classify_yuv420, NV12 (iOS bi-planar) through classify_bi_planar."""
    h, w = stored.shape[:2]
    y, u, v = rgb_to_yuv420(stored, full)
    rng = taxa_ffi.YuvRange.FULL if full else taxa_ffi.YuvRange.VIDEO
    y_bytes, y_stride = padded(y, 7)
    plane = lambda data, row, pix: taxa_ffi.YuvPlane(data=data, row_stride=row, pixel_stride=pix)
    u_bytes, c_stride = padded(u, 3)
    v_bytes, _ = padded(v, 3)
    vu, vu_stride = interleaved(v, u, 5)
    uv, uv_stride = interleaved(u, v, 1)
    calls = {
        "I420": lambda: classifier.classify_yuv420(w, h, plane(y_bytes, y_stride, 1), plane(u_bytes, c_stride, 1),
                                                   plane(v_bytes, c_stride, 1), rng, rotation, smoother, options),
        "NV21": lambda: classifier.classify_yuv420(w, h, plane(y_bytes, y_stride, 1), plane(vu[1:], vu_stride, 2),
                                                   plane(vu[:-1], vu_stride, 2), rng, rotation, smoother, options),
        "NV12": lambda: classifier.classify_bi_planar(w, h, y_bytes, y_stride, uv, uv_stride, taxa_ffi.ChromaOrder.CB_CR, rng,
                                                      rotation, smoother, options),
    }
    return {layout: calls[layout]() for layout in layouts}, (y, u, v)


def reference(classifier, planes, full, rotation, options):
    rgb = np.ascontiguousarray(np.rot90(yuv420_to_rgb_reference(*planes, full), k=-rotation // 90))
    h, w = rgb.shape[:2]
    return classifier.classify_pixels(w, h, w * 3, taxa_ffi.PixelFormat.RGB8, rgb.tobytes(), options)


def bright_corner_scene():
    """An odd-sized crop of a photo, its top-left quarter brightened."""
    from PIL import Image

    scene = np.asarray(Image.open(PHOTOS[0]).convert("RGB"))[13:260, 40:373].copy()
    h, w = scene.shape[:2]
    scene[: h // 2, : w // 2] = np.minimum(255, scene[: h // 2, : w // 2] * 0.3 + 170).astype(np.uint8)
    return scene


class CameraFrameTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.quadrants = taxa_ffi.Classifier.from_path(QUADRANTS, None)
        cls.demo = taxa_ffi.Classifier.from_path(BUNDLE, None)
        cls.all4 = taxa_ffi.ClassifyOptions(top_k=4, min_score=0.0, allow=[], deny=[], rollup_threshold=0.8)

    def assert_close(self, got, expected, what):
        self.assertEqual([p.label for p in got.predictions], [p.label for p in expected.predictions], what)
        for a, b in zip(got.predictions, expected.predictions):
            self.assertAlmostEqual(a.score, b.score, delta=1e-3, msg=what)

    def test_yuv_frames_match_the_numpy_reference_in_every_rotation(self):
        upright = bright_corner_scene()
        for rotation in (0, 90, 180, 270):
            # What a camera reporting `rotation` delivers: the scene turned anticlockwise.
            stored = np.ascontiguousarray(np.rot90(upright, k=rotation // 90))
            for full in (True, False):
                results, planes = frame_calls(self.quadrants, stored, full, rotation, self.all4)
                expected = reference(self.quadrants, planes, full, rotation, self.all4)
                self.assertEqual(expected.predictions[0].label, "top-left")
                for layout, got in results.items():
                    self.assert_close(got, expected, f"{layout} rotation {rotation} full={full}")

    def test_camera_frames_of_the_photos_match_their_rgb(self):
        from PIL import Image

        options = taxa_ffi.default_options()
        for photo in PHOTOS:
            upright = np.asarray(Image.open(photo).convert("RGB"))
            stored = np.ascontiguousarray(np.rot90(upright, k=1))
            results, planes = frame_calls(self.demo, stored, True, 90, options)
            expected = reference(self.demo, planes, True, 90, options)
            for layout, got in results.items():
                self.assert_close(got, expected, f"{photo.name} {layout}")
            self.assertIn(truth(photo), [p.label for p in results["NV21"].predictions[:2]])

    def test_bad_frames_raise_invalid_argument(self):
        options = taxa_ffi.default_options()
        plane = lambda data, row, pix: taxa_ffi.YuvPlane(data=data, row_stride=row, pixel_stride=pix)
        y, c = plane(b"\x80" * 33 * 47, 33, 1), plane(b"\x80" * 17 * 24, 17, 1)
        full = taxa_ffi.YuvRange.FULL
        self.assertEqual(len(self.demo.classify_yuv420(33, 47, y, c, c, full, 0, None, options).predictions), 5)
        with self.assertRaises(taxa_ffi.TaxaFfiError.InvalidArgument) as caught:
            self.demo.classify_yuv420(33, 47, y, plane(b"\x80" * 100, 17, 1), c, full, 0, None, options)
        self.assertIn("U plane", str(caught.exception))
        self.assertIn("got 100", str(caught.exception))
        with self.assertRaises(taxa_ffi.TaxaFfiError.InvalidArgument) as caught:
            self.demo.classify_yuv420(33, 47, plane(y.data, 32, 1), c, c, full, 0, None, options)
        self.assertIn("Y plane", str(caught.exception))
        with self.assertRaises(taxa_ffi.TaxaFfiError.InvalidArgument) as caught:
            self.demo.classify_yuv420(33, 47, y, c, c, full, 45, None, options)
        self.assertIn("45", str(caught.exception))
        with self.assertRaises(taxa_ffi.TaxaFfiError.InvalidArgument):
            self.demo.classify_bi_planar(33, 47, y.data, 33, b"", 34, taxa_ffi.ChromaOrder.CR_CB, full, 0, None, options)
        with self.assertRaises(taxa_ffi.TaxaFfiError.InvalidArgument):
            taxa_ffi.ScoreSmoother(0)
        smoother = taxa_ffi.ScoreSmoother(5)
        self.quadrants.classify_yuv420(33, 47, y, c, c, full, 0, smoother, options)
        with self.assertRaises(taxa_ffi.TaxaFfiError.InvalidArgument) as caught:
            self.demo.classify_yuv420(33, 47, y, c, c, full, 0, smoother, options)
        self.assertIn("reset", str(caught.exception))
        smoother.reset()
        self.assertEqual(len(self.demo.classify_yuv420(33, 47, y, c, c, full, 0, smoother, options).predictions), 5)

    def test_the_smoother_averages_the_last_frames(self):
        upright = bright_corner_scene()
        flipped = np.ascontiguousarray(np.rot90(upright, k=2))
        scores = lambda c: {p.label: p.score for p in c.predictions}
        one = lambda scene, smoother=None: frame_calls(self.quadrants, scene, True, 0, self.all4, smoother, ("I420",))[0]["I420"]
        a, b = scores(one(upright)), scores(one(flipped))
        self.assertEqual(max(b, key=b.get), "bottom-right")
        smoother = taxa_ffi.ScoreSmoother(3)
        self.assertEqual((smoother.window(), smoother.frames()), (3, 0))
        one(upright, smoother)
        one(upright, smoother)
        smoothed = one(flipped, smoother)
        self.assertEqual(smoother.frames(), 3)
        self.assertEqual(smoothed.predictions[0].label, "top-left")
        for label, score in scores(smoothed).items():
            self.assertAlmostEqual(score, (2 * a[label] + b[label]) / 3, delta=1e-5)
        one(flipped, smoother)
        last = scores(one(flipped, smoother))
        for label, score in last.items():
            self.assertAlmostEqual(score, b[label], delta=1e-5)
        smoother.reset()
        self.assertEqual(smoother.frames(), 0)
        self.assertEqual(one(upright, smoother).predictions[0].label, "top-left")


if __name__ == "__main__":
    unittest.main(verbosity=2)
