//! Encoded image bytes → `taxa_core::decode_image` with the default limits:
//! what every classify entry point (CLI, bindings, trainer cache) does first.
#![no_main]

use libfuzzer_sys::fuzz_target;
use taxa_core::{DecodeLimits, decode_image};

fuzz_target!(|data: &[u8]| {
    taxa_fuzz::init();
    let limits = DecodeLimits::default();
    match decode_image(data, &limits) {
        Ok(image) => {
            let (w, h) = image.dimensions();
            assert!(w > 0 && h > 0, "decoded an empty {w}×{h} image");
            // Orientation may swap the sides; the default limits are square.
            assert!(w.max(h) <= limits.max_width.max(limits.max_height), "{w}×{h} is over the limits");
            assert!(w as u64 * h as u64 <= limits.max_pixels, "{w}×{h} is over the pixel limit");
            assert_eq!(image.as_raw().len(), w as usize * h as usize * 3);
        }
        Err(e) => assert!(!e.to_string().is_empty()),
    }
});
