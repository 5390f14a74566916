//! The bindings as their users meet them: the Python package (maturin's
//! wheel, installed), UniFFI-generated Kotlin and Swift, and the Android Java
//! API over JNI on the desktop JVM.

use std::process::Command;

use taxa_integration_tests::{built, demo_fixture, profile_dir, python_wheel, quadrant_fixture, repo_root};

fn run(cmd: &mut Command) -> String {
    let output = cmd.output().unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"));
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    assert!(output.status.success(), "{cmd:?} failed\n--- stdout\n{stdout}\n--- stderr\n{stderr}");
    stdout + &stderr
}

fn generate(language: &str, out: &std::path::Path) {
    run(Command::new(built("uniffi-bindgen"))
        .args(["generate", "--library"])
        .arg(built("libtaxa_ffi.so"))
        .args(["--language", language, "--no-format", "--out-dir"])
        .arg(out));
}

#[test]
fn swift_and_kotlin_bindings_are_generated() {
    let dir = tempfile::tempdir().unwrap();
    generate("swift", &dir.path().join("swift"));
    generate("kotlin", &dir.path().join("kotlin"));
    let swift = std::fs::read_to_string(dir.path().join("swift/taxa_ffi.swift")).unwrap();
    assert!(swift.contains("class Classifier") && swift.contains("func classifyPixels("), "Swift API");
    assert!(swift.contains("func classifyYuv420(") && swift.contains("func classifyBiPlanar(") && swift.contains("class ScoreSmoother"), "Swift camera API");
    assert!(swift.contains("threads: UInt32 = UInt32(1)") && swift.contains("func threads("), "Swift threads per image, default 1");
    assert!(dir.path().join("swift/taxa_ffiFFI.h").exists() && dir.path().join("swift/taxa_ffiFFI.modulemap").exists());
    let kotlin = std::fs::read_to_string(dir.path().join("kotlin/uniffi/taxa_ffi/taxa_ffi.kt")).unwrap();
    assert!(kotlin.contains("class Classifier") && kotlin.contains("fun `classifyPixels`("), "Kotlin API");
    assert!(kotlin.contains("fun `classifyYuv420`(") && kotlin.contains("class ScoreSmoother"), "Kotlin camera API");
    assert!(kotlin.contains("fun `threads`("), "Kotlin threads per image");
}

/// The Python package as `pip install ./bindings` gives it: the wheel
/// maturin built, installed into a fresh venv with only the tests' own
/// requirements (numpy, pillow), and imported from that venv's site-packages.
#[test]
fn python_wheel_works_as_a_user_would_use_it() {
    let wheel = python_wheel();
    let dir = tempfile::tempdir().unwrap();
    let (bundle, photos) = demo_fixture(dir.path());
    let venv = dir.path().join("venv");
    let python = std::env::var("TAXA_PYTHON").unwrap_or_else(|_| "python3".into());
    run(Command::new(python).args(["-m", "venv"]).arg(&venv));
    let venv_python = venv.join("bin/python");
    // Nothing but the venv: no PYTHONPATH, and a working directory with no
    // `taxa_ffi` in it.
    let python_in_venv = || {
        let mut cmd = Command::new(&venv_python);
        cmd.env_remove("PYTHONPATH").env_remove("PYTHONHOME").current_dir(dir.path());
        cmd
    };
    run(python_in_venv()
        .args(["-m", "pip", "install", "--quiet", "--disable-pip-version-check"])
        .arg(&wheel)
        .arg("-r")
        .arg(repo_root().join("tests/python/requirements.txt")));
    // Imported from the installed wheel, native library included, and the
    // wheel is maturin's.
    let installed = run(python_in_venv().args([
        "-c",
        "import importlib.metadata as m, pathlib, sysconfig, taxa_ffi\n\
         package = pathlib.Path(taxa_ffi.__file__).resolve().parent\n\
         site = pathlib.Path(sysconfig.get_paths()['platlib']).resolve()\n\
         assert package.parent == site, (package, site)\n\
         assert (package / 'libtaxa_ffi.so').is_file(), sorted(package.iterdir())\n\
         wheel = m.distribution('taxa-ffi').read_text('WHEEL')\n\
         assert 'Generator: maturin' in wheel, wheel\n\
         print('installed', package)",
    ]));
    assert!(installed.contains(&format!("installed {}", venv.canonicalize().unwrap().display())), "{installed}");
    let out = run(python_in_venv()
        .arg(repo_root().join("tests/python/test_bindings.py"))
        .env("TAXA_BUNDLE", &bundle)
        .env("TAXA_PHOTOS", &photos)
        .env("TAXA_QUADRANTS", quadrant_fixture(dir.path())));
    assert!(out.contains("Ran 13 tests") && out.contains("OK"), "{out}");
}

#[test]
fn java_api_works_over_jni_on_the_desktop_jvm() {
    let dir = tempfile::tempdir().unwrap();
    let (bundle, photos) = demo_fixture(dir.path());
    let classes = dir.path().join("classes");
    let root = repo_root();
    let sources: Vec<_> = ["android/src/main/java/org/taxa", "tests/java/org/taxa"]
        .iter()
        .flat_map(|d| std::fs::read_dir(root.join(d)).unwrap().map(|e| e.unwrap().path()))
        .filter(|p| p.extension().is_some_and(|e| e == "java"))
        .collect();
    run(Command::new("javac").arg("-Xlint:all").arg("-Werror").arg("-d").arg(&classes).args(&sources));
    built("libtaxa_ffi.so");
    let out = run(Command::new("java")
        .arg(format!("-Djava.library.path={}", profile_dir().display()))
        .arg("-cp")
        .arg(&classes)
        .arg("org.taxa.ClassifierDesktopTest")
        .arg(&bundle)
        .arg(&photos)
        .arg(quadrant_fixture(dir.path())));
    assert!(out.contains("12 passed, 0 failed"), "{out}");
}
