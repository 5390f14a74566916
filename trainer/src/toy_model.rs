//! A toy model for tests and examples that must not wait for training: a
//! handful of colour-coded "species" in a real taxonomy, rendered as photos,
//! and a nearest-colour-centroid model fitted to them in milliseconds and
//! written as a taxa bundle (GlobalAveragePool → Gemm).

use image::{Rgb, RgbImage};
use rand::{Rng, SeedableRng, rngs::StdRng};
use taxa_core::onnx_graph::{Dim, GraphBuilder, attr_int};
use taxa_core::onnx_pb::ModelProto;
use taxa_core::{BundleMetadata, HigherRanks, OutputKind, PixelsRef, PreprocessContract, Provenance, Taxonomy};

pub struct DemoSpecies {
    pub taxonomy: Taxonomy,
    pub colour: [u8; 3],
}

fn species(lineage: [&str; 6], name: &str, common: &str, colour: [u8; 3]) -> DemoSpecies {
    DemoSpecies {
        taxonomy: Taxonomy { ranks: HigherRanks::from_lineage(lineage), species: name.to_string(), common_name: Some(common.to_string()) },
        colour,
    }
}

/// Two Rana frogs share nearly one colour, so the model splits them and the
/// roll-up answers with the genus.
pub fn demo_species() -> Vec<DemoSpecies> {
    let ranid = ["Animalia", "Chordata", "Amphibia", "Anura", "Ranidae", "Rana"];
    vec![
        species(ranid, "Rana temporaria", "Common frog", [139, 105, 62]),
        species(ranid, "Rana arvalis", "Moor frog", [135, 108, 66]),
        species(["Animalia", "Chordata", "Amphibia", "Anura", "Hylidae", "Hyla"], "Hyla arborea", "European tree frog", [70, 170, 50]),
        species(
            ["Animalia", "Arthropoda", "Insecta", "Coleoptera", "Coccinellidae", "Coccinella"],
            "Coccinella septempunctata",
            "Seven-spot ladybird",
            [205, 35, 30],
        ),
        species(
            ["Plantae", "Tracheophyta", "Magnoliopsida", "Asterales", "Asteraceae", "Taraxacum"],
            "Taraxacum officinale",
            "Common dandelion",
            [235, 200, 35],
        ),
        species(
            ["Plantae", "Tracheophyta", "Magnoliopsida", "Boraginales", "Boraginaceae", "Myosotis"],
            "Myosotis scorpioides",
            "Water forget-me-not",
            [90, 125, 225],
        ),
    ]
}

/// A field photo: a lit body of the species' colour at a random place and
/// size on a random leafy background, with sensor noise.
pub fn render_photo(species: &DemoSpecies, seed: u64, width: u32, height: u32) -> RgbImage {
    let mut rng = StdRng::seed_from_u64(seed);
    let background = [rng.random_range(60..110), rng.random_range(80..130), rng.random_range(40..80)];
    let light: f32 = rng.random_range(0.85..1.15);
    let (cx, cy) = (rng.random_range(0.4..0.6) * width as f32, rng.random_range(0.4..0.6) * height as f32);
    let (rx, ry) = (rng.random_range(0.3..0.45) * width as f32, rng.random_range(0.3..0.45) * height as f32);
    let angle: f32 = rng.random_range(0.0..std::f32::consts::PI);
    let (sin, cos) = angle.sin_cos();
    let mut noise = StdRng::seed_from_u64(seed ^ 0x9e37_79b9);
    RgbImage::from_fn(width, height, |x, y| {
        let (dx, dy) = (x as f32 - cx, y as f32 - cy);
        let (u, v) = ((dx * cos + dy * sin) / rx, (-dx * sin + dy * cos) / ry);
        let inside = u * u + v * v <= 1.0;
        let shade = 1.0 - 0.25 * (y as f32 / height as f32);
        let base = if inside { species.colour } else { background };
        let mut px = [0u8; 3];
        for c in 0..3 {
            let n: f32 = noise.random_range(-12.0..12.0);
            px[c] = (base[c] as f32 * light * shade + n).clamp(0.0, 255.0) as u8;
        }
        Rgb(px)
    })
}

/// Writes one 640×480 field photo per species into `dir`, named after the
/// species (`rana_temporaria.jpg`); returns each path with its species.
pub fn write_sample_photos(dir: &std::path::Path, seed: u64) -> image::ImageResult<Vec<(std::path::PathBuf, String)>> {
    demo_species()
        .iter()
        .enumerate()
        .map(|(k, s)| {
            let photo = render_photo(s, seed + 2_000_000 + k as u64, 640, 480);
            let file = dir.join(format!("{}.jpg", s.taxonomy.species.replace(' ', "_").to_lowercase()));
            photo.save(&file)?;
            Ok((file, s.taxonomy.species.clone()))
        })
        .collect()
}

/// Softmax temperature over squared colour distances.
const TEMPERATURE: f32 = 0.05;

/// Fits one colour centroid per species (in the contract's normalised space)
/// on `per_species` renders and writes the classifier as an ONNX graph:
/// GlobalAveragePool → Flatten → Gemm. The Gemm computes
/// (2·p·x − |p|²)/T, which ranks classes like −|x − p|²/T.
pub fn fit_bundle(per_species: usize, seed: u64) -> taxa_core::Result<(ModelProto, BundleMetadata)> {
    let all = demo_species();
    let contract = PreprocessContract::imagenet_sized(96);
    let (w, h) = contract.input_size().expect("fixed size");
    let mut weights = Vec::new();
    let mut bias = Vec::new();
    for (k, species) in all.iter().enumerate() {
        let mut centroid = [0f64; 3];
        for i in 0..per_species {
            let photo = render_photo(species, seed + (k * 10_000 + i) as u64, 160, 120);
            let mean = mean_input(&contract, &photo)?;
            for c in 0..3 {
                centroid[c] += mean[c] as f64 / per_species as f64;
            }
        }
        let norm2: f64 = centroid.iter().map(|v| v * v).sum();
        weights.extend(centroid.iter().map(|v| (2.0 * v) as f32 / TEMPERATURE));
        bias.push(-(norm2 as f32) / TEMPERATURE);
    }
    let classes = all.len() as i64;
    let mut g = GraphBuilder::new("taxa-demo");
    let input = g.input("image", &[Dim::from("batch"), 3.into(), (h as i64).into(), (w as i64).into()]);
    let pooled = g.node("GlobalAveragePool", &[&input], vec![]);
    let flat = g.node("Flatten", &[&pooled], vec![attr_int("axis", 1)]);
    let weight = g.initializer("centroids", &[classes, 3], &weights);
    let bias = g.initializer("bias", &[classes], &bias);
    g.node_named("Gemm", &[&flat, &weight, &bias], "logits", vec![attr_int("transB", 1)]);
    g.output("logits", &[Dim::from("batch"), classes.into()]);

    let metadata = BundleMetadata {
        labels: all.iter().map(|s| s.taxonomy.species.clone()).collect(),
        taxonomy: Some(all.iter().map(|s| s.taxonomy.clone()).collect()),
        preprocess: contract,
        output: OutputKind::Logits,
        architecture: Some("nearest-colour-centroid (toy)".into()),
        provenance: Some(Provenance {
            dataset: Some(format!("taxa toy renders ({per_species} per species, seed {seed})")),
            ..Default::default()
        }),
        non_taxa: Vec::new(),
    };
    Ok((g.build(), metadata))
}

/// Mean of each input channel after preprocessing: what the graph's pooling sees.
fn mean_input(contract: &PreprocessContract, photo: &RgbImage) -> taxa_core::Result<[f32; 3]> {
    let input = contract.apply(PixelsRef::try_from(photo)?)?;
    let plane = input.len() / 3;
    Ok([0, 1, 2].map(|c| input[c * plane..(c + 1) * plane].iter().sum::<f32>() / plane as f32))
}
