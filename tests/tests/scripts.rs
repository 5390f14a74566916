//! The set-up scripts' own checks, run as the scripts run them.

use std::process::Command;

use taxa_integration_tests::repo_root;

/// Runs `taxa_need_space GIB WHAT DIR` from `scripts/space.sh` in bash.
fn need_space(gib: u64, dir: &std::path::Path, skip: bool) -> std::process::Output {
    let mut cmd = Command::new("bash");
    cmd.arg("-c")
        .arg(r#"set -euo pipefail; source "$1/scripts/space.sh"; taxa_need_space "$2" "the test step" "$3"; echo passed"#)
        .arg("bash")
        .arg(repo_root())
        .arg(gib.to_string())
        .arg(dir)
        .env_remove("TAXA_SKIP_SPACE_CHECK");
    if skip {
        cmd.env("TAXA_SKIP_SPACE_CHECK", "1");
    }
    cmd.output().expect("bash runs")
}

#[test]
fn a_step_the_disk_cannot_hold_is_refused_naming_the_folder() {
    let dir = tempfile::tempdir().unwrap();
    // No disk here has an exbibyte free.
    let refused = need_space(1 << 30, dir.path(), false);
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert_eq!(refused.status.code(), Some(1), "{stderr}");
    assert!(!String::from_utf8_lossy(&refused.stdout).contains("passed"));
    assert!(stderr.contains("the test step needs about 1073741824 GiB free"), "{stderr}");
    assert!(stderr.contains(&dir.path().display().to_string()) && stderr.contains("GiB are free"), "{stderr}");

    let skipped = need_space(1 << 30, dir.path(), true);
    assert!(skipped.status.success() && String::from_utf8_lossy(&skipped.stdout).contains("passed"));
}

#[test]
fn a_step_that_fits_goes_on_even_in_a_folder_not_made_yet() {
    let dir = tempfile::tempdir().unwrap();
    let fits = need_space(0, &dir.path().join("not/made/yet"), false);
    assert!(fits.status.success(), "{}", String::from_utf8_lossy(&fits.stderr));
    assert!(String::from_utf8_lossy(&fits.stdout).contains("passed"));
}
