//! The trainer's field cases (`tests/field-cases/`): each fixture driven
//! through the `taxa` binary as a user runs it, plus the rest of its kind.
//! Training writes only into temporary folders, never into the fixtures.

use std::ffi::OsString;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Output, Stdio};

use serde_json::{Value, json};
use taxa_trainer::train::{DataSource, Mode, TrainConfig, train};

fn case(relative: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/field-cases").join(relative)
}

fn taxa<I: IntoIterator<Item = S>, S: Into<OsString>>(args: I) -> Output {
    let args: Vec<OsString> = args.into_iter().map(Into::into).collect();
    Command::new(env!("CARGO_BIN_EXE_taxa")).args(&args).output().expect("taxa runs")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn s(p: &Path) -> &str {
    p.to_str().expect("UTF-8 path")
}

/// `taxa train DATA… --epochs 1 --input-size 32 --device cpu` into `dir/<name>`, plus `extra`
/// (which may set `--epochs`).
fn train_cli(dir: &Path, name: &str, data: &[&str], extra: &[&str]) -> Output {
    let mut args: Vec<String> = vec!["train".into()];
    args.extend(data.iter().map(|a| a.to_string()));
    if !extra.contains(&"--epochs") {
        args.extend(["--epochs", "1"].map(String::from));
    }
    args.extend(["--input-size", "32", "--device", "cpu"].map(String::from));
    args.extend(["--cache-dir".into(), dir.join("cache").display().to_string(), "--out".into(), dir.join(name).display().to_string()]);
    args.extend(extra.iter().map(|a| a.to_string()));
    taxa(args)
}

fn assert_ok(output: &Output, what: &str) {
    assert!(output.status.success(), "{what} failed ({}):\nstdout:\n{}\nstderr:\n{}", output.status, text(&output.stdout), text(&output.stderr));
}

fn metrics(run: &Path) -> Vec<Value> {
    std::fs::read_to_string(run.join("metrics.jsonl")).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect()
}

/// Classifies `image` with `bundle` through the binary and returns the
/// top score; fails unless every score is finite.
fn classify_top_score(bundle: &Path, image: &Path) -> f64 {
    let output = taxa(["classify", "--model", s(bundle), "--top-k", "3", "--json", s(image)]);
    assert_ok(&output, "classify");
    let results: Value = serde_json::from_slice(&output.stdout).unwrap();
    let predictions = results[0]["predictions"].as_array().unwrap_or_else(|| panic!("predictions in {results}"));
    assert!(!predictions.is_empty());
    for p in predictions {
        let score = p["score"].as_f64().unwrap_or_else(|| panic!("a numeric score in {p}"));
        assert!(score.is_finite() && (0.0..=1.0).contains(&score), "{p}");
    }
    predictions[0]["score"].as_f64().unwrap()
}

const INAT2019: &str = "batchnorm-last-batch-of-one/inat2019_tiny";
const INAT2021: &str = "inat-2021-layout/inat2021_tiny";
const PHOTO2019: &str = "batchnorm-last-batch-of-one/inat2019_tiny/train_val2019/Amphibians/0/0cb1e29c658cda1495e60af593bd04cf.jpg";

fn config(data: DataSource, dir: &Path, batch_size: usize) -> TrainConfig {
    TrainConfig {
        data,
        epochs: 1,
        batch_size,
        input_size: 32,
        device: "cpu".into(),
        mixed_precision: false,
        cache_dir: dir.join("cache"),
        ..Default::default()
    }
}

fn inat_source(path: &Path, official_val: bool) -> DataSource {
    DataSource::inat(&taxa_trainer::data::find_inat(path, false).unwrap(), official_val)
}

// ---------------------------------------------------------------------------
// batchnorm-last-batch-of-one

#[test]
fn batchnorm_last_batch_of_one_gives_a_finite_model() {
    let dir = tempfile::tempdir().unwrap();
    let output = train_cli(dir.path(), "run16", &["--inat", s(&case(INAT2019))], &["--arch", "shufflenet_v2_x0_5", "--batch-size", "16"]);
    assert_ok(&output, "train at batch 16");
    let stdout = text(&output.stdout);
    assert!(stdout.contains("33 training / 3 validation images, 0 skipped"), "{stdout}");
    assert!(text(&output.stderr).contains("iNaturalist 2019 layout"), "says which layout: {}", text(&output.stderr));
    let run = dir.path().join("run16");
    let m = metrics(&run);
    assert!(m[0]["val_loss"].as_f64().is_some_and(f64::is_finite), "finite validation loss: {}", m[0]);
    assert!(m[0]["train_loss"].as_f64().is_some_and(f64::is_finite), "{}", m[0]);
    classify_top_score(&run.join("best.onnx"), &case(PHOTO2019));
    classify_top_score(&run.join("final.onnx"), &case(PHOTO2019));
}

/// The rest of the kind: batch sizes whose last batch is 1 or 3 images, and
/// the finetune and frozen paths (cached features or not).
#[test]
fn every_batch_size_and_mode_gives_a_finite_model() {
    let dir = tempfile::tempdir().unwrap();
    let data = inat_source(&case(INAT2019), false);
    let photo = case(PHOTO2019);
    let check = |config: TrainConfig, name: &str| {
        let summary = train(config, &dir.path().join(name), false).unwrap_or_else(|e| panic!("{name}: {e:#}"));
        let last = summary.history.last().unwrap();
        assert!(last.val_loss.is_finite() && last.train_loss.is_finite(), "{name}: {last:?}");
        let classifier = taxa_core::Classifier::load(&summary.final_bundle).unwrap();
        let result = classifier.classify_file(&photo, &Default::default()).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert!(result.predictions.iter().all(|p| p.score.is_finite()), "{name}");
    };
    // 33 training images: a last batch of 1 at batch 8 (as at 16 and 32), of 3 at 15 (as at 10).
    for batch_size in [8, 15] {
        check(config(data.clone(), dir.path(), batch_size), &format!("scratch-{batch_size}"));
    }
    let weights = dir.path().join("scratch-8/checkpoint-1.safetensors");
    for (mode, cache_features) in [(Mode::Finetune, true), (Mode::Frozen, true), (Mode::Frozen, false)] {
        let mut c = config(data.clone(), dir.path(), 16);
        c.mode = mode;
        c.weights = Some(weights.clone());
        c.cache_features = cache_features;
        check(c, &format!("{mode:?}-{cache_features}"));
    }
}

#[test]
fn data_smaller_than_one_batch_trains_with_a_smaller_batch() {
    let dir = tempfile::tempdir().unwrap();
    let output = train_cli(dir.path(), "run", &["--inat", s(&case(INAT2019))], &["--batch-size", "64"]);
    assert_ok(&output, "train with 33 images at batch 64");
    let stderr = text(&output.stderr);
    assert!(stderr.contains("fewer than --batch-size 64") && stderr.contains("one batch of 33"), "{stderr}");
    assert!(metrics(&dir.path().join("run"))[0]["val_loss"].as_f64().is_some_and(f64::is_finite));
    classify_top_score(&dir.path().join("run/best.onnx"), &case(PHOTO2019));

    // One training image cannot give BatchNorm statistics: a clear error, no bundle.
    let one = dir.path().join("one");
    let files = make_inat(&one, Year::Y2019);
    let mut train_json: Value = serde_json::from_slice(&std::fs::read(&files.0).unwrap()).unwrap();
    train_json["annotations"].as_array_mut().unwrap().truncate(1);
    std::fs::write(&files.0, serde_json::to_vec(&train_json).unwrap()).unwrap();
    let output = train_cli(dir.path(), "run-one", &["--inat", s(&one), "--official-val"], &["--batch-size", "16"]);
    assert_eq!(output.status.code(), Some(1), "{}", text(&output.stderr));
    let stderr = text(&output.stderr);
    assert!(stderr.contains("1 usable training image(s)") && stderr.contains("at least 2"), "{stderr}");
    assert!(!dir.path().join("run-one/best.onnx").exists() && !dir.path().join("run-one/final.onnx").exists());
}

#[test]
fn a_non_finite_loss_stops_training_without_a_broken_bundle() {
    let dir = tempfile::tempdir().unwrap();
    // An absurd learning rate: the first step makes the weights infinite.
    let output = train_cli(dir.path(), "run", &["--inat", s(&case(INAT2019))], &["--batch-size", "16", "--lr", "1e300"]);
    assert_eq!(output.status.code(), Some(1), "stdout:\n{}\nstderr:\n{}", text(&output.stdout), text(&output.stderr));
    let stderr = text(&output.stderr);
    assert!(stderr.contains("epoch 1/1:") && stderr.contains("no model was saved"), "{stderr}");
    assert!(stderr.contains("NaN") || stderr.contains("inf"), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    let run = dir.path().join("run");
    for file in ["best.onnx", "final.onnx", "checkpoint-1.safetensors", "state.json"] {
        assert!(!run.join(file).exists(), "{file} written from broken weights");
    }

    // A learning rate that explodes in epoch 2 (step schedule, absurd gamma):
    // epoch 1's bundle is kept and works, epoch 2 writes nothing.
    let output = train_cli(
        dir.path(),
        "run2",
        &["--inat", s(&case(INAT2019))],
        &["--batch-size", "11", "--epochs", "2", "--schedule", "step", "--step-epochs", "1", "--gamma", "1e300"],
    );
    assert_eq!(output.status.code(), Some(1), "{}", text(&output.stderr));
    let stderr = text(&output.stderr);
    assert!(stderr.contains("epoch 2/2:") && stderr.contains("is kept"), "{stderr}");
    let run = dir.path().join("run2");
    assert!(!run.join("final.onnx").exists(), "no final bundle from broken weights");
    assert!(!run.join("checkpoint-2.safetensors").exists());
    assert_eq!(metrics(&run).len(), 1, "only the good epoch is logged");
    classify_top_score(&run.join("best.onnx"), &case(PHOTO2019));
    let state: Value = serde_json::from_slice(&std::fs::read(run.join("state.json")).unwrap()).unwrap();
    assert_eq!(state["epochs_done"], 1);
}

// ---------------------------------------------------------------------------
// inat-2021-layout (and the other competition years)

#[test]
fn inat_2021_layout_trains_and_keeps_common_names() {
    let dir = tempfile::tempdir().unwrap();
    let root = case(INAT2021);
    let train_json = std::fs::read_to_string(root.join("train.json")).unwrap();
    assert!(train_json.contains("\"latitude\": null"), "the fixture has null coordinates");

    let output = train_cli(dir.path(), "run", &["--inat", s(&root)], &["--batch-size", "11"]);
    assert_ok(&output, "train on the 2021 layout");
    assert!(text(&output.stdout).contains("33 training / 3 validation images, 0 skipped"), "{}", text(&output.stdout));
    let stderr = text(&output.stderr);
    assert!(stderr.contains("iNaturalist 2021 layout") && stderr.contains("train.json (training), val.json (validation)"), "{stderr}");

    let info = taxa(["inspect", s(&dir.path().join("run/best.onnx")), "--json"]);
    assert_ok(&info, "inspect");
    let info: Value = serde_json::from_slice(&info.stdout).unwrap();
    let mut common: Vec<&str> = info["taxonomy"].as_array().unwrap().iter().map(|t| t["common_name"].as_str().unwrap_or("missing")).collect();
    common.sort();
    assert_eq!(common, ["Common Daisy", "Common Frog", "Common Toad"], "{}", info["taxonomy"]);
    assert_eq!(info["taxonomy"][0]["family"], "Ranidae");
    assert!(info["provenance"].to_string().contains("iNaturalist 2021"), "{}", info["provenance"]);

    // The training JSON file instead of the folder.
    let output = train_cli(dir.path(), "run-file", &["--inat", s(&root.join("train.json"))], &["--batch-size", "11"]);
    assert_ok(&output, "train on train.json");
    assert!(text(&output.stdout).contains("33 training / 3 validation images, 0 skipped"), "{}", text(&output.stdout));

    // The official validation file, and the train_mini choice.
    let output = train_cli(dir.path(), "run-val", &["--inat", s(&root), "--official-val"], &["--batch-size", "10"]);
    assert_ok(&output, "--official-val");
    assert!(text(&output.stdout).contains("30 training / 6 validation images, 0 skipped"), "{}", text(&output.stdout));
    let output = train_cli(dir.path(), "run-mini", &["--inat", s(&root), "--train-mini", "--official-val"], &["--batch-size", "10"]);
    assert_ok(&output, "--train-mini");
    assert!(text(&output.stderr).contains("iNaturalist 2021 (train_mini) layout") && text(&output.stderr).contains("train_mini.json (training)"), "{}", text(&output.stderr));
    assert!(text(&output.stdout).contains("30 training / 6 validation images"), "{}", text(&output.stdout));
}

#[derive(Clone, Copy, PartialEq)]
enum Year {
    Y2017,
    Y2018,
    Y2019,
}

/// Writes a small iNaturalist set of an older year from the 2021 fixture's
/// images and categories, with that year's file names, image folders and
/// category fields (visipedia/inat_comp READMEs). Returns (train, val) JSON paths.
fn make_inat(out: &Path, year: Year) -> (PathBuf, PathBuf) {
    let source = case(INAT2021);
    let (tag, images_dir) = match year {
        Year::Y2017 => ("2017", "train_val_images"),
        Year::Y2018 => ("2018", "train_val2018"),
        Year::Y2019 => ("2019", "train_val2019"),
    };
    let read = |name: &str| -> Value { serde_json::from_slice(&std::fs::read(source.join(name)).unwrap()).unwrap() };
    let full_categories = read("train.json")["categories"].clone();
    // 2017/2018 supercategories are taxon names; 2019 folders use iconic group names.
    let group = |c: &Value| -> String {
        match (year, c["kingdom"].as_str()) {
            (Year::Y2019, _) => c["supercategory"].as_str().unwrap().to_string(),
            (_, Some("Plantae")) => "Plantae".into(),
            _ => c["class"].as_str().unwrap().to_string(),
        }
    };
    let categories: Vec<Value> = full_categories
        .as_array()
        .unwrap()
        .iter()
        .map(|c| match year {
            Year::Y2017 => json!({"id": c["id"], "name": c["name"], "supercategory": group(c)}),
            // Obfuscated names as shipped; the real ones come in categories.json.
            Year::Y2018 => json!({"id": c["id"], "name": c["id"].to_string(), "supercategory": group(c)}),
            Year::Y2019 => json!({"id": c["id"], "name": c["name"], "kingdom": c["kingdom"], "phylum": c["phylum"], "class": c["class"],
                                   "order": c["order"], "family": c["family"], "genus": c["genus"]}),
        })
        .collect();
    let by_id = |id: &Value| full_categories.as_array().unwrap().iter().find(|c| &c["id"] == id).unwrap().clone();
    let mut paths = Vec::new();
    for split in ["train", "val"] {
        let mut file = read(&format!("{split}.json"));
        let annotations = file["annotations"].clone();
        for (image, annotation) in file["images"].as_array_mut().unwrap().iter_mut().zip(annotations.as_array().unwrap()) {
            assert_eq!(image["id"], annotation["image_id"]);
            let category = by_id(&annotation["category_id"]);
            let from = source.join(image["file_name"].as_str().unwrap());
            let leaf = match year {
                Year::Y2017 => category["name"].as_str().unwrap().to_string(),
                _ => category["id"].to_string(),
            };
            let name = format!("{images_dir}/{}/{leaf}/{}", group(&category), from.file_name().unwrap().to_str().unwrap());
            std::fs::create_dir_all(out.join(&name).parent().unwrap()).unwrap();
            std::fs::copy(&from, out.join(&name)).unwrap();
            *image = json!({"id": image["id"], "width": image["width"], "height": image["height"], "file_name": name, "license": 1, "rights_holder": "synthetic"});
        }
        file["categories"] = Value::Array(categories.clone());
        let path = out.join(format!("{split}{tag}.json"));
        std::fs::write(&path, serde_json::to_vec(&file).unwrap()).unwrap();
        paths.push(path);
    }
    if year == Year::Y2018 {
        let named: Vec<Value> = full_categories
            .as_array()
            .unwrap()
            .iter()
            .map(|c| json!({"id": c["id"], "name": c["name"], "supercategory": group(c), "kingdom": c["kingdom"], "phylum": c["phylum"],
                             "class": c["class"], "order": c["order"], "family": c["family"], "genus": c["genus"]}))
            .collect();
        std::fs::write(out.join("categories.json"), serde_json::to_vec(&named).unwrap()).unwrap();
    }
    (paths.remove(0), paths.remove(0))
}

fn inspect_json(bundle: &Path) -> Value {
    let info = taxa(["inspect", s(bundle), "--json"]);
    assert_ok(&info, "inspect");
    serde_json::from_slice(&info.stdout).unwrap()
}

#[test]
fn every_competition_years_layout_trains() {
    let dir = tempfile::tempdir().unwrap();
    for (year, name) in [(Year::Y2017, "2017"), (Year::Y2018, "2018"), (Year::Y2019, "2019")] {
        let data = dir.path().join(format!("inat{name}"));
        make_inat(&data, year);
        let output = train_cli(dir.path(), &format!("run{name}"), &["--inat", s(&data), "--official-val"], &["--batch-size", "10"]);
        assert_ok(&output, name);
        let stderr = text(&output.stderr);
        assert!(stderr.contains(&format!("iNaturalist {name} layout")), "{stderr}");
        assert!(text(&output.stdout).contains("30 training / 6 validation images, 0 skipped"), "{name}: {}", text(&output.stdout));
        let info = inspect_json(&dir.path().join(format!("run{name}/best.onnx")));
        let taxonomy = info["taxonomy"].as_array().unwrap();
        let labels: Vec<&str> = info["labels"].as_array().unwrap().iter().map(|l| l.as_str().unwrap()).collect();
        assert_eq!(labels, ["Rana temporaria", "Bufo bufo", "Bellis perennis"], "{name}: real names (2018: from categories.json)");
        match year {
            Year::Y2017 => {
                // Only the supercategory: kingdom, phylum and class from it.
                assert_eq!((taxonomy[0]["kingdom"].as_str(), taxonomy[0]["class"].as_str()), (Some("Animalia"), Some("Amphibia")), "{taxonomy:?}");
                assert_eq!(taxonomy[2]["kingdom"], "Plantae");
                assert!(taxonomy[0]["family"].is_null());
            }
            Year::Y2018 => {
                assert!(stderr.contains("category names from categories.json"), "{stderr}");
                assert_eq!(taxonomy[1]["family"], "Bufonidae");
            }
            Year::Y2019 => assert_eq!(taxonomy[2]["order"], "Asterales"),
        }
    }
    // The 2019 fixture through its training file.
    let output = train_cli(dir.path(), "run2019-fixture", &["--inat", s(&case(INAT2019).join("train2019.json")), "--official-val"], &["--batch-size", "10"]);
    assert_ok(&output, "2019 fixture by file");
    assert!(text(&output.stdout).contains("30 training / 6 validation images, 0 skipped"), "{}", text(&output.stdout));
}

#[test]
fn unknown_dataset_layouts_say_what_is_expected_and_what_is_there() {
    let dir = tempfile::tempdir().unwrap();
    // A folder with neither layout.
    let other = dir.path().join("downloads");
    std::fs::create_dir_all(other.join("photos")).unwrap();
    std::fs::write(other.join("notes.txt"), "x").unwrap();
    std::fs::write(other.join("train2021.json.tar.gz"), "x").unwrap();
    let output = train_cli(dir.path(), "run", &["--inat", s(&other)], &[]);
    assert_eq!(output.status.code(), Some(1));
    let stderr = text(&output.stderr);
    for needle in ["train.json", "train_mini.json", "val.json", "train2019.json", "train2018.json", "train2017.json", "notes.txt", "photos/", "train2021.json.tar.gz"] {
        assert!(stderr.contains(needle), "{needle} missing from: {stderr}");
    }
    assert_eq!(stderr.matches("error:").count(), 1, "{stderr}");

    // A path that does not exist: the OS error once.
    let output = train_cli(dir.path(), "run", &["--inat", s(&dir.path().join("nowhere"))], &[]);
    let stderr = text(&output.stderr);
    assert_eq!((output.status.code(), stderr.matches("os error 2").count()), (Some(1), 1), "{stderr}");
    assert!(stderr.contains("nowhere") && stderr.contains("train2019.json"), "names the path and the layouts: {stderr}");

    // The validation file instead of the training file.
    let output = train_cli(dir.path(), "run", &["--inat", s(&case(INAT2021).join("val.json"))], &[]);
    let stderr = text(&output.stderr);
    assert!(output.status.code() == Some(1) && stderr.contains("validation file") && stderr.contains("train.json"), "{stderr}");

    // --official-val without the layout's validation file names it.
    let only_train = dir.path().join("only-train");
    std::fs::create_dir_all(&only_train).unwrap();
    std::fs::copy(case(INAT2021).join("train.json"), only_train.join("train.json")).unwrap();
    let output = train_cli(dir.path(), "run", &["--inat", s(&only_train), "--official-val"], &[]);
    let stderr = text(&output.stderr);
    assert!(output.status.code() == Some(1) && stderr.contains("val.json") && stderr.contains("iNaturalist 2021"), "{stderr}");

    // An iNaturalist folder given to --folder, and a folder-per-class given to --inat.
    let output = train_cli(dir.path(), "run", &["--folder", s(&case(INAT2021))], &[]);
    let stderr = text(&output.stderr);
    assert!(output.status.code() == Some(1) && stderr.contains("use --inat"), "{stderr}");
    let output = train_cli(dir.path(), "run", &["--inat", s(&case("training-crop-drops-images/data64"))], &[]);
    let stderr = text(&output.stderr);
    assert!(output.status.code() == Some(1) && stderr.contains("use --folder") && stderr.contains("blue/"), "{stderr}");
    assert!(!dir.path().join("run/best.onnx").exists());
}

// ---------------------------------------------------------------------------
// cli-broken-pipe

/// A closed pipe must end taxa quietly: exit 0 or 141, or death by SIGPIPE
/// (what a shell reports as 141) — never a panic (101).
#[cfg(unix)]
fn assert_quiet_stop(status: ExitStatus, stderr: &[u8], what: &str, stderr_may_have_progress: bool) {
    use std::os::unix::process::ExitStatusExt;
    let quiet = matches!(status.code(), Some(0) | Some(141)) || status.signal() == Some(13);
    let stderr = text(stderr);
    assert!(quiet, "{what}: {status}\n{stderr}");
    assert!(!stderr.contains("panicked") && !stderr.contains("Broken pipe") && !stderr.contains("error:"), "{what}: {stderr}");
    if !stderr_may_have_progress {
        assert!(stderr.is_empty(), "{what}: nothing on stderr, got {stderr}");
    }
}

/// Runs taxa with stdout into a pipe whose reading end is already closed:
/// every print hits the closed pipe.
#[cfg(unix)]
fn run_into_closed_stdout(args: &[&str]) -> (ExitStatus, Vec<u8>) {
    let (reader, writer) = std::io::pipe().unwrap();
    drop(reader);
    let output = Command::new(env!("CARGO_BIN_EXE_taxa")).args(args).stdout(writer).stderr(Stdio::piped()).output().unwrap();
    (output.status, output.stderr)
}

/// Runs taxa with stdout into a pipe that is closed after one line, as
/// `| head -1` does; returns the line too.
#[cfg(unix)]
fn run_into_pipe_closed_after_one_line(args: &[String]) -> (ExitStatus, Vec<u8>, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_taxa")).args(args).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
    let mut first = String::new();
    BufReader::new(child.stdout.take().unwrap()).read_line(&mut first).unwrap();
    let mut stderr = Vec::new();
    child.stderr.take().unwrap().read_to_end(&mut stderr).unwrap();
    (child.wait().unwrap(), stderr, first)
}

/// A bundle with many labels, so `inspect` prints far more than a pipe holds.
fn many_label_bundle(path: &Path, classes: usize) {
    use taxa_core::{BundleMetadata, HigherRanks, OutputKind, PreprocessContract, Taxonomy};
    let vs = tch::nn::VarStore::new(tch::Device::Cpu);
    let net = taxa_trainer::models::Network::new(&vs.root(), taxa_trainer::models::spec_for("shufflenet_v2_x0_5", classes as i64).unwrap());
    let contract = PreprocessContract::imagenet_sized(32);
    let model = taxa_trainer::export::export_onnx(&net, &contract, Default::default()).unwrap();
    let taxonomy: Vec<Taxonomy> = (0..classes)
        .map(|i| Taxonomy {
            ranks: HigherRanks::from_lineage(["Animalia".into(), "Chordata".into(), "Amphibia".into(), "Anura".into(), format!("Familia{i}idae"), format!("Genus{i}")]),
            species: format!("Genus{i} species{i}"),
            common_name: Some(format!("Frog number {i}")),
        })
        .collect();
    let metadata = BundleMetadata {
        labels: taxonomy.iter().map(|t| t.species.clone()).collect(),
        taxonomy: Some(taxonomy),
        preprocess: contract,
        output: OutputKind::Logits,
        architecture: Some("shufflenet_v2_x0_5".into()),
        provenance: None,
        non_taxa: Vec::new(),
    };
    taxa_core::bundle::write_bundle(path, model, &metadata).unwrap();
}

#[cfg(unix)]
#[test]
fn printing_commands_stop_quietly_on_a_closed_pipe() {
    let dir = tempfile::tempdir().unwrap();
    let d = |name: &str| dir.path().join(name).display().to_string();
    let inat = case(INAT2019).display().to_string();
    let photo = case(PHOTO2019).display().to_string();
    let train = |out: &str| -> Vec<String> {
        ["train", "--inat", &inat, "--epochs", "1", "--input-size", "32", "--batch-size", "11", "--device", "cpu", "--cache-dir", &d("cache"), "--out", &d(out)]
            .map(String::from)
            .to_vec()
    };

    // train: the summary to a closed stdout (after the bundles are written),
    // then the progress lines to a closed stderr.
    let args = train("run");
    let (status, stderr) = run_into_closed_stdout(&args.iter().map(String::as_str).collect::<Vec<_>>());
    assert_quiet_stop(status, &stderr, "train | (closed)", true);
    assert!(text(&stderr).contains("epoch 1/1"), "progress still reaches stderr: {}", text(&stderr));
    let bundle = dir.path().join("run/best.onnx");
    assert!(bundle.exists());
    let (reader, writer) = std::io::pipe().unwrap();
    drop(reader);
    let output = Command::new(env!("CARGO_BIN_EXE_taxa")).args(train("run-stderr")).stderr(writer).output().unwrap();
    assert_quiet_stop(output.status, b"", "train 2>| (closed)", false);

    // Every printing command into a pipe that is already closed.
    let many = dir.path().join("many.onnx");
    many_label_bundle(&many, 5000);
    let checkpoint = d("run/checkpoint-1.safetensors");
    let commands: Vec<Vec<String>> = vec![
        vec!["classify".into(), "--model".into(), d("run/best.onnx"), photo.clone()],
        vec!["classify".into(), "--model".into(), d("run/best.onnx"), "--json".into(), photo.clone()],
        vec!["inspect".into(), d("run/best.onnx")],
        vec!["inspect".into(), d("run/best.onnx"), "--json".into()],
        vec!["bench".into(), "--model".into(), d("run/best.onnx"), "--runs".into(), "1".into(), "--warmup".into(), "0".into()],
        vec!["bench".into(), "--model".into(), d("run/best.onnx"), "--runs".into(), "1".into(), "--warmup".into(), "0".into(), "--json".into()],
        vec!["devices".into()],
        vec!["devices".into(), "--json".into()],
        vec!["synth".into(), "--out".into(), d("synth"), "--species".into(), "2".into(), "--max-images".into(), "3".into(), "--min-images".into(), "3".into(), "--size".into(), "32".into()],
        vec!["export".into(), "--checkpoint".into(), checkpoint.clone(), "--input-size".into(), "32".into(), "--out".into(), d("exported.onnx")],
        vec!["export".into(), "--checkpoint".into(), checkpoint, "--input-size".into(), "32".into(), "--out".into(), d("exported2.onnx"), "--json".into()],
        vec!["train-bench".into(), "--arch".into(), "shufflenet_v2_x0_5".into(), "--batch-size".into(), "2".into(), "--input-size".into(), "32".into(),
             "--steps".into(), "1".into(), "--warmup".into(), "0".into(), "--device".into(), "cpu".into()],
    ];
    for args in &commands {
        let (status, stderr) = run_into_closed_stdout(&args.iter().map(String::as_str).collect::<Vec<_>>());
        assert_quiet_stop(status, &stderr, &args.join(" "), false);
    }

    // Output far larger than a pipe holds, read one line at a time and then
    // closed: taxa is still writing when the pipe closes.
    let images: Vec<String> = std::iter::repeat_n(photo, 1500).collect();
    let big: Vec<Vec<String>> = vec![
        [vec!["classify".into(), "--model".into(), d("run/best.onnx"), "--top-k".into(), "3".into()], images.clone()].concat(),
        [vec!["classify".into(), "--model".into(), d("run/best.onnx"), "--top-k".into(), "3".into(), "--json".into()], images].concat(),
        vec!["inspect".into(), many.display().to_string()],
        vec!["inspect".into(), many.display().to_string(), "--json".into()],
    ];
    for args in &big {
        let full = Command::new(env!("CARGO_BIN_EXE_taxa")).args(args).output().unwrap();
        assert_ok(&full, &args[0]);
        assert!(full.stdout.len() > 256 * 1024, "{}: {} bytes do not overfill a pipe", args[0], full.stdout.len());
        let (status, stderr, first) = run_into_pipe_closed_after_one_line(args);
        assert!(!first.trim().is_empty(), "a first line");
        assert_quiet_stop(status, &stderr, &format!("{} … | head -1", args[..2].join(" ")), false);
    }
}

// ---------------------------------------------------------------------------
// training-crop-drops-images (core's crop arithmetic; the trainer must skip none)

#[test]
fn training_skips_no_image_of_any_size() {
    let dir = tempfile::tempdir().unwrap();
    for (folder, size) in [("data224", "224"), ("data64", "64")] {
        let run = dir.path().join(format!("run{size}"));
        let output = taxa([
            "train", "--folder", s(&case(&format!("training-crop-drops-images/{folder}"))), "--input-size", size, "--epochs", "1", "--batch-size", "4",
            "--device", "cpu", "--cache-dir", s(&dir.path().join("cache")), "--out", s(&run),
        ]);
        assert_ok(&output, folder);
        let stdout = text(&output.stdout);
        let skipped = std::fs::read_to_string(run.join("skipped.txt")).unwrap_or_default();
        assert!(stdout.contains("18 training / 2 validation images, 0 skipped"), "{folder}: {stdout}\nskipped.txt:\n{skipped}");
        assert!(!run.join("skipped.txt").exists(), "{folder}: no skipped.txt");
    }
}

// ---------------------------------------------------------------------------
// Images that fail to decode (tiff-planar-panic, truncated-jpeg-silent):
// whatever core decides about them, a training run finishes and every image
// it did not use is listed in skipped.txt with its reason.

#[test]
fn undecodable_images_are_skipped_and_listed_with_the_reason() {
    let dir = tempfile::tempdir().unwrap();
    for (n, folder) in ["tiff-planar-panic/train_folder", "truncated-jpeg-silent/train_folder"].into_iter().enumerate() {
        let root = case(folder);
        let total: usize = std::fs::read_dir(&root).unwrap().map(|class| std::fs::read_dir(class.unwrap().path()).unwrap().count()).sum();
        let run = dir.path().join(format!("run{n}"));
        let output = taxa([
            "train", "--folder", s(&root), "--epochs", "1", "--input-size", "32", "--batch-size", "4", "--device", "cpu",
            "--cache-dir", s(&dir.path().join("cache")), "--out", s(&run), "--json",
        ]);
        assert_ok(&output, folder);
        let summary: Value = serde_json::from_slice(&output.stdout).unwrap();
        let used = summary["train_images"].as_u64().unwrap() + summary["val_images"].as_u64().unwrap();
        let skipped = summary["skipped_images"].as_u64().unwrap();
        assert_eq!((used + skipped) as usize, total, "{folder}: every image used or skipped: {summary}");
        let listed = std::fs::read_to_string(run.join("skipped.txt")).unwrap_or_default();
        assert_eq!(listed.lines().count() as u64, skipped, "{folder}: {listed}");
        for line in listed.lines() {
            let (path, reason) = line.split_once('\t').unwrap_or_else(|| panic!("path<TAB>reason: {line}"));
            assert!(Path::new(path).starts_with(&root) && !reason.trim().is_empty(), "{folder}: {line}");
        }
    }
}

#[test]
fn truncated_photos_are_skipped_unless_allowed() {
    let dir = tempfile::tempdir().unwrap();
    let root = case("truncated-jpeg-silent/train_folder");
    let train = |name: &str, extra: &[&str]| {
        let run = dir.path().join(name);
        let mut args = vec!["train", "--folder", s(&root), "--epochs", "1", "--input-size", "32", "--batch-size", "4", "--device", "cpu", "--json"];
        let cache = dir.path().join("cache");
        args.extend(["--cache-dir", s(&cache), "--out", s(&run)]);
        args.extend(extra);
        let output = taxa(&args);
        assert_ok(&output, name);
        let summary: Value = serde_json::from_slice(&output.stdout).unwrap();
        (summary["skipped_images"].as_u64().unwrap(), std::fs::read_to_string(run.join("skipped.txt")).unwrap_or_default())
    };
    let (skipped, listed) = train("default", &[]);
    assert_eq!(skipped, 1, "{listed}");
    assert!(listed.contains("06_cut40.jpg") && listed.contains("truncated"), "{listed}");
    let (skipped, listed) = train("allowed", &["--allow-truncated"]);
    assert_eq!((skipped, listed.as_str()), (0, ""));
}

// train-folder-system-folders: what NAS boxes and macOS leave behind is
// neither a class nor a photo.
#[test]
fn system_folders_and_files_never_become_classes_or_skipped_photos() {
    let dir = tempfile::tempdir().unwrap();
    let root = case("train-folder-system-folders/ds");
    let run = dir.path().join("run");
    let output = taxa([
        "train", "--folder", s(&root), "--epochs", "1", "--arch", "shufflenet_v2_x0_5", "--input-size", "32", "--batch-size", "8",
        "--device", "cpu", "--cache-dir", s(&dir.path().join("cache")), "--out", s(&run), "--json",
    ]);
    assert_ok(&output, "train-folder-system-folders");
    let labels = inspect_json(&run.join("best.onnx"))["labels"].clone();
    assert_eq!(labels, serde_json::json!(["Hyla arborea", "Rana temporaria"]));
    let skipped = std::fs::read_to_string(run.join("skipped.txt")).unwrap_or_default();
    assert!(!skipped.contains("._") && !skipped.contains("@eaDir") && !skipped.contains(".DS_Store"), "{skipped}");
}

/// `taxa train --folder root --json` (1 epoch, 32 px) into `dir/run`: the
/// summary, stderr, and `skipped.txt` as (file name, reason) lines.
fn train_folder(dir: &Path, root: &Path) -> (Value, String, Vec<(String, String)>) {
    let run = dir.join("run");
    let mut args: Vec<OsString> = vec!["train".into(), "--folder".into(), root.into()];
    args.extend(["--epochs", "1", "--arch", "shufflenet_v2_x0_5", "--input-size", "32", "--batch-size", "8", "--device", "cpu"].map(OsString::from));
    args.extend(["--cache-dir".into(), dir.join("cache").into(), "--out".into(), run.clone().into(), "--json".into()]);
    let output = taxa(args);
    assert_ok(&output, &format!("train --folder {}", root.display()));
    let summary: Value = serde_json::from_slice(&output.stdout).unwrap();
    let skipped = std::fs::read_to_string(run.join("skipped.txt")).unwrap_or_default();
    let skipped = skipped
        .lines()
        .map(|l| {
            let (path, why) = l.split_once('\t').unwrap_or_else(|| panic!("path<TAB>reason: {l}"));
            (Path::new(path).file_name().unwrap().to_string_lossy().into_owned(), why.to_string())
        })
        .collect();
    (summary, text(&output.stderr), skipped)
}

/// Every file under `root`'s class folders, system entries aside.
fn user_files(root: &Path) -> usize {
    let system = |p: &PathBuf| p.strip_prefix(root).unwrap().components().any(|c| c.as_os_str().to_string_lossy().starts_with('.') || c.as_os_str() == "Thumbs.db");
    walk(root).into_iter().filter(|p| !system(p)).count()
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    std::fs::read_dir(dir).unwrap().flat_map(|e| {
        let path = e.unwrap().path();
        if path.is_dir() { walk(&path) } else { vec![path] }
    }).collect()
}

// train-folder-silent-drops/heic: iPhone HEIC photos are listed with the
// format named; a class left without photos is named, in the summary too.
#[test]
fn heic_photos_are_listed_and_a_class_without_photos_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let root = case("train-folder-silent-drops/heic");
    let (summary, stderr, skipped) = train_folder(dir.path(), &root);
    assert_eq!(inspect_json(&dir.path().join("run/best.onnx"))["labels"], json!(["Bufo bufo", "Rana temporaria"]));
    assert_eq!(summary["classes_without_photos"], json!(["Hyla arborea"]), "{summary}");
    assert!(stderr.contains("class \"Hyla arborea\" has no photo taxa reads"), "{stderr}");
    assert_eq!(skipped.len(), 15, "10 .HEIC in Hyla arborea, 5 .heic in Rana temporaria: {skipped:?}");
    assert!(skipped.iter().all(|(name, why)| name.to_lowercase().ends_with(".heic") && why.contains("HEIC") && why.contains("JPEG")), "{skipped:?}");
    let used = summary["train_images"].as_u64().unwrap() + summary["val_images"].as_u64().unwrap();
    assert_eq!(used as usize + skipped.len(), user_files(&root), "every file used or listed");
    assert_eq!(summary["skipped_images"], json!(15));
}

// train-folder-silent-drops/nested: photos in subfolders of a class folder
// belong to it, including a class whose photos are all in a subfolder.
#[test]
fn photos_in_subfolders_belong_to_their_class() {
    let dir = tempfile::tempdir().unwrap();
    let root = case("train-folder-silent-drops/nested");
    let (summary, _, skipped) = train_folder(dir.path(), &root);
    assert_eq!(inspect_json(&dir.path().join("run/best.onnx"))["labels"], json!(["Bufo bufo", "Hyla arborea", "Rana temporaria"]));
    let used = summary["train_images"].as_u64().unwrap() + summary["val_images"].as_u64().unwrap();
    assert_eq!((used as usize, skipped.len()), (user_files(&root), 0), "{summary}");
    assert_eq!(summary["classes_without_photos"], json!([]));
}

// train-folder-non-utf8-class-names: Latin-1 folder names (as an old zip
// extracts them) become distinct, readable labels with a note; every photo
// of any extension is used, and the rest is listed with its reason.
#[cfg(unix)]
#[test]
fn latin1_class_folders_get_readable_distinct_labels() {
    use std::os::unix::ffi::OsStrExt;
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("ds");
    let fixture = case("train-folder-non-utf8-class-names/ds");
    for file in walk(&fixture) {
        let relative = file.strip_prefix(&fixture).unwrap();
        let target = root.join(relative);
        std::fs::create_dir_all(target.parent().unwrap()).unwrap();
        std::fs::copy(&file, &target).unwrap();
    }
    // What make.sh does: the names an old zip extracts, in Latin-1 bytes.
    std::fs::rename(root.join("epervier-latin1-src"), root.join(std::ffi::OsStr::from_bytes(b"\xc9pervier latin1"))).unwrap();
    std::fs::rename(root.join("gruenspecht-latin1-src"), root.join(std::ffi::OsStr::from_bytes(b"Gr\xfcnspecht latin1"))).unwrap();
    let (summary, stderr, skipped) = train_folder(&dir.path().join("out"), &root);
    let labels = inspect_json(&dir.path().join("out/run/best.onnx"))["labels"].clone();
    assert_eq!(labels, json!(["Grünspecht latin1", "Rana temporaria", "Épervier latin1"]));
    assert!(stderr.contains("read as Latin-1: \"Épervier latin1\"") && stderr.contains("read as Latin-1: \"Grünspecht latin1\""), "{stderr}");
    let mut listed: Vec<&str> = skipped.iter().map(|(name, _)| name.as_str()).collect();
    listed.sort();
    assert_eq!(listed, ["IMG_2.AAE", "empty.jpg"], "{skipped:?}");
    assert!(skipped.iter().all(|(_, why)| why.contains("unrecognised image format") || why.contains("empty")), "{skipped:?}");
    let used = summary["train_images"].as_u64().unwrap() + summary["val_images"].as_u64().unwrap();
    assert_eq!(used as usize + skipped.len(), user_files(&root), "every file used or listed: {summary}");
}

// jpeg-reduced-decode-drift: `taxa train` caches the pixels `taxa classify`
// and the phones decode (the reduced decode where it is taken, the full one
// elsewhere), so a model is validated on what it is served.
#[test]
fn the_training_cache_holds_the_pixels_classify_decodes() {
    use taxa_core::{DecodeOptions, PreprocessContract, decode_image_sized};
    use taxa_trainer::data::{Sample, build_cache};
    let inat = std::env::var_os("TAXA_INAT_MODELS_DIR").map(PathBuf::from).unwrap_or_else(|| case("../../.cache/inat-models"));
    // owl and parrot are 4:4:4 (reduced at 64 px), the cat 4:2:0 (decoded in full).
    let samples: Vec<Sample> = ["owl.jpg", "parrot.jpg", "cat_720p.jpg"].iter().map(|p| Sample { path: inat.join(p), class: 0 }).collect();
    let dir = tempfile::tempdir().unwrap();
    let contract = PreprocessContract::imagenet_sized(64);
    let cache = build_cache(&samples, &contract, dir.path(), "photos", false, false).unwrap();
    let mut reductions = Vec::new();
    for (slot, sample) in cache.usable(&samples) {
        let sized = decode_image_sized(&std::fs::read(&sample.path).unwrap(), &DecodeOptions::default(), &contract).unwrap();
        reductions.push(sized.reduction);
        assert!(cache.pixels(slot) == sized.resize_to_input(&contract).unwrap().0.as_slice(), "{}", sample.path.display());
    }
    assert_eq!(reductions, [4, 4, 1], "both decode paths are covered");
}

// training-best-epoch-ties: to compare the kept epoch with the others on
// photos from another source (bench/best_epoch.py), every epoch's weights
// can be kept and exported.
#[test]
fn kept_checkpoints_export_to_bundles_of_their_epoch() {
    let dir = tempfile::tempdir().unwrap();
    let data = case("training-crop-drops-images/data64");
    let output = train_cli(dir.path(), "run", &["--folder", s(&data)], &["--epochs", "2", "--keep-checkpoints", "--batch-size", "8"]);
    assert_ok(&output, "train --keep-checkpoints");
    let run = dir.path().join("run");
    for epoch in [1, 2] {
        let checkpoint = run.join(format!("checkpoint-{epoch}.safetensors"));
        assert!(checkpoint.is_file(), "{} kept", checkpoint.display());
        let bundle = dir.path().join(format!("epoch-{epoch}.onnx"));
        assert_ok(&taxa(["export", "--checkpoint", s(&checkpoint), "--out", s(&bundle)]), "export");
        assert_eq!(inspect_json(&bundle)["labels"], inspect_json(&run.join("best.onnx"))["labels"]);
    }
    assert!(!run.join("optimizer-1.safetensors").exists(), "only the weights are kept");
}

// cli-json-non-utf8-filename, in `train`: a run folder whose name is not
// UTF-8 still gets its --json summary (paths written with U+FFFD).
#[cfg(unix)]
#[test]
fn a_non_utf8_run_folder_keeps_the_json_summary() {
    use std::os::unix::ffi::OsStrExt;
    let dir = tempfile::tempdir().unwrap();
    let run = dir.path().join(std::ffi::OsStr::from_bytes(b"r\xe9sultats"));
    let mut args: Vec<OsString> = vec!["train".into(), "--folder".into(), case("training-crop-drops-images/data64").into()];
    args.extend(["--epochs", "1", "--input-size", "32", "--batch-size", "8", "--device", "cpu", "--json"].map(OsString::from));
    args.extend(["--cache-dir".into(), dir.path().join("cache").into(), "--out".into(), run.clone().into()]);
    let output = taxa(args);
    assert_ok(&output, "train --out <Latin-1 name> --json");
    let summary: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert!(summary["run_dir"].as_str().unwrap().ends_with("r\u{fffd}sultats"), "{summary}");
    assert!(run.join("best.onnx").is_file());
}
