//! The iNaturalist JSON loader (`taxa_trainer::data::load_inat`), then the
//! class pruning and stratified split that training runs on what it returns.
//!
//! The input is the train JSON; after a NUL byte (never in JSON text) comes
//! the val JSON. Both are written to files, as the loader reads paths.
#![no_main]

use libfuzzer_sys::fuzz_target;
use taxa_trainer::data::{load_inat, prepare};

fuzz_target!(|data: &[u8]| {
    taxa_fuzz::init();
    let dir = taxa_fuzz::scratch_dir();
    let (train, val) = match data.iter().position(|&b| b == 0) {
        Some(i) => (&data[..i], Some(&data[i + 1..])),
        None => (data, None),
    };
    let train_path = dir.join("train.json");
    std::fs::write(&train_path, train).expect("scratch file");
    let val_path = val.map(|val| {
        let path = dir.join("val.json");
        std::fs::write(&path, val).expect("scratch file");
        path
    });
    let raw = match load_inat(dir, &train_path, val_path.as_deref(), None) {
        Ok(raw) => raw,
        Err(e) => {
            let message = e.to_string();
            assert!(message.contains("train.json") || message.contains("val.json"), "error names no file: {message}");
            return;
        }
    };
    let classes = raw.classes.len();
    for s in raw.train.iter().chain(raw.val.iter().flatten()) {
        assert!(s.class < classes, "sample class {} of {classes}", s.class);
    }
    for (min_images, fraction, seed) in [(0, 0.1, 7), (2, 0.0, 1), (3, 0.5, 0)] {
        if let Ok(p) = prepare(raw.clone(), min_images, fraction, seed) {
            assert!(p.classes.len() >= 2);
            for s in p.train.iter().chain(&p.val) {
                assert!(s.class < p.classes.len(), "prepared class {} of {}", s.class, p.classes.len());
            }
            if raw.val.is_none() {
                let kept = p.train.len() + p.val.len();
                assert!(kept <= raw.train.len(), "the split made {kept} images out of {}", raw.train.len());
            }
        }
    }
});
