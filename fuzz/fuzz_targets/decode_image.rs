//! Encoded image bytes → `taxa_core::decode_image` (under the harness's small
//! limits, `taxa_fuzz::FUZZ_LIMITS`): what every classify entry point (CLI,
//! bindings, trainer cache) does first, EXIF readers included; then
//! `decode_image_sized` for a tiny contract, so that JPEGs from 72 px up
//! (not 4:2:0) take the reduced (DCT-scaled) path that large photos take in
//! classify and training.
#![no_main]

use libfuzzer_sys::fuzz_target;
use taxa_core::{DecodeOptions, PreprocessContract, decode_image, decode_image_sized};

fuzz_target!(|data: &[u8]| {
    taxa_fuzz::init();
    let limits = taxa_fuzz::FUZZ_LIMITS;
    match decode_image(data, &limits) {
        Ok(image) => {
            let (w, h) = image.dimensions();
            assert!(w > 0 && h > 0, "decoded an empty {w}×{h} image");
            // Orientation may swap the sides; the limits are square.
            assert!(w.max(h) <= limits.max_width.max(limits.max_height), "{w}×{h} is over the limits");
            assert!(w as u64 * h as u64 <= limits.max_pixels, "{w}×{h} is over the pixel limit");
            assert_eq!(image.as_raw().len(), w as usize * h as usize * 3);
        }
        Err(e) => assert!(!e.to_string().is_empty()),
    }
    // Resize 16: a JPEG whose short side is at least 72 px (4 × 16 × 1.125) is decoded reduced.
    let contract = PreprocessContract::imagenet_sized(14);
    let options = DecodeOptions { limits, allow_truncated: false };
    match decode_image_sized(data, &options, &contract) {
        Ok(sized) => {
            let (w, h) = sized.image.dimensions();
            assert!(w > 0 && h > 0, "decoded an empty {w}×{h} image");
            assert!(matches!(sized.reduction, 1 | 2 | 4 | 8), "reduction {}", sized.reduction);
            assert_eq!(w, sized.full_width.div_ceil(sized.reduction), "reduced width");
            assert_eq!(h, sized.full_height.div_ceil(sized.reduction), "reduced height");
            let input = sized.preprocess(&contract).expect("a decoded image preprocesses");
            assert!(input.iter().all(|v| v.is_finite()));
        }
        Err(e) => assert!(!e.to_string().is_empty()),
    }
});
