//! Prints every class probability a model gives each image, one JSON object
//! per line: `{"model": .., "image": .., "probabilities": [..]}`.
//!
//! Used by `scripts/cross.sh arm64` to compare the x86-64 and arm64 builds
//! (tract has separate matrix kernels per instruction set) on the same
//! models and photos.
//!
//! Usage: `probabilities MODEL.onnx IMAGE...` (bundles or plain ONNX files).

use std::process::ExitCode;

use std::path::Path;

use taxa_core::{Classifier, DecodeLimits, PixelFormat, PixelsRef, decode_image_file};

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some((model, images)) = args.split_first().filter(|(_, images)| !images.is_empty()) else {
        eprintln!("usage: probabilities MODEL.onnx IMAGE...");
        return ExitCode::from(2);
    };
    let classifier = match Classifier::load(model) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("{model}: {e}");
            return ExitCode::FAILURE;
        }
    };
    let mut status = ExitCode::SUCCESS;
    for image in images {
        let scores = decode_image_file(Path::new(image), &DecodeLimits::default()).and_then(|decoded| {
            let pixels = PixelsRef::new(decoded.width(), decoded.height(), PixelFormat::Rgb8, decoded.as_raw())?;
            classifier.infer(classifier.preprocess(pixels)?)
        });
        match scores {
            Ok(probabilities) => {
                let line = serde_json::json!({"model": model, "image": image, "probabilities": probabilities});
                println!("{line}");
            }
            Err(e) => {
                eprintln!("{image}: {e}");
                status = ExitCode::FAILURE;
            }
        }
    }
    status
}
