"""The generated Python bindings (UniFFI), used as a Python user would.

Run by the Rust test `tests/tests/bindings.rs`, with the generated module on
PYTHONPATH and TAXA_BUNDLE / TAXA_PHOTOS set.
"""
import os
import threading
import unittest
from pathlib import Path

import taxa_ffi

BUNDLE = os.environ["TAXA_BUNDLE"]
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


if __name__ == "__main__":
    unittest.main(verbosity=2)
