//! Camera frames as an app hands them over: YUV 4:2:0 (Android
//! YUV_420_888 as I420, NV12 and NV21; iOS bi-planar full and video range)
//! with padded rows, odd sizes and every rotation, against a straightforward
//! reference: whole frame to RGB by the exact BT.601 formula, turned upright,
//! then the RGB path. Then the live smoother on top.

mod common;

use common::*;
use image::RgbImage;
use taxa_core::bundle;
use taxa_core::{Classification, Classifier, ClassifyOptions, PreprocessContract, Rotation, ScoreSmoother, TaxaError, Yuv420Frame, YuvPlane, YuvRange};

const ROTATIONS: [Rotation; 4] = [Rotation::None, Rotation::Clockwise90, Rotation::Clockwise180, Rotation::Clockwise270];

/// Sees only the top 8 rows of its 32×32 input, so it knows up from down.
fn top_rows_classifier() -> Classifier {
    let contract = PreprocessContract::imagenet_sized(32);
    let bytes = bundle::encode_bundle(colour_model(&contract, Some(8)), &colour_metadata(contract)).unwrap();
    Classifier::from_bytes(&bytes, None).unwrap()
}

fn all_classes() -> ClassifyOptions {
    ClassifyOptions { top_k: COLOURS.len(), ..Default::default() }
}

/// An upright scene: red above, blue below, with a textured yellow band.
fn scene(w: u32, h: u32) -> RgbImage {
    RgbImage::from_fn(w, h, |x, y| {
        let base = if y < h / 2 { COLOURS[0].1 } else { COLOURS[2].1 };
        if y > h * 3 / 4 && (x / 3) % 2 == 0 { image::Rgb(COLOURS[3].1) } else { image::Rgb(base) }
    })
}

/// The frame a camera reports with `rotation` for this upright image: the
/// image turned anticlockwise by the rotation.
fn turn_back(upright: &RgbImage, rotation: Rotation) -> RgbImage {
    match rotation {
        Rotation::None => upright.clone(),
        Rotation::Clockwise90 => image::imageops::rotate270(upright),
        Rotation::Clockwise180 => image::imageops::rotate180(upright),
        Rotation::Clockwise270 => image::imageops::rotate90(upright),
    }
}

fn turn_upright(frame: &RgbImage, rotation: Rotation) -> RgbImage {
    match rotation {
        Rotation::None => frame.clone(),
        Rotation::Clockwise90 => image::imageops::rotate90(frame),
        Rotation::Clockwise180 => image::imageops::rotate180(frame),
        Rotation::Clockwise270 => image::imageops::rotate270(frame),
    }
}

#[derive(Clone, Copy, Debug)]
enum Chroma {
    I420,
    Nv12,
    Nv21,
}

/// YUV planes in memory, rows padded by `pad` junk bytes.
struct OwnedFrame {
    w: u32,
    h: u32,
    y: Vec<u8>,
    y_stride: usize,
    /// I420: U then V planes; NV12/NV21: one interleaved plane (in `u`).
    u: Vec<u8>,
    v: Vec<u8>,
    c_stride: usize,
    chroma: Chroma,
    range: YuvRange,
}

/// BT.601 RGB→YUV with 2×2-averaged chroma, in the given range.
fn encode(rgb: &RgbImage, chroma: Chroma, range: YuvRange, pad: usize) -> OwnedFrame {
    let (w, h) = rgb.dimensions();
    let (cw, ch) = (w.div_ceil(2) as usize, h.div_ceil(2) as usize);
    let yuv = |p: [u8; 3]| {
        let [r, g, b] = p.map(|v| v as f64);
        let y = 0.299 * r + 0.587 * g + 0.114 * b;
        let (u, v) = (-0.168736 * r - 0.331264 * g + 0.5 * b, 0.5 * r - 0.418688 * g - 0.081312 * b);
        match range {
            YuvRange::Full => (y, u, v),
            YuvRange::Video => (16.0 + y * 219.0 / 255.0, u * 224.0 / 255.0, v * 224.0 / 255.0),
        }
    };
    let byte = |v: f64| v.round().clamp(0.0, 255.0) as u8;
    let y_stride = w as usize + pad;
    let mut y = vec![0xA5u8; y_stride * h as usize];
    for (x, row, p) in rgb.enumerate_pixels() {
        y[row as usize * y_stride + x as usize] = byte(yuv(p.0).0);
    }
    let (mut us, mut vs) = (vec![0u8; cw * ch], vec![0u8; cw * ch]);
    for cy in 0..ch {
        for cx in 0..cw {
            let (mut su, mut sv, mut n) = (0.0, 0.0, 0.0);
            for (dx, dy) in [(0, 0), (1, 0), (0, 1), (1, 1)] {
                let (x, row) = (2 * cx as u32 + dx, 2 * cy as u32 + dy);
                if x < w && row < h {
                    let (_, u, v) = yuv(rgb.get_pixel(x, row).0);
                    su += u;
                    sv += v;
                    n += 1.0;
                }
            }
            us[cy * cw + cx] = byte(128.0 + su / n);
            vs[cy * cw + cx] = byte(128.0 + sv / n);
        }
    }
    let (u, v, c_stride) = match chroma {
        Chroma::I420 => {
            let c_stride = cw + pad;
            let (mut u, mut v) = (vec![0x5Au8; c_stride * ch], vec![0x5Au8; c_stride * ch]);
            for r in 0..ch {
                u[r * c_stride..][..cw].copy_from_slice(&us[r * cw..][..cw]);
                v[r * c_stride..][..cw].copy_from_slice(&vs[r * cw..][..cw]);
            }
            (u, v, c_stride)
        }
        Chroma::Nv12 | Chroma::Nv21 => {
            let c_stride = 2 * cw + pad;
            let mut uv = vec![0x5Au8; c_stride * ch];
            for r in 0..ch {
                for c in 0..cw {
                    let pair = match chroma {
                        Chroma::Nv12 => [us[r * cw + c], vs[r * cw + c]],
                        _ => [vs[r * cw + c], us[r * cw + c]],
                    };
                    uv[r * c_stride + 2 * c..][..2].copy_from_slice(&pair);
                }
            }
            (uv, Vec::new(), c_stride)
        }
    };
    OwnedFrame { w, h, y, y_stride, u, v, c_stride, chroma, range }
}

impl OwnedFrame {
    fn frame(&self) -> Yuv420Frame<'_> {
        match self.chroma {
            Chroma::I420 => {
                let plane = |data, row_stride| YuvPlane { data, row_stride, pixel_stride: 1 };
                Yuv420Frame::new(self.w, self.h, plane(&self.y, self.y_stride), plane(&self.u, self.c_stride), plane(&self.v, self.c_stride), self.range)
                    .unwrap()
            }
            Chroma::Nv12 => Yuv420Frame::nv12(self.w, self.h, &self.y, self.y_stride, &self.u, self.c_stride, self.range).unwrap(),
            Chroma::Nv21 => Yuv420Frame::nv21(self.w, self.h, &self.y, self.y_stride, &self.u, self.c_stride, self.range).unwrap(),
        }
    }

    /// The reference: every pixel by the exact real-valued BT.601 formula.
    fn reference_rgb(&self) -> RgbImage {
        let f = self.frame();
        RgbImage::from_fn(self.w, self.h, |x, row| {
            let (x, row) = (x as usize, row as usize);
            let sample = |p: &YuvPlane<'_>, x: usize, row: usize| p.data[row * p.row_stride + x * p.pixel_stride] as f64;
            let (y, u, v) = (sample(&f.y, x, row), sample(&f.u, x / 2, row / 2) - 128.0, sample(&f.v, x / 2, row / 2) - 128.0);
            let (y, u, v) = match self.range {
                YuvRange::Full => (y, u, v),
                YuvRange::Video => ((y - 16.0) * 255.0 / 219.0, u * 255.0 / 224.0, v * 255.0 / 224.0),
            };
            let c = |x: f64| x.round().clamp(0.0, 255.0) as u8;
            image::Rgb([c(y + 1.402 * v), c(y - 0.344136 * u - 0.714136 * v), c(y + 1.772 * u)])
        })
    }
}

fn scores(c: &Classification) -> Vec<(String, f32)> {
    c.predictions.iter().map(|p| (p.label.clone(), p.score)).collect()
}

fn assert_close(got: &Classification, expected: &Classification, what: &str) {
    let (g, e) = (scores(got), scores(expected));
    let labels = |s: &[(String, f32)]| s.iter().map(|(l, _)| l.clone()).collect::<Vec<_>>();
    assert_eq!(labels(&g), labels(&e), "{what}: top-k order");
    for ((_, a), (_, b)) in g.iter().zip(&e) {
        assert!((a - b).abs() <= 1e-3, "{what}: {g:?} vs {e:?}");
    }
    assert_eq!(got.rollup.as_ref().map(|r| &r.name), expected.rollup.as_ref().map(|r| &r.name), "{what}: roll-up");
}

#[test]
fn frames_in_every_layout_range_and_rotation_match_the_reference() {
    let classifier = top_rows_classifier();
    let options = all_classes();
    let mut checked = 0;
    for (w, h) in [(33, 47), (48, 64), (64, 36)] {
        let upright = scene(w, h);
        for rotation in ROTATIONS {
            let stored = turn_back(&upright, rotation);
            for chroma in [Chroma::I420, Chroma::Nv12, Chroma::Nv21] {
                for range in [YuvRange::Full, YuvRange::Video] {
                    for pad in [0, 5, 64] {
                        let owned = encode(&stored, chroma, range, pad);
                        let what = format!("{w}×{h} {rotation:?} {chroma:?} {range:?} pad {pad}");
                        let fast = classifier.classify_yuv420(&owned.frame(), rotation, &options).unwrap();
                        let reference = classifier.classify_rgb(&turn_upright(&owned.reference_rgb(), rotation), &options).unwrap();
                        assert_close(&fast, &reference, &what);
                        // The model sees red on top only when the frame is turned upright.
                        assert_eq!(fast.predictions[0].label, "red", "{what}");
                        checked += 1;
                    }
                }
            }
        }
    }
    assert_eq!(checked, 3 * 4 * 3 * 2 * 3);
}

#[test]
fn a_rotated_frame_gives_what_the_upright_image_gives_and_rotation_matters() {
    let classifier = top_rows_classifier();
    let options = all_classes();
    let upright = scene(48, 64);
    let direct = classifier.classify_rgb(&encode(&upright, Chroma::Nv21, YuvRange::Full, 0).reference_rgb(), &options).unwrap();
    for rotation in ROTATIONS {
        let owned = encode(&turn_back(&upright, rotation), Chroma::Nv21, YuvRange::Full, 8);
        let result = classifier.classify_yuv420(&owned.frame(), rotation, &options).unwrap();
        assert_close(&result, &direct, &format!("{rotation:?}"));
    }
    // Upside down and not turned: the model's top rows are blue.
    let flipped = encode(&turn_back(&upright, Rotation::Clockwise180), Chroma::Nv12, YuvRange::Full, 0);
    assert_eq!(classifier.classify_yuv420(&flipped.frame(), Rotation::None, &options).unwrap().predictions[0].label, "blue");
}

#[test]
fn bad_frames_are_typed_errors_and_the_classifier_survives() {
    let classifier = top_rows_classifier();
    let options = ClassifyOptions::default();
    let owned = encode(&scene(33, 47), Chroma::Nv12, YuvRange::Full, 3);
    let short_uv = &owned.u[..owned.u.len() / 2];
    let mut frame = owned.frame();
    frame.u = YuvPlane { data: short_uv, ..frame.u };
    match classifier.classify_yuv420(&frame, Rotation::None, &options) {
        Err(TaxaError::InvalidPixelBuffer(m)) => assert!(m.starts_with("U plane") && m.contains("got"), "{m}"),
        other => panic!("expected InvalidPixelBuffer, got {other:?}"),
    }
    frame = owned.frame();
    frame.y.row_stride = 20;
    assert!(matches!(classifier.classify_yuv420(&frame, Rotation::None, &options), Err(TaxaError::InvalidPixelBuffer(_))));
    let bad_options = ClassifyOptions { top_k: 0, ..Default::default() };
    assert!(matches!(classifier.classify_yuv420(&owned.frame(), Rotation::None, &bad_options), Err(TaxaError::InvalidOptions(_))));
    assert_eq!(classifier.classify_yuv420(&owned.frame(), Rotation::None, &options).unwrap().predictions[0].label, "red");
}

#[test]
fn the_smoother_averages_frames_before_top_k_and_roll_up() {
    let classifier = top_rows_classifier();
    let options = all_classes();
    let red = encode(&scene(48, 64), Chroma::Nv21, YuvRange::Full, 0);
    let blue = encode(&turn_back(&scene(48, 64), Rotation::Clockwise180), Chroma::Nv21, YuvRange::Full, 0);
    let single = |f: &OwnedFrame| scores(&classifier.classify_yuv420(&f.frame(), Rotation::None, &options).unwrap());
    let (p_red, p_blue) = (single(&red), single(&blue));
    let score_of = |s: &[(String, f32)], label: &str| s.iter().find(|(l, _)| l == label).unwrap().1;

    let mut smoother = ScoreSmoother::new(3).unwrap();
    let smoothed = |f: &OwnedFrame, s: &mut ScoreSmoother| classifier.classify_yuv420_smoothed(&f.frame(), Rotation::None, s, &options).unwrap();
    smoothed(&red, &mut smoother);
    smoothed(&red, &mut smoother);
    let c = smoothed(&blue, &mut smoother);
    // Two red frames and one blue: red stays on top, scores are the means.
    assert_eq!(c.predictions[0].label, "red");
    for (label, score) in scores(&c) {
        let mean = (2.0 * score_of(&p_red, &label) + score_of(&p_blue, &label)) / 3.0;
        assert!((score - mean).abs() < 1e-5, "{label}: {score} vs {mean}");
    }
    // Two more blue frames push the red ones out of the window of 3.
    smoothed(&blue, &mut smoother);
    let c = smoothed(&blue, &mut smoother);
    assert_eq!(c.predictions[0].label, "blue");
    assert!((c.predictions[0].score - score_of(&p_blue, "blue")).abs() < 1e-5);

    // Another model's frame is a typed error until reset().
    let contract = PreprocessContract::imagenet_sized(32);
    let mut metadata = taxa_core::BundleMetadata::with_labels(vec!["a".into(), "b".into()]);
    metadata.preprocess = contract.clone();
    let other = Classifier::new(constant_model(&contract, &[1.0, 2.0]), metadata).unwrap();
    let err = other.classify_yuv420_smoothed(&red.frame(), Rotation::None, &mut smoother, &ClassifyOptions::default()).unwrap_err();
    assert!(matches!(err, TaxaError::ScoreCountMismatch { expected: 4, got: 2 }), "{err}");
    smoother.reset();
    let c = other.classify_yuv420_smoothed(&red.frame(), Rotation::None, &mut smoother, &ClassifyOptions::default()).unwrap();
    assert_eq!(c.predictions[0].label, "b");
}
