//! Writes the toy bundle (`toy.onnx`, six colour-coded species, fitted in
//! milliseconds without libtorch) and one sample photo per species
//! (`photos/<genus>_<species>.jpg`) into the folder given as the argument.
//! scripts/test.sh classifies them with the inference-only `taxa`.

use anyhow::Context;

fn main() -> anyhow::Result<()> {
    let dir = std::path::PathBuf::from(std::env::args_os().nth(1).context("usage: toy_bundle <output folder>")?);
    let photos = dir.join("photos");
    std::fs::create_dir_all(&photos).with_context(|| format!("creating {}", photos.display()))?;
    let (model, metadata) = taxa_trainer::toy_model::fit_bundle(8, 11)?;
    let bundle = dir.join("toy.onnx");
    taxa_core::bundle::write_bundle(&bundle, model, &metadata).with_context(|| format!("writing {}", bundle.display()))?;
    taxa_trainer::toy_model::write_sample_photos(&photos, 11).with_context(|| format!("writing photos into {}", photos.display()))?;
    println!("{}", bundle.display());
    Ok(())
}
