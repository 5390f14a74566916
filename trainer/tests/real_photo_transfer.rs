//! The study's transfer claim (its Figure 4) on real photos: EfficientNet-Lite0
//! trained on Tux Paint's photos in six coarse classes, from the real
//! ImageNet weights with the backbone frozen, against the same network from
//! scratch, on the same split with the same epochs. And the README's main
//! command on that real input.

mod common;

use std::path::Path;
use std::process::Command;

use common::lite::{real_data, shipped_weights};
use common::*;
use taxa_trainer::real_data::COARSE_CLASSES;

fn taxa_json(args: &[&str]) -> serde_json::Value {
    let out = Command::new(env!("CARGO_BIN_EXE_taxa")).args(args).output().unwrap();
    assert!(out.status.success(), "taxa {args:?}:\n{}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("taxa {args:?}: {e}\n{}", String::from_utf8_lossy(&out.stdout)))
}

const EPOCHS: &str = "4";

fn train(folder: &Path, mode: &str, weights: Option<&Path>, dir: &Path) -> serde_json::Value {
    let out = dir.join(mode);
    let cache = dir.join("cache");
    let mut args = vec!["train", "--folder", path_str(folder), "--arch", "efficientnet_lite0", "--mode", mode];
    if let Some(w) = weights {
        args.extend(["--weights", path_str(w)]);
    }
    // The demo's settings: 128×128 keeps scratch training to about a minute on two cores.
    args.extend(["--epochs", EPOCHS, "--input-size", "128", "--batch-size", "32", "--lr", "0.05", "--val-fraction", "0.3", "--seed", "7"]);
    args.extend(["--device", "cpu", "--cache-dir", path_str(&cache), "--out", path_str(&out), "--json"]);
    taxa_json(&args)
}

fn last_error(summary: &serde_json::Value) -> f64 {
    summary["history"].as_array().unwrap().last().unwrap()["val_top1_error"].as_f64().unwrap()
}

#[test]
fn frozen_imagenet_features_beat_scratch_on_real_photos() {
    let data = real_data();
    let dir = temp_dir();
    let folder = dir.path().join("tuxpaint");
    let photos = data.write_coarse_dataset(&folder, &COARSE_CLASSES).unwrap();
    assert_eq!(photos, 173);
    let weights = shipped_weights("efficientnet_lite0");

    let frozen = train(&folder, "frozen", Some(&weights), dir.path());
    let scratch = train(&folder, "scratch", None, dir.path());
    for s in [&frozen, &scratch] {
        assert_eq!(s["classes"], 6);
        assert_eq!(s["train_images"].as_u64().unwrap() + s["val_images"].as_u64().unwrap(), 173);
        assert_eq!(s["skipped_images"], 0);
    }
    assert_eq!(frozen["val_images"], scratch["val_images"], "the same split");
    let (frozen, scratch) = (last_error(&frozen), last_error(&scratch));
    eprintln!("validation top-1 error after {EPOCHS} epochs: frozen {frozen:.3}, scratch {scratch:.3}");
    // Chance is 5/6 wrong, and always answering "mammal" is about 0.64 wrong.
    assert!(frozen <= 0.3, "frozen ImageNet features: top-1 error {frozen:.3}");
    assert!(frozen + 0.25 <= scratch, "frozen {frozen:.3} must beat scratch {scratch:.3} by a clear margin");
}

#[test]
fn the_demo_names_species_in_real_photos_and_runs_the_transfer() {
    let data = real_data();
    let dir = temp_dir();
    let weights = shipped_weights("efficientnet_lite0");
    let inat = std::env::var_os("TAXA_INAT_MODELS_DIR").map(std::path::PathBuf::from).unwrap_or_else(|| common::lite::repo().join(".cache/inat-models"));
    // One epoch: the chain, not the figures (the test above checks those).
    let report = taxa_json(&[
        "demo", "--out", path_str(dir.path()), "--inat-models", path_str(&inat), "--weights", path_str(&weights), "--real-data", path_str(data.root()),
        "--epochs", "1", "--json",
    ]);
    assert_eq!(report["input"], "real", "{report}");
    let species = &report["species"];
    assert_eq!(species["license"], "Apache-2.0");
    let photos = species["photos"].as_array().unwrap();
    // Real species for the real photos, each by the model of its kind; the cat is no bird.
    for (file, model, label, recognised) in [
        ("owl.jpg", "bird", "Athene cunicularia", true),
        ("bird.bmp", "bird", "Poecile atricapillus", true),
        ("parrot.jpg", "bird", "Ara macao", true),
        ("dragonfly.bmp", "insect", "Micrathyria hagenii", true),
        ("cat_720p.jpg", "bird", "background", false),
    ] {
        let photo = photos.iter().find(|p| p["image"].as_str().unwrap().ends_with(file)).unwrap_or_else(|| panic!("{file} not shown: {species}"));
        assert_eq!((photo["model"].as_str(), photo["predictions"][0]["label"].as_str()), (Some(model), Some(label)), "{file}");
        assert_eq!(photo["species_recognised"], recognised, "{file}");
        if recognised {
            assert!(photo["predictions"][0]["taxonomy"]["common_name"].is_string(), "{file}: {photo}");
        }
    }
    let chickadee = photos.iter().find(|p| p["image"].as_str().unwrap().ends_with("bird.bmp")).unwrap();
    assert_eq!((chickadee["rollup"]["rank"].as_str(), chickadee["rollup"]["name"].as_str()), (Some("genus"), Some("Poecile")));
    assert!(Path::new(species["bird_bundle"].as_str().unwrap()).is_file());
    let transfer = &report["transfer"];
    for key in ["frozen_val_top1_error", "scratch_val_top1_error"] {
        assert!((0.0..=1.0).contains(&transfer[key].as_f64().unwrap()), "{transfer}");
    }

    // What cannot be had is said and left out: no models, the transfer still runs.
    let empty = temp_dir();
    let out = Command::new(env!("CARGO_BIN_EXE_taxa"))
        .args(["demo", "--out", path_str(&dir.path().join("no-models")), "--inat-models", path_str(empty.path())])
        .args(["--weights", path_str(&weights), "--real-data", path_str(data.root()), "--epochs", "1", "--json"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stderr).contains("fetch-inat-models.sh"));
    let partial: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(partial["species"]["skipped"].is_string() && partial["transfer"]["frozen_val_top1_error"].is_f64(), "{partial}");

    // With nothing real at all, the demo says so and falls back to the synthetic guide.
    let out = Command::new(env!("CARGO_BIN_EXE_taxa"))
        .args(["demo", "--out", path_str(&dir.path().join("fallback")), "--inat-models", path_str(empty.path()), "--weights", path_str(&weights), "--real-data", path_str(empty.path())])
        .args(["--species", "4", "--epochs", "1", "--show", "1", "--json"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("synthetic field guide") && stderr.contains("fetch-real-data.sh") && stderr.contains("fetch-inat-models.sh"), "{stderr}");
    let fallback: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(fallback["input"], "synthetic");
}
